"""Sealed envelopes: the format of docs/envelope.md, and the inbox key file."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from server.crypto import (
    BUCKETS,
    ENVELOPE_VERSION,
    KEY_FILE,
    MAX_PLAINTEXT,
    EnvelopeError,
    InboxKey,
    InboxKeyError,
    envelope_problems,
    pad,
    seal,
    unpad,
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> InboxKey:
    return InboxKey.load_or_create(tmp_path_factory.mktemp("key"))


def sealed(inbox: InboxKey, plaintext: bytes = b'{"situation": "help"}') -> dict[str, object]:
    return seal(inbox.public_raw, plaintext, "payoke", "nl")


def test_round_trip(inbox: InboxKey) -> None:
    plaintext = json.dumps({"situation": "Vector ✓ — één"}, ensure_ascii=False).encode()
    envelope = sealed(inbox, plaintext)
    assert set(envelope) == {"v", "kid", "epk", "iv", "ct"}
    assert envelope["v"] == ENVELOPE_VERSION and envelope["kid"] == inbox.kid
    assert envelope_problems(envelope) == []
    assert inbox.open(envelope, "payoke", "nl") == plaintext


def test_every_seal_is_fresh(inbox: InboxKey) -> None:
    first, second = sealed(inbox), sealed(inbox)
    assert first["epk"] != second["epk"] and first["iv"] != second["iv"]
    assert first["ct"] != second["ct"]


@pytest.mark.parametrize("bucket", BUCKETS)
def test_each_bucket(inbox: InboxKey, bucket: int) -> None:
    # The largest plaintext that fits: one byte is the 0x80 marker.
    plaintext = b"a" * (bucket - 1)
    envelope = sealed(inbox, plaintext)
    assert len(unb64(str(envelope["ct"]))) == bucket + 16
    assert inbox.open(envelope, "payoke", "nl") == plaintext
    if bucket < BUCKETS[-1]:
        bigger = sealed(inbox, plaintext + b"a")
        assert len(unb64(str(bigger["ct"]))) == BUCKETS[BUCKETS.index(bucket) + 1] + 16


def test_length_is_hidden_within_a_bucket(inbox: InboxKey) -> None:
    short, long = sealed(inbox, b"x" * 10), sealed(inbox, b"x" * 400)
    assert len(str(short["ct"])) == len(str(long["ct"]))


def test_too_long_is_refused(inbox: InboxKey) -> None:
    assert inbox.open(sealed(inbox, b"z" * MAX_PLAINTEXT), "payoke", "nl") == b"z" * MAX_PLAINTEXT
    with pytest.raises(EnvelopeError) as caught:
        sealed(inbox, b"secret" * 6000)
    assert "secret" not in str(caught.value)


def test_padding() -> None:
    assert pad(b"") == b"\x80" + b"\x00" * 511
    assert unpad(pad(b"abc\x00")) == b"abc\x00"
    for broken in (b"\x00" * 512, b"abc" + b"\x00" * 509, b"\x80" * 100):
        with pytest.raises(EnvelopeError):
            unpad(broken)


def flip(text: object, at: int = 5) -> str:
    data = bytearray(unb64(str(text)))
    data[at] ^= 0x01
    return b64(bytes(data))


@pytest.mark.parametrize(
    ("change", "centre", "lang"),
    [
        ({"ct": "flip"}, "payoke", "nl"),
        ({"iv": "flip"}, "payoke", "nl"),
        ({"epk": "other"}, "payoke", "nl"),
        ({}, "surya", "nl"),  # centre bound by the AAD
        ({}, "payoke", "fr"),  # language bound by the AAD
        ({"v": 2}, "payoke", "nl"),
        ({"v": True}, "payoke", "nl"),
        ({"kid": "AAAAAAAAAAA"}, "payoke", "nl"),
        ({"ct": "not base64!"}, "payoke", "nl"),
        ({"epk": b64(b"\x04" + b"\x01" * 64)}, "payoke", "nl"),  # not on the curve
        ({"extra": "x"}, "payoke", "nl"),
    ],
)
def test_anything_wrong_does_not_open(
    inbox: InboxKey, change: dict[str, object], centre: str, lang: str
) -> None:
    envelope = sealed(inbox, b"the secret words")
    for name, value in change.items():
        if value == "flip":
            value = flip(envelope[name])
        elif value == "other":
            other = ec.generate_private_key(ec.SECP256R1()).public_key()
            value = b64(
                other.public_bytes(
                    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
                )
            )
        envelope[name] = value
    with pytest.raises(EnvelopeError) as caught:
        inbox.open(envelope, centre, lang)
    assert "secret" not in str(caught.value)


def test_public_document_matches_the_spec(inbox: InboxKey) -> None:
    document = inbox.public_document()
    assert set(document) == {"v", "kid", "crv", "x", "y", "raw"}
    raw = unb64(str(document["raw"]))
    assert raw == inbox.public_raw and len(raw) == 65 and raw[0] == 4
    assert unb64(str(document["x"])) == raw[1:33] and unb64(str(document["y"])) == raw[33:]
    assert document["kid"] == b64(hashlib.sha256(raw).digest()[:8]) == inbox.kid
    assert document["crv"] == "P-256" and document["v"] == 1
    assert "=" not in json.dumps(document)


def test_key_file_is_private_pkcs8(tmp_path: Path) -> None:
    InboxKey.load_or_create(tmp_path)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # no temporary file left


def test_existing_key_is_reused_across_restarts(tmp_path: Path) -> None:
    first = InboxKey.load_or_create(tmp_path)
    envelope = sealed(first, b"kept")
    before = (tmp_path / KEY_FILE).read_bytes()
    second = InboxKey.load_or_create(tmp_path)
    assert second.kid == first.kid
    assert second.open(envelope, "payoke", "nl") == b"kept"
    assert (tmp_path / KEY_FILE).read_bytes() == before


@pytest.mark.parametrize(
    "content",
    [b"", b"not a key", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"],
)
def test_corrupt_key_file_stops_the_start(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / KEY_FILE
    path.write_bytes(content)
    with pytest.raises(InboxKeyError, match="will not replace it"):
        InboxKey.load_or_create(tmp_path)
    assert path.read_bytes() == content


def test_a_key_on_another_curve_is_refused(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    (tmp_path / KEY_FILE).write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(InboxKeyError, match="P-256"):
        InboxKey.load_or_create(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_key_file_stops_the_start(tmp_path: Path) -> None:
    InboxKey.load_or_create(tmp_path)
    (tmp_path / KEY_FILE).chmod(0)
    with pytest.raises(InboxKeyError, match="cannot be read"):
        InboxKey.load_or_create(tmp_path)


def test_a_directory_in_place_of_the_key_stops_the_start(tmp_path: Path) -> None:
    # Unreadable even for root: the same refusal as a file without permissions.
    (tmp_path / KEY_FILE).mkdir()
    with pytest.raises(InboxKeyError, match="cannot be read"):
        InboxKey.load_or_create(tmp_path)


def test_envelope_problems_name_each_field(inbox: InboxKey) -> None:
    good = sealed(inbox)
    assert envelope_problems([]) == [("envelope", "This must be a JSON object.")]
    assert envelope_problems({}) == [("envelope.v", "This field is missing.")]
    assert envelope_problems({**good, "v": 2}) == [
        ("envelope.v", "This envelope version is not supported.")
    ]
    broken = {
        **good,
        "epk": b64(b"\x02" + bytes(64)),
        "iv": b64(bytes(11)),
        "ct": b64(bytes(600)),
        "kid": 7,
        "note": "x",
    }
    assert dict(envelope_problems(broken)) == {
        "envelope.note": "This field is not allowed.",
        "envelope.kid": "This must be text in base64url.",
        "envelope.epk": "This is not an uncompressed P-256 public key.",
        "envelope.iv": "This has the wrong length.",
        "envelope.ct": "This has the wrong length.",
    }
    padded = {**good, "iv": str(good["iv"]) + "="}
    assert dict(envelope_problems(padded)) == {"envelope.iv": "This must be text in base64url."}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
FIELD_VALUES = JSON | st.text(alphabet="AB-_=+/4 ", max_size=120) | st.just(1)


@settings(max_examples=300, deadline=None)
@given(
    envelope=JSON
    | st.dictionaries(st.sampled_from(["v", "kid", "epk", "iv", "ct", "x"]), FIELD_VALUES)
)
def test_envelope_problems_never_raises(envelope: object) -> None:
    problems = envelope_problems(envelope)
    assert all(isinstance(field, str) and isinstance(text, str) for field, text in problems)


def test_haven_serve_refuses_a_corrupt_key_clearly(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_bytes(b"garbage")
    result = subprocess.run(
        [sys.executable, "-m", "server", "serve", "--port", "0"],
        env={**os.environ, "HAVEN_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "inbox key" in result.stderr and "will not replace it" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / KEY_FILE).read_bytes() == b"garbage"
