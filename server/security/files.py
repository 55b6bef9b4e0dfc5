"""The data directory and the key files: private to the user Haven runs as.

Everything Haven writes (the SQLite database and its journal, the keys) is
created with umask 077, so it is readable by that user alone; a data
directory and a database made by an older version, or by hand, are tightened
at start. A key
file that others can read is refused outright: its secret may already be
known, and only the operator can say whether to keep it.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

# New files 0600, new directories 0700.
UMASK = 0o077
OTHERS = stat.S_IRWXG | stat.S_IRWXO


class KeyFileError(RuntimeError):
    """A key file that cannot be used as it is: Haven refuses to start."""


def private_umask() -> None:
    """From now on, whatever this process creates is its user's alone."""
    os.umask(UMASK)


def private_directory(path: Path) -> None:
    """Make ``path`` (0700) if missing, or take group and world access off it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    tighten(path)


def tighten(path: Path) -> None:
    """Take group and world access off a file or directory of Haven's own."""
    mode = path.lstat().st_mode
    if mode & OTHERS and not stat.S_ISLNK(mode):
        os.chmod(path, stat.S_IMODE(mode) & ~OTHERS)


def require_private(path: Path, what: str) -> None:
    """Refuse a key file that its group or other users can read or change."""
    mode = path.stat().st_mode
    if mode & OTHERS:
        raise KeyFileError(
            f"the {what} {path} can be read by other users (mode {stat.S_IMODE(mode):04o}); "
            f"Haven will not use it: check who may have copied it, then run "
            f"'chmod 600 {path}' (or replace the key) and start again"
        )


def create_exclusively(path: Path, content: bytes) -> bool:
    """Write ``content`` to ``path`` only if nothing is there; False if something was.

    The key is written to a private temporary file and then linked into place:
    unlike a rename, a link never replaces a file that appeared meanwhile, and
    no reader ever sees a half-written key.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_directory(path.parent)
    return True


def install(pending: Path, path: Path) -> None:
    """Put a fully written file of Haven's own in place of ``path``, in one rename, durably."""
    os.replace(pending, path)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # Makes the new name itself durable; some systems cannot open a directory.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
