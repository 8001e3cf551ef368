"""HTTP endpoints, one module per audience: ``respondent`` (links, consent, answers), ``staff`` (login,
forms, links, reports, exports, privacy, audit) and ``pages`` (the static pages and spoken prompts)."""
