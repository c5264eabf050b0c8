"""Progress off a terminal: plain lines about every 10% or 30 s; bars stay on a terminal."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from tqdm import tqdm

from threekg.progress import LineProgress, progress_bar, track, use_bars


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_steady_job_prints_a_line_about_every_tenth_and_one_at_the_end() -> None:
    out, clock = io.StringIO(), FakeClock()
    bar = LineProgress(400, "pretrain", "step", stream=out, clock=clock, postfix=lambda: "loss 1.5")
    for _ in range(400):
        clock.t += 0.5  # 200 s in all: 10% = 20 s, under the 30 s rule
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 10  # 9 progress lines (10% .. 90%) + the final one
    assert lines[0] == "pretrain: 40/400 step (10%), 2 step/s, elapsed 20s, about 3m00s left, loss 1.5"
    assert lines[4].startswith("pretrain: 200/400 step (50%)") and "about 1m40s left" in lines[4]
    assert lines[-1] == "pretrain: 400/400 step in 3m20s, 2 step/s, loss 1.5"


def test_a_slow_job_prints_every_30_s_and_a_fast_one_only_its_end() -> None:
    out, clock = io.StringIO(), FakeClock()
    slow = LineProgress(1000, "synth", "rec", stream=out, clock=clock)
    for _ in range(20):  # 2% of the work in 200 s
        clock.t += 10
        slow.update()
    assert out.getvalue().count("\n") == 6  # at 30, 60, ... 180 s
    assert "synth: 3/1,000 rec (0%), 10.0 s/rec, elapsed 30s, about 2h46m left" in out.getvalue()

    out, clock = io.StringIO(), FakeClock()
    with LineProgress(8, "embed", "batch", stream=out, clock=clock) as fast:
        for _ in range(8):
            clock.t += 0.1  # under MIN_SECONDS between lines: only the final line
            fast.update()
    assert out.getvalue() == "embed: 8/8 batch in 1s, 10 batch/s\n"


def test_resumed_work_counts_only_this_runs_rate_and_unknown_totals_work() -> None:
    out, clock = io.StringIO(), FakeClock()
    bar = LineProgress(100, "prepare", "rec", initial=50, stream=out, clock=clock)
    clock.t = 5
    bar.update(10)
    assert out.getvalue().startswith("prepare: 60/100 rec (60%), 2 rec/s, elapsed 5s, about 20s left")

    out, clock = io.StringIO(), FakeClock()
    grow = LineProgress(0, "cinc2020", "B", unit_scale=True, unit_divisor=1024, stream=out, clock=clock)
    grow.total = 4 * 1024**2  # download: the total grows as files are listed
    for _ in range(4):
        clock.t += 10
        grow.update(1024**2)
    grow.close()
    text = out.getvalue()
    assert "cinc2020: 2.00M/4.00M B (50%), 102k B/s" in text
    assert text.splitlines()[-1] == "cinc2020: 4.00M/4.00M B in 40s, 102k B/s"


def test_progress_bar_draws_a_bar_on_a_terminal_and_lines_elsewhere() -> None:
    assert not use_bars(io.StringIO())
    assert isinstance(progress_bar(10, "x", stream=io.StringIO()), LineProgress)
    primary, secondary = os.openpty()
    with os.fdopen(secondary, "w") as tty:
        assert use_bars(tty)
        bar = progress_bar(10, "x", stream=tty)
        assert isinstance(bar, tqdm)
        bar.close()
    os.close(primary)
    out = io.StringIO()
    assert list(track(range(3), "loop", stream=out)) == [0, 1, 2]
    assert out.getvalue().startswith("loop: 3/3 it in ")
    assert list(track(range(3), "off", disable=True, stream=out)) == [0, 1, 2]
    assert "off" not in out.getvalue()


def test_synth_and_prepare_write_plain_lines_to_a_file(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log, "w") as f:
        for argv in (["synth", str(tmp_path / "raw"), "--n", "40", "--fs", "100", "--seconds", "2", "--workers", "1"],
                     ["prepare", str(tmp_path / "raw"), "--out", str(tmp_path / "data"), "--fs", "100",
                      "--seconds", "2", "--workers", "1"]):
            subprocess.run([sys.executable, "-m", "threekg.cli.main", *argv], stdout=f, stderr=f, env=env,
                           check=True, timeout=300)
    text = log.read_text()
    assert "\r" not in text
    assert re.search(r"^synth -> .*raw: 40/40 rec in \d+s", text, re.M)
    assert re.search(r"^prepare: 40/40 rec in \d+s", text, re.M)
    assert len(text) < 2000, text
