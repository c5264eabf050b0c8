"""Benchmark: `threekg embed` on 10,000 records at 100 Hz against the bare encoder forward on the same data.

The dataset is 10,000 records of 10 s at 100 Hz (random signals in mV: only the timing matters),
written once as a prepared dataset. The encoder is the cpu-small preset's ``resnet18-small``
(random weights, saved as a run would save it, pretraining crop 2.5 s), so each record is the mean
of 4 crops: 40,000 crops of 12 x 250.

* ours: ``threekg.embed.embed_dataset`` end to end (open the encoder and dataset, fingerprint the
  dataset, read the memory-mapped signals, crop, embed, average, write ``embeddings.npy`` and commit
  progress every 16 batches), from an empty output folder.
* baseline, same run: the encoder's forward alone, under ``torch.no_grad()``, on the same 40,000
  crops already in memory as one tensor, in batches of the same size (64 records = 256 crops).
  Everything embed adds over the bare model is the difference.

Run pinned to one core: ``taskset -c 1 .venv/bin/python benchmarks/embed.py --threads 1``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from threekg.data import open_dataset, write_dataset
from threekg.embed import embed_dataset
from threekg.models import build_encoder, save_encoder


def make_data(path: Path, n: int, fs: float, seconds: float, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.3, (n, 12, round(fs * seconds))).astype(np.float32)
    records = pd.DataFrame({"record": [f"B{i:05d}" for i in range(n)]})
    write_dataset(path, x, np.zeros((n, 1), np.uint8), ["X"], records, fs, label_set="none", source="benchmark")


def bare_forward(encoder: torch.nn.Module, signals: np.ndarray, crop: int, batch_records: int) -> float:
    """Seconds of the encoder's forward alone on every crop, the crops prepared beforehand."""
    n, c, t = signals.shape
    k = t // crop
    crops = torch.from_numpy(np.ascontiguousarray(signals[:, :, : k * crop])).reshape(n, c, k, crop)
    crops = crops.permute(0, 2, 1, 3).reshape(n * k, c, crop).contiguous()
    step = batch_records * k
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, n * k, step):
            encoder(crops[i : i + step])
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="records (default 10000)")
    ap.add_argument("--fs", type=float, default=100.0, help="Hz (default 100)")
    ap.add_argument("--seconds", type=float, default=10.0, help="record length in s (default 10)")
    ap.add_argument("--crop-seconds", type=float, default=2.5, help="pretraining crop in s (default 2.5)")
    ap.add_argument("--encoder", default="resnet18-small", help="registered encoder (default resnet18-small)")
    ap.add_argument("--batch-size", type=int, default=64, help="records per batch (default 64)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--workdir", type=Path, default=None, help="where to write the dataset (default: a temp dir)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="threekg-bench-embed-"))
    try:
        data, run = work / "data", work / "run"
        if not (data / "manifest.json").exists():
            t0 = time.perf_counter()
            make_data(data, args.n, args.fs, args.seconds)
            print(f"dataset written in {time.perf_counter() - t0:.1f} s (not part of the timings)")
        torch.manual_seed(0)
        encoder = build_encoder(args.encoder).eval()
        crop = round(args.crop_seconds * args.fs)
        run.mkdir(parents=True, exist_ok=True)
        save_encoder(encoder, run / "encoder.safetensors", metadata={
            "method": "benchmark", "input": {"fs": args.fs, "crop_samples": crop, "units": "mV", "normalize": "none"}})
        signals = np.array(open_dataset(data).signals)  # in memory for the baseline
        k = signals.shape[-1] // crop
        print(f"machine: {platform.processor() or platform.machine()}, cores {os.cpu_count()}, torch "
              f"{torch.__version__}, threads {torch.get_num_threads()}, load avg {os.getloadavg()[0]:.1f}")
        print(f"data: {args.n} records x 12 x {signals.shape[-1]} ({args.seconds:g} s at {args.fs:g} Hz); "
              f"{args.encoder}, {k} crops of {crop} samples per record, batches of {args.batch_size} records")
        bare_forward(encoder, signals[: args.batch_size * 4], crop, args.batch_size)  # warm-up
        t_base = bare_forward(encoder, signals, crop, args.batch_size)
        out = work / "emb"
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        result = embed_dataset(data, run, out, batch_size=args.batch_size, progress=False)
        t_ours = time.perf_counter() - t0
        assert result.z.shape == (args.n, encoder.embed_dim)
        t0 = time.perf_counter()
        embed_dataset(data, run, out, batch_size=args.batch_size, progress=False)
        t_done = time.perf_counter() - t0
        print(f"baseline, bare encoder forward on the same {args.n * k} crops in memory: {t_base:.1f} s "
              f"({args.n / t_base:.0f} records/s)")
        print(f"threekg embed end to end (read, crop, embed, average, write, commit): {t_ours:.1f} s "
              f"({args.n / t_ours:.0f} records/s)")
        print(f"ratio embed / bare forward: {t_ours / t_base:.2f}x "
              f"(overhead {100 * (t_ours - t_base) / t_base:+.0f}%)")
        print(f"re-run on the finished output (identity check only): {t_done:.2f} s")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
