"""Encoder and loss speed on this CPU.

Best-of-N wall times. Measures forward + backward of each preset encoder on a (32, 12, 500) batch (5 s at 100 Hz), and
the multi-positive NT-Xent (forward + backward, 2 x 32 views, 128-d) against a baseline: the
textbook SimCLR NT-Xent (cross-entropy against the partner view) on the same tensors. Prints the
ratios. Run: ``.venv/bin/python benchmarks/models.py [--threads 2] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from threekg.models import build_encoder
from threekg.ssl.losses import nt_xent


def _time_ms(fn: Callable[[], None], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return min(times)  # best of: the least disturbed by other processes on a shared machine


def _simclr(z1: torch.Tensor, z2: torch.Tensor, t: float) -> torch.Tensor:
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T / t).fill_diagonal_(float("-inf"))
    return F.cross_entropy(sim, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"machine: {platform.processor() or platform.machine()}, cores {os.cpu_count()}, "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}, load avg {os.getloadavg()[0]:.1f}")

    x = torch.randn(args.batch, 12, args.samples)
    encoder_ms = {}
    for name in ("resnet18-small", "resnet18"):
        enc = build_encoder(name).train()
        params = sum(p.numel() for p in enc.parameters())

        def step(enc: torch.nn.Module = enc) -> None:
            enc.zero_grad(set_to_none=True)
            enc(x).sum().backward()

        def forward(enc: torch.nn.Module = enc) -> None:
            with torch.no_grad():
                enc(x)

        encoder_ms[name] = _time_ms(step, args.repeats)
        fwd = _time_ms(forward, args.repeats)
        print(f"{name:15s} params {params:>10,d}  embed {enc.embed_dim:4d}  forward {fwd:8.1f} ms  "
              f"forward+backward {encoder_ms[name]:8.1f} ms  ({args.batch} x 12 x {args.samples})")
    print(f"ratio resnet18 / resnet18-small (forward+backward): "
          f"{encoder_ms['resnet18'] / encoder_ms['resnet18-small']:.1f}x")

    z1 = torch.randn(args.batch, 128, requires_grad=True)
    z2 = torch.randn(args.batch, 128, requires_grad=True)
    ids = torch.arange(args.batch).repeat(2)

    def ours() -> None:
        nt_xent(torch.cat([z1, z2]), ids, 0.1).backward()

    def baseline() -> None:
        _simclr(z1, z2, 0.1).backward()

    torch.testing.assert_close(nt_xent(torch.cat([z1, z2]), ids, 0.1), _simclr(z1, z2, 0.1))
    ours_ms = _time_ms(ours, 50, warmup=5)
    base_ms = _time_ms(baseline, 50, warmup=5)
    print(f"nt_xent (multi-positive) f+b {ours_ms:.3f} ms; textbook SimCLR f+b {base_ms:.3f} ms; "
          f"ratio {ours_ms / base_ms:.2f}x; loss / resnet18-small step {ours_ms / encoder_ms['resnet18-small']:.2%}")


if __name__ == "__main__":
    main()
