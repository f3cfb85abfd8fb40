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


HMAC_BLOCK = 64  # bytes: SHA-256's block size


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

    def hmac_pads(self) -> tuple[bytes, bytes]:
        """The key XOR HMAC's inner and outer pads (RFC 2104, SHA-256's 64-byte block), for
        pseudonyms computed in SQL (sql_pseudonym); as secret as the key itself."""
        key = self._key if len(self._key) <= HMAC_BLOCK else hashlib.sha256(self._key).digest()
        key = key.ljust(HMAC_BLOCK, b"\0")
        return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)

    def __repr__(self) -> str:  # never show the key in logs
        return "Pseudonymiser(<key hidden>)"


def sql_pseudonym(kind: str, value_sql: str, ipad_sql: str = "ipad", opad_sql: str = "opad") -> str:
    """DuckDB SQL for `Pseudonymiser.pseudonym(kind, value)` of an already normalised VARCHAR:
    HMAC-SHA256 = sha256(opad || sha256(ipad || message)), the pads being BLOBs from hmac_pads
    (bound as parameters, never written into SQL text). Equal to the Python HMAC
    (tests/test_pseudonym_sql.py)."""
    message = f"encode('{kind}:' || {value_sql})"
    inner = f"unhex(sha256({ipad_sql} || {message}))"
    return (f"CASE WHEN {value_sql} <> '' THEN left(sha256({opad_sql} || {inner}), {PSEUDONYM_HEX_CHARS}) END")
