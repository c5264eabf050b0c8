"""Validation of remote relative paths: nothing a server lists may land outside the destination."""

from __future__ import annotations

import re
from pathlib import Path

STATE_FILE = ".threekg-download.json"
PART_SUFFIX = ".part"

_DRIVE = re.compile(r"^[A-Za-z]:")


class UnsafePathError(ValueError):
    """A remote name that cannot be used as a path inside the destination; ``str()`` is one line."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"{name!r}: {reason}")


def validate_relpath(name: str) -> str:
    """Return ``name`` if it is a safe POSIX relative path, else raise :class:`UnsafePathError`.

    Rejected: empty names, NUL and other control characters, backslashes, drive letters,
    absolute paths, empty/``.``/``..`` components, our own ``.part`` suffix and state file name.
    """
    if not name:
        raise UnsafePathError(name, "empty name")
    bad = next((c for c in name if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise UnsafePathError(name, f"control character {bad!r} in name")
    if "\\" in name:
        raise UnsafePathError(name, "backslash in name (Windows path separator)")
    if _DRIVE.match(name):
        raise UnsafePathError(name, "drive letter in name")
    if name.startswith("/"):
        raise UnsafePathError(name, "absolute path")
    parts = name.split("/")
    if ".." in parts:
        raise UnsafePathError(name, "'..' component (would leave the destination)")
    if any(p in ("", ".") for p in parts):
        raise UnsafePathError(name, "empty or '.' path component")
    if name.endswith(PART_SUFFIX):
        raise UnsafePathError(name, f"name ends with {PART_SUFFIX!r}, reserved for partial downloads")
    if parts[-1] == STATE_FILE:
        raise UnsafePathError(name, f"name {STATE_FILE!r} is reserved for the download state")
    return name


def safe_target(dest: Path, name: str) -> Path:
    """The local path of remote file ``name`` inside ``dest`` after resolving symlinks.

    Raises :class:`UnsafePathError` when ``name`` is invalid or when the resolved path (or its
    ``.part`` sibling) is outside ``dest``, e.g. because a folder inside ``dest`` is a symlink
    pointing elsewhere.
    """
    validate_relpath(name)
    root = dest.resolve()
    target = root.joinpath(*name.split("/"))
    for path in (target, target.with_name(target.name + PART_SUFFIX)):
        resolved = path.resolve()
        if resolved != root and not resolved.is_relative_to(root):
            raise UnsafePathError(name, f"resolves to {resolved}, outside the destination {root}")
    return target
