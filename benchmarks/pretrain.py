"""Training throughput of `threekg pretrain` (3KG, cpu-small) against the bare encoder, same run.

Pipeline: ``threekg.train.pretrain`` on a prepared dataset written here (loading from the memory
map, two windows per recording, 3KG views on the batch, encoder + projection head, NT-Xent, Adam,
logging to CSV and TensorBoard, checkpoints). Its step time runs from the end of one training
batch (``on_train_batch_end``) to the end of the next, so it includes loading the batch.

Baseline: the same encoder's forward + backward + Adam step on random tensors of the shape the
pipeline feeds it (2 views x batch, 12, view samples), with a trivial loss. Its Adam is the
pipeline's own (``threekg.train.module.build_adam`` with the run's ``optim`` options: the fused
kernel by default), so a faster optimizer speeds both arms alike; ``--bare-adam loop`` gives the
baseline torch's per-tensor CPU loop instead, the Adam of the figures before 2026-12-03.

    .venv/bin/python benchmarks/pretrain.py [--steps 300] [--threads 1] [--mode paired|rounds]

``--mode paired`` (default): one bare step (a second encoder with its own Adam, random input)
runs inside the same training run right after every pipeline step, and the two are timed
apart. Each pipeline step is thus measured next to a bare step, under the same load, cache
state, thread settings and ``torch.use_deterministic_algorithms`` flag; on this machine two
consecutive 60-step blocks of the *same* bare step differ by up to 15 %, which is what made the
``rounds`` figures (blocks of bare steps alternating with whole pretraining runs) move by 20
points from run to run. Printed: medians of both and the overhead, the median of the per-step
differences and ratios with a bootstrap 95 % CI. ``--mode rounds`` is the earlier design.

Prints samples/s of both and the pipeline overhead in % (goal: <= 10 %), in wall time and in the
process's CPU time (the second is the one to read on a busy machine: it leaves out the time other
processes hold the core).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch

from threekg.data import write_dataset
from threekg.models import build_encoder
from threekg.train import pretrain, resolve_config


class StepTimer(L.Callback):
    """Wall and process CPU time between consecutive training batch ends (seconds)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.cpu: list[float] = []
        self._last: tuple[float, float] | None = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        now = (time.perf_counter(), time.process_time())
        if self._last is not None:
            self.times.append(now[0] - self._last[0])
            self.cpu.append(now[1] - self._last[1])
        self._last = now


class PairedBareStep(L.Callback):
    """After every pipeline step, one bare encoder step; both timed (wall and process CPU seconds)."""

    def __init__(self, config: dict[str, Any], samples: int) -> None:
        self.encoder = build_encoder(config["encoder"]["name"], **config["encoder"]["options"])
        self.optimizer = bare_adam(self.encoder, config)
        self.x = torch.randn(2 * int(config["data"]["batch_size"]), 12, samples)
        self.pipeline: list[tuple[float, float]] = []
        self.bare: list[tuple[float, float]] = []
        self.parts: list[tuple[float, float, float]] = []  # the bare step's forward, backward, Adam (wall s)
        self._last: tuple[float, float] | None = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        now = (time.perf_counter(), time.process_time())
        if self._last is not None:
            self.pipeline.append((now[0] - self._last[0], now[1] - self._last[1]))
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.encoder(self.x).square().mean()
        forward = time.perf_counter()
        loss.backward()
        backward = time.perf_counter()
        self.optimizer.step()
        end = (time.perf_counter(), time.process_time())
        self.bare.append((end[0] - now[0], end[1] - now[1]))
        self.parts.append((forward - now[0], backward - forward, end[0] - backward))
        self._last = end


class Sections(L.Callback):
    """Wall time of the pipeline step's phases, between Lightning's hooks (``--sections``).

    Phases: ``fetch`` (the previous step's end, after the paired bare step, to this batch's start:
    Lightning's loop, callbacks, the loader), ``forward`` (the training step: views, encoder, head,
    loss, checks), ``zero_grad``, ``backward``, ``optimizer`` (Adam, the scheduler, hooks).
    """

    HOOKS = (("on_train_batch_start", "fetch"), ("on_before_zero_grad", "forward"),
             ("on_before_backward", "zero_grad"), ("on_before_optimizer_step", "backward"),
             ("on_train_batch_end", "optimizer"))

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {name: [] for _, name in self.HOOKS}
        self._last: float | None = None
        for hook, name in self.HOOKS:
            setattr(self, hook, self._marker(name))

    def _marker(self, name: str) -> Any:
        def mark(*args: Any) -> None:
            now = time.perf_counter()
            if self._last is not None:
                self.times[name].append(now - self._last)
            self._last = now
        return mark

    def restart(self) -> None:
        """Start the next ``fetch`` now (called after the paired bare step)."""
        self._last = time.perf_counter()


class _Restart(L.Callback):
    def __init__(self, sections: Sections) -> None:
        self.sections = sections

    def on_train_batch_end(self, *args: Any) -> None:
        self.sections.restart()


def lightning_floor(config: dict[str, Any], samples: int, steps: int, paired: PairedBareStep, root: Path) -> None:
    """Train a minimal LightningModule (the bare step on a fixed tensor) for ``steps`` with ``paired`` attached."""

    class Bare(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = build_encoder(config["encoder"]["name"], **config["encoder"]["options"])
            self.x = torch.randn(2 * int(config["data"]["batch_size"]), 12, samples)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            return self.encoder(self.x).square().mean()

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return bare_adam(self, config)

    class Endless(torch.utils.data.IterableDataset[torch.Tensor]):
        def __iter__(self) -> Any:
            while True:
                yield torch.zeros(1)

    trainer = L.Trainer(max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[paired],
                        default_root_dir=root, deterministic=True)
    trainer.fit(Bare(), torch.utils.data.DataLoader(Endless(), batch_size=None))


def bare_adam(module: torch.nn.Module, config: dict[str, Any]) -> torch.optim.Optimizer:
    """The baseline's Adam: the pipeline's (``build_adam`` with ``config["optim"]``), or the one ``--bare-adam`` names."""
    try:
        from threekg.train.module import build_adam
    except ImportError:  # threekg before build_adam (to measure an older version with this script)
        return torch.optim.Adam(module.parameters(), lr=2e-4)
    return build_adam(list(module.parameters()), config["optim"])


def bootstrap_ci(values: np.ndarray, rng: np.random.Generator, n: int = 2000) -> tuple[float, float]:
    """95 % percentile bootstrap CI of the median of ``values``."""
    medians = np.median(rng.choice(values, size=(n, len(values))), axis=1)
    return float(np.percentile(medians, 2.5)), float(np.percentile(medians, 97.5))


def write_data(path: Path, n: int, fs: float, seconds: float) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(round(fs * seconds)) / fs
    base = np.sin(2 * np.pi * 1.2 * t)[None, None, :] * rng.uniform(0.2, 1.5, size=(n, 12, 1))
    signals = (base + 0.05 * rng.standard_normal((n, 12, t.size))).astype(np.float32)
    records = pd.DataFrame({"record": [f"B{i:05d}" for i in range(n)], "patient_id": [f"P{i}" for i in range(n)]})
    write_dataset(path, signals, np.zeros((n, 1), np.uint8), ["X"], records, fs=fs, label_set="bench", source="bench")


def bare_encoder_step_times(config: dict[str, Any], samples: int, steps: int,
                            warmup: int) -> tuple[list[float], list[float]]:
    """Wall and process CPU seconds of each timed bare step."""
    encoder = build_encoder(config["encoder"]["name"], **config["encoder"]["options"])
    optimizer = bare_adam(encoder, config)
    x = torch.randn(2 * int(config["data"]["batch_size"]), 12, samples)
    times, cpu = [], []
    for i in range(warmup + steps):
        start = (time.perf_counter(), time.process_time())
        optimizer.zero_grad(set_to_none=True)
        encoder(x).square().mean().backward()
        optimizer.step()
        if i >= warmup:
            times.append(time.perf_counter() - start[0])
            cpu.append(time.process_time() - start[1])
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("paired", "rounds", "floor"), default="paired",
                        help="paired: a bare step after every pipeline step, in one run (default); rounds: "
                             "blocks of bare steps alternating with whole pretraining runs; floor: Lightning's "
                             "own cost, a minimal LightningModule doing only the bare step, paired the same way")
    parser.add_argument("--steps", type=int, default=300, help="timed steps of each arm")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--records", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=4, help="--mode rounds: alternating pipeline / encoder rounds")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: on a shared 2-core machine 2 threads make small ops 20x slower)")
    parser.add_argument("--workers", type=int, default=0, help="data.num_workers of the pipeline run")
    parser.add_argument("--fs", type=float, default=None,
                        help="sampling rate of the written data and of the run (default: the preset's, 100 Hz); "
                             "500 is the paper's rate, a 5x longer step")
    parser.add_argument("--bare-adam", choices=("same", "loop", "foreach", "fused"), default="same",
                        help="the baseline's Adam: same (the pipeline's, default), or a given implementation")
    parser.add_argument("--sections", action="store_true",
                        help="paired mode: also print the median time of each phase of both steps")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra pretraining option (as `threekg pretrain --set`), e.g. trainer.deterministic=false")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    # pretrain() applies the allocator tunables to its process; apply them first so that the bare
    # step, measured in the same process, runs under the same allocator (THREEKG_KEEP_FREED_MEMORY=0: neither)
    try:
        from threekg.train.allocator import keep_freed_memory
    except ImportError:  # threekg before the allocator tunables (to measure an older version with this script)
        kept = False
    else:
        kept = keep_freed_memory()
    config = resolve_config("cpu-small", overrides=([] if args.fs is None else [f"data.fs={args.fs:g}"]) + args.set)
    pipeline_adam = config["optim"].get("implementation", "default")
    if args.bare_adam != "same":
        config["optim"]["implementation"] = args.bare_adam
    fs, crop = float(config["data"]["fs"]), float(config["data"]["crop_seconds"])
    samples = round(fs * crop)
    batch = int(config["data"]["batch_size"])
    overrides = ["trainer.progress_bar=false", f"data.num_workers={args.workers}", f"data.fs={fs:g}", *args.set]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_data(data, args.records, fs, 10.0)
        results: dict[str, list[float]] = {"pipeline": [], "encoder": []}
        cpu: dict[str, list[float]] = {"pipeline": [], "encoder": []}
        sections: Sections | None = None
        if args.mode in ("paired", "floor"):
            paired = PairedBareStep(config, samples)
            if args.mode == "floor":
                lightning_floor(config, samples, args.warmup + args.steps + 1, paired, Path(tmp))
            else:
                sections = Sections() if args.sections else None
                extra: list[L.Callback] = [] if sections is None else [sections]
                extra.append(paired)
                if sections is not None:
                    extra.append(_Restart(sections))
                pretrain(data, "3kg", Path(tmp) / "run", preset="cpu-small", callbacks=extra,
                         overrides=[f"trainer.max_steps={args.warmup + args.steps + 1}", *overrides])
            pipe, bare = paired.pipeline[args.warmup :], paired.bare[args.warmup + 1 :]
            results = {"pipeline": [w for w, _ in pipe], "encoder": [w for w, _ in bare]}
            cpu = {"pipeline": [c for _, c in pipe], "encoder": [c for _, c in bare]}
        else:
            per_round = max(1, args.steps // args.rounds)
            for round_ in range(args.rounds):  # interleave so that load from other processes hits both alike
                wall, cpu_s = bare_encoder_step_times(config, samples, per_round, args.warmup)
                results["encoder"] += wall
                cpu["encoder"] += cpu_s
                timer = StepTimer()
                pretrain(data, "3kg", Path(tmp) / f"run{round_}", preset="cpu-small", callbacks=[timer],
                         overrides=[f"trainer.max_steps={args.warmup + per_round + 1}", *overrides])
                results["pipeline"] += timer.times[args.warmup :]
                cpu["pipeline"] += timer.cpu[args.warmup :]
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}, torch {torch.__version__}")
    print(f"Adam: pipeline {pipeline_adam}, baseline {config['optim'].get('implementation', 'default')} "
          "(optim.implementation; auto = fused on the CPU)")
    print(f"allocator: freed memory kept for reuse {'on' if kept else 'off'} (threekg.train.allocator), both arms; "
          f"mode {args.mode}")
    print(f"shape per step: 2 views x {batch} recordings x 12 leads x {samples} samples "
          f"({config['encoder']['name']}, {fs:g} Hz, {crop:g} s views), {len(results['pipeline'])} timed steps each")
    for name, t in med.items():
        print(f"{name:>9}: median step {t * 1000:8.1f} ms  = {batch / t:8.1f} recordings/s "
              f"({2 * batch / t:8.1f} views/s)")
    print(f"pipeline overhead over the bare encoder: {100 * (med['pipeline'] / med['encoder'] - 1):+.1f} %  (goal <= 10 %)")
    if args.mode == "floor":
        print("(floor: the 'pipeline' is a minimal LightningModule doing only the bare step, no data, views, head or "
              "loss; its overhead is Lightning's own loop)")
    if args.mode in ("paired", "floor"):
        rng = np.random.default_rng(0)
        diff = np.subtract(results["pipeline"], results["encoder"]) * 1000
        ratio = (np.divide(results["pipeline"], results["encoder"]) - 1) * 100
        lo, hi = bootstrap_ci(diff, rng)
        rlo, rhi = bootstrap_ci(ratio, rng)
        print(f"paired, step by step: extra {np.median(diff):.2f} ms [{lo:.2f}, {hi:.2f}] a step, "
              f"overhead {np.median(ratio):+.1f} % [{rlo:+.1f}, {rhi:+.1f}] (median of per-step values, 95 % CI)")
    if sections is not None:
        def ms(values: list[float]) -> str:
            return f"{statistics.median(values[args.warmup :]) * 1000:.2f}"
        print("phases, median ms a step: pipeline " + ", ".join(f"{k} {ms(v)}" for k, v in sections.times.items())
              + "; bare step " + ", ".join(f"{k} {ms([p[i] for p in paired.parts])}"
                                           for i, k in enumerate(("forward", "backward", "adam"))))
    # CPU time of this process: on a shared machine it leaves out the time other processes hold the core
    mcpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"process CPU time: pipeline {mcpu['pipeline'] * 1000:.1f} ms, encoder {mcpu['encoder'] * 1000:.1f} ms a step; "
          f"overhead {100 * (mcpu['pipeline'] / mcpu['encoder'] - 1):+.1f} %")


if __name__ == "__main__":
    main()
