"""The Brazilian-Portuguese word lists behind :mod:`transmodal.quiz.normalize` — data only, written with accents.

Matching folds accents and case on both sides, so "às vezes", "as vezes" and "ÀS VEZES" are the same
phrase. ``*_SPOKEN`` lists are the phrases offered to the speech model's closed-set scorer (they must be
said the way they are written); the longer lists are what the text normaliser also understands.
"""

from __future__ import annotations

# --- codes (never stored as values) -------------------------------------------------------------------------
DONT_KNOW = ("não sei", "sei lá", "não lembro", "não me lembro", "não sei dizer", "não sei responder",
             "não faço ideia", "não tenho ideia", "não recordo", "esqueci", "não tenho certeza")
REFUSED = ("prefiro não responder", "não quero responder", "prefiro não dizer", "não quero dizer",
           "prefiro não falar", "não quero falar", "não vou responder", "me recuso a responder", "me recuso",
           "prefiro não")
CODES_SPOKEN = (("não sei", "dont_know"), ("sei lá", "dont_know"), ("não lembro", "dont_know"),
                ("prefiro não responder", "refused"), ("não quero responder", "refused"))

# --- yes / no -------------------------------------------------------------------------------------------------
YES = ("sim", "é", "é sim", "isso", "isso mesmo", "isso aí", "claro", "claro que sim", "com certeza", "certeza",
       "aham", "ahã", "uhum", "unhum", "hum hum", "exato", "exatamente", "certo", "correto", "positivo",
       "sim senhor", "sim senhora", "verdade", "aceito", "concordo", "autorizo", "pode", "pode sim", "tá",
       "ok", "beleza", "yes", "s")
NO = ("não", "nãum", "nunca", "jamais", "de jeito nenhum", "de forma nenhuma", "de modo nenhum", "negativo",
      "nem pensar", "nem", "nenhum", "nenhuma", "claro que não", "não senhor", "não senhora", "no", "n")
# A word that negates whatever else was said: "claro que não", "não fui não", "nunca fui" are all "no".
NEGATIONS = ("não", "nãum", "nunca", "jamais", "nem", "nenhum", "nenhuma", "negativo")
# Matched only with their accent: folded, "é" is the conjunction "e".
ACCENT_ONLY = ("é", "é sim")
# Answering "yes" by repeating the question's verb ("Você foi?" — "Fui."); weaker evidence than "sim".
YES_ECHOES = ("fui", "foi", "fiz", "fez", "tive", "teve", "tenho", "tem", "sou", "estou", "estava", "recomendo",
              "recomendaria", "gostei", "gosto", "quero", "queria", "posso", "vou", "consegui", "conseguiu",
              "usei", "usou", "tomei", "voltaria", "voltarei", "indicaria", "indico")
YES_NO_SPOKEN = (("sim", "yes"), ("não", "no"), ("claro", "yes"), ("com certeza", "yes"), ("nunca", "no"),
                 ("é", "yes"), ("isso", "yes"), ("isso mesmo", "yes"), ("aham", "yes"), ("claro que não", "no"),
                 ("de jeito nenhum", "no"))

# --- ordered scales: label (folded) → other ways to say it ---------------------------------------------------
SCALE_SYNONYMS: dict[str, tuple[str, ...]] = {
    # quality
    "muito bom": ("ótimo", "excelente", "muito boa", "maravilhoso", "perfeito", "muito bem", "ótima", "excelente mesmo"),
    "bom": ("boa", "bem", "legal", "bonzinho", "foi bom"),
    "regular": ("mais ou menos", "razoável", "médio", "normal", "ok", "nem bom nem ruim"),
    "ruim": ("mau", "fraco", "ruinzinho", "mal", "foi ruim"),
    "muito ruim": ("péssimo", "horrível", "terrível", "muito mal", "péssima", "uma porcaria"),
    # frequency
    "sempre": ("todas as vezes", "toda vez", "todas", "o tempo todo"),
    "quase sempre": ("na maioria das vezes", "geralmente", "quase todas as vezes", "muitas vezes", "normalmente"),
    "às vezes": ("de vez em quando", "algumas vezes", "às vezes sim", "umas vezes", "ocasionalmente"),
    "raramente": ("quase nunca", "poucas vezes", "raro", "muito pouco", "pouquíssimas vezes"),
    "nunca": ("nenhuma vez", "jamais", "nunca mesmo"),
    # satisfaction
    "muito satisfeito": ("muitíssimo satisfeito", "super satisfeito", "muito satisfeita"),
    "satisfeito": ("satisfeita",),
    "insatisfeito": ("insatisfeita",),
    "muito insatisfeito": ("muito insatisfeita", "nada satisfeito"),
    # agreement
    "concordo totalmente": ("concordo plenamente", "concordo muito", "concordo completamente"),
    "discordo totalmente": ("discordo completamente", "discordo muito", "discordo plenamente"),
    "nem concordo nem discordo": ("neutro", "tanto faz", "indiferente"),
}
# The synonyms also offered to the speech model (the others stay text-only).
SCALE_SPOKEN: dict[str, tuple[str, ...]] = {
    "muito bom": ("ótimo", "excelente"),
    "regular": ("mais ou menos",),
    "muito ruim": ("péssimo",),
    "às vezes": ("de vez em quando",),
}

# --- dates ---------------------------------------------------------------------------------------------------
MONTHS = ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro",
          "novembro", "dezembro")
MONTH_ABBREVIATIONS = ("jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez")

# --- numbers: words that may surround a number without changing it --------------------------------------------
NUMBER_FILLERS = ("eu", "tenho", "anos", "ano", "idade", "minha", "meu", "a", "o", "é", "e", "de", "sou", "com",
                  "já", "fiz", "completei", "vou", "fazer", "tem", "são", "agora", "hoje")
# Nouns that make "um"/"dois" feminine when a label's digits are spoken ("1 hora" → "uma hora").
FEMININE_NOUNS = ("hora", "horas", "semana", "semanas", "vez", "vezes", "consulta", "consultas", "pessoa",
                  "pessoas", "criança", "crianças")
# Choosing by position after the options were read out: "a primeira", "opção dois".
ORDINALS = ("primeira", "segunda", "terceira", "quarta", "quinta", "sexta", "sétima", "oitava", "nona", "décima")
