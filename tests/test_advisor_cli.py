"""`haven advisor …` and `haven keys`: accounts and keys from the command line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from advisors import add_arguments
from click.testing import CliRunner, Result

from server.cli import main

GOOD = "a long enough passphrase 42\n"


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    def invoke(*args: str, password: str | None = None) -> Result:
        return CliRunner().invoke(
            main, list(args), input=password, env={"HAVEN_DATA_DIR": str(tmp_path / "data")}
        )

    return invoke


def add(run, email: str, centre: str, *extra: str, password: str = GOOD) -> Result:  # type: ignore[no-untyped-def]
    """`haven advisor add` with the password on standard input."""
    return run(*add_arguments(email, centre, *extra), password=password)


def test_add_list_disable_enable(run) -> None:  # type: ignore[no-untyped-def]
    added = add(run, "Anna@Payoke.be", "payoke")
    assert added.exit_code == 0, added.output
    assert "added advisor anna@payoke.be of payoke" in added.output
    coordinator = add(run, "dora@haven.be", "pag-asa", "--coordinator")
    assert coordinator.exit_code == 0
    listed = run("advisor", "list")
    assert "anna@payoke.be\tpayoke\tadvisor\tactive" in listed.output
    assert "dora@haven.be\tpag-asa\tcoordinator\tactive" in listed.output
    assert run("advisor", "disable", "--email", "anna@payoke.be").exit_code == 0
    assert "anna@payoke.be\tpayoke\tadvisor\tdisabled" in run("advisor", "list").output
    assert run("advisor", "enable", "--email", "ANNA@payoke.be").exit_code == 0
    assert "anna@payoke.be\tpayoke\tadvisor\tactive" in run("advisor", "list").output


def test_clear_errors(run) -> None:  # type: ignore[no-untyped-def]
    base = ("advisor", "add", "--email", "anna@payoke.be", "--password-stdin")
    assert run(*base, "--centre", "payoke", password=GOOD).exit_code == 0
    duplicate = run(*base, "--centre", "surya", password=GOOD)
    assert duplicate.exit_code == 1
    assert "an advisor with the e-mail anna@payoke.be exists already" in duplicate.output
    unknown = run(*base, "--centre", "elsewhere", password=GOOD)
    assert unknown.exit_code == 2 and "'elsewhere' is not one of" in unknown.output
    for weak, reason in (
        ("short\n", "at least 12 characters"),
        ("password1234\n", "most common"),
        ("qwertyuiop123456\n", "most common"),
        ("aaaaaaaaaaaaaaaa\n", "most common"),
        ("anna-payoke-2026!\n", "e-mail address"),
        ("\n", "no password"),
    ):
        result = add(run, "anna-payoke@x.be", "payoke", password=weak)
        assert result.exit_code == 1, weak
        assert reason in result.output, (weak, result.output)
    bad_email = add(run, "not-an-email", "payoke")
    assert bad_email.exit_code == 1 and "is not an e-mail address" in bad_email.output
    missing = run("advisor", "disable", "--email", "nobody@x.be")
    assert missing.exit_code == 1 and "there is no advisor" in missing.output
    assert (
        run(
            "advisor", "set-password", "--email", "nobody@x.be", "--password-stdin", password=GOOD
        ).exit_code
        == 1
    )


def test_set_password(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from server.advisor.passwords import verify_password
    from server.storage.advisors import find_advisor

    assert add(run, "chloe@surya.be", "surya").exit_code == 0
    changed = run(
        "advisor",
        "set-password",
        "--email",
        "chloe@surya.be",
        "--password-stdin",
        password="another good passphrase 7\n",
    )
    assert changed.exit_code == 0 and "sessions have ended" in changed.output

    import asyncio

    from server.storage import Database

    async def check() -> bool:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'haven.sqlite3'}")
        await db.start()
        try:
            advisor = await find_advisor(db, "chloe@surya.be")
        finally:
            await db.stop()
        assert advisor is not None
        return verify_password(advisor.password_hash, "another good passphrase 7")

    assert asyncio.run(check())


def test_the_password_is_never_stored_in_clear(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert add(run, "chloe@surya.be", "surya").exit_code == 0
    for path in (tmp_path / "data").iterdir():
        assert GOOD.strip().encode() not in path.read_bytes()
    database = (tmp_path / "data" / "haven.sqlite3").read_bytes()
    assert b"$argon2id$" in database


def test_keys_creates_private_files_and_prints_the_public_key(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = run("keys")
    assert first.exit_code == 0
    assert "VAPID public key: B" in first.output  # 0x04 prefix in base64url
    for name in ("inbox-key.pem", "vapid-key.pem", "session-key", "limits-key"):
        mode = stat.S_IMODE((tmp_path / "data" / name).stat().st_mode)
        assert mode == 0o600, name
    # Running it again keeps the same keys.
    assert run("keys").output == first.output
