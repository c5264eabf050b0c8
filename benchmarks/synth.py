"""Benchmark: synthetic records generated + written per second, vectorised generator vs a naive loop.

Ours: ``threekg.synth.write_challenge_tree`` (all beats and Gaussians of a batch of records at once,
NumPy), written as WFDB header + MATLAB v4, with 1 and with N worker processes.
Baseline, same run: an ECGSYN-style generator that walks the samples in a Python loop, advances the
phase by 2 pi / RR per sample and sums the same 30 dipole Gaussians (wrapped phase) sample by sample,
then writes with the same writer. Prints records/s, the extrapolated time for 10,000 records
(10 s, 500 Hz), the ratio, and whether the trees written with 1 and with N workers are byte-identical
(the output must depend on the seed only).

    .venv/bin/python benchmarks/synth.py --n 2000 --baseline-n 10
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from threekg.synth.challenge import write_challenge_tree, write_record
from threekg.synth.template import COLUMN_AXIS, N_NORMAL, NORMAL_A, NORMAL_SIGMA, NORMAL_T
from threekg.vcg import vcg_to_ecg


def naive_record(rng: np.random.Generator, fs: float = 500.0, seconds: float = 10.0) -> np.ndarray:
    """ECGSYN-style: per-sample phase, per-Gaussian Python loop. (12, T) mV."""
    n = round(seconds * fs)
    hr = rng.uniform(60, 90)
    theta_i = [2 * math.pi * t for t in NORMAL_T]
    b_i = [2 * math.pi * s for s in NORMAL_SIGMA]
    vcg = np.zeros((3, n))
    theta = rng.uniform(-math.pi, math.pi)
    rr = 60.0 / hr
    for k in range(n):
        theta += 2 * math.pi / (rr * fs)
        if theta >= math.pi:
            theta -= 2 * math.pi
            rr = 60.0 / hr * (1.0 + 0.02 * rng.standard_normal())  # new beat: new RR
        for i in range(N_NORMAL):
            d = (theta - theta_i[i] + math.pi) % (2 * math.pi) - math.pi
            vcg[COLUMN_AXIS[i], k] += NORMAL_A[i] * math.exp(-d * d / (2 * b_i[i] * b_i[i]))
    return vcg_to_ecg(vcg)


def bench_naive(out: Path, n: int) -> float:
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for i in range(n):
        ecg = naive_record(np.random.default_rng([0, i]))
        meta = {"age": 50, "sex": "Male", "codes": ["426783006"], "patient_id": f"N{i}"}
        write_record(out / f"N{i:06d}", ecg, 500.0, meta)
    return n / (time.perf_counter() - t0)


def bench_ours(out: Path, n: int, workers: int) -> tuple[float, float]:
    """(records/s wall clock, CPU s per record of this process; meaningful for workers=1 only)."""
    t0, c0 = time.perf_counter(), time.process_time()
    write_challenge_tree(out, n=n, seed=0, workers=workers, progress=False)
    return n / (time.perf_counter() - t0), (time.process_time() - c0) / n


def tree_digest(root: Path) -> str:
    """SHA-256 over every file's relative path and bytes, in sorted order."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "synth.json"):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="records for the vectorised generator")
    parser.add_argument("--baseline-n", type=int, default=10, help="records for the naive loop")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    try:
        import torch

        torch_threads: int | str = torch.get_num_threads()
    except ImportError:
        torch_threads = "n/a"
    print(f"machine: {platform.processor() or platform.machine()}, cores {os.cpu_count()}, "
          f"torch threads {torch_threads} (unused), load average {os.getloadavg()}")
    tmp = Path(tempfile.mkdtemp(prefix="synth-bench-"))
    try:
        naive = bench_naive(tmp / "naive", args.baseline_n)
        one, cpu_one = bench_ours(tmp / "ours1", args.n, 1)
        many, _ = bench_ours(tmp / "oursN", args.n, args.workers)
        size = sum(p.stat().st_size for p in (tmp / "oursN").rglob("*") if p.is_file())
        same = tree_digest(tmp / "ours1") == tree_digest(tmp / "oursN")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"records: 10 s, 500 Hz, 12 leads; written as .hea + .mat ({size / args.n / 1e3:.0f} kB per record)")
    print(f"naive per-sample loop (1 process, {args.baseline_n} records): {naive:8.2f} records/s "
          f"-> 10,000 records in {10_000 / naive / 3600:.1f} h")
    print(f"vectorised, 1 worker ({args.n} records):            {one:8.1f} records/s "
          f"-> 10,000 records in {10_000 / one:.0f} s")
    print(f"vectorised, {args.workers} workers ({args.n} records):           {many:8.1f} records/s "
          f"-> 10,000 records in {10_000 / many:.0f} s")
    print(f"CPU time per record (1 worker): {cpu_one * 1e3:.1f} ms -> 10,000 records on {args.workers} idle "
          f"cores: about {10_000 * cpu_one / args.workers:.0f} s (extrapolated from CPU time, not measured)")
    print(f"ratio vectorised/naive: {one / naive:.0f}x (1 worker), {many / naive:.0f}x ({args.workers} workers)")
    print(f"deterministic: trees from 1 and {args.workers} workers (seed 0) byte-identical: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
