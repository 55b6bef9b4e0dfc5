"""Advisor passwords: argon2id hashes and a policy against weak ones."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
# argon2 hashes whatever it is given; a cap keeps a login from costing megabytes.
MAX_LENGTH = 256
COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "security" / "common-passwords.txt"

_hasher = PasswordHasher()  # argon2id with the library's current recommended costs


@cache
def dummy_hash() -> str:
    """Checked against when the e-mail is unknown, so that both answers take as long.
    Made when the server starts (Verifier.start), not at import: every command would
    pay for it, and the first unknown e-mail must not take longer than a known one."""
    return _hasher.hash("not a password anyone has")


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def password_problem(password: str, email: str = "") -> str | None:
    """Why a new password is refused, or None if it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password may have at most {MAX_LENGTH} characters"
    lowered = password.lower()
    # "password123456" is "password" with digits: strip what people append.
    stem = lowered.rstrip("0123456789!?.*#@$%&-_ ")
    common = common_passwords()
    if lowered in common or stem in common or len(set(lowered)) < 4:
        return "this password is one of the most common ones; choose another"
    local_part = email.split("@", 1)[0].lower()
    if local_part and len(local_part) >= 4 and local_part in lowered:
        return "the password must not contain the e-mail address"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists; False on any mismatch."""
    if len(password) > MAX_LENGTH:
        password = password[:MAX_LENGTH]
    try:
        checked = _hasher.verify(password_hash or dummy_hash(), password)
        return checked and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
