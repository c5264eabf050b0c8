"""Callbacks of the pretraining engine: throughput logging, the divergence guard, progress."""

from __future__ import annotations

import statistics
import sys
import time
from collections import deque
from typing import Any, TextIO

import lightning as L
from lightning.pytorch.callbacks import ProgressBar, TQDMProgressBar

from threekg.progress import LineProgress, use_bars
from threekg.train.module import DivergedLossError


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


class DivergenceGuard(L.Callback):
    """Stops a run whose loss climbs and stays high while finite (the NaN guard misses those).

    A batch's loss is *high* when it is above ``factor`` x the median of the last ``window`` losses
    before it and at least ``margin`` (nats) above that median (near zero, a doubling is noise). After
    ``patience`` high losses in a row, training stops with :class:`DivergedLossError` naming the step,
    the loss, the median and the first step of the climb. A run that never learned sits at chance
    level (about log(2B - 1) for NT-Xent); that is not a climb, and is not detected.

    The recent losses are saved in every checkpoint (a list of floats, loadable with
    ``weights_only=True``), so a resumed run is judged against the losses before it. With several
    processes each judges its own losses and one vote (``reduce_boolean_decision``) stops all of them.
    """

    def __init__(self, factor: float = 2.0, patience: int = 20, window: int = 100, margin: float = 0.5) -> None:
        self.factor, self.patience, self.window, self.margin = factor, patience, window, margin
        self.history: deque[float] = deque(maxlen=window)
        self.streak: list[tuple[int, float]] = []
        self._step = 0

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history), "streak": [list(s) for s in self.streak]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = deque((float(v) for v in state_dict.get("history", [])), maxlen=self.window)
        self.streak = [(int(s), float(v)) for s, v in state_dict.get("streak", [])]

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        self._step = trainer.global_step + 1  # the optimizer step this batch contributes to (1-based)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = float(outputs["loss"]) * trainer.accumulate_grad_batches  # Lightning divides it by accumulate
        median = statistics.median(self.history) if len(self.history) >= self.patience else None
        high = median is not None and loss > self.factor * median and loss > median + self.margin
        if high:
            self.streak.append((self._step, loss))
        else:
            self.history.extend(v for _, v in self.streak)  # a passing spike counts as an ordinary loss
            self.history.append(loss)
            self.streak = []
        diverged = len(self.streak) >= self.patience
        if trainer.world_size > 1:
            diverged = trainer.strategy.reduce_boolean_decision(diverged, all=False)
        if not diverged:
            return
        if len(self.streak) < self.patience:  # another process diverged
            onset = self._step - self.patience + 1
            raise DivergedLossError(f"the loss diverged on another process at step {self._step}", self._step, onset)
        onset = self.streak[0][0]
        assert median is not None
        raise DivergedLossError(
            f"the loss diverged: {loss:.4g} at step {self._step}, above {self.factor:g}x its running median "
            f"{median:.4g} for {len(self.streak)} steps since step {onset} (losses {self.streak[0][1]:.4g} ... "
            f"{loss:.4g}; still finite)", self._step, onset)


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
