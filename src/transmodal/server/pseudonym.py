"""Pseudonyms of respondent identifiers: HMAC-SHA256 under a secret key kept in a file, not in the database.

A phone number has few enough possibilities that a plain hash could be reversed by trying them all; with a
keyed hash that is only possible for whoever also holds the key file. The key is 32 random bytes (hex in the
file), created with mode 0600 on first start. Losing it means existing pseudonyms can no longer be matched
to a person (export/delete by identifier then finds nothing), so back it up — separately from the database.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

KINDS = ("phone", "cns")


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path``; a new random one (file created 0600, never overwritten) if there is none."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:     # another process created it meanwhile: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{path}: the pseudonym key file must hold hex digits (64 of them); it is damaged") from None
    if len(key) < 16:
        raise ValueError(f"{path}: the pseudonym key is only {len(key)} bytes; expected 32")
    return key


def normalise_identifier(kind: str, identifier: str) -> str:
    """Digits only, so "+55 (11) 91234-5678" and "5511912345678" are the same person.

    phone: 10 to 13 digits (with or without country code 55); cns (Cartão Nacional de Saúde): 15 digits.
    """
    if kind not in KINDS:
        raise ValueError(f"identifier_kind must be one of {', '.join(KINDS)}, got {kind!r}")
    digits = re.sub(r"\D", "", str(identifier))
    if kind == "phone":
        if len(digits) in (12, 13) and digits.startswith("55"):
            digits = digits[2:]
        if len(digits) not in (10, 11):
            raise ValueError("a phone number needs a 2-digit area code and 8 or 9 digits, e.g. 11 91234-5678")
    elif len(digits) != 15:
        raise ValueError("a health card number (CNS) has 15 digits")
    return digits


def pseudonym(key: bytes, kind: str, identifier: str) -> str:
    """Hex HMAC-SHA256 of ``kind:digits`` under ``key``."""
    message = f"{kind}:{normalise_identifier(kind, identifier)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
