r"""A character vocabulary for CTC speech recognition (English and Brazilian Portuguese).

CTC (Graves et al. 2006) predicts one symbol per audio frame from the labels plus an extra *blank*.
Here the blank has id 0 and the labels follow::

    0 = <blank>   1 = " "   2 = "'"   3..28 = a..z   29..41 = á â ã à ç é ê í ó ô õ ú ü

so ``vocab_size == 42``. Text is normalised before it is looked up, the same way for training
targets and for the answers a decoder is constrained to:

    1. Unicode NFC, so "a" + U+0303 (combining tilde) becomes the single character "ã";
    2. lower case;
    3. typographic apostrophes (’ ‘ ʼ) become "'" (see ``replace``);
    4. every run of white space becomes one space; leading/trailing space is dropped.

A character still outside the vocabulary is handled by ``unknown``:

    "error"          raise a ValueError naming the character and where it is (the default);
    "drop"           leave it out;
    "strip_accents"  take off its diacritics ("ñ" → "n", "è" → "e"); raise if that does not help.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

BLANK = "<blank>"
BLANK_ID = 0
LETTERS = "abcdefghijklmnopqrstuvwxyz"
ACCENTED = "áâãàçéêíóôõúü"  # Brazilian Portuguese (ü: older spellings such as "lingüiça")
DEFAULT_CHARS = [" ", "'", *LETTERS, *ACCENTED]
DEFAULT_REPLACE = {"\u2019": "'", "\u2018": "'", "\u02bc": "'"}
UNKNOWN_POLICIES = ("error", "drop", "strip_accents")

_SPACES = re.compile(r"\s+")


@dataclass
class CharVocab:
    """Characters ↔ ids with the CTC blank at id 0.

    Args:
        chars: the label characters, in id order starting at 1; must contain " " (word separator
            for :func:`~transmodal.asr.decode.constrained_decode`).
        unknown: what to do with a character outside ``chars`` (see the module docstring).
        replace: characters substituted after NFC/lower-casing, before look-up (e.g. {"-": " "}).
    """

    chars: list[str] = field(default_factory=lambda: list(DEFAULT_CHARS))
    unknown: str = "error"
    replace: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_REPLACE))

    FILENAME = "vocab.json"

    def __post_init__(self):
        self.chars = list(self.chars)
        for c in self.chars:
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"vocabulary entries must be single characters; got {c!r}")
            if unicodedata.normalize("NFC", c.lower()) != c:
                raise ValueError(f"vocabulary character {c!r} is not NFC lower case; encode() could never produce it")
        dup = sorted({c for c in self.chars if self.chars.count(c) > 1})
        if dup:
            raise ValueError(f"vocabulary characters must be unique; repeated: {dup}")
        if " " not in self.chars:
            raise ValueError("the vocabulary needs the space character ' ' as word separator")
        if self.unknown not in UNKNOWN_POLICIES:
            raise ValueError(f"unknown={self.unknown!r}; choose one of {UNKNOWN_POLICIES}")
        self._ids = {c: i + 1 for i, c in enumerate(self.chars)}

    # --- sizes and special ids --------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """Number of CTC outputs V: the labels plus the blank."""
        return len(self.chars) + 1

    def __len__(self) -> int:
        return self.vocab_size

    @property
    def blank_id(self) -> int:
        return BLANK_ID

    @property
    def space_id(self) -> int:
        return self._ids[" "]

    def id_to_char(self, i: int) -> str:
        return BLANK if i == BLANK_ID else self.chars[i - 1]

    # --- text → ids → text ------------------------------------------------------------------------
    def normalize(self, text: str) -> str:
        """NFC, lower case, replacements, unknown-character policy, collapsed spaces."""
        if not isinstance(text, str):
            raise TypeError(f"expected a str to encode; got {type(text).__name__}")
        text = unicodedata.normalize("NFC", text).lower()
        text = "".join(self.replace.get(c, c) for c in text)
        text = _SPACES.sub(" ", text)  # so that tabs/newlines count as spaces, not unknown characters
        out, bad = [], []
        for pos, c in enumerate(text):
            if c in self._ids:
                out.append(c)
            elif self.unknown == "drop":
                continue
            elif self.unknown == "strip_accents" and _strip_accents(c) and all(b in self._ids for b in _strip_accents(c)):
                out.append(_strip_accents(c))
            else:
                bad.append(f"{c!r} (U+{ord(c):04X}, {unicodedata.name(c, 'unnamed')}) at position {pos}")
        if bad:
            raise ValueError(
                f"{text!r} has characters outside the vocabulary: {'; '.join(bad)}. Remove them, map them with "
                f"CharVocab.replace, or build the vocabulary with unknown='drop' or 'strip_accents'"
            )
        return _SPACES.sub(" ", "".join(out)).strip()

    def encode(self, text: str) -> list[int]:
        """Normalised text → label ids (never the blank)."""
        return [self._ids[c] for c in self.normalize(text)]

    def decode(self, ids) -> str:
        """Label ids → text. Blanks (id 0) are skipped; CTC collapsing is the decoder's job, not this."""
        out = []
        for i in ids:
            i = int(i)
            if i == BLANK_ID:
                continue
            if not 0 < i <= len(self.chars):
                raise ValueError(f"id {i} is outside this vocabulary (0..{len(self.chars)})")
            out.append(self.chars[i - 1])
        return "".join(out)

    # --- JSON -------------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({"type": "char_ctc", "blank": BLANK_ID, **asdict(self)}, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "CharVocab":
        data = json.loads(text)
        if data.get("type") != "char_ctc" or data.get("blank") != BLANK_ID:
            raise ValueError("not a transmodal CTC character vocabulary (expected type 'char_ctc' with blank 0)")
        return cls(chars=data["chars"], unknown=data.get("unknown", "error"), replace=data.get("replace", {}))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.is_dir():
            path = path / self.FILENAME
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "CharVocab":
        path = Path(path)
        if path.is_dir():
            path = path / cls.FILENAME
        if not path.is_file():
            raise FileNotFoundError(f"no vocabulary file at {path}; save one with CharVocab.save()")
        return cls.from_json(path.read_text(encoding="utf-8"))


def _strip_accents(c: str) -> str:
    """The character without its combining marks ("ñ" → "n"); "" when nothing is left."""
    return "".join(b for b in unicodedata.normalize("NFD", c) if not unicodedata.combining(b))
