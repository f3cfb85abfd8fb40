"""Keyed pseudonyms for personal data, made at ingestion before anything is written.

HMAC-SHA256 with a secret kept under the home folder: stable across runs with the same
secret, useless without it. The kind prefix keeps an email and a name from colliding.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

PSEUDONYM_HEX_CHARS = 16


class SecretMissing(RuntimeError):
    pass


def load_or_create_secret(path: Path, *, create: bool) -> bytes:
    """Read the key; create it (owner-only) only when the home is new.

    A missing key on a home that already holds data is an error, never a fresh key:
    a new key would silently split every person into two pseudonyms.
    """
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    if not create:
        raise SecretMissing(
            f"pseudonymisation key {path} is missing but this home already holds data; "
            "restore the key (pseudonyms would otherwise change)")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
    return key


class Pseudonymiser:
    def __init__(self, key: bytes):
        self._key = key

    def pseudonym(self, kind: str, value: str | None) -> str | None:
        """Pseudonym of an already normalised value; None for an empty one."""
        if not value:
            return None
        digest = hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
        return digest[:PSEUDONYM_HEX_CHARS]

    def __repr__(self) -> str:  # never show the key in logs
        return "Pseudonymiser(<key hidden>)"
