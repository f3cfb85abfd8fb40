"""Keyed pseudonyms for personal data, made at ingestion before anything is written.

HMAC-SHA256 with a secret kept under the home folder: stable across runs with the same
secret, useless without it. The kind prefix keeps an email and a name from colliding.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

PSEUDONYM_HEX_CHARS = 16
KEY_BYTES = 32


class SecretMissing(RuntimeError):
    pass


class SecretInvalid(RuntimeError):
    pass


def read_secret(path: Path) -> bytes:
    """The key in `path`: exactly KEY_BYTES as hex. Anything else (an empty file left by a crash,
    a truncated copy) is an error: pseudonyms made with another key would silently differ."""
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise SecretInvalid(
            f"pseudonymisation key {path} is damaged (not {KEY_BYTES} bytes of hex); restore it from "
            "its backup (a new key would change every pseudonym)")
    return key


def _missing(path: Path) -> SecretMissing:
    return SecretMissing(f"pseudonymisation key {path} is missing but this home already holds data; "
                         "restore the key (pseudonyms would otherwise change)")


def check_secret(path: Path, *, create: bool) -> None:
    """What `load_or_create_secret(path, create=create)` would refuse, raised without creating
    anything: for a check before a run starts (SecretMissing, SecretInvalid)."""
    if path.exists():
        read_secret(path)
    elif not create:
        raise _missing(path)


def load_or_create_secret(path: Path, *, create: bool) -> bytes:
    """Read the key; create it (owner-only) only when the home is new.

    A missing key on a home that already holds data is an error, never a fresh key:
    a new key would silently split every person into two pseudonyms. A new key is written
    whole to a private temporary file, then linked into place: a crash never leaves a
    partial key, and of two runs creating it at once both end up with the one that won.
    """
    if path.exists():
        return read_secret(path)
    if not create:
        raise _missing(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(key.hex() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic; fails if another run created the key first
        except FileExistsError:
            return read_secret(path)
    finally:
        os.unlink(tmp)
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
