"""Changing keys: rotating the inbox, session and VAPID keys, retiring old inbox keys.

Each rotation writes the new key beside the old one (``<file>.new``, 0600),
then changes the database in one transaction (the fingerprint record, and
what the new key changes: advisors' TOTP secrets resealed and their sessions
ended, or the push subscriptions forgotten), then renames the new file into
place. A rotation stopped between the two leaves a ``.new`` file that the
next ``haven keys`` command finishes (renames it, if the database already
records it) or removes (if not). Running instances keep the keys they read
at start: every instance is restarted after a rotation (docs/operations.md).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .advisor.totp import TotpBox
from .crypto import InboxKey, key_id
from .keys import (
    FILES,
    PENDING_SUFFIX,
    HeldKeys,
    KeysError,
    check_keys,
    load_keys,
    old_inbox_file,
    public_fingerprint,
    session_fingerprint,
    short_id,
)
from .security.files import create_exclusively, install
from .storage import Database
from .storage.advisors import rekey_advisors
from .storage.keys import (
    Recorded,
    Usage,
    envelope_usage,
    forget_key,
    recorded_keys,
    replace_current,
)
from .storage.subscriptions import forget_all_subscriptions


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_pem() -> tuple[bytes, bytes]:
    """A new P-256 private key as PKCS#8 PEM, and its raw public point."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return pem, raw


def _pending(keys_dir: Path, kind: str) -> Path:
    return keys_dir / (FILES[kind] + PENDING_SUFFIX)


def _fingerprint_of_file(kind: str, path: Path) -> str | None:
    """The fingerprint of a pending key file, or None if it holds no usable key."""
    content = path.read_bytes()
    if kind == "session":
        key = content.strip()
        return session_fingerprint(key) if len(key) >= 32 else None
    try:
        private = serialization.load_pem_private_key(content, password=None)
    except (ValueError, TypeError):
        return None
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        return None
    raw = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return public_fingerprint(raw)


async def finish_interrupted(db: Database, keys_dir: Path) -> list[str]:
    """Finish or undo rotations that stopped halfway; what was done, in words."""
    async with db.engine.connect() as connection:
        current = {key.kind: key for key in await recorded_keys(connection) if key.current}
    done = []
    for kind in FILES:
        pending = _pending(keys_dir, kind)
        if not pending.exists():
            continue
        recorded = current.get(kind)
        if recorded is not None and _fingerprint_of_file(kind, pending) == recorded.fingerprint:
            if kind == "inbox":
                _keep_old_inbox_key(keys_dir)
            install(pending, keys_dir / FILES[kind])
            done.append(f"finished the {kind} key rotation: {recorded.kid} is now in place")
        else:
            pending.unlink()
            done.append(f"removed {pending}, left by a {kind} key rotation that did not finish")
    return done


async def _ready(db: Database, keys_dir: Path) -> HeldKeys:
    await finish_interrupted(db, keys_dir)
    held = load_keys(keys_dir, create=False)
    await check_keys(db, held)
    return held


def _write_pending(keys_dir: Path, kind: str, content: bytes) -> Path:
    pending = _pending(keys_dir, kind)
    if not create_exclusively(pending, content):
        raise KeysError(f"{pending} appeared meanwhile: is another rotation running?")
    return pending


def _keep_old_inbox_key(keys_dir: Path) -> None:
    """A copy of the current inbox key under its kid's name, to open what was sealed to it."""
    current = keys_dir / FILES["inbox"]
    kid = InboxKey.load(current).kid
    target = old_inbox_file(keys_dir, kid)
    content = current.read_bytes()
    if not create_exclusively(target, content) and target.read_bytes() != content:
        raise KeysError(f"{target} exists and holds another key: restore it from the keys backup")


@dataclass(frozen=True)
class Rotated:
    kind: str
    old: str
    new: str
    detail: str


async def rotate_inbox(db: Database, keys_dir: Path) -> Rotated:
    held = await _ready(db, keys_dir)
    _keep_old_inbox_key(keys_dir)
    pem, raw = _new_pem()
    kid = key_id(raw)
    pending = _write_pending(keys_dir, "inbox", pem)
    try:
        async with db.engine.begin() as connection:
            record = Recorded("inbox", kid, public_fingerprint(raw), _now(), True)
            await replace_current(connection, record, keep_old=True)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    install(pending, keys_dir / FILES["inbox"])
    return Rotated(
        "inbox", held.inbox.kid, kid, "the older key is kept to open what was sealed to it"
    )


async def rotate_session(db: Database, keys_dir: Path) -> Rotated:
    held = await _ready(db, keys_dir)
    key = secrets.token_hex(32).encode("ascii")
    old_box, new_box = TotpBox(held.session), TotpBox(key)

    def reseal(sealed: bytes, email: str) -> bytes | None:
        secret = old_box.open(sealed, email)
        return None if secret is None else new_box.seal(secret, email)

    fingerprint = session_fingerprint(key)
    pending = _write_pending(keys_dir, "session", key)
    try:
        async with db.engine.begin() as connection:
            resealed, failed, ended = await rekey_advisors(connection, reseal, _now())
            record = Recorded(
                "session", short_id(bytes.fromhex(fingerprint)), fingerprint, _now(), True
            )
            await replace_current(connection, record, keep_old=False)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    install(pending, keys_dir / FILES["session"])
    old = short_id(bytes.fromhex(session_fingerprint(held.session)))
    detail = f"{ended} sessions ended, {resealed} second factors resealed"
    if failed:
        detail += f", {failed} second factors that did not open left as they were"
    return Rotated("session", old, record.kid, detail)


async def rotate_vapid(db: Database, keys_dir: Path) -> Rotated:
    held = await _ready(db, keys_dir)
    pem, raw = _new_pem()
    fingerprint = public_fingerprint(raw)
    pending = _write_pending(keys_dir, "vapid", pem)
    try:
        async with db.engine.begin() as connection:
            forgotten = await forget_all_subscriptions(connection)
            record = Recorded(
                "vapid", short_id(bytes.fromhex(fingerprint)), fingerprint, _now(), True
            )
            await replace_current(connection, record, keep_old=False)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    install(pending, keys_dir / FILES["vapid"])
    old = next(key.kid for key in held.fingerprints(_now()) if key.kind == "vapid")
    detail = f"{forgotten} push subscriptions forgotten: the dashboards subscribe again"
    return Rotated("vapid", old, record.kid, detail)


async def retire_inbox_key(db: Database, keys_dir: Path, kid: str) -> None:
    """Remove an older inbox key that no stored envelope needs; KeysError if one does."""
    held = await _ready(db, keys_dir)
    async with db.engine.begin() as connection:
        recorded = {key.kid for key in await recorded_keys(connection) if key.kind == "inbox"}
        if kid == held.inbox.kid:
            raise KeysError(
                f"{kid} is the current inbox key: new requests are sealed to it. "
                "Rotate first ('haven keys rotate --inbox'), then retire it when nothing needs it"
            )
        if kid not in recorded and kid not in held.inbox.by_kid:
            known = ", ".join(sorted(recorded | held.inbox.kids))
            raise KeysError(f"there is no inbox key {kid}; the inbox keys are: {known}")
        usage = await envelope_usage(connection)
        if usage.of(kid):
            raise KeysError(
                f"inbox key {kid} still opens {usage.requests[kid]} stored requests and "
                f"{usage.notes[kid]} notes: it is kept until they are deleted "
                "(closed requests are deleted after the retention period)"
            )
        await forget_key(connection, "inbox", kid)
    old_inbox_file(keys_dir, kid).unlink(missing_ok=True)


@dataclass(frozen=True)
class Listed:
    key: Recorded
    held: bool
    envelopes: int | None  # requests and notes sealed to it (inbox keys only)


async def list_keys(db: Database, keys_dir: Path) -> tuple[list[Listed], Usage]:
    held = await _ready(db, keys_dir)
    async with db.engine.connect() as connection:
        recorded = await recorded_keys(connection)
        usage = await envelope_usage(connection)
    listed = [
        Listed(
            key,
            key.kind != "inbox" or key.kid in held.inbox.by_kid,
            usage.of(key.kid) if key.kind == "inbox" else None,
        )
        for key in recorded
    ]
    return listed, usage
