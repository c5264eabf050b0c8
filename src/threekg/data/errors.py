"""The one exception every rejected record raises."""

from __future__ import annotations

from pathlib import Path

from threekg.errors import InputError


class RecordError(InputError):
    """A record that cannot be used, with a one-line reason (an :class:`~threekg.errors.InputError`).

    ``str(err)`` is ``"path: reason"``; ``err.reason`` alone is what ``rejected.csv`` stores.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = " ".join(str(reason).split())  # always one line
        super().__init__(f"{self.path}: {self.reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (RecordError, (self.path, self.reason))
