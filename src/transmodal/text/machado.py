r"""The Machado de Assis corpus: works, a held-out split by work, and labelled tasks made from the text.

``$TRANSMODAL_DATA/machado/machado.txt`` holds 201 scraped files, one paragraph per line. 190 of them
start with a four-line header::

    Parte de
    Contos na Imprensa - Fase 8<TABs> (1884)          ← collection and its year(s)
    A carteira                                          ← title (in 19 works an editorial note instead)
    *                                                   ← optional

:func:`read_works` cuts the file at these headers. The 11 files without a header (novels such as
*Quincas Borba* and *Esaú e Jacó*, some with a modern editorial preface) therefore stay attached to
the story before them. The 7 "works" of more than 200,000 characters are such segments (the longest
true story, *Casa velha*, has 127,000); they are flagged ``merged`` (found by size only), kept in
training, and left out of the labelled tasks, so held-out works are single stories whose header
(collection, years) is reliable.

:func:`split_works` holds out whole works — never single paragraphs — so a model is always evaluated
on stories it has not seen: one work per collection for *test*, one per collection with ten or more
works for *valid*, chosen by a seeded hash of the title (deterministic, independent of file order).

Labelled tasks (all labels come from the text by simple rules, not from annotators):

* :func:`period_label` — the decade in which the work's *collection* began (≤1869, 1870s, 1880s,
  ≥1890), read from the header. A paragraph inherits its work's label.
* :func:`sentence_pairs` — a sentence and the next one of its paragraph (label 1), or a sentence
  and another sentence of the same work that is not its neighbour (label 0). Sentences are cut after . ! ? …
  followed by a space and a capital/dash/quote, except after common abbreviations (D., Dr., Sr., …).
* :func:`name_tags` — word-level tags for a *lower-cased* reader: 1 = the word is capitalised in the
  original although it is not the first of a sentence (a proper name or a title such as D., Deus,
  Rio; a word after an abbreviation such as "D." counts as mid-sentence), 0 = written in lower case, ``None`` = unknown (sentence-initial, after a dash/quote/colon, or
  written in capitals throughout). A heuristic: it also tags capitalised common nouns
  ("a Providência") and misses names that open a sentence.
* :func:`speaker_spans` — dialogue attribution: in a dialogue paragraph ("- … - disse Honório …") the
  span of the speaker's name right after a speech verb (disse, perguntou, respondeu, … from a fixed
  list), with an optional "o"/"a" and title (D., Dr., …). The answer is therefore always next to a
  speech verb — an extractive-QA exercise, not a reading-comprehension benchmark.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

MERGED_CHARS = 200_000
PERIODS = ["até 1869", "1870–1879", "1880–1889", "1890 em diante"]
_HEADER_YEARS = re.compile(r"^(?P<collection>.*?)\s*\((?P<start>\d{4})(?:\s*-\s*(?P<end>\d{4}))?\)\s*$")


@dataclass
class Work:
    """One work of the corpus (a story, or a story with header-less novels attached: ``merged``)."""

    index: int  # order in the file
    collection: str
    start_year: int
    end_year: int
    title: str  # "" when the header's title line is an editorial note
    paragraphs: list[str] = field(repr=False)
    line: int = 0  # 1-based line of the header's "Parte de"

    @property
    def chars(self) -> int:
        return sum(len(p) + 1 for p in self.paragraphs)

    @property
    def merged(self) -> bool:
        return self.chars > MERGED_CHARS

    @property
    def name(self) -> str:
        return f"{self.collection} / {self.title or f'obra {self.index}'}"

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


def corpus_path() -> Path:
    from transmodal.datasets import data_root

    return data_root() / "machado" / "machado.txt"


def read_works(path: str | Path | None = None) -> list[Work]:
    """All works of ``machado.txt`` (default: under the data root), in file order."""
    path = Path(path) if path is not None else corpus_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"Machado de Assis corpus not found at {path}; set TRANSMODAL_DATA to the folder that holds machado/machado.txt"
        )
    lines = path.read_text(encoding="utf-8").split("\n")
    starts = [i for i, line in enumerate(lines) if line.strip() == "Parte de"]
    if not starts:
        raise ValueError(f"{path} has no 'Parte de' work headers; is it the machado.txt of the shared data?")
    if any(line.strip() for line in lines[: starts[0]]):
        raise ValueError(f"{path}: text before the first 'Parte de' header; the file is not in the expected format")
    works = []
    for k, (a, b) in enumerate(zip(starts, starts[1:] + [len(lines)])):
        if a + 2 >= b:
            raise ValueError(f"{path}:{a + 1}: a 'Parte de' header without collection and title lines")
        m = _HEADER_YEARS.match(lines[a + 1].replace("\t", " "))
        if m is None:
            raise ValueError(f"{path}:{a + 2}: expected 'Collection (year)' or 'Collection (year- year)', got {lines[a + 1]!r}")
        start = int(m["start"])
        title = lines[a + 2].strip()
        body_from = a + 3
        if body_from < b and lines[body_from].strip() == "*":
            body_from += 1
        if len(title) > 60:  # an editorial note where the title should be: not Machado's text
            title = ""
        title = title.rstrip(" *").strip()
        paragraphs = [p.strip() for p in lines[body_from:b] if p.strip()]
        works.append(Work(k, m["collection"].strip(), start, int(m["end"] or start), title, paragraphs, a + 1))
    return works


def split_works(works: list[Work], seed: int = 0) -> dict[str, list[Work]]:
    """{"train", "valid", "test"} lists of whole works (see the module notes). Deterministic for a seed."""
    by_collection: dict[str, list[Work]] = {}
    for w in works:
        by_collection.setdefault(w.collection, []).append(w)
    held: dict[int, str] = {}
    for collection, members in sorted(by_collection.items()):
        candidates = sorted(
            (w for w in members if not w.merged),
            key=lambda w: zlib.crc32(f"{seed}|{collection}|{w.title}|{w.paragraphs[0] if w.paragraphs else ''}".encode()),
        )
        if len(candidates) >= 2:
            held[candidates[0].index] = "test"
        if len(members) >= 10 and len(candidates) >= 3:
            held[candidates[1].index] = "valid"
    out: dict[str, list[Work]] = {"train": [], "valid": [], "test": []}
    for w in works:
        out[held.get(w.index, "train")].append(w)
    return out


# ------------------------------------------------------------------------------------ period task
def period_label(work: Work) -> int:
    """Index into :data:`PERIODS` of the decade in which the work's collection began."""
    y = work.start_year
    return 0 if y < 1870 else 1 if y < 1880 else 2 if y < 1890 else 3


def period_examples(works: list[Work], min_chars: int = 200) -> list[tuple[str, int]]:
    """(paragraph, period) for every paragraph of at least ``min_chars`` characters of non-merged works."""
    return [(p, period_label(w)) for w in works if not w.merged for p in w.paragraphs if len(p) >= min_chars]


# ------------------------------------------------------------------------------------ sentences
_ABBREVIATIONS = {"d", "dr", "drs", "sr", "sra", "srs", "s", "v", "exa", "exmo", "mr", "mme", "st", "sto", "sta", "cap", "pe", "fr", "etc"}
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”»)]?\s+(?=[-—\"“«(]?\s*[A-ZÁÉÍÓÚÂÊÔÃÕÇÀ])")


def sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences (see the module notes for the rule)."""
    out, start = [], 0
    for m in _SENTENCE_END.finditer(paragraph):
        before = paragraph[start : m.start()].rstrip("\"”»)")
        last_word = re.findall(r"(\w+)\.$", before)
        if last_word and (last_word[0].lower() in _ABBREVIATIONS or len(last_word[0]) == 1):
            continue
        piece = paragraph[start : m.end()].strip()
        if piece:
            out.append(piece)
        start = m.end()
    tail = paragraph[start:].strip()
    if tail:
        out.append(tail)
    return out


def sentence_pairs(works: list[Work], rng: random.Random, min_chars: int = 20) -> list[tuple[str, str, int]]:
    """(first, second, consecutive?) pairs, half positive, from paragraphs with several sentences.

    Positive: sentence i and i+1 of one paragraph. Negative: sentence i and a sentence of the same
    work that is not within one sentence of it (the pair is in the same style and cast, so the task
    is about order and coherence, not about telling works apart).
    """
    pairs: list[tuple[str, str, int]] = []
    for w in works:
        if w.merged:
            continue
        sents = [s for p in w.paragraphs for s in [sentences(p)] if len(s) >= 2]
        flat = [(i, j, s) for i, ss in enumerate(sents) for j, s in enumerate(ss) if len(s) >= min_chars]
        if len(flat) < 4:
            continue
        for i, ss in enumerate(sents):
            for j in range(len(ss) - 1):
                if len(ss[j]) < min_chars or len(ss[j + 1]) < min_chars:
                    continue
                if rng.random() < 0.5:
                    pairs.append((ss[j], ss[j + 1], 1))
                else:
                    for _ in range(10):
                        pi, pj, other = rng.choice(flat)
                        if pi != i or abs(pj - j) > 1:
                            pairs.append((ss[j], other, 0))
                            break
    return pairs


# ------------------------------------------------------------------------------------ name tagging
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_OPENERS = set(".!?…:-—\"“«('")


def name_tags(paragraph: str) -> list[tuple[int, int, int | None]]:
    """(start, end, tag) for each word (run of letters) of ``paragraph``; tag 1, 0 or None (see notes)."""
    out = []
    for m in _WORD.finditer(paragraph):
        word = m.group()
        before = paragraph[: m.start()].rstrip()
        initial = not before or before[-1] in _OPENERS
        if initial and before.endswith("."):  # "D. Amélia", "Dr. Ferreira": an abbreviation, not a sentence end
            last = re.findall(r"(\w+)\.$", before)
            initial = not (last and (last[0].lower() in _ABBREVIATIONS or len(last[0]) == 1))
        if len(word) >= 2 and word.isupper():
            tag = None  # titles and roman numerals in capitals
        elif initial:
            tag = None
        else:
            tag = 1 if word[0].isupper() else 0
        out.append((m.start(), m.end(), tag))
    return out


def name_examples(works: list[Work], min_chars: int = 80) -> list[tuple[str, list[tuple[int, int, int | None]]]]:
    """(paragraph, name_tags) for paragraphs of non-merged works that contain at least one tag-1 word."""
    out = []
    for w in works:
        if w.merged:
            continue
        for p in w.paragraphs:
            if len(p) >= min_chars:
                tags = name_tags(p)
                if any(t == 1 for _, _, t in tags):
                    out.append((p, tags))
    return out


# ------------------------------------------------------------------------------------ speaker spans
SPEECH_VERBS = (
    "disse dizia perguntou perguntava respondeu respondia acudiu replicou tornou continuou exclamou murmurou "
    "concordou interrompeu insistiu explicou repetiu acrescentou observou redarguiu retorquiu bradou gritou "
    "suspirou emendou concluiu atalhou ponderou objetou volveu prosseguiu afirmou declarou confessou "
    "interrogou advertiu protestou sorriu teimou instou lembrou corrigiu aventurou balbuciou clamou"
).split()
_NAME = r"[A-ZÁÉÍÓÚÂÊÔÃÕÇ][a-záéíóúâêôãõçü]+"
_TITLE = r"(?:D\.|Dona|Dr\.|Sr\.|Padre|Frei|Major|Coronel|Capitão|Tenente|Conselheiro|Comendador)"
_SPEAKER = re.compile(
    r"\s[-—]\s+(?:" + "|".join(SPEECH_VERBS) + r")(?:-(?:lhe|me|te|se|nos|lhes))?\s+(?:o\s+|a\s+)?"
    r"(?P<name>(?:" + _TITLE + r"\s+)?" + _NAME + r"(?:\s+" + _NAME + r")?)"
)
_NOT_NAMES = {"Não", "Sim", "Ele", "Ela", "Eu", "Tu", "Nós", "Que", "Mas", "Este", "Esta", "Isto", "Então", "Depois", "Deus"}


def speaker_spans(paragraph: str) -> tuple[int, int] | None:
    """(start, end) of the speaker's name in a dialogue paragraph, or None (see the module notes)."""
    if not paragraph.startswith(("- ", "— ")):
        return None
    m = _SPEAKER.search(paragraph)
    if m is None or m["name"].split()[-1] in _NOT_NAMES:
        return None
    return m.start("name"), m.end("name")


def speaker_examples(works: list[Work]) -> list[tuple[str, int, int]]:
    """(paragraph, start, end) of every attributable dialogue paragraph of non-merged works."""
    out = []
    for w in works:
        if w.merged:
            continue
        for p in w.paragraphs:
            span = speaker_spans(p)
            if span is not None:
                out.append((p, *span))
    return out
