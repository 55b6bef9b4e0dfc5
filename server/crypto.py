"""Sealed envelopes: the inbox key pair, sealing and opening (docs/envelope.md).

A phone seals a help request to the inbox public key (ephemeral ECDH P-256,
HKDF-SHA256, AES-256-GCM, padded to a size bucket); only this server's private
key opens it. The server seals with the same code when a form arrives without
JavaScript, so both paths store the same format.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .security.files import create_exclusively, require_private

logger = logging.getLogger("haven.crypto")

ENVELOPE_VERSION = 1
BUCKETS = (512, 1024, 2048, 4096, 8192, 16384, 32768)
# The 0x80 marker needs one byte, so the largest bucket holds one byte less.
MAX_PLAINTEXT = BUCKETS[-1] - 1
KEY_FILE = "inbox-key.pem"

POINT_SIZE = 65  # 0x04 || X || Y on P-256
IV_SIZE = 12
TAG_SIZE = 16
KID_SIZE = 8
CIPHERTEXT_SIZES = frozenset(bucket + TAG_SIZE for bucket in BUCKETS)
ENVELOPE_FIELDS = ("v", "kid", "epk", "iv", "ct")
HKDF_INFO = b"haven envelope v1"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
# No binary field is longer than the largest ciphertext; check before decoding.
_MAX_ENCODED = (BUCKETS[-1] + TAG_SIZE) * 4 // 3 + 4


def _(message: str) -> str:
    """Marks a message for ``pybabel extract``; the API translates it when it answers."""
    return message


MUST_BE_OBJECT = _("This must be a JSON object.")
MISSING = _("This field is missing.")
NOT_ALLOWED = _("This field is not allowed.")
UNSUPPORTED_VERSION = _("This envelope version is not supported.")
NOT_TEXT = _("This must be text in base64url.")
WRONG_LENGTH = _("This has the wrong length.")
NOT_A_POINT = _("This is not an uncompressed P-256 public key.")
UNKNOWN_KEY = _(
    "This message was sealed for a key this server does not have, so it cannot be "
    "delivered. Please write it again, or call a centre."
)


class EnvelopeError(ValueError):
    """An envelope that cannot be sealed or opened. The message never holds plaintext."""


class InboxKeyError(RuntimeError):
    """The inbox key file exists but cannot be used: Haven refuses to start."""


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict base64url without padding; raises EnvelopeError on anything else."""
    if len(text) > _MAX_ENCODED or len(text) % 4 == 1 or not _BASE64URL.fullmatch(text):
        raise EnvelopeError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise EnvelopeError("not base64url") from error


def pad(plaintext: bytes) -> bytes:
    """Append 0x80, then zeros up to the smallest bucket that fits."""
    if len(plaintext) > MAX_PLAINTEXT:
        raise EnvelopeError(f"the request is longer than {MAX_PLAINTEXT} bytes")
    size = next(bucket for bucket in BUCKETS if bucket > len(plaintext))
    return plaintext + b"\x80" + b"\x00" * (size - len(plaintext) - 1)


def unpad(padded: bytes) -> bytes:
    if len(padded) not in BUCKETS:
        raise EnvelopeError("bad padding")
    end = padded.rstrip(b"\x00")
    if not end or end[-1] != 0x80:
        raise EnvelopeError("bad padding")
    return end[:-1]


def key_id(public_raw: bytes) -> str:
    return b64encode(hashlib.sha256(public_raw).digest()[:KID_SIZE])


def _aad(centre: str, lang: str) -> bytes:
    return f"haven/v1|{centre}|{lang}".encode()


def _note_aad(reference: str) -> bytes:
    # An advisor's note is bound to its request: it cannot be moved to another.
    return f"haven/v1|note|{reference}".encode()


def _derive(shared: bytes, epk_raw: bytes, inbox_raw: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=epk_raw + inbox_raw, info=HKDF_INFO)
    return hkdf.derive(shared)


def _point(raw: bytes) -> ec.EllipticCurvePublicKey:
    if len(raw) != POINT_SIZE or raw[0] != 0x04:
        raise EnvelopeError("not an uncompressed P-256 point")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError as error:
        raise EnvelopeError("not a point on P-256") from error


def _raw(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def seal(public_raw: bytes, plaintext: bytes, centre: str, lang: str) -> dict[str, object]:
    """Seal ``plaintext`` to the inbox key exactly as a phone does."""
    return _seal(public_raw, plaintext, _aad(centre, lang))


def seal_note(public_raw: bytes, plaintext: bytes, reference: str) -> dict[str, object]:
    """Seal an advisor's note on request ``reference`` the way requests are sealed."""
    return _seal(public_raw, plaintext, _note_aad(reference))


def _seal(public_raw: bytes, plaintext: bytes, aad: bytes) -> dict[str, object]:
    inbox = _point(public_raw)
    padded = pad(plaintext)
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    epk_raw = _raw(ephemeral.public_key())
    key = _derive(ephemeral.exchange(ec.ECDH(), inbox), epk_raw, public_raw)
    iv = secrets.token_bytes(IV_SIZE)
    ct = AESGCM(key).encrypt(iv, padded, aad)
    return {
        "v": ENVELOPE_VERSION,
        "kid": key_id(public_raw),
        "epk": b64encode(epk_raw),
        "iv": b64encode(iv),
        "ct": b64encode(ct),
    }


def _binary_problem(value: object, valid_sizes: frozenset[int]) -> str | None:
    if not isinstance(value, str):
        return NOT_TEXT
    try:
        decoded = b64decode(value)
    except EnvelopeError:
        return NOT_TEXT
    if len(decoded) not in valid_sizes:
        return WRONG_LENGTH
    return None


def envelope_problems(envelope: object) -> list[tuple[str, str]]:
    """What is wrong with an envelope's shape, as (field, message) pairs; [] if nothing.

    Needs no key, so the API can refuse a broken envelope before storing it.
    """
    if not isinstance(envelope, Mapping):
        return [("envelope", MUST_BE_OBJECT)]
    version = envelope.get("v")
    if "v" not in envelope:
        return [("envelope.v", MISSING)]
    # bool is an int in Python, but `true` is not a version.
    if type(version) is not int or version != ENVELOPE_VERSION:
        # Another version may have other fields: nothing else can be judged.
        return [("envelope.v", UNSUPPORTED_VERSION)]
    problems = [
        (f"envelope.{name}", NOT_ALLOWED) for name in envelope if name not in ENVELOPE_FIELDS
    ]
    sizes = {
        "kid": frozenset({KID_SIZE}),
        "epk": frozenset({POINT_SIZE}),
        "iv": frozenset({IV_SIZE}),
        "ct": CIPHERTEXT_SIZES,
    }
    for name, valid in sizes.items():
        if name not in envelope:
            problems.append((f"envelope.{name}", MISSING))
            continue
        problem = _binary_problem(envelope[name], valid)
        if problem is None and name == "epk" and b64decode(str(envelope[name]))[0] != 0x04:
            problem = NOT_A_POINT
        if problem is not None:
            problems.append((f"envelope.{name}", problem))
    return problems


class InboxKey:
    """The server's inbox key pair; the private half never leaves the data directory."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        self._private = private_key
        self.public_raw = _raw(private_key.public_key())
        self.kid = key_id(self.public_raw)

    @classmethod
    def load(cls, path: Path) -> InboxKey:
        return cls(_load(path))

    @classmethod
    def load_or_create(cls, data_dir: Path) -> InboxKey:
        path = data_dir / KEY_FILE
        if os.path.lexists(path):
            return cls(_load(path))
        private_key = ec.generate_private_key(ec.SECP256R1())
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        if not create_exclusively(path, pem):
            # Another process made one first: use theirs, never replace it.
            return cls(_load(path))
        logger.info(
            "created a new inbox key %s in %s", key_id(_raw(private_key.public_key())), path
        )
        return cls(private_key)

    def public_document(self) -> dict[str, object]:
        return {
            "v": ENVELOPE_VERSION,
            "kid": self.kid,
            "crv": "P-256",
            "x": b64encode(self.public_raw[1:33]),
            "y": b64encode(self.public_raw[33:]),
            "raw": b64encode(self.public_raw),
        }

    def open(self, envelope: Mapping[str, object], centre: str, lang: str) -> bytes:
        """The unpadded plaintext; EnvelopeError if anything at all is wrong."""
        return self._open(envelope, _aad(centre, lang))

    def open_note(self, envelope: Mapping[str, object], reference: str) -> bytes:
        """An advisor's note on request ``reference``; EnvelopeError if it does not open."""
        return self._open(envelope, _note_aad(reference))

    def _open(self, envelope: Mapping[str, object], aad: bytes) -> bytes:
        problems = envelope_problems(envelope)
        if problems:
            field, message = problems[0]
            raise EnvelopeError(f"{field}: {message}")
        if envelope["kid"] != self.kid:
            raise EnvelopeError("sealed to another inbox key")
        epk_raw = b64decode(str(envelope["epk"]))
        shared = self._private.exchange(ec.ECDH(), _point(epk_raw))
        key = _derive(shared, epk_raw, self.public_raw)
        try:
            padded = AESGCM(key).decrypt(
                b64decode(str(envelope["iv"])), b64decode(str(envelope["ct"])), aad
            )
        except InvalidTag as error:
            raise EnvelopeError("the envelope does not open with this key and routing") from error
        return unpad(padded)


def _load(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        require_private(path, "inbox key")
        pem = path.read_bytes()
    except OSError as error:
        raise InboxKeyError(
            f"the inbox key {path} exists but cannot be read ({error.strerror}); "
            "Haven will not replace it: fix its permissions or restore it from a backup"
        ) from error
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise InboxKeyError(
            f"the inbox key {path} is not a readable PKCS#8 PEM private key; "
            "Haven will not replace it, since stored requests can only be opened with it: "
            "restore it from a backup"
        ) from error
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InboxKeyError(f"the inbox key {path} is not a P-256 key")
    return key
