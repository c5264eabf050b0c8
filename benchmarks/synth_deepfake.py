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


def bench_package(out: Path, n: int) -> float:
    """records/s of ``deepfakeecg.generate`` (its loading included, as a user would call it)."""
    import deepfakeecg

    out.mkdir(parents=True)
    t0 = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):  # its tqdm bar
        deepfakeecg.generate(n, str(out), start_id=0, run_device="cpu")
    return n / (time.perf_counter() - t0)


def bench_forward(n: int) -> float:
    """records/s of the bare forward pass on blocks of BATCH (latents drawn as ours draws them)."""
    net = load_generator()
    t0 = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, n, BATCH):
            net(torch.from_numpy(np.stack([latent(0, i) for i in range(start, start + BATCH)])))
    return n / (time.perf_counter() - t0)


def bench_ours(out: Path, n: int, fs: float) -> float:
    t0 = time.perf_counter()
    write_challenge_tree(out, n=n, seed=0, fs=fs, workers=1, progress=False, generator="deepfake")
    return n / (time.perf_counter() - t0)


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
    print(f"package generate(), batch 1, one .asc per record ({args.baseline_n} records): {package:7.1f} records/s "
          f"-> 10,000 in {10_000 / package / 60:.0f} min")
    print(f"bare forward, blocks of {BATCH}, nothing written ({args.n} records):          {forward:7.1f} records/s")
    print(f"ours, {args.fs:g} Hz .hea + .mat, 1 process ({args.n} records):                 {ours:7.1f} records/s "
          f"-> 10,000 in {10_000 / ours / 60:.1f} min ({size / args.n / 1e3:.0f} kB per record)")
    print(f"ratio ours / package generate(): {ours / package:.1f}x; ours / bare forward: {ours / forward:.2f}")


if __name__ == "__main__":
    main()
