"""Benchmark: DeepFake-ECG records generated + written per second, against two baselines of the same run.

Ours: ``threekg synth OUT --generator deepfake`` (``write_challenge_tree(generator="deepfake")``):
forward passes on blocks of 32 latents, 12 leads, resampled to ``--fs``, written as WFDB header +
MATLAB v4 with a progress-safe, resumable layout.
Baselines, measured in this run on the same machine:

* the package's own ``deepfakeecg.generate()``: one record per forward pass, one text file per
  record (``--baseline-n`` records; its rate is per record, so a few suffice);
* the raw ``Generator`` forward on the same blocks of 32, nothing written: the ceiling for ours.

    .venv/bin/python benchmarks/synth_deepfake.py --n 1000 --baseline-n 50 --fs 100
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from threekg.synth.challenge import write_challenge_tree
from threekg.synth.deepfake import BATCH, extra_installed, latent, load_generator


class Timer:
    """Wall clock and CPU time of this process over a ``with`` block; ``rates(n)`` per record."""

    def __enter__(self) -> Timer:
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.t0, time.process_time() - self.c0

    def rates(self, n: int) -> tuple[float, float]:
        """(records/s wall clock, CPU ms per record)."""
        return n / self.wall, self.cpu / n * 1e3


def bench_package(out: Path, n: int) -> tuple[float, float]:
    """``deepfakeecg.generate`` (its loading included, as a user would call it)."""
    import deepfakeecg

    out.mkdir(parents=True)
    with Timer() as t, contextlib.redirect_stderr(io.StringIO()):  # its tqdm bar
        deepfakeecg.generate(n, str(out), start_id=0, run_device="cpu")
    return t.rates(n)


def bench_forward(n: int) -> tuple[float, float]:
    """The bare forward pass on blocks of BATCH (latents drawn as ours draws them)."""
    with Timer() as t:
        net = load_generator()
        with torch.inference_mode():
            for start in range(0, n, BATCH):
                net(torch.from_numpy(np.stack([latent(0, i) for i in range(start, start + BATCH)])))
    return t.rates(n)


def bench_ours(out: Path, n: int, fs: float) -> tuple[float, float]:
    with Timer() as t:
        write_challenge_tree(out, n=n, seed=0, fs=fs, workers=1, progress=False, generator="deepfake")
    return t.rates(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="records for ours and the bare forward pass")
    parser.add_argument("--baseline-n", type=int, default=50, help="records for the package's generate()")
    parser.add_argument("--fs", type=float, default=100.0, help="output rate of ours (Hz, default 100)")
    args = parser.parse_args()
    if not extra_installed():
        sys.exit("needs the optional extra: pip install 'threekg[deepfake]'")
    print(f"machine: {platform.processor() or platform.machine()}, cores {os.cpu_count()}, "
          f"torch {torch.__version__} threads {torch.get_num_threads()}, load average {os.getloadavg()}")
    tmp = Path(tempfile.mkdtemp(prefix="deepfake-bench-"))
    try:
        package = bench_package(tmp / "package", args.baseline_n)
        forward = bench_forward(args.n)
        ours = bench_ours(tmp / "ours", args.n, args.fs)
        size = sum(p.stat().st_size for p in (tmp / "ours").rglob("*") if p.is_file())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [(f"package generate(), batch 1, one .asc per record ({args.baseline_n} records)", package),
            (f"bare forward, blocks of {BATCH}, nothing written ({args.n} records)", forward),
            (f"ours, {args.fs:g} Hz .hea + .mat, 1 process ({args.n} records, {size / args.n / 1e3:.0f} kB each)", ours)]
    for name, (rate, cpu_ms) in rows:
        print(f"{name:<72s} {rate:6.1f} records/s wall, {cpu_ms:5.1f} ms CPU per record "
              f"(-> {1e3 / cpu_ms:4.0f} records/s per idle core, extrapolated)")
    print(f"ratio ours / package generate(): {ours[0] / package[0]:.1f}x wall, {package[1] / ours[1]:.1f}x CPU; "
          f"ours / bare forward: {ours[0] / forward[0]:.2f} wall, {forward[1] / ours[1]:.2f} CPU")
    print(f"10,000 records with ours: {10_000 / ours[0] / 60:.1f} min at this wall-clock rate, "
          f"{10_000 * ours[1] / 1e3 / 60:.1f} min of CPU")


if __name__ == "__main__":
    main()
