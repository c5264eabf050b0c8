"""Checkpoint files written atomically next to their final name.

Lightning's default writer serialises the checkpoint, writes it to a temporary file in the system
temp folder (fsspec) and moves it into place. When that folder is on another filesystem than the
run, the move is a copy: a kill or a full disk during it leaves a truncated ``last.ckpt`` or
``step-N.ckpt`` under its final name, and every killed write leaves a checkpoint-sized file behind
in the temp folder. Here the temporary file is ``.NAME.tmp-PID`` in the checkpoint's own folder,
flushed to disk, then renamed over ``NAME`` (``os.replace``, atomic on one filesystem): a checkpoint
under its final name is always complete. Leftover temporary files of killed runs are removed when
the run starts again (:func:`remove_partial_checkpoints`).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

PARTIAL_PATTERN = ".*.tmp-*"
"""Glob of the temporary files of unfinished checkpoint writes."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """``save_checkpoint`` as temp file in the same folder + fsync + rename; loading is Lightning's."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        buffer = io.BytesIO()  # serialised first, as Lightning does: a failed write (a full disk) then
        torch.save(checkpoint, buffer)  # raises its OSError, not torch's zip-writer error about it
        try:
            with open(tmp, "wb") as f:
                f.write(buffer.getbuffer())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def remove_partial_checkpoints(ckpt_dir: Path) -> list[Path]:
    """Delete the temporary files that killed checkpoint writes left in ``ckpt_dir``; returns them."""
    partial = sorted(ckpt_dir.glob(PARTIAL_PATTERN)) if ckpt_dir.is_dir() else []
    for path in partial:
        path.unlink(missing_ok=True)
    return partial
