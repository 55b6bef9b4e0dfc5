"""The reply channel's keys: one set of vectors for the server's and the phone's code."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from server import replies
from server.crypto import EnvelopeError, b64decode, b64encode

ROOT = Path(__file__).resolve().parent.parent
VECTORS = json.loads((ROOT / "tests" / "vectors" / "replies.json").read_text("utf-8"))


@pytest.mark.parametrize("vector", VECTORS["derive"], ids=lambda vector: vector["code"])
def test_the_derivation_gives_the_vectors(vector: dict[str, object]) -> None:
    derived = replies.derive(
        str(vector["code"]), b64decode(str(vector["salt"])), int(str(vector["iterations"]))
    )
    assert b64encode(derived.token) == vector["token"]
    assert b64encode(derived.reply_key) == vector["reply_key"]
    assert b64encode(derived.verifier) == vector["verifier"]
    assert derived.token != derived.reply_key


def test_the_vectors_use_the_real_iteration_count_once() -> None:
    assert replies.ITERATIONS in {vector["iterations"] for vector in VECTORS["derive"]}
    lock = (ROOT / "pwa" / "disguise" / "lock.js").read_text("utf-8")
    codes = (ROOT / "pwa" / "components" / "reply-reader" / "codes.js").read_text("utf-8")
    assert f"ITERATIONS = {replies.ITERATIONS}" in lock
    assert f"ITERATIONS = {replies.ITERATIONS}" in codes


@pytest.mark.parametrize("vector", VECTORS["boxes"], ids=lambda vector: vector["sender"])
def test_the_boxes_open_only_as_sealed(vector: dict[str, object]) -> None:
    key = b64decode(str(vector["reply_key"]))
    box = vector["box"]
    assert isinstance(box, dict)
    reference, sender = str(vector["reference"]), str(vector["sender"])
    assert replies.open_box(key, box, reference, sender) == vector["text"]
    other = "centre" if sender == "person" else "person"
    for wrong in (
        (key, box, reference, other),
        (key, box, "HV-2222-2222", sender),
        (bytes(32), box, reference, sender),
        (key, {**box, "id": b64encode(bytes(16))}, reference, sender),
    ):
        with pytest.raises(EnvelopeError):
            replies.open_box(*wrong)


@pytest.mark.parametrize("vector", VECTORS["codes"], ids=lambda vector: repr(vector["typed"]))
def test_typed_codes_are_read_alike(vector: dict[str, object]) -> None:
    assert replies.normalize_code(vector["typed"]) == vector["code"]


@pytest.mark.parametrize("typed", [None, 4829105736628401, ["4829105736628401"], "x" * 10_000])
def test_a_code_that_is_no_text_is_no_code(typed: object) -> None:
    assert replies.normalize_code(typed) is None


def test_a_made_code_has_sixteen_digits_in_four_groups() -> None:
    codes = {replies.make_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 16 and code.isascii() and code.isdigit()
        assert replies.normalize_code(replies.format_code(code)) == code
    # Every digit appears in every place: nothing is fixed.
    assert all(len({code[place] for code in codes}) == 10 for place in range(16))


def test_the_phone_derives_and_seals_as_the_server_does() -> None:
    result = subprocess.run(
        ["node", str(ROOT / "tests" / "replies_vectors.mjs")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answer = json.loads(result.stdout)
    assert answer["failures"] == []
    key = b64decode(VECTORS["boxes"][0]["reply_key"])
    assert replies.open_box(key, answer["box"], "HV-7K3P-Q9XD", "person") == (
        "Écrit sur le téléphone"
    )


def test_a_decoy_salt_is_steady_and_unlike_others() -> None:
    secret = bytes(range(32))
    first = replies.decoy_salt(secret, "HV-2222-3333")
    assert first == replies.decoy_salt(secret, "HV-2222-3333")
    assert len(first) == replies.SALT_SIZE
    assert first != replies.decoy_salt(secret, "HV-2222-3334")
    assert first != replies.decoy_salt(bytes(32), "HV-2222-3333")


def test_the_token_is_checked_by_its_verifier_only() -> None:
    derived = replies.derive("4829105736628401", bytes(16), 1000)
    assert replies.token_matches(derived.token, derived.verifier)
    assert not replies.token_matches(bytes(32), derived.verifier)
    assert replies.binary(b64encode(derived.token), 32) == derived.token
    assert replies.binary(b64encode(derived.token), 16) is None
    assert replies.binary("not base64!", 32) is None
    assert replies.binary(None, 32) is None
