"""Training throughput of `threekg pretrain` (3KG, cpu-small) against the bare encoder, same run.

Pipeline: ``threekg.train.pretrain`` on a prepared dataset written here (loading from the memory
map, random crops, 3KG views on the batch, encoder + projection head, NT-Xent, Adam, logging to
CSV and TensorBoard, checkpoints). Its step time is measured between consecutive
``on_train_batch_end`` calls after ``--warmup`` steps.

Baseline: the same encoder's forward + backward + Adam step on random tensors of the shape the
pipeline feeds it (2 views x batch, 12, crop samples), with a trivial loss.

    .venv/bin/python benchmarks/pretrain.py [--steps 40] [--threads 2]

Prints samples/s of both, and the pipeline overhead in % (goal: <= 10 %), in wall time and in the
process's CPU time (the second is the one to read on a busy machine: it leaves out the time other
processes hold the core).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch

from threekg.data import write_dataset
from threekg.models import build_encoder
from threekg.train import pretrain, resolve_config


class StepTimer(L.Callback):
    """Wall and process CPU time between consecutive training batch ends (seconds)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.cpu: list[float] = []
        self._last: tuple[float, float] | None = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        now = (time.perf_counter(), time.process_time())
        if self._last is not None:
            self.times.append(now[0] - self._last[0])
            self.cpu.append(now[1] - self._last[1])
        self._last = now


def write_data(path: Path, n: int, fs: float, seconds: float) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(round(fs * seconds)) / fs
    base = np.sin(2 * np.pi * 1.2 * t)[None, None, :] * rng.uniform(0.2, 1.5, size=(n, 12, 1))
    signals = (base + 0.05 * rng.standard_normal((n, 12, t.size))).astype(np.float32)
    records = pd.DataFrame({"record": [f"B{i:05d}" for i in range(n)], "patient_id": [f"P{i}" for i in range(n)]})
    write_dataset(path, signals, np.zeros((n, 1), np.uint8), ["X"], records, fs=fs, label_set="bench", source="bench")


def bare_encoder_step_times(config: dict[str, Any], samples: int, steps: int,
                            warmup: int) -> tuple[list[float], list[float]]:
    """Wall and process CPU seconds of each timed bare step."""
    encoder = build_encoder(config["encoder"]["name"], **config["encoder"]["options"])
    optimizer = torch.optim.Adam(encoder.parameters(), lr=2e-4)
    x = torch.randn(2 * int(config["data"]["batch_size"]), 12, samples)
    times, cpu = [], []
    for i in range(warmup + steps):
        start = (time.perf_counter(), time.process_time())
        optimizer.zero_grad(set_to_none=True)
        encoder(x).square().mean().backward()
        optimizer.step()
        if i >= warmup:
            times.append(time.perf_counter() - start[0])
            cpu.append(time.process_time() - start[1])
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--records", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=4, help="alternating pipeline / encoder rounds")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: on a shared 2-core machine 2 threads make small ops 20x slower)")
    parser.add_argument("--workers", type=int, default=0, help="data.num_workers of the pipeline run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    config = resolve_config("cpu-small")
    fs, crop = float(config["data"]["fs"]), float(config["data"]["crop_seconds"])
    samples = round(fs * crop)
    batch = int(config["data"]["batch_size"])
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_data(data, args.records, fs, 10.0)
        results: dict[str, list[float]] = {"pipeline": [], "encoder": []}
        cpu: dict[str, list[float]] = {"pipeline": [], "encoder": []}
        per_round = max(1, args.steps // args.rounds)
        for round_ in range(args.rounds):  # interleave so that load from other processes hits both alike
            wall, cpu_s = bare_encoder_step_times(config, samples, per_round, args.warmup)
            results["encoder"] += wall
            cpu["encoder"] += cpu_s
            timer = StepTimer()
            pretrain(data, "3kg", Path(tmp) / f"run{round_}", preset="cpu-small", callbacks=[timer], overrides=[
                f"trainer.max_steps={args.warmup + per_round + 1}", "trainer.progress_bar=false",
                f"data.num_workers={args.workers}",
            ])
            results["pipeline"] += timer.times[args.warmup :]
            cpu["pipeline"] += timer.cpu[args.warmup :]
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}, torch {torch.__version__}")
    print(f"shape per step: 2 views x {batch} recordings x 12 leads x {samples} samples "
          f"({config['encoder']['name']}, {fs:g} Hz, {crop:g} s crops), {len(results['pipeline'])} timed steps each")
    for name, t in med.items():
        print(f"{name:>9}: median step {t * 1000:8.1f} ms  = {batch / t:8.1f} recordings/s "
              f"({2 * batch / t:8.1f} views/s)")
    print(f"pipeline overhead over the bare encoder: {100 * (med['pipeline'] / med['encoder'] - 1):+.1f} %  (goal <= 10 %)")
    # CPU time of this process: on a shared machine it leaves out the time other processes hold the core
    mcpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"process CPU time: pipeline {mcpu['pipeline'] * 1000:.1f} ms, encoder {mcpu['encoder'] * 1000:.1f} ms a step; "
          f"overhead {100 * (mcpu['pipeline'] / mcpu['encoder'] - 1):+.1f} %")


if __name__ == "__main__":
    main()
