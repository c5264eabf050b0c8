"""Callbacks of the pretraining engine: throughput logging, progress."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import lightning as L
from lightning.pytorch.callbacks import ProgressBar, TQDMProgressBar

from threekg.progress import LineProgress, use_bars


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


class LineProgressBar(ProgressBar):
    """Lightning's progress off a terminal: plain lines (``threekg.progress.LineProgress``).

    ``pretrain: step 120/400 (30%), 18.2 step/s, elapsed 7s, about 15s left, loss 3.12``, about every
    10% of the steps or 30 s, and one line when training ends. Only global rank 0 prints.
    """

    def __init__(self, desc: str = "pretrain", stream: TextIO | None = None) -> None:
        super().__init__()
        self.desc, self.stream = desc, stream
        self._enabled = True
        self._line: LineProgress | None = None

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def _loss(self) -> str:
        loss = self.trainer.callback_metrics.get("train/loss")
        return "" if loss is None else f"loss {float(loss):.4g}"

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._enabled:
            self._line = LineProgress(trainer.max_steps if trainer.max_steps > 0 else None, self.desc, "step",
                                      initial=trainer.global_step, stream=self.stream, postfix=self._loss)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self._line is not None and trainer.global_step != self._line.n:
            self._line.update_to(trainer.global_step)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._line is not None:
            self._line.close()
            self._line = None

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.on_train_end(trainer, pl_module)


def progress_callback(stream: TextIO | None = None) -> ProgressBar:
    """Lightning's tqdm bar when its stream (stdout) is a terminal, else :class:`LineProgressBar`."""
    if use_bars(sys.stdout if stream is None else stream):
        return TQDMProgressBar(refresh_rate=1)
    return LineProgressBar(stream=stream)
