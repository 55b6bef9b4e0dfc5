"""The reply channel's keys: a code the person keeps, and what is derived from it.

docs/replies.md is the description; ``pwa/replies/codes.js`` does the same on
the phone, and both are checked against tests/vectors/replies.json. From the
16-digit reply code and a salt made at sealing time, PBKDF2-SHA256 gives a
master secret; HKDF gives two independent values from it: the access token,
which the server checks by its hash (the verifier), and the reply key, which
encrypts the conversation for the person and travels to the centre only
inside the sealed request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .crypto import EnvelopeError, b64decode, b64encode, pad, unpad

CODE_DIGITS = 16
# Longer than any way of typing 16 digits with separators: refused unread.
CODE_MAX_TYPED = 64
SALT_SIZE = 16
TOKEN_SIZE = 32
BOX_ID_SIZE = 16
# The disguise's lock uses the same count (pwa/disguise/lock.js): about half a
# second on a cheap phone; the figures are in docs/replies.md.
ITERATIONS = 210_000
ACCESS_INFO = b"haven reply access v1"
KEY_INFO = b"haven reply key v1"
SENDERS = ("person", "centre")
# Spaces as JavaScript's trim() knows them, and what people type between the
# groups of four: the phone's codes.js drops the same characters.
_IGNORED = frozenset(
    "\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff-._/"
    + "".join(chr(point) for point in range(0x2000, 0x200B))
    + "".join(chr(point) for point in range(0x2010, 0x2015))
)


def make_code() -> str:
    """16 random decimal digits (about 53 bits), each drawn uniformly."""
    return "".join(str(secrets.randbelow(10)) for _ in range(CODE_DIGITS))


def format_code(code: str) -> str:
    """``1234 5678 9012 3456``: four groups of four, as the person is shown it."""
    return " ".join(code[index : index + 4] for index in range(0, CODE_DIGITS, 4))


def normalize_code(typed: object) -> str | None:
    """The 16 ASCII digits of a typed code, or None if it is not one.

    Spaces and the usual separators are dropped, and a decimal digit of any
    script (Arabic-Indic, Devanagari, full-width…) counts as its ASCII digit,
    so the code types the same on any keyboard. Never raises.
    """
    if not isinstance(typed, str) or len(typed) > CODE_MAX_TYPED:
        return None
    digits = []
    for char in typed:
        if char in _IGNORED:
            continue
        value = unicodedata.decimal(char, None)
        if value is None:
            return None
        digits.append(str(value))
    code = "".join(digits)
    return code if len(code) == CODE_DIGITS else None


@dataclass(frozen=True)
class Derived:
    """What a code and a salt give: the token shown to the server, the key kept."""

    token: bytes
    reply_key: bytes

    @property
    def verifier(self) -> bytes:
        return verifier_of(self.token)


def derive(code: str, salt: bytes, iterations: int = ITERATIONS) -> Derived:
    """PBKDF2-SHA256 of the code, then HKDF-SHA256 twice (docs/replies.md)."""
    master = hashlib.pbkdf2_hmac("sha256", code.encode("ascii"), salt, iterations, 32)
    return Derived(_expand(master, ACCESS_INFO), _expand(master, KEY_INFO))


def _expand(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def verifier_of(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


def token_matches(token: bytes, verifier: bytes) -> bool:
    return hmac.compare_digest(verifier_of(token), verifier)


def decoy_salt(secret: bytes, reference: str) -> bytes:
    """The salt shown for a reference that is not stored: the same every time,
    and not to be told from a real one without ``secret``."""
    message = b"haven reply salt\x00" + reference.encode("utf-8", "surrogatepass")
    return hmac.new(secret, message, hashlib.sha256).digest()[:SALT_SIZE]


def box_aad(reference: str, sender: str, box_id: str) -> bytes:
    """A message is bound to its conversation, its direction and its own id."""
    return f"haven/reply/v1|{reference}|{sender}|{box_id}".encode()


def message_aad(reference: str) -> bytes:
    """The person's message sealed to the inbox key is bound to its request."""
    return f"haven/message/v1|{reference}".encode()


def seal_box(reply_key: bytes, text: str, reference: str, sender: str) -> dict[str, object]:
    """A message encrypted under the reply key, as the person's phone reads it."""
    box_id = b64encode(secrets.token_bytes(BOX_ID_SIZE))
    iv = secrets.token_bytes(12)
    plaintext = pad(json.dumps({"text": text}, ensure_ascii=False).encode("utf-8"))
    ct = AESGCM(reply_key).encrypt(iv, plaintext, box_aad(reference, sender, box_id))
    return {"v": 1, "id": box_id, "iv": b64encode(iv), "ct": b64encode(ct)}


def open_box(reply_key: bytes, box: Mapping[str, object], reference: str, sender: str) -> str:
    """The text of a message box; EnvelopeError if it does not open."""
    problems = box_problems(box)
    if problems:
        raise EnvelopeError(problems[0][0])
    try:
        padded = AESGCM(reply_key).decrypt(
            b64decode(str(box["iv"])),
            b64decode(str(box["ct"])),
            box_aad(reference, sender, str(box["id"])),
        )
        text = json.loads(unpad(padded).decode("utf-8"))["text"]
    except (InvalidTag, ValueError, KeyError, TypeError) as error:
        raise EnvelopeError("the message does not open with this key") from error
    if not isinstance(text, str):
        raise EnvelopeError("the message holds no text")
    return text


# The sizes a box's ciphertext may have: a padding bucket and the tag.
_BOX_CT_SIZES = frozenset(size + 16 for size in (512, 1024, 2048, 4096, 8192, 16384))
BOX_FIELDS = ("v", "id", "iv", "ct")


def box_problems(box: object) -> list[tuple[str, str]]:
    """What is wrong with a message box's shape, by field (empty: nothing)."""
    if not isinstance(box, Mapping):
        return [("box", "not an object")]
    problems: list[tuple[str, str]] = []
    extra = sorted(set(box) - set(BOX_FIELDS))
    problems.extend((f"box.{name}", "not allowed") for name in extra)
    if box.get("v") != 1:
        problems.append(("box.v", "unsupported version"))
    for name, sizes in (
        ("id", frozenset({BOX_ID_SIZE})),
        ("iv", frozenset({12})),
        ("ct", _BOX_CT_SIZES),
    ):
        value = box.get(name)
        if not isinstance(value, str) or len(value) > 22_000:
            problems.append((f"box.{name}", "missing or not text"))
            continue
        try:
            if len(b64decode(value)) not in sizes:
                problems.append((f"box.{name}", "wrong length"))
        except EnvelopeError:
            problems.append((f"box.{name}", "not base64url"))
    return problems


def binary(value: object, size: int) -> bytes | None:
    """``value`` as the bytes of base64url text of exactly ``size`` bytes, or None."""
    if not isinstance(value, str) or len(value) > 2 * size:
        return None
    try:
        decoded = b64decode(value)
    except EnvelopeError:
        return None
    return decoded if len(decoded) == size else None
