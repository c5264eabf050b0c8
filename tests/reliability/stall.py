"""Child-process targets that stop pretraining at one moment of a checkpoint write, for a SIGKILL there.

Run through :mod:`killing` (a real, separate process). The child patches the calls of
``threekg.train.checkpoint_io.AtomicCheckpointIO`` for the file ``name`` so that, at ``stage``, it
creates ``marker`` and sleeps; the test kills the process group as soon as the marker appears:

* ``writing``: half of the serialised checkpoint is in the temporary file ``.NAME.tmp-PID``;
* ``before-move``: the temporary file is complete and flushed, ``NAME`` not yet replaced;
* ``after-move``: ``NAME`` was replaced, the rest of the step (``last.ckpt`` after ``step-N.ckpt``,
  the logs) not done.
"""

from __future__ import annotations

import io
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
    import torch

    from threekg.train import pretrain

    real_save, real_replace = torch.save, os.replace

    def save(obj: Any, f: Any, *args: Any, **kw: Any) -> None:
        if stage == "writing" and Path(f.name).name.startswith(f".{name}.tmp-"):
            buffer = io.BytesIO()
            real_save(obj, buffer, *args, **kw)
            f.write(buffer.getvalue()[: buffer.tell() // 2])
            f.flush()
            os.fsync(f.fileno())
            _stall(marker)
        real_save(obj, f, *args, **kw)

    def replace(src: Any, dst: Any) -> None:
        if Path(dst).name == name and stage == "before-move":
            _stall(marker)
        real_replace(src, dst)
        if Path(dst).name == name and stage == "after-move":
            _stall(marker)

    torch.save = save  # this child process only; other files pass through (the name is checked)
    os.replace = replace
    return pretrain(**kwargs)
