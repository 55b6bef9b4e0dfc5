"""A throwaway PostgreSQL cluster from Debian's binaries, started and stopped by the tests.

``initdb`` in a temporary directory, ``pg_ctl`` listening on 127.0.0.1 on a
free port and on a Unix socket in that directory, nothing system-wide started
or stopped. PostgreSQL refuses to run as root, so as root (CI) the server's
binaries run as ``nobody``, owner of the directory; as anyone else, as
themselves. Each test gets a database of its own, copied from one migrated
once (``CREATE DATABASE ... TEMPLATE``), and dropped afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

SUPERUSER = "postgres"
# The role Haven connects as: no superuser, owner of its databases, as an
# operator would make it (docs/operations.md).
ROLE = "haven"
TEMPLATE = "haven_migrated"
# Speed over durability: the cluster lives for one pytest process.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
}


def binaries() -> Path:
    """The newest major version's bin directory, or an error saying what to install."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parent.parent.name),
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL is missing: install Debian's postgresql package "
            "(./test.sh does; or apt-get install postgresql)"
        )
    return Path(found[-1]).parent


def run_in_thread(work: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a coroutine to its end on a loop of its own, whatever loop this thread runs."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(work())
        except BaseException as error:  # handed back to the caller
            outcome["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cluster:
    """One PostgreSQL server in a temporary directory."""

    def __init__(self) -> None:
        self.bin = binaries()
        self.root = Path(tempfile.mkdtemp(prefix="haven-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self._numbers = itertools.count(1)
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            self._owner = pwd.getpwnam("nobody")
            os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)

    # --- the server's own binaries, as their owner ------------------------------

    def _demote(self) -> None:
        if self._owner is not None:
            os.setgid(self._owner.pw_gid)
            os.setgroups([])
            os.setuid(self._owner.pw_uid)

    def _server_command(self, *args: str) -> subprocess.CompletedProcess[str]:
        environment = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "HOME": str(self.root)}
        result = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            env=environment,
            cwd=self.root,
            preexec_fn=self._demote,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}{log}")
        return result

    def start(self) -> None:
        self._server_command(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"unix_socket_directories = '{self.root}'\n")
            for name, value in SETTINGS.items():
                conf.write(f"{name} = {value}\n")
        # A free port can be taken between the probe and the start: try again.
        for attempt in range(5):
            self.port = _free_port()
            try:
                self._server_command(
                    "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data),
                    "-l", str(self.log), "-o", f"-p {self.port}",
                )  # fmt: skip
                break
            except RuntimeError:
                if attempt == 4:
                    raise
        self.psql(f"CREATE ROLE {ROLE} LOGIN")
        self.psql(f"CREATE DATABASE {TEMPLATE} OWNER {ROLE}")

    def stop(self) -> None:
        if self.port:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self._server_command("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))
        shutil.rmtree(self.root, ignore_errors=True)

    # --- clients, as whoever runs the tests -------------------------------------

    def url(self, database: str, user: str = ROLE, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{user}@127.0.0.1:{self.port}/{database}"

    def client(self, tool: str, *args: str, input: str | None = None) -> str:
        """``psql``, ``pg_dump`` or ``pg_restore`` over TCP; their output."""
        result = subprocess.run(
            [str(self.bin / tool), "-h", "127.0.0.1", "-p", str(self.port), *args],
            input=input,
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "PGCONNECT_TIMEOUT": "10", "LC_ALL": "C.UTF-8"},
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def psql(self, sql: str, database: str = "postgres", user: str = SUPERUSER) -> str:
        return self.client(
            "psql", "-U", user, "-d", database, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
            "-c", sql,
        )  # fmt: skip

    def migrate_template(self) -> None:
        """Bring the template to the newest migration, as ``haven serve`` would."""
        from server.storage import Database

        async def work() -> None:
            database = Database(self.url(TEMPLATE))
            await database.start()
            await database.stop()

        run_in_thread(work)

    def unique_name(self, prefix: str = "t") -> str:
        return f"{prefix}_{next(self._numbers)}"

    def new_database(self, template: str = TEMPLATE) -> str:
        name = self.unique_name()
        self.psql(f"CREATE DATABASE {name} TEMPLATE {template} OWNER {ROLE}")
        return name

    def drop_database(self, name: str) -> None:
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    @contextlib.contextmanager
    def fresh_database(self, template: str = TEMPLATE) -> Iterator[str]:
        """A migrated database of its own, as a URL for ``HAVEN_DATABASE_URL``."""
        name = self.new_database(template)
        try:
            yield self.url(name)
        finally:
            self.drop_database(name)

    def database_of(self, url: str) -> str:
        return url.rsplit("/", 1)[1]


def query(url: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows of one query on the database at ``url`` (a ``HAVEN_DATABASE_URL``)."""
    import asyncpg

    async def work() -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(libpq_url(url))
        try:
            return [tuple(row) for row in await connection.fetch(sql, *args)]
        finally:
            await connection.close()

    rows: list[tuple[Any, ...]] = run_in_thread(work)
    return rows


@contextlib.contextmanager
def holding(url: str, sql: str) -> Iterator[None]:
    """Hold what ``sql`` takes (a table lock, say) in an open transaction of
    another connection, for as long as the block runs."""
    import asyncpg

    taken = threading.Event()
    release = threading.Event()
    failure: list[BaseException] = []

    async def hold() -> None:
        connection = await asyncpg.connect(libpq_url(url))
        try:
            async with connection.transaction():
                await connection.execute(sql)
                taken.set()
                await asyncio.get_running_loop().run_in_executor(None, release.wait)
        finally:
            await connection.close()

    def target() -> None:
        try:
            asyncio.run(hold())
        except BaseException as error:  # handed back to the caller
            failure.append(error)
            taken.set()

    thread = threading.Thread(target=target)
    thread.start()
    taken.wait(60)
    try:
        if failure:
            raise failure[0]
        yield
    finally:
        release.set()
        thread.join()


def libpq_url(url: str) -> str:
    """A ``HAVEN_DATABASE_URL`` as psql and pg_dump read it."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


def dump(url: str, *options: str) -> str:
    """``pg_dump`` of the database at ``url``: plain SQL unless ``options`` say otherwise."""
    result = subprocess.run(
        [str(binaries() / "pg_dump"), "--no-owner", *options, "-d", libpq_url(url)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"pg_dump failed: {result.stderr}")
    return result.stdout


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        cluster.start()
        cluster.migrate_template()
        yield cluster
    finally:
        cluster.stop()
