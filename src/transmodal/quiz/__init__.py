"""The voice questionnaire's logic: XLSForm forms, spoken-answer normalisation, the confidence policy,
speech recognition of answers and prompt audio. No web code here (that lives in ``transmodal.server``)."""
