"""Callbacks of the pretraining engine: throughput logging."""

from __future__ import annotations

import time
from typing import Any

import lightning as L


class Throughput(L.Callback):
    """Logs ``train/samples_per_s`` (recordings per second over all processes) and ``train/step_s``.

    The time of a step is wall time between consecutive ``on_train_batch_end`` calls, so it
    includes data loading, augmentation, forward, backward, optimizer and logging. ``step_times``
    keeps every measured interval (seconds) for benchmarks.
    """

    def __init__(self) -> None:
        self._last: float | None = None
        self.step_times: list[float] = []

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        if self._last is None:
            self._last = time.perf_counter()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        now = time.perf_counter()
        if self._last is not None:
            dt = now - self._last
            self.step_times.append(dt)
            n = int(batch["x"].shape[0]) * trainer.world_size
            pl_module.log("train/samples_per_s", n / dt, prog_bar=True, on_step=True, on_epoch=False, batch_size=n)
            pl_module.log("train/step_s", dt, on_step=True, on_epoch=False, batch_size=n)
        self._last = now
