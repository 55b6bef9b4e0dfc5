"""The keys directory: the keys every instance shares, their fingerprints, the check at start.

``HAVEN_KEYS_DIR`` (default: the data directory) holds the inbox key
(``inbox-key.pem``, the one new envelopes are sealed to) and the older inbox
keys kept to open old envelopes (``inbox-key.<kid>.pem``), the session key
and the VAPID key, each 0600 in a 0700 directory. The database records a
fingerprint of each (a hash of a public key, or of a keyed digest of a
secret one: never a key), and an instance whose keys differ from the record
refuses to start, saying which key and what to do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .advisor.sessions import KEY_FILE as SESSION_FILE
from .advisor.sessions import load_or_create_key
from .crypto import KEY_FILE as INBOX_FILE
from .crypto import EnvelopeError, InboxKey, b64decode, b64encode
from .push import KEY_FILE as VAPID_FILE
from .push import VapidKey
from .security.files import private_directory
from .storage import Database
from .storage.keys import Recorded, record_keys, recorded_keys

KINDS = ("inbox", "session", "vapid")
FILES = {"inbox": INBOX_FILE, "session": SESSION_FILE, "vapid": VAPID_FILE}
# What a rotation writes before the database knows of the new key (server/rotation.py).
PENDING_SUFFIX = ".new"
_OLD_INBOX = re.compile(r"inbox-key\.([A-Za-z0-9_-]{11})\.pem")


class KeysError(RuntimeError):
    """Keys that cannot be used as they are; the message says what to do."""


class KeyMismatch(KeysError):
    """The keys directory holds other keys than the database was made with."""


def old_inbox_file(keys_dir: Path, kid: str) -> Path:
    return keys_dir / f"inbox-key.{kid}.pem"


class InboxKeys:
    """Every inbox key held: the current one seals, any of them opens what was sealed to it."""

    def __init__(self, current: InboxKey, older: Iterable[InboxKey] = ()) -> None:
        self.current = current
        self.by_kid = {key.kid: key for key in older}
        self.by_kid[current.kid] = current

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self.by_kid)

    @property
    def kid(self) -> str:
        return self.current.kid

    @property
    def public_raw(self) -> bytes:
        return self.current.public_raw

    def public_document(self) -> dict[str, object]:
        return self.current.public_document()

    def _for(self, envelope: Mapping[str, object]) -> InboxKey:
        kid = envelope.get("kid") if isinstance(envelope, Mapping) else None
        key = self.by_kid.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise EnvelopeError("sealed to an inbox key this server does not hold")
        return key

    def open(self, envelope: Mapping[str, object], centre: str, lang: str) -> bytes:
        return self._for(envelope).open(envelope, centre, lang)

    def open_note(self, envelope: Mapping[str, object], reference: str) -> bytes:
        return self._for(envelope).open_note(envelope, reference)


def short_id(digest: bytes) -> str:
    return b64encode(digest[:8])


def session_fingerprint(key: bytes) -> str:
    # A keyed digest first: the fingerprint says nothing that helps guess the key.
    tag = hmac.new(key, b"haven key fingerprint v1", hashlib.sha256).digest()
    return hashlib.sha256(tag).hexdigest()


def public_fingerprint(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class HeldKeys:
    """The keys read from one keys directory."""

    path: Path
    inbox: InboxKeys
    session: bytes
    vapid: VapidKey

    def fingerprints(self, now: dt.datetime) -> list[Recorded]:
        found = [
            Recorded("inbox", kid, public_fingerprint(key.public_raw), now, kid == self.inbox.kid)
            for kid, key in sorted(self.inbox.by_kid.items())
        ]
        session = session_fingerprint(self.session)
        found.append(Recorded("session", short_id(bytes.fromhex(session)), session, now, True))
        vapid = public_fingerprint(b64decode(self.vapid.public_key))
        found.append(Recorded("vapid", short_id(bytes.fromhex(vapid)), vapid, now, True))
        return found


def load_keys(keys_dir: Path, *, create: bool = True) -> HeldKeys:
    """The keys of ``keys_dir``; missing ones are made when ``create`` is set.

    Raises KeysError when a key is missing (and not to be made) or an older
    inbox key's file does not hold the key its name says; the key classes
    raise their own errors for unreadable or too open files.
    """
    if create:
        private_directory(keys_dir)
    else:
        missing = [name for name in FILES.values() if not (keys_dir / name).exists()]
        if missing:
            raise KeysError(
                f"there are no keys in {keys_dir} (missing: {', '.join(missing)}); "
                "set HAVEN_KEYS_DIR to the keys directory, or run 'haven keys' to make them"
            )
    current = InboxKey.load_or_create(keys_dir)
    older = []
    for path in sorted(keys_dir.glob("inbox-key.*.pem")):
        match = _OLD_INBOX.fullmatch(path.name)
        if match is None:
            continue
        key = InboxKey.load(path)
        if key.kid != match.group(1):
            raise KeysError(
                f"{path} holds the inbox key {key.kid}, not {match.group(1)}: "
                "restore that file from the keys backup"
            )
        older.append(key)
    return HeldKeys(
        path=keys_dir,
        inbox=InboxKeys(current, older),
        session=load_or_create_key(keys_dir),
        vapid=VapidKey.load_or_create(keys_dir),
    )


def mismatches(recorded: Iterable[Recorded], held: HeldKeys) -> list[str]:
    """What differs between the database's record and the keys held, in words."""
    mine = {(key.kind, key.kid): key for key in held.fingerprints(dt.datetime.now(dt.UTC))}
    problems = []
    for key in recorded:
        path = held.path / FILES[key.kind]
        have = mine.get((key.kind, key.kid))
        if have is not None and have.fingerprint != key.fingerprint:
            problems.append(f"the {key.kind} key {key.kid} in {path} is not the recorded one")
        elif key.current and (have is None or not have.current):
            ours = next(k.kid for k in mine.values() if k.kind == key.kind and k.current)
            pending = path.with_name(path.name + PENDING_SUFFIX)
            hint = (
                f" ({pending} exists: a rotation stopped before it renamed it to {path.name})"
                if pending.exists()
                else ""
            )
            problems.append(
                f"the {key.kind} key in {path} is {ours}, but this database was made with "
                f"{key.kid}{hint}"
            )
        elif have is None:
            problems.append(
                f"the older inbox key {key.kid} is missing ({old_inbox_file(held.path, key.kid)}): "
                "the requests sealed to it could not be opened"
            )
    return problems


async def check_keys(db: Database, held: HeldKeys) -> list[Recorded]:
    """Refuse keys the database was not made with; record them in a fresh one.

    Returns the record as it stands; raises KeyMismatch naming what differs.
    """
    now = dt.datetime.now(dt.UTC)
    async with db.engine.begin() as connection:
        recorded = await recorded_keys(connection)
        known = {key.kind for key in recorded if key.current}
        fresh = [key for key in held.fingerprints(now) if key.kind not in known]
        await record_keys(connection, fresh)
        if fresh:
            recorded = await recorded_keys(connection)
    problems = mismatches(recorded, held)
    if problems:
        raise KeyMismatch(
            "the keys in "
            + str(held.path)
            + " are not the ones this database was made with: "
            + "; ".join(problems)
            + ". Copy the keys directory of the other instances here (or point "
            "HAVEN_KEYS_DIR at it), or restore the keys backup made with this "
            "database's backup. Haven will not start with other keys: stored requests "
            "could not be opened and advisors could not sign in."
        )
    return recorded
