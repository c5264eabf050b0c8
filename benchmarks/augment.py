"""Throughput of the full 3KG view (spatial + time mask) against a per-sample loop and a plain copy.

Batch 256 x 12 leads x 2,500 samples, float32, torch with 2 threads. Three numbers in one run:

* ``threekg``: ``build_pipeline("3kg")`` on the batch: on the CPU one compiled pass (Numba) through the
  heart vector that writes each lead once, masked window as zeros (``threekg.augment.fused``);
* ``threekg, torch path``: the same pipeline with ``THREEKG_FUSED=0``: the two torch modules one after
  the other (one batched 12 x 12 matmul, then the mask) - what runs on a GPU;
* ``loop``: the way public implementations do it inside a data loader: for each ECG build a SciPy
  ``Rotation``, matmul the 8 x 8 matrix in NumPy, derive the limb leads, mask each lead in Python;
* ``copy``: ``x.clone()`` of the same tensor (the memory-bandwidth bound);
* ``spatial_transform``: the public function called directly on the CPU tensor with fresh angles and
  scales (the compiled pass without a mask), its torch path (``THREEKG_FUSED=0``), and the
  per-sample loop without the mask as its baseline.

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

from threekg.augment import build_pipeline, spatial_transform
from threekg.leads import INDEPENDENT_INDEX
from threekg.vcg import DOWER, INVERSE_DOWER


def _spatial_one(ecg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One ECG (12, T): a SciPy ``Rotation``, the 8 x 8 matrix in NumPy, the limb leads derived."""
    angles = rng.uniform(-45, 45, size=3)
    scales = rng.uniform(1.0, 1.5, size=3)
    r = Rotation.from_euler("zyx", angles[::-1], degrees=True).as_matrix()
    m = (DOWER @ np.diag(scales) @ r @ INVERSE_DOWER).astype(np.float32)
    x8 = m @ ecg[list(INDEPENDENT_INDEX)]
    i, ii = x8[0], x8[1]
    return np.concatenate([np.stack([i, ii, ii - i, -(i + ii) / 2, i - ii / 2, ii - i / 2]), x8[2:]])


def per_sample_loop(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Reference data-loader style: one ECG at a time, NumPy/SciPy, Python mask per lead."""
    out = np.empty_like(x)
    t = x.shape[-1]
    length = int(0.5 * t)
    for b in range(x.shape[0]):
        ecg = _spatial_one(x[b], rng)
        for lead in range(12):
            start = rng.integers(t)
            end = start + length
            ecg[lead, start : min(end, t)] = 0.0
            if end > t:
                ecg[lead, : end - t] = 0.0
        out[b] = ecg
    return out


def per_sample_spatial_loop(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The loop above without the mask: the heart-vector transform alone, one ECG at a time."""
    out = np.empty_like(x)
    for b in range(x.shape[0]):
        out[b] = _spatial_one(x[b], rng)
    return out


def without_fused(fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` run with ``THREEKG_FUSED=0`` (the torch path, as on a GPU)."""
    def run() -> object:
        os.environ["THREEKG_FUSED"] = "0"
        try:
            return fn()
        finally:
            del os.environ["THREEKG_FUSED"]
    return run


def timeit_rounds(fns: dict[str, Callable[[], object]], rounds: int, block: int) -> dict[str, float]:
    """Median seconds per call of each function. Each round runs every function ``block`` times in a
    row, the functions taking turns, so that load from other processes on a shared machine hits all
    of them alike (one warm-up call each). ``block=1`` interleaves single calls."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(block):
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
    parser.add_argument("--repeats", type=int, default=40)
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

    def public() -> object:
        angles = (torch.rand(b, 3, generator=gen) * 2 - 1) * 45
        return spatial_transform(x, angles, 1 + 0.5 * torch.rand(b, 3, generator=gen))

    fns = {
        "view": lambda: pipe(x, generator=gen),
        "torch": without_fused(lambda: pipe(x, generator=gen)),
        "loop": lambda: per_sample_loop(x_np, rng),
        "copy": lambda: x.clone(),
        "public": public,
        "public_torch": without_fused(public),
        "loop_spatial": lambda: per_sample_spatial_loop(x_np, rng),
    }
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads"
    )
    print(f"batch {b} x 12 x {args.samples} float32")
    labels = {"view": "3kg view (fused, default)", "torch": "3kg view (torch path)",
              "loop": "per-sample NumPy/SciPy loop", "copy": "x.clone()",
              "public": "spatial_transform (fused)", "public_torch": "spatial_transform (torch)",
              "loop_spatial": "per-sample loop, no mask"}
    for title, block in (("steady state: blocks of 10 calls of one method, methods taking turns", 10),
                         ("interleaved: every call right after a call of another method", 1)):
        t = timeit_rounds(fns, max(1, args.repeats // block), block) if block > 1 else \
            timeit_rounds(fns, args.repeats, 1)
        print(f"{title} (median of {args.repeats} calls each)")
        for name, secs in t.items():
            print(f"  {labels[name]:30s} {secs * 1e3:9.2f} ms/batch  {b / secs:12,.0f} ECGs/s")
        print(f"  fused view: {t['loop'] / t['view']:.1f}x the per-sample loop (goal >= 10x), "
              f"{t['view'] / t['copy']:.2f}x a copy (goal <= 3x)")
        print(f"  torch path: {t['loop'] / t['torch']:.1f}x the loop, {t['torch'] / t['copy']:.2f}x a copy")
        print(f"  spatial_transform called directly: {t['loop'] / t['public']:.1f}x the per-sample loop "
              f"({t['loop_spatial'] / t['public']:.1f}x the loop without mask), {t['public'] / t['copy']:.2f}x a copy; "
              f"its torch path {t['loop'] / t['public_torch']:.1f}x ({t['loop_spatial'] / t['public_torch']:.1f}x)")
    print(f"load average (1, 5, 15 min) before: {load_before}, after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
