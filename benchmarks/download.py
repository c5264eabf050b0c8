"""Benchmark: `threekg download` against sequential `urllib.request.urlretrieve`, same files, same run.

Serves 300 small files (60 kB, like .hea/.mat records) and 3 large ones (20 MB) in PhysioNet's layout
from a local 127.0.0.1 server (the test server of tests/download, with Range support), then downloads
them with the plain sequential baseline and with threekg (SHA-256 verification, fsync, state file)
at 1 and 4 workers, and a re-run where everything is skipped. Prints times and ratios.

    .venv/bin/python benchmarks/download.py
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from download.conftest import ServerConfig, serve, write_sums
from threekg.download import download


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    root = tmp / "srv" / "challenge-2020" / "1.0.2"
    rng = np.random.default_rng(0)
    files = [(f"training/s/g1/A{i:04d}.mat", 60_000) for i in range(300)]
    files += [(f"training/s/g2/B{i}.mat", 20_000_000) for i in range(3)]
    for rel, size in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    write_sums(root)
    total = sum(size for _, size in files)
    with serve(ServerConfig(tmp / "srv")) as url:
        t0 = time.perf_counter()
        for rel, _ in files:
            out = tmp / "baseline" / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            urllib.request.urlretrieve(url + "challenge-2020/1.0.2/" + rel, out)
        base = time.perf_counter() - t0
        print(f"baseline: sequential urlretrieve, no verification: {base:.2f} s")
        for workers in (1, 4):
            t0 = time.perf_counter()
            summary = download("cinc2020", tmp / f"w{workers}", base_url=url, workers=workers, progress=False)
            took = time.perf_counter() - t0
            assert summary.ok and summary.downloaded == len(files)
            print(f"threekg download, {workers} worker(s), SHA-256 + fsync + state: {took:.2f} s "
                  f"= {took / base:.2f}x the baseline's time")
        t0 = time.perf_counter()
        summary = download("cinc2020", tmp / "w4", base_url=url, progress=False)
        print(f"re-run, every file already complete: {time.perf_counter() - t0:.3f} s (skipped {summary.skipped})")
    print(f"{len(files)} files, {total / 1e6:.0f} MB from 127.0.0.1; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
