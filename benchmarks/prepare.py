"""Benchmark `threekg prepare` against the usual per-record approach, and its peak memory vs N.

Throughput: records/s of prepare (workers=all cores) vs a baseline that reads each record with
`wfdb.rdrecord` and resamples with `scipy.signal.resample` (FFT), on generated challenge-format
records (and on ../shared/data/cinc2021-sample when present). Memory: peak RSS of prepare in a
fresh subprocess for 1,000 vs 20,000 generated 100 Hz, 2 s records (override with --big).

    .venv/bin/python benchmarks/prepare.py [--n 200] [--big 20000]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "data"))
from data_fixtures import write_record

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "cinc2021-sample"


def baseline(src: Path, fs: float, n_out: int) -> float:
    import scipy.signal
    import wfdb

    heads = sorted(src.rglob("*.hea"))
    out = np.zeros((len(heads), 12, n_out), dtype=np.float32)
    t0 = time.perf_counter()
    for i, h in enumerate(heads):
        r = wfdb.rdrecord(str(h.with_suffix("")))
        x = r.p_signal.T
        y = scipy.signal.resample(x, round(x.shape[1] * fs / r.fs), axis=1)[:, :n_out]
        out[i, :, : y.shape[1]] = y
    return len(heads) / (time.perf_counter() - t0)


def ours(src: Path, out: Path, fs: float, workers: int | None) -> float:
    from threekg.data import prepare

    t0 = time.perf_counter()
    s = prepare(src, out, fs=fs, workers=workers, progress=False)
    return (s.n_accepted + s.n_rejected) / (time.perf_counter() - t0)


def peak_rss_mb(n: int, tmp: Path) -> float:
    src = tmp / f"mem{n}"
    tests_dir = repr(str(Path(__file__).resolve().parents[1] / "tests" / "data"))
    code = (
        f"import sys; sys.path.insert(0, {tests_dir})\n"
        "from data_fixtures import write_record\n"
        "from pathlib import Path\n"
        f"for i in range({n}): write_record(Path({str(src)!r}) / f'd{{i // 1000:03d}}', f'R{{i:06d}}', "
        "fs=100, n=200, seed=i % 50)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-m", "threekg.cli.main", "prepare", str(src), "--out", str(tmp / f"o{n}"),
                    "--fs", "100", "--seconds", "2", "--workers", "1"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(after, before) / 1024  # ru_maxrss of children is the max over all children so far


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--big", type=int, default=20000)
    args = ap.parse_args()
    import torch

    print(f"machine: {platform.processor() or platform.machine()}, cores {os.cpu_count()}, "
          f"torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for i in range(args.n):
            write_record(tmp / "gen", f"G{i:05d}", fs=500, n=5000, seed=i % 50)
        sets = [("generated 500 Hz -> 250 Hz", tmp / "gen")]
        if SHARED.is_dir():
            sets.append(("cinc2021-sample -> 250 Hz", SHARED))
        for label, src in sets:
            b = baseline(src, 250.0, 2500)
            o = ours(src, tmp / f"out-{len(label)}", 250.0, None)
            o1 = ours(src, tmp / f"out1-{len(label)}", 250.0, 1)
            print(f"{label}: prepare {o:.1f} rec/s (all cores), {o1:.1f} rec/s (1 worker); "
                  f"baseline rdrecord+resample {b:.1f} rec/s; ratio {o / b:.2f}x (1 worker {o1 / b:.2f}x)")
        # peak RSS: the small run first, so RUSAGE_CHILDREN's running max is the small run's peak
        small = peak_rss_mb(args.small, tmp)
        big = peak_rss_mb(args.big, tmp)
        print(f"peak RSS of prepare (100 Hz, 2 s records, 1 worker): {args.small} records {small:.0f} MB, "
              f"{args.big} records {big:.0f} MB (difference {big - small:.0f} MB)")


if __name__ == "__main__":
    main()
