"""Throughput of the full 3KG view (spatial + time mask) against a per-sample loop and a plain copy.

Batch 256 x 12 leads x 2,500 samples, float32, torch with 2 threads. Three numbers in one run:

* ``threekg``: ``build_pipeline("3kg")`` on the batch (one 12 x 12 matrix per ECG, one bmm, one mask multiply);
* ``loop``: the way public implementations do it inside a data loader: for each ECG build a SciPy
  ``Rotation``, matmul the 8 x 8 matrix in NumPy, derive the limb leads, mask each lead in Python;
* ``copy``: ``x.clone()`` of the same tensor (the memory-bandwidth bound).

Usage: ``.venv/bin/python benchmarks/augment.py [--batch 256] [--repeats 20]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from threekg.augment import build_pipeline
from threekg.leads import INDEPENDENT_INDEX
from threekg.vcg import DOWER, INVERSE_DOWER


def per_sample_loop(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Reference data-loader style: one ECG at a time, NumPy/SciPy, Python mask per lead."""
    out = np.empty_like(x)
    t = x.shape[-1]
    length = int(0.5 * t)
    for b in range(x.shape[0]):
        angles = rng.uniform(-45, 45, size=3)
        scales = rng.uniform(1.0, 1.5, size=3)
        r = Rotation.from_euler("zyx", angles[::-1], degrees=True).as_matrix()
        m = (DOWER @ np.diag(scales) @ r @ INVERSE_DOWER).astype(np.float32)
        x8 = m @ x[b, list(INDEPENDENT_INDEX)]
        i, ii = x8[0], x8[1]
        ecg = np.concatenate([np.stack([i, ii, ii - i, -(i + ii) / 2, i - ii / 2, ii - i / 2]), x8[2:]])
        for lead in range(12):
            start = rng.integers(t)
            end = start + length
            ecg[lead, start : min(end, t)] = 0.0
            if end > t:
                ecg[lead, : end - t] = 0.0
        out[b] = ecg
    return out


def timeit_interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds per call of each function, run round-robin so that load from other processes
    on a shared machine hits all of them alike (one warm-up call each)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--samples", type=int, default=2500)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    b = args.batch
    load_before = os.getloadavg()
    x = torch.randn(b, 12, args.samples, generator=torch.Generator().manual_seed(0))
    x_np = x.numpy().copy()
    pipe = build_pipeline("3kg")
    gen = torch.Generator().manual_seed(1)
    rng = np.random.default_rng(1)

    t = timeit_interleaved(
        {
            "view": lambda: pipe(x, generator=gen),
            "loop": lambda: per_sample_loop(x_np, rng),
            "copy": lambda: x.clone(),
        },
        args.repeats,
    )
    t_view, t_loop, t_copy = t["view"], t["loop"], t["copy"]

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads"
    )
    print(f"load average (1, 5, 15 min) before: {load_before}, after: {os.getloadavg()} (shared machine)")
    print(f"batch {b} x 12 x {args.samples} float32, median of {args.repeats} interleaved runs")
    for name, secs in (
        ("3kg view (batched)", t_view),
        ("per-sample NumPy/SciPy loop", t_loop),
        ("x.clone()", t_copy),
    ):
        print(f"  {name:30s} {secs * 1e3:9.2f} ms/batch  {b / secs:12,.0f} ECGs/s")
    print(f"speed-up over the per-sample loop: {t_loop / t_view:.1f}x (goal >= 10x)")
    print(f"time relative to a plain copy:     {t_view / t_copy:.2f}x (goal <= 3x)")


if __name__ == "__main__":
    main()
