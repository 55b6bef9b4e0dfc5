"""The second factor: an authenticator app's code, once per code, never stored in clear."""

from __future__ import annotations

import re
from pathlib import Path

import pyotp
from advisors import PASSWORD, PAYOKE, Desk, login_error
from click.testing import CliRunner
from conftest import sqlite_only

from server.cli import main
from server.storage.advisors import set_totp


def enrol(desk: Desk, email: str = PAYOKE) -> str:
    secret = pyotp.random_base32(length=32)
    sealed = desk.app.state.haven.desk.totp.seal(secret, email)

    async def work() -> None:
        assert await set_totp(desk.app.state.haven.db, email, sealed, desk.clock())

    desk.client.portal.call(work)  # type: ignore[union-attr]
    return secret


def attempt(desk: Desk, code: str | None, email: str = PAYOKE) -> tuple[int, str]:
    desk.use(None)
    response = desk.submit_login(email, **({} if code is None else {"code": code}))
    return response.status_code, login_error(response)


def test_setting_it_up_ends_the_sessions(desk: Desk) -> None:
    assert desk.get(PAYOKE, "/advisor/").status_code == 200
    enrol(desk)
    assert desk.get(PAYOKE, "/advisor/").status_code == 303


def test_the_code_is_needed_once_set_up(desk: Desk) -> None:
    secret = enrol(desk)
    totp = pyotp.TOTP(secret)
    unknown = attempt(desk, None, email="nobody@payoke.be")
    assert attempt(desk, None) == unknown  # no hint that the password was right
    assert attempt(desk, "000000" if totp.at(desk.clock()) != "000000" else "111111") == unknown
    assert attempt(desk, "12345") == unknown
    code = totp.at(desk.clock())
    assert attempt(desk, code)[0] == 303
    # The same code never works twice, even within its 30 seconds.
    assert attempt(desk, code) == unknown
    desk.clock.advance(seconds=30)
    assert attempt(desk, totp.at(desk.clock()))[0] == 303


def test_a_code_a_step_early_or_late_is_accepted(desk: Desk) -> None:
    secret = enrol(desk)
    totp = pyotp.TOTP(secret)
    early = totp.at(desk.clock().timestamp() - 30)
    assert attempt(desk, early)[0] == 303
    desk.clock.advance(seconds=300)
    stale = totp.at(desk.clock().timestamp() - 90)
    assert attempt(desk, stale)[0] == 400


@sqlite_only
def test_wrong_codes_count_towards_the_throttle(desk: Desk) -> None:
    secret = enrol(desk)
    for _ in range(5):
        assert (
            attempt(desk, "999999" if pyotp.TOTP(secret).now() != "999999" else "888888")[0] == 400
        )
    assert attempt(desk, pyotp.TOTP(secret).at(desk.clock()))[0] == 429


def test_the_command_prints_the_address_once_and_stores_it_encrypted(tmp_path: Path) -> None:
    env = {"HAVEN_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()
    added = runner.invoke(
        main,
        ["advisor", "add", "--centre", "payoke", "--email", "anna@payoke.be", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert added.exit_code == 0
    result = runner.invoke(main, ["advisor", "totp", "--email", "anna@payoke.be"], env=env)
    assert result.exit_code == 0, result.output
    uri = re.search(r"otpauth://totp/\S+", result.output)
    assert uri and "issuer=Haven" in uri.group(0)
    secret = re.search(r"secret=([A-Z2-7]+)", uri.group(0))
    assert secret
    for path in (tmp_path / "data").iterdir():
        assert secret.group(1).encode() not in path.read_bytes(), path
    removed = runner.invoke(
        main, ["advisor", "totp", "--email", "anna@payoke.be", "--remove"], env=env
    )
    assert removed.exit_code == 0 and "removed" in removed.output
    missing = runner.invoke(main, ["advisor", "totp", "--email", "x@y.be"], env=env)
    assert missing.exit_code == 1 and "there is no advisor" in missing.output
