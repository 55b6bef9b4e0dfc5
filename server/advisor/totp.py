"""The second factor: time-based one-time codes (RFC 6238) from an authenticator app.

The shared secret is stored encrypted (AES-256-GCM under a key derived from
the data directory's session key), so a copy of the database alone does not
give it away. A code is accepted for the current 30-second step or the one
before or after (clocks drift), and never twice: the last step used is kept.
"""

from __future__ import annotations

import datetime as dt
import secrets

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ISSUER = "Haven"
STEP_SECONDS = 30
DRIFT_STEPS = 1


class TotpBox:
    """Encrypts and decrypts TOTP secrets for storage."""

    def __init__(self, session_key: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"haven totp v1").derive(
            session_key
        )
        self._aead = AESGCM(key)

    def seal(self, secret: str, email: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, secret.encode("ascii"), email.encode("utf-8"))

    def open(self, sealed: bytes, email: str) -> str | None:
        try:
            plain = self._aead.decrypt(sealed[:12], sealed[12:], email.encode("utf-8"))
        except (InvalidTag, ValueError):
            return None
        return plain.decode("ascii")


def new_secret() -> str:
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def accepted_step(secret: str, code: str, now: dt.datetime, last_step: int | None) -> int | None:
    """The time step the code belongs to, if it is valid and newer than ``last_step``."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if secrets.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None
