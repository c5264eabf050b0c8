"""Child-process targets that stop pretraining at one moment of a checkpoint write, for a SIGKILL there.

Run through :mod:`killing` (a real, separate process). The child patches the ``open`` of
``threekg.train.checkpoint_io`` and ``os.replace`` for the file ``name`` so that, at ``stage``, it
creates ``marker`` and sleeps; the test kills the process group as soon as the marker appears:

* ``writing``: half of the serialised checkpoint is in the temporary file ``.NAME.tmp-PID``;
* ``before-move``: the temporary file is complete and flushed, ``NAME`` not yet replaced;
* ``after-move``: ``NAME`` was replaced, the rest of the step (``last.ckpt`` after ``step-N.ckpt``,
  the logs) not done.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

STAGES = ("writing", "before-move", "after-move")


def _stall(marker: str) -> None:
    Path(marker).touch()
    time.sleep(600)  # the test's SIGKILL ends this


def pretrain_stalling_at(stage: str, name: str, marker: str, **kwargs: Any) -> Any:
    """``threekg.train.pretrain(**kwargs)`` that stalls at ``stage`` of the first write of ``name``."""
    from threekg.train import checkpoint_io, pretrain

    real_replace = os.replace

    real_open = open

    class HalfFile:
        """The temporary file of ``name``: writes the first half of the bytes, then stalls."""

        def __init__(self, path: Any, mode: str) -> None:
            self.f = real_open(path, mode)

        def write(self, data: Any) -> int:
            half = bytes(data)[: len(data) // 2]
            self.f.write(half)
            self.f.flush()
            os.fsync(self.f.fileno())
            _stall(marker)
            return len(half)

        def __getattr__(self, attr: str) -> Any:
            return getattr(self.f, attr)

        def __enter__(self) -> HalfFile:
            return self

        def __exit__(self, *exc: object) -> None:
            self.f.close()

    def opener(path: Any, mode: str = "r", *args: Any, **kw: Any) -> Any:
        if stage == "writing" and Path(path).name.startswith(f".{name}.tmp-"):
            return HalfFile(path, mode)
        return real_open(path, mode, *args, **kw)

    def replace(src: Any, dst: Any) -> None:
        if Path(dst).name == name and stage == "before-move":
            _stall(marker)
        real_replace(src, dst)
        if Path(dst).name == name and stage == "after-move":
            _stall(marker)

    checkpoint_io.open = opener  # type: ignore[attr-defined]  # this child only: the writer's open()
    os.replace = replace  # this child process only; other files pass through (the name is checked)
    return pretrain(**kwargs)
