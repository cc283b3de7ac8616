"""Output files that are whole or absent: every file pramsim writes goes through here.

A file is written to a temporary file in its own folder and renamed over the target
(`os.replace`, atomic on one file system), so a crash, Ctrl-C or a full disk never leaves a torn
or 0-byte file, and a reader sees the old file or the new one. An existing target that is not a
regular file (`/dev/stdout`, `/dev/full`, a FIFO) is written directly: renaming over a device
would replace it (as root, `/dev/null` itself).

OS errors become `FileError`s that name the path, the OS's reason and what to do (exit code 1);
`check_target` refuses, before anything runs, a target that cannot work (missing folder, a folder
given as the file): a usage error, exit code 2. `exclusive_lock` keeps two sweeps off one CSV.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

from .errors import FileError, ParameterError

_HINTS = {
    errno.ENOSPC: "free some space on that disk, or write the file somewhere else",
    errno.EFBIG: "the file would pass the size limit on files (ulimit -f) or of the file system",
    errno.EDQUOT: "free some space within your disk quota, or write the file somewhere else",
    errno.EACCES: "write it to a folder you can write to, or change the folder's permissions",
    errno.EPERM: "write it to a folder you can write to, or change the folder's permissions",
    errno.EROFS: "that file system is read-only: write the file somewhere else",
    errno.ENOENT: "create the folder first, or give a path in an existing folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EISDIR: "give a file name, not a folder",
    errno.EEXIST: "a file of that name is in the way: give another path",
}


def output_error(path: Path | str, exc: OSError, what: str = "write") -> FileError:
    """The user-facing error for an OSError met while writing `path`."""
    reason = exc.strerror or str(exc)
    return FileError(f"cannot {what} {path}: {reason}", hint=_HINTS.get(exc.errno or 0, "check the path and try again"))


def check_target(path: Path, option: str) -> None:
    """Refuse, before a command runs, an output path that cannot be written (exit code 2).

    Catches what is wrong with the path itself (a folder given as the file, a missing or
    unwritable folder); a full disk is only found when writing."""
    def refuse(reason: str, hint: str) -> None:
        raise ParameterError(f"{option} {path}: {reason}", hint=hint)

    if path.is_dir():
        refuse("is a folder", "give a file name, not a folder")
    if path.exists() and not path.is_file():
        if not os.access(path, os.W_OK):
            refuse("cannot be written (permission denied)", "give a file you can write")
        return  # a device or FIFO: written in place
    folder = path.parent
    if not folder.exists():
        refuse(f"the folder {folder} does not exist", f"create it first (mkdir -p {folder}), or give another path")
    if not folder.is_dir():
        refuse(f"{folder} is not a folder", "check the path")
    if not os.access(folder, os.W_OK | os.X_OK):
        refuse(f"the folder {folder} is not writable", "write the file to a folder you can write to")


def check_targets(outputs: list[tuple[str, Path]], read: list[tuple[str, Path | None]]) -> None:
    """check_target for each (option, path) of `outputs`, and a ParameterError for one that is a
    file of `read` (what, path: the command's program and inputs) or an earlier output: writing it
    would replace that file. Paths are compared resolved (symlinks too, and hard links)."""
    for k, (option, path) in enumerate(outputs):
        check_target(path, option)
        for what, other in read:
            if other is not None and same_file(path, other):
                named = "" if str(other) == str(path) else f" ({other})"
                raise ParameterError(f"{option} {path} is {what}{named}: writing it would replace that file",
                                     hint=f"give {option} another path")
        for earlier, other in outputs[:k]:
            if same_file(path, other):
                raise ParameterError(f"{option} {path} and {earlier} {other} are the same file: one output would "
                                     "replace the other", hint="give each output a path of its own")


def same_file(a: Path, b: Path) -> bool:
    """Whether writing `a` would replace the file `b`: one path once symlinks are resolved, or two
    names of one existing file (a hard link). A device or FIFO is written in place, never replaced,
    so two outputs may both be /dev/null."""
    if writes_in_place(a) or writes_in_place(b):
        return False
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def writes_in_place(path: Path) -> bool:
    """True for an existing target that is not a regular file (device, FIFO): no temp-and-rename."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def _new_file_mode(path: Path) -> int:
    """The mode the file would get from a plain open(): the old file's, else 0666 less the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_open(path: Path | str, mode: str = "w", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open `path` for writing ("w" or "wb"); the file appears, whole, when the block ends.

    On any exception (Ctrl-C too) the temporary file is removed and the old target, if any, is
    untouched; OSErrors are raised as FileError."""
    path = Path(path)
    if writes_in_place(path):
        try:
            with open(path, mode, **open_kwargs) as f:
                yield f
        except OSError as exc:
            raise output_error(path, exc) from None
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise output_error(path, exc, "create a file beside") from None
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the name points at it
        os.chmod(tmp, _new_file_mode(path))  # mkstemp makes it private; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise output_error(path, exc) from None
        raise


def write_text(path: Path | str, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically; returns the path."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return Path(path)


def write_bytes(path: Path | str, data: bytes) -> Path:
    """Write `data` to `path` atomically; returns the path."""
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(path)


def append_whole(fd: int, data: bytes, path: Path | str) -> None:
    """Append `data` to the open file `fd` with as few writes as the OS allows; if a write fails
    (a full disk), cut the file back to where it was, so it ends with a whole record."""
    try:
        start: int | None = os.lseek(fd, 0, os.SEEK_END)
    except OSError:  # a pipe or terminal: nothing to cut back
        start = None
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        if start is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
        raise output_error(path, exc) from None


@contextlib.contextmanager
def exclusive_lock(lock_path: Path, busy: str, hint: str) -> Iterator[None]:
    """Hold an exclusive flock on `lock_path` for the block; FileError(busy, hint) if another
    process holds it. The lock file is removed when the block ends.

    Removing a lock file safely: the holder unlinks it before unlocking, and whoever locks a file
    checks that the path still names the file it locked (else it locked a removed one, and tries
    again), so two processes never both believe they hold the lock."""
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise output_error(lock_path, exc, "create the lock file") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FileError(busy, hint=hint) from None
        try:
            same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # we locked a lock file its holder has just removed: take the new one
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock_path)
        os.close(fd)
