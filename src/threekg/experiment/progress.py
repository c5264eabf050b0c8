"""Study-level progress: which step runs, how long it has taken, and how long is left.

Remaining time is each step's a-priori estimate (a simple cost model in :mod:`threekg.experiment.plan`)
scaled by how far off the estimates of the steps already run turned out to be on this machine.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from threekg.progress import format_seconds


class StudyProgress:
    """Prints one line when a step starts and one when it ends, with elapsed time and time left."""

    def __init__(self, estimates: list[float], stream: TextIO | None = None) -> None:
        self.estimates = list(estimates)
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.spent_on_estimated = 0.0
        self.estimated_done = 0.0

    def _scale(self) -> float:
        if self.estimated_done <= 0:
            return 1.0
        return max(0.2, min(5.0, self.spent_on_estimated / self.estimated_done))

    def remaining(self, from_index: int) -> float:
        return self._scale() * sum(self.estimates[from_index:])

    def step_started(self, index: int, name: str, detail: str = "") -> None:
        elapsed = time.monotonic() - self.start
        msg = (
            f"[{index + 1}/{len(self.estimates)}] {name}{(' - ' + detail) if detail else ''}"
            f"  (elapsed {format_seconds(elapsed)}, about {format_seconds(self.remaining(index))} left)"
        )
        print(msg, file=self.stream, flush=True)

    def step_finished(self, index: int, name: str, seconds: float, skipped: bool) -> None:
        if skipped:
            print(f"      {name}: already done, reused", file=self.stream, flush=True)
            return
        self.spent_on_estimated += seconds
        self.estimated_done += self.estimates[index]
        print(f"      {name}: done in {format_seconds(seconds)}", file=self.stream, flush=True)
