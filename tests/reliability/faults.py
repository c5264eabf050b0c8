"""Disk faults injected in-process: a disk that fills up below a folder, and an unwritable folder.

Tests run as root, which ignores permission bits, and cannot mount a small tmpfs, so:

* :func:`disk_full` wraps ``builtins.open``/``io.open``, ``os.open``/``os.fdopen``/``os.write``/``os.pwrite`` so that files
  under ``root`` accept ``budget`` bytes in total; the write that crosses the budget writes what
  fits and raises ``OSError(ENOSPC)`` *without a file name*, exactly as ``write(2)`` does. Writers
  that bypass Python's IO (Rust in safetensors) are not covered.
* :func:`unwritable` returns a path below a regular file: every attempt to create it fails with
  ``NotADirectoryError`` or ``FileExistsError`` (as root cannot be stopped by ``chmod``).
"""

from __future__ import annotations

import builtins
import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

ENOSPC_TEXT = os.strerror(errno.ENOSPC)  # "No space left on device"


@dataclass
class Disk:
    """Bytes left below the watched folder and how many writes have failed."""

    left: int
    failures: int = 0
    opened: list[str] = field(default_factory=list)  # files opened for writing, in order

    def take(self, n: int) -> int:
        """How many of ``n`` bytes fit; raises ENOSPC when not all of them do (after the caller writes)."""
        fit = min(n, self.left)
        self.left -= fit
        return fit

    def fail(self) -> None:
        self.failures += 1
        raise OSError(errno.ENOSPC, ENOSPC_TEXT)


class _FullFile:
    """A file object whose writes draw on a :class:`Disk`."""

    def __init__(self, fh: Any, disk: Disk) -> None:
        self._fh, self._disk = fh, disk

    def write(self, data: Any) -> int:
        size = len(data)
        fit = self._disk.take(size)
        if fit:
            self._fh.write(data[:fit])
        if fit < size:
            self._fh.flush()
            self._disk.fail()
        return size

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._fh)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


def _under(path: Any, roots: tuple[Path, ...]) -> bool:
    try:
        p = Path(os.fsdecode(path)).resolve()
    except (TypeError, ValueError):
        return False  # a file descriptor or something else that is not a path
    return any(p == root or root in p.parents for root in roots)


@contextmanager
def disk_full(*folders: Path, budget: int = 0) -> Iterator[Disk]:
    """Files below ``folders`` (one disk) may receive ``budget`` more bytes, then writes fail with ENOSPC.

    Pass the temporary folder too (``tempfile.gettempdir()``) when it is on the same disk and the
    writer stages files there (Lightning checkpoints go through an fsspec temp file and a move)."""
    root = tuple(Path(f).resolve() for f in folders)
    disk = Disk(budget)
    real_open, real_os_open, real_write, real_pwrite = builtins.open, os.open, os.write, os.pwrite
    real_fdopen = os.fdopen
    watched: set[int] = set()

    def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        fh = real_open(file, mode, *args, **kwargs)
        if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+") and _under(file, root):
            disk.opened.append(os.fsdecode(file))
            return _FullFile(fh, disk)
        return fh

    def fake_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        fd = real_os_open(path, flags, *args, **kwargs)
        if flags & (os.O_WRONLY | os.O_RDWR) and _under(path, root):
            disk.opened.append(os.fsdecode(path))
            watched.add(fd)
        else:
            watched.discard(fd)
        return fd

    def fake_fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        fh = real_fdopen(fd, *args, **kwargs)
        return _FullFile(fh, disk) if fd in watched else fh

    def fake_write(fd: int, data: Any) -> int:
        if fd not in watched:
            return real_write(fd, data)
        fit = disk.take(len(data))
        written = real_write(fd, bytes(data)[:fit]) if fit else 0
        if fit < len(data):
            disk.fail()
        return written

    def fake_pwrite(fd: int, data: Any, offset: int) -> int:
        if fd not in watched:
            return real_pwrite(fd, data, offset)
        fit = disk.take(len(data))
        written = real_pwrite(fd, bytes(data)[:fit], offset) if fit else 0
        if fit < len(data):
            disk.fail()
        return written

    with mock.patch("builtins.open", fake_open), mock.patch("io.open", fake_open), mock.patch("os.open", fake_os_open), \
            mock.patch("os.fdopen", fake_fdopen), \
            mock.patch("os.write", fake_write), mock.patch("os.pwrite", fake_pwrite):
        yield disk


def unwritable(tmp_path: Path, name: str = "out") -> Path:
    """A path that cannot be created, even by root: its parent is a regular file."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file standing where a folder is needed\n")
    return blocker / name
