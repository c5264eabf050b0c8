"""Callbacks of the pretraining engine: throughput logging."""

from __future__ import annotations

import time
from typing import Any

import lightning as L


class Throughput(L.Callback):
    """Logs ``train/samples_per_s`` (recordings per second over all processes) and ``train/step_s``.

    The time of a step is wall time between consecutive ``on_train_batch_end`` calls, so it
    includes data loading, augmentation, forward, backward, optimizer and logging. Every
    ``log_every_n_steps`` the mean over the steps since the last log is written straight to the
    loggers (not through ``LightningModule.log``, whose per-key bookkeeping costs milliseconds per
    step); the progress bar shows batches per second (``it/s``).
    """

    def __init__(self) -> None:
        self._last: float | None = None
        self._times: list[float] = []
        self._samples = 0

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        if self._last is None:
            self._last = time.perf_counter()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self._times.append(now - self._last)
            self._samples += int(batch["x"].shape[0]) * trainer.world_size
        self._last = now
        if self._times and trainer.global_step % max(1, int(getattr(trainer, "log_every_n_steps", 1))) == 0 and trainer.is_global_zero:
            seconds = sum(self._times)
            metrics = {"train/samples_per_s": self._samples / seconds, "train/step_s": seconds / len(self._times)}
            for logger in trainer.loggers:
                logger.log_metrics(metrics, step=trainer.global_step)
            self._times, self._samples = [], 0
