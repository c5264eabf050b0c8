"""`pretrain`: one pretraining run in a run directory, from a fresh start or resumed.

Run directory (docs/architecture.md)::

    RUN/config.yaml              the resolved configuration (written before training starts)
    RUN/checkpoints/last.ckpt    the latest checkpoint (every checkpoint_every_n_steps and at the end)
    RUN/checkpoints/step-*.ckpt  the periodic checkpoints
    RUN/logs/csv/metrics.csv     loss, lr, samples/s (CSVLogger)
    RUN/logs/tb/                 the same for TensorBoard
    RUN/encoder.safetensors      the trained encoder alone, with its config and the run's metadata
    RUN/DONE                     written last, when the run completed
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import lightning as L
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch.utils.data import DataLoader

from threekg.errors import UserError
from threekg.ssl.methods import Method
from threekg.train.callbacks import DivergenceGuard, Throughput, progress_callback
from threekg.train.checkpoint_io import AtomicCheckpointIO, remove_partial_checkpoints
from threekg.train.config import ConfigError, dump_config, load_defaults, merge, read_config, resolve_config
from threekg.train.data import CropDataset, StepBatchSampler, passthrough
from threekg.train.logs import merge_csv_parts, stash_csv
from threekg.train.module import DivergedLossError, NonFiniteInputError, NonFiniteLossError, PretrainModule

log = logging.getLogger(__name__)

CONFIG_FILE, DONE_FILE, ENCODER_FILE = "config.yaml", "DONE", "encoder.safetensors"
RESUMABLE_CHANGES = ("trainer.max_steps", "trainer.epochs")


class RunDirError(UserError, RuntimeError):
    """The run directory is in a state that does not allow the requested action."""


def _launch_rank_zero() -> bool:
    """False in the extra processes that Lightning (or SLURM / torchrun) starts for DDP."""
    return all(os.environ.get(v, "0") == "0" for v in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"))


def find_checkpoint(run: Path) -> Path | None:
    """``last.ckpt``, or when it is missing or unreadable the newest step checkpoint that loads."""
    ckpt_dir = run / "checkpoints"
    steps = sorted(ckpt_dir.glob("step-*.ckpt"), key=_step_of, reverse=True)
    candidates = [ckpt_dir / "last.ckpt", *steps]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # a checkpoint cut short by a kill: try the previous one
            log.warning("%s: half-written or damaged checkpoint, not used (%s); falling back to an older one",
                        path, err)
            continue
        return path
    return None


def _step_of(path: Path) -> int:
    """N of ``step-N.ckpt`` and of Lightning's versioned ``step-N-v1.ckpt``; -1 for other names."""
    match = re.match(r"step-(\d+)", path.stem)
    return int(match.group(1)) if match else -1


def _flat(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in config.items():
        if isinstance(v, Mapping) and v and not prefix.startswith(("method.options", "encoder.options")):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _resolve(
    run: Path, method: str, preset: str | None, config_file: str | Path | None, overrides: Any, resume: bool
) -> dict[str, Any]:
    items: list[Any] = [("method.name", method)]
    if isinstance(overrides, Mapping):
        items += list(overrides.items())
    elif overrides is not None:
        items += list(overrides)
    saved_path = run / CONFIG_FILE
    if resume and saved_path.is_file():
        # a run saved by an older threekg lacks the options added since: they take their defaults
        saved = merge(load_defaults(), read_config(saved_path), f"run config {saved_path}")
        if saved["method"]["name"] != method:
            raise ConfigError(f"{run}: was started with --method {saved['method']['name']}, not {method}")
        config = resolve_config(preset=None, config_file=config_file, overrides=items, base=saved)
        before, after = _flat(saved), _flat(config)
        changed = sorted(k for k in after if before.get(k) != after[k])
        other = [k for k in changed if k not in RESUMABLE_CHANGES]
        if other:
            log.warning("resuming %s with changed options %s: the continuation differs from the original run",
                        run, {k: (before.get(k), after[k]) for k in other})
        return config
    return resolve_config(preset=preset, config_file=config_file, overrides=items)


def _prepare_run_dir(run: Path, resume: bool, overwrite: bool) -> str:
    """Check the run directory; returns ``"fresh"``, ``"resume"``, ``"done"`` or ``"replace"``
    (``overwrite`` of an existing run: deleted only once the configuration and data are checked)."""
    if overwrite and run.exists():
        if run.is_dir() and any(run.iterdir()) and not (run / CONFIG_FILE).is_file():
            raise RunDirError(f"{run}: not a threekg run directory (no {CONFIG_FILE}); refusing to delete it")
        return "replace"
    if run.exists() and not run.is_dir():
        raise RunDirError(f"{run}: exists and is not a directory")
    if (run / DONE_FILE).is_file():
        return "resume" if resume else "done"
    if run.is_dir() and any(run.iterdir()):
        if not resume:
            raise RunDirError(
                f"{run}: holds an incomplete run; add --resume to continue it from its last checkpoint "
                "or --overwrite to start again from scratch"
            )
        return "resume"
    return "fresh"


def _on_cuda(trainer_cfg: Mapping[str, Any]) -> bool:
    return torch.cuda.is_available() and trainer_cfg["accelerator"] in ("auto", "gpu", "cuda")


def _precision(config: dict[str, Any]) -> str:
    precision = str(config["trainer"]["precision"])
    if precision == "auto":
        return "16-mixed" if _on_cuda(config["trainer"]) else "32-true"
    return "32-true" if precision == "32" else precision


class PretrainData(L.LightningDataModule):
    """Builds the DataLoader once the trainer knows its world size, rank and (resumed) step."""

    def __init__(self, dataset: CropDataset, config: dict[str, Any]) -> None:
        super().__init__()
        self.dataset, self.config = dataset, config

    def train_dataloader(self) -> DataLoader:
        data, trainer = self.config["data"], self.trainer
        assert trainer is not None
        start = trainer.global_step * int(self.config["trainer"]["accumulate"])
        sampler = StepBatchSampler(
            len(self.dataset), int(data["batch_size"]), int(self.config["seed"]),
            trainer.world_size, trainer.global_rank, start_batch=start,
        )
        pin = data["pin_memory"]
        pin = trainer.strategy.root_device.type == "cuda" if pin == "auto" else bool(pin)
        workers = int(data["num_workers"])
        return DataLoader(
            self.dataset, batch_sampler=sampler, collate_fn=passthrough, num_workers=workers, pin_memory=pin,
            persistent_workers=workers > 0,
        )


class FinalCheckpoint(L.Callback):
    """Saves ``last.ckpt`` when training ends normally (not after an exception)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.save_checkpoint(self.path, weights_only=False)


def pretrain(
    data_dir: str | Path,
    method: str,
    out: str | Path,
    preset: str | None = "cpu-small",
    overrides: Iterable[str | tuple[str, Any]] | Mapping[str, Any] | None = None,
    config_file: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    callbacks: Sequence[L.Callback] = (),
) -> Path:
    """Pretrain an encoder on a prepared dataset; returns the run directory ``out``.

    Args:
        data_dir: a prepared dataset (``threekg prepare``), signals (N, 12, T) in mV.
        method: a registered method (``threekg.ssl.methods.METHODS``).
        out: the run directory (see the module docstring for its layout).
        preset: a shipped preset (``cpu-small``, ``paper``), or None for the defaults alone.
        overrides: ``"dotted.key=value"`` strings (values parsed as YAML) or ``(key, value)`` pairs.
        config_file: a YAML file merged after the preset and before ``overrides``.
        resume: continue the run in ``out`` from its last checkpoint (also extends a completed
            run when ``trainer.max_steps`` is raised).
        overwrite: delete ``out`` first.
        callbacks: extra Lightning callbacks (benchmarks, tests).

    Raises ConfigError (bad option), RunDirError (``out`` holds an incomplete run and neither
    ``resume`` nor ``overwrite`` is given), NonFiniteLossError (NaN/inf loss: names the step and
    the last good checkpoint; DONE is not written).
    """
    run, data_dir = Path(out), Path(data_dir)
    rank_zero = _launch_rank_zero()
    state = _prepare_run_dir(run, resume, overwrite) if rank_zero else ("resume" if resume else "fresh")
    if state == "done":
        log.info("%s: this run is already complete (%s exists); nothing to do", run, DONE_FILE)
        return run
    config = _resolve(run, method, preset, config_file, overrides, resume and state != "replace")
    dataset, crop_samples, method_obj = _dataset(data_dir, config)  # a config that cannot fit the data stops here
    trainer_cfg = config["trainer"]
    StepBatchSampler(len(dataset), int(config["data"]["batch_size"]), 0, _world(trainer_cfg))  # one batch fits
    if state == "replace":
        shutil.rmtree(run) if run.is_dir() else run.unlink()
    ckpt = find_checkpoint(run) if state == "resume" else None
    if state == "resume" and ckpt is None:
        log.warning("%s: no readable checkpoint; starting from step 0", run)
    if ckpt is not None and (run / DONE_FILE).is_file():
        done_steps = int(torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"])
        if done_steps >= _max_steps(config, len(dataset), _world(trainer_cfg)):
            log.info("%s: already complete at step %d; raise trainer.max_steps to continue", run, done_steps)
            return run
        if rank_zero:
            (run / DONE_FILE).unlink()

    from threekg.models import build_encoder, build_head
    from threekg.train.allocator import keep_freed_memory

    _check_accelerator(trainer_cfg)
    keep_freed_memory()  # the step's large blocks are reused, not page-faulted in again (allocator.py)
    if config["trainer"].get("threads"):
        torch.set_num_threads(int(config["trainer"]["threads"]))
    L.seed_everything(int(config["seed"]), workers=False, verbose=False)
    with _user_options("encoder"):  # built before anything is written: a bad option leaves no half run
        encoder = build_encoder(config["encoder"]["name"], **config["encoder"]["options"])
    with _user_options("head"):
        head = build_head(config["head"]["kind"], in_dim=cast(int, encoder.embed_dim), **config["head"]["options"])
    if rank_zero:
        for partial in remove_partial_checkpoints(run / "checkpoints"):
            log.info("%s: removed the partial checkpoint %s of a killed run", run, partial.name)
        (run / "checkpoints").mkdir(parents=True, exist_ok=True)
        dump_config(config, run / CONFIG_FILE)
        stash_csv(run / "logs" / "csv")
    max_steps = _max_steps(config, len(dataset), _world(trainer_cfg))
    module = PretrainModule(encoder, head, method_obj, config, max_steps)
    if trainer_cfg["compile"]:
        encoder.compile()
    log.info("%s on %s: %s; %d steps of %d recordings x %d samples at %g Hz per process",
             method, data_dir, method_obj.describe(), max_steps, config["data"]["batch_size"], crop_samples, dataset.fs)

    try:
        trainer = _trainer(config, run, max_steps, callbacks)
    except MisconfigurationException as err:  # Lightning's word for "these trainer options cannot work here"
        raise ConfigError(f"trainer options: {err}") from err
    started = time.time()
    try:
        trainer.fit(module, datamodule=PretrainData(dataset, config), ckpt_path=ckpt, weights_only=True)
    except NonFiniteLossError as err:
        good = find_checkpoint(run)
        what = str(err)
        if isinstance(err, NonFiniteInputError):
            names = _record_names(data_dir, err.rows[:10])
            what += f" = records {names} of {data_dir}: the dataset is damaged; prepare it again"
        raise type(err)(
            f"{run}: {what}; training stopped, DONE not written; last good checkpoint: {good or 'none yet'}",
            *([err.rows] if isinstance(err, NonFiniteInputError) else []),
        ) from None
    except DivergedLossError as err:
        raise DivergedLossError(_diverged_message(run, err, config, rank_zero), err.step, err.onset) from None
    if trainer.interrupted:
        raise KeyboardInterrupt
    if rank_zero:
        merge_csv_parts(run / "logs" / "csv")
        _export(run, config, method_obj.describe(), dataset, crop_samples, time.time() - started)
    return run


def _diverged_message(run: Path, err: DivergedLossError, config: Mapping[str, Any], rank_zero: bool) -> str:
    """The one-line stop message; on rank 0 the checkpoints of diverged weights are set aside first."""
    moved = set_aside_checkpoints(run, err.onset - 1) if rank_zero else []
    good = find_checkpoint(run)
    lower = f"--lr {float(config['optim']['lr']) / 10:g}"
    aside = f"; {len(moved)} checkpoint(s) of diverged weights moved to {run / 'checkpoints' / DIVERGED_DIR}" if moved else ""
    return (f"{run}: {err}; training stopped, DONE not written; last good checkpoint: {good or 'none yet'}{aside}; "
            f"continue {'from it' if good else 'from scratch'} with a lower learning rate, e.g. --resume {lower}")


DIVERGED_DIR = "diverged"


def set_aside_checkpoints(run: Path, from_step: int) -> list[Path]:
    """Move the checkpoints of ``run`` saved at global step ``from_step`` or later to
    ``checkpoints/diverged/`` (so that ``--resume`` continues from the newest one before); returns
    their new paths. ``last.ckpt`` is judged by the step stored in it; an unreadable one is left."""
    ckpt_dir = run / "checkpoints"
    moved: list[Path] = []
    for path in sorted(ckpt_dir.glob("*.ckpt")):
        if path.name.startswith("step-"):
            step = _step_of(path)
        else:
            try:
                step = int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])
            except Exception:  # a cut file: find_checkpoint skips it anyway
                continue
        if step >= from_step:
            (ckpt_dir / DIVERGED_DIR).mkdir(exist_ok=True)
            moved.append(ckpt_dir / DIVERGED_DIR / path.name)
            os.replace(path, moved[-1])
    return moved


def _record_names(data_dir: Path, rows: list[int]) -> list[str]:
    """Record ids of dataset ``rows`` (the rows themselves if the table cannot be read)."""
    from threekg.data import open_dataset

    try:
        records = open_dataset(data_dir).records["record"]
        return [str(records.iloc[r]) for r in rows]
    except Exception:  # the error message must not fail on a damaged table
        return [str(r) for r in rows]


def _world(trainer_cfg: Mapping[str, Any]) -> int:
    devices = trainer_cfg["devices"]
    n = (torch.cuda.device_count() or 1) if devices == "auto" else int(devices)
    return max(1, n) * int(trainer_cfg["num_nodes"])


def _max_steps(config: Mapping[str, Any], n_records: int, world: int) -> int:
    t = config["trainer"]
    if t["epochs"] is None:
        return int(t["max_steps"])
    batches_per_epoch = n_records // (int(config["data"]["batch_size"]) * world)
    return max(1, math.ceil(int(t["epochs"]) * batches_per_epoch / int(t["accumulate"])))


def _dataset(data_dir: Path, config: dict[str, Any]) -> tuple[CropDataset, int, Method]:
    """The crop loader, the view length in samples and the method (told how long its views are)."""
    from threekg.data import open_dataset
    from threekg.ssl.methods import METHODS, build_method

    ds = open_dataset(data_dir)
    expected = config["data"]["fs"]
    if expected is not None and abs(float(expected) - float(ds.fs)) > 1e-6:
        raise ConfigError(
            f"{data_dir}: the dataset is sampled at {ds.fs:g} Hz but the configuration expects "
            f"data.fs={expected:g} Hz; prepare the data at {expected:g} Hz (threekg prepare ... --fs {expected:g}) "
            f"or train at {ds.fs:g} Hz with --set data.fs={ds.fs:g} (or data.fs=null)"
        )
    if config["method"]["name"] not in METHODS:
        raise ConfigError(f"unknown method {config['method']['name']!r}; registered methods: {sorted(METHODS)}")
    with _user_options("method"):
        probe = build_method(config["method"]["name"], float(ds.fs), **config["method"]["options"])
    crop_samples = round(float(config["data"]["crop_seconds"]) * float(ds.fs))
    crop_what = f"data.crop_seconds={config['data']['crop_seconds']:g} ({crop_samples} samples)"
    try:  # knowable now, before any trainer exists
        if crop_samples < 1:
            raise ValueError(f"less than one sample at {ds.fs:g} Hz")
        span = probe.loader_samples(crop_samples, int(ds.n_samples))
    except ValueError as err:
        raise ConfigError(f"{data_dir} ({ds.n_samples} samples per recording, {ds.n_samples / ds.fs:g} s at "
                          f"{ds.fs:g} Hz): {crop_what}: {err}") from None
    dataset = CropDataset(data_dir, span, int(config["seed"]), config["data"]["normalize"], probe.paired,
                          windows=probe.loader_windows())
    if probe.paired:
        alone = sum(1 for p in dataset.partners if len(p) == 0)
        if alone == len(dataset):
            log.warning(
                "pclr: every patient in %s has a single recording, so PCLR falls back to two independent "
                "random %g s crops of the same recording as the positive pair (no augmentation)%s",
                data_dir, config["data"]["crop_seconds"],
                "; the crop covers the whole recording, so both views are IDENTICAL and the task is trivial"
                if crop_samples >= dataset.n_samples else "",
            )
        elif alone:
            log.warning("pclr: %s; those are paired with an independent crop of themselves", dataset.describe_pairs())
    return dataset, crop_samples, probe


@contextlib.contextmanager
def _user_options(section: str) -> Iterator[None]:
    """A factory's refusal of the user's ``section.*`` options (free-form, checked only by the factory:
    KeyError, TypeError or ValueError) becomes a ConfigError naming the section."""
    try:
        yield
    except UserError:
        raise
    except (KeyError, TypeError, ValueError) as err:
        reason = err.args[0] if isinstance(err, KeyError) and err.args else err
        raise ConfigError(f"{section} options: {reason}") from err


def _check_accelerator(trainer_cfg: Mapping[str, Any]) -> None:
    """Refuse an accelerator this machine does not have, before anything is written."""
    accelerator = str(trainer_cfg["accelerator"])
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.accelerator={accelerator}: no CUDA GPU is available here",
                          hint="use --accelerator cpu or auto")
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("trainer.accelerator=mps: MPS is not available here", hint="use --accelerator cpu or auto")


def _trainer(config: dict[str, Any], run: Path, max_steps: int, extra: Sequence[L.Callback]) -> L.Trainer:
    t = config["trainer"]
    world = _world(t)
    sync_bn = bool(t["sync_batchnorm"]) and world > 1
    if sync_bn and not _on_cuda(t):
        log.warning("trainer.sync_batchnorm: SyncBatchNorm needs CUDA; BatchNorm statistics stay per process")
        sync_bn = False
    checkpoint = ModelCheckpoint(
        dirpath=run / "checkpoints", filename="step-{step}", every_n_train_steps=int(t["checkpoint_every_n_steps"]),
        save_top_k=-1, save_last=True, save_on_train_epoch_end=False, auto_insert_metric_name=False,
    )
    callbacks: list[L.Callback] = [checkpoint, LearningRateMonitor("step"), Throughput(),
                                   FinalCheckpoint(run / "checkpoints" / "last.ckpt"), *extra]
    if t["divergence"] is not None:
        callbacks.append(DivergenceGuard(**{k: t["divergence"][k] for k in ("factor", "margin", "patience", "window")}))
    if t["progress_bar"]:
        callbacks.append(progress_callback())
    return L.Trainer(
        accelerator=t["accelerator"], devices=t["devices"], num_nodes=int(t["num_nodes"]), strategy=t["strategy"],
        precision=_precision(config),  # type: ignore[arg-type]
        max_steps=max_steps, max_epochs=-1, accumulate_grad_batches=int(t["accumulate"]),
        deterministic=bool(t["deterministic"]), sync_batchnorm=sync_bn,
        use_distributed_sampler=False, log_every_n_steps=int(t["log_every_n_steps"]),
        logger=[
            CSVLogger(run, name="logs", version="csv", flush_logs_every_n_steps=int(t["checkpoint_every_n_steps"])),
            TensorBoardLogger(run, name="logs", version="tb"),
        ],
        callbacks=callbacks, enable_progress_bar=bool(t["progress_bar"]), enable_model_summary=False,
        num_sanity_val_steps=0, limit_val_batches=0, default_root_dir=run, benchmark=False,
        plugins=[AtomicCheckpointIO()],
    )


def _export(run: Path, config: dict[str, Any], description: str, dataset: CropDataset, crop_samples: int,
            seconds: float) -> None:
    """Encoder weights from ``last.ckpt`` (loaded with weights_only) -> ``encoder.safetensors``, then DONE."""
    from threekg.leads import LEADS
    from threekg.models import build_encoder, save_encoder

    path = run / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = {k[len("encoder."):]: v for k, v in checkpoint["state_dict"].items() if k.startswith("encoder.")}
    encoder = build_encoder(config["encoder"]["name"], **config["encoder"]["options"])
    encoder.load_state_dict(state, strict=True)
    metadata = {
        "method": config["method"]["name"], "method_description": description, "config": config,
        "input": {"fs": dataset.fs, "crop_samples": crop_samples, "normalize": config["data"]["normalize"],
                  "leads": list(LEADS), "units": "mV"},
        "global_step": int(checkpoint["global_step"]),
    }
    save_encoder(encoder, run / ENCODER_FILE, metadata=metadata)
    done = {"global_step": int(checkpoint["global_step"]), "seconds": round(seconds, 1), "checkpoint": str(path)}
    (run / DONE_FILE).write_text(json.dumps(done) + "\n")
    log.info("%s: done at step %d; encoder written to %s", run, done["global_step"], run / ENCODER_FILE)
