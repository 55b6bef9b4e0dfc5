"""Rotating the session and VAPID keys: sessions end, second factors stay, devices resubscribe."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pyotp
import pytest
from advisors import PAYOKE, ROOT, login_error, make_desk
from click.testing import CliRunner

from server.cli import main
from server.keys import KeyMismatch, check_keys, load_keys
from server.rotation import finish_interrupted, rotate_inbox, rotate_session
from server.storage import Database
from server.storage.advisors import set_totp
from server.storage.keys import record_keys, recorded_keys
from server.storage.subscriptions import count_subscriptions, save_subscription


def _rotate(tmp_path: Path, *flags: str) -> str:
    result = CliRunner().invoke(
        main, ["keys", "rotate", *flags], env={"HAVEN_DATA_DIR": str(tmp_path / "data")}
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_session_rotation_ends_sessions_and_keeps_second_factors(tmp_path: Path) -> None:
    secret = pyotp.random_base32(length=32)
    for desk in make_desk(tmp_path):
        desk.add(PAYOKE, "payoke")
        sealed = desk.app.state.haven.desk.totp.seal(secret, PAYOKE)
        enrolled = desk.client.portal.call(  # type: ignore[union-attr]
            set_totp, desk.app.state.haven.db, PAYOKE, sealed, desk.clock()
        )
        assert enrolled
        desk.use(PAYOKE)
        signed_in = desk.submit_login(PAYOKE, code=pyotp.TOTP(secret).at(desk.clock()))
        assert signed_in.status_code == 303
        desk.keep(PAYOKE)
        old_cookies = dict(desk.client.cookies)
        assert desk.get(PAYOKE, "/advisor/").status_code == 200
        old_key = (tmp_path / "data" / "session-key").read_bytes()

        output = _rotate(tmp_path, "--session")
        assert "1 sessions ended, 1 second factors resealed" in output
        assert (tmp_path / "data" / "session-key").read_bytes() != old_key
        # Even this instance, not restarted yet, refuses the session: it ended
        # in the database that every instance shares.
        assert desk.get(PAYOKE, "/advisor/").status_code == 303

    for desk in make_desk(tmp_path):
        desk.clock.advance(seconds=60)  # the code used above is never taken twice
        desk.use(None)
        desk.client.cookies.update(old_cookies)
        assert desk.client.get("/advisor/", follow_redirects=False).status_code == 303
        desk.use(None)
        wrong = desk.submit_login(PAYOKE)
        assert wrong.status_code != 303 and login_error(wrong)
        desk.use(None)
        again = desk.submit_login(PAYOKE, code=pyotp.TOTP(secret).at(desk.clock()))
        assert again.status_code == 303, login_error(again)


async def subscribe(db: Database, now: dt.datetime) -> None:
    await save_subscription(
        db, advisor_id=1, endpoint="https://push.example/old", p256dh="p", auth="a", now=now
    )


def test_vapid_rotation_forgets_subscriptions_and_serves_the_new_key(tmp_path: Path) -> None:
    for desk in make_desk(tmp_path):
        desk.add(PAYOKE, "payoke")
        assert desk.sign_in(PAYOKE).status_code == 303
        old = desk.get(PAYOKE, "/advisor/api/push-key").json()["publicKey"]
        db = desk.app.state.haven.db
        desk.client.portal.call(subscribe, db, desk.clock())  # type: ignore[union-attr]
        output = _rotate(tmp_path, "--vapid")
        assert "1 push subscriptions forgotten" in output
        assert desk.client.portal.call(count_subscriptions, db) == 0  # type: ignore[union-attr]

    for desk in make_desk(tmp_path):
        assert desk.sign_in(PAYOKE).status_code == 303
        new = desk.get(PAYOKE, "/advisor/api/push-key").json()["publicKey"]
        assert new != old and len(new) == len(old)


SAME_KEY = """
const vm = require('vm')
const fs = require('fs')
const context = { document: { querySelector: () => null }, atob, Uint8Array }
vm.runInNewContext(fs.readFileSync(process.argv[1], 'utf8'), context)
const key = context.keyBytes(process.argv[2])
const buffer = (bytes) => Uint8Array.from(bytes).buffer
const other = Uint8Array.from(key); other[5] ^= 1
console.log(JSON.stringify([
  context.sameKey(buffer(key), key),
  context.sameKey(buffer(other), key),
  context.sameKey(buffer(key.slice(1)), key),
  context.sameKey(null, key)
]))
"""


def test_the_dashboard_tells_a_subscription_for_another_key(tmp_path: Path) -> None:
    for desk in make_desk(tmp_path):
        key = desk.app.state.haven.push.key.public_key
    result = subprocess.run(
        ["node", "-e", SAME_KEY, str(ROOT / "pwa" / "advisor" / "advisor.js"), key],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(result.stdout) == [True, False, False, False]


@pytest.mark.asyncio
async def test_a_fresh_database_records_the_first_keys_and_refuses_others(
    db: Database, tmp_path: Path
) -> None:
    first = load_keys(tmp_path / "first")
    recorded = await check_keys(db, first)
    assert {(key.kind, key.current) for key in recorded} == {
        ("inbox", True),
        ("session", True),
        ("vapid", True),
        ("limits", True),
    }
    # Nothing secret is recorded: not the session or limits key, nor anything they open.
    assert all(first.session.decode() not in key.fingerprint for key in recorded)
    assert all(first.limits.decode() not in key.fingerprint for key in recorded)
    assert await check_keys(db, load_keys(tmp_path / "first")) == recorded
    with pytest.raises(KeyMismatch, match=r"the session key in .* this database was made with"):
        await check_keys(db, load_keys(tmp_path / "second"))
    # Two instances recording at once: one current key of a kind wins.
    async with db.engine.begin() as connection:
        second = load_keys(tmp_path / "second").fingerprints(dt.datetime.now(dt.UTC))
        await record_keys(connection, second)
        after = await recorded_keys(connection)
    assert after == recorded


@pytest.mark.asyncio
async def test_an_older_inbox_key_gone_missing_is_named(db: Database, tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    await check_keys(db, load_keys(keys_dir))
    rotated = await rotate_inbox(db, keys_dir)
    (keys_dir / f"inbox-key.{rotated.old}.pem").unlink()
    with pytest.raises(KeyMismatch, match=f"the older inbox key {rotated.old} is missing"):
        await check_keys(db, load_keys(keys_dir))


@pytest.mark.asyncio
async def test_a_rotation_stopped_halfway_is_finished_or_undone(
    db: Database, tmp_path: Path
) -> None:
    keys_dir = tmp_path / "keys"
    await check_keys(db, load_keys(keys_dir))
    # Stopped after the database changed, before the rename: finished.
    rotated = await rotate_session(db, keys_dir)
    new_key = (keys_dir / "session-key").read_bytes()
    (keys_dir / "session-key.new").write_bytes(new_key)
    (keys_dir / "session-key").write_bytes(b"0" * 64)
    # As the rotation writes them, whatever this process's umask: only the owner reads them.
    for name in ("session-key.new", "session-key"):
        (keys_dir / name).chmod(0o600)
    with pytest.raises(KeyMismatch, match=r"session-key\.new exists"):
        await check_keys(db, load_keys(keys_dir))
    done = await finish_interrupted(db, keys_dir)
    assert done == [f"finished the session key rotation: {rotated.new} is now in place"]
    assert (keys_dir / "session-key").read_bytes() == new_key
    await check_keys(db, load_keys(keys_dir))
    # Stopped before the database changed: the new file is removed, nothing else.
    (keys_dir / "vapid-key.pem.new").write_bytes(b"not even a key")
    assert "removed" in (await finish_interrupted(db, keys_dir))[0]
    assert not (keys_dir / "vapid-key.pem.new").exists()
    await check_keys(db, load_keys(keys_dir))
