"""Size of a log file: synth + prepare + a 400-step pretrain + a small evaluate, output to a file.

Runs the four CLI commands a user would type, each as its own process with stdout and stderr
appended to one file (not a terminal, as under SLURM, nohup or CI), and prints the file's size,
its lines and carriage returns, and which steps it names. The goal (issue 15): under 40 KB.

    .venv/bin/python benchmarks/log_size.py [--keep DIR] [--n 500] [--steps 400]

The commands (DIR a temporary folder)::

    threekg synth DIR/raw --n 500 --fs 100 --seed 0 --workers 1
    threekg prepare DIR/raw --out DIR/data --fs 100 --workers 1
    threekg pretrain DIR/data --method 3kg --out DIR/run --max-steps 400
    threekg evaluate --data DIR/data --encoders DIR/run random --out DIR/eval --fractions 0.1 1 \
        --seeds 0 --bootstrap 100 --threads 1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def commands(root: Path, n: int, steps: int) -> list[list[str]]:
    """The four commands of the measured sequence."""
    return [
        ["synth", str(root / "raw"), "--n", str(n), "--fs", "100", "--seed", "0", "--workers", "1"],
        ["prepare", str(root / "raw"), "--out", str(root / "data"), "--fs", "100", "--workers", "1"],
        ["pretrain", str(root / "data"), "--method", "3kg", "--out", str(root / "run"), "--max-steps", str(steps)],
        ["evaluate", "--data", str(root / "data"), "--encoders", str(root / "run"), "random", "--out",
         str(root / "eval"), "--fractions", "0.1", "1", "--seeds", "0", "--bootstrap", "100", "--threads", "1"],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="synthetic records (default 500)")
    parser.add_argument("--steps", type=int, default=400, help="pretraining steps (default 400)")
    parser.add_argument("--keep", type=Path, default=None, help="work here and keep the outputs and log.txt")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="threekg-log-"))
    root.mkdir(parents=True, exist_ok=True)
    log_path = root / "log.txt"
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        for argv in commands(root, args.n, args.steps):
            log.write(f"$ threekg {' '.join(argv)}\n".encode())
            log.flush()
            subprocess.run([sys.executable, "-m", "threekg.cli.main", *argv], stdout=log, stderr=log,
                           env=env, check=True)
    seconds = time.perf_counter() - started
    text = log_path.read_bytes()
    names = ("synth", "prepare", "pretrain", "evaluate")
    # a step is named when a progress or result line (not only our "$ threekg ..." echo) mentions it
    body = b"\n".join(line for line in text.splitlines() if not line.startswith(b"$ threekg"))
    named = [s for s in names if s.encode() in body]
    print(f"log: {log_path}")
    lines, returns = text.count(b"\n"), text.count(b"\r")
    print(f"{len(text):,} bytes ({len(text) / 1024:.1f} KB), {lines:,} lines, {returns:,} carriage returns; "
          f"goal < 40 KB; {seconds:.0f} s for the 4 commands")
    print(f"steps named in the output: {', '.join(named) or 'none'} (of {', '.join(names)})")


if __name__ == "__main__":
    main()
