"""Numerical faults: NaN or inf in a batch, a diverging loss (non-finite or finite), NaN stored in a dataset.

Wanted every time: a clear stop naming the step, the last good checkpoint kept and loadable
(``weights_only=True``, finite weights), no ``DONE`` and no ``encoder.safetensors`` claiming a
finished run.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch

from threekg.train import (
    DivergedLossError,
    NonFiniteInputError,
    NonFiniteLossError,
    find_checkpoint,
    pretrain,
)
from threekg.train.module import nonfinite_rows

from . import tiny


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.dataset(tmp_path_factory.mktemp("numdata"), n=60)


def _assert_clean_stop(err: pytest.ExceptionInfo[NonFiniteLossError], run: Path, step: int, good_step: int) -> None:
    message = str(err.value)
    assert f"step {step}" in message and str(run) in message, message
    assert "\n" not in message.strip(), "the stop message must be one line"
    assert not (run / "DONE").exists()
    assert not (run / "encoder.safetensors").exists()
    good = find_checkpoint(run)
    assert good is not None and str(good) in message, f"the message must name the last good checkpoint: {message}"
    ckpt = torch.load(good, map_location="cpu", weights_only=True)
    assert int(ckpt["global_step"]) == good_step
    bad = [k for k, v in ckpt["state_dict"].items() if v.is_floating_point() and not torch.isfinite(v).all()]
    assert not bad, f"the kept checkpoint holds non-finite tensors: {bad[:5]}"


def _overrides(*extra: str) -> list[str]:
    return [*tiny.PRETRAIN, "trainer.max_steps=6", "trainer.checkpoint_every_n_steps=2", *extra]


def test_nan_in_a_batch_stops_at_that_step_and_keeps_the_last_good_checkpoint(data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    with pytest.raises(NonFiniteLossError) as err:
        pretrain(data, "3kg", run, overrides=_overrides("debug.nan_at_step=5"))
    _assert_clean_stop(err, run, step=5, good_step=4)


class InjectInf(L.Callback):
    """Writes +inf into one sample of the batch of the given (1-based) optimizer step."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if trainer.global_step + 1 == self.step:
            batch["x"][1, 4, 17] = float("inf")


def test_inf_in_a_batch_stops_at_that_step_and_keeps_the_last_good_checkpoint(data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    with pytest.raises(NonFiniteLossError) as err:
        pretrain(data, "3kg", run, overrides=_overrides(), callbacks=[InjectInf(3)])
    _assert_clean_stop(err, run, step=3, good_step=2)


def test_diverging_learning_rate_stops_with_the_last_finite_checkpoint(data: Path, tmp_path: Path) -> None:
    """Adam at lr 1e30: the first update leaves weights ~1e30 (finite), the next forward overflows."""
    run = tmp_path / "run"
    with pytest.raises(NonFiniteLossError) as err:
        pretrain(data, "3kg", run, overrides=_overrides("optim.lr=1e30", "trainer.checkpoint_every_n_steps=1"))
    _assert_clean_stop(err, run, step=2, good_step=1)


def test_finite_divergence_stops_keeps_the_last_good_checkpoint_and_resumes_at_a_lower_lr(
    data: Path, tmp_path: Path
) -> None:
    """30 steps at lr 1e-2 (the loss falls from 3.6 to about 0.8), then the run is continued at lr 1e4.

    Adam's first step at 1e4 throws every weight about 1e4 away; batch norm keeps the outputs
    finite, so the loss does not become NaN: it jumps back to chance level (about log(31) = 3.4 for
    16 recordings) and stays there. The guard stops the run after ``patience`` such steps; the
    checkpoints saved after the climb began are set aside, and ``--resume`` at lr 1e-3 continues
    from step 30 and finishes.
    """
    run = tmp_path / "run"
    guard = "trainer.divergence={factor: 2.0, margin: 0.5, patience: 5, window: 20}"
    base = [*tiny.PRETRAIN, "trainer.checkpoint_every_n_steps=5", guard]
    pretrain(data, "3kg", run, overrides=[*base, "optim.lr=1e-2", "trainer.max_steps=30"])
    with pytest.raises(DivergedLossError) as err:
        pretrain(data, "3kg", run, overrides=[*base, "optim.lr=1e4", "trainer.max_steps=60"], resume=True)
    onset, step = err.value.onset, err.value.step
    assert onset == 32 and step == onset + 4  # step 31 is the first update at 1e4; its loss shows at 32
    message = str(err.value)
    assert "\n" not in message
    assert re.search(rf"the loss diverged: [\d.]+ at step {step}, above 2x its running median (0\.\d+|1\.[0-4]\d*) "
                     rf"for 5 steps since step {onset}", message), message
    good = find_checkpoint(run)
    assert good == run / "checkpoints" / "step-30.ckpt" and f"last good checkpoint: {good}" in message
    assert "--resume --lr 1000" in message
    aside = sorted(p.name for p in (run / "checkpoints" / "diverged").iterdir())
    assert aside == ["last.ckpt", "step-35.ckpt"] and not (run / "DONE").exists()
    assert int(torch.load(run / "checkpoints" / "diverged" / "last.ckpt", weights_only=True)["global_step"]) == 35

    pretrain(data, "3kg", run, overrides=[*base, "optim.lr=1e-3", "trainer.max_steps=60"], resume=True)
    assert json.loads((run / "DONE").read_text())["global_step"] == 60
    metrics = pd.read_csv(run / "logs" / "csv" / "metrics.csv")
    lr = metrics.dropna(subset=["lr-Adam"]).set_index("step")["lr-Adam"]
    assert (lr.loc[:29] == 1e-2).all() and (lr.loc[30:] == 1e-3).all(), "--resume must use the new learning rate"
    loss = metrics.dropna(subset=["train/loss"]).set_index("step")["train/loss"]
    assert loss.loc[30:].max() < 2.0, "the diverged steps must not be in the merged log, nor diverge again"


def test_stopped_run_is_not_taken_as_complete_by_a_rerun(data: Path, tmp_path: Path) -> None:
    """Re-running without --resume refuses the half run; with --resume and the fault gone it finishes."""
    from threekg.train import RunDirError

    run = tmp_path / "run"
    short = "trainer.max_steps=4"
    with pytest.raises(NonFiniteLossError):
        pretrain(data, "3kg", run, overrides=_overrides(short, "debug.nan_at_step=3"))
    with pytest.raises(RunDirError, match="incomplete run"):
        pretrain(data, "3kg", run, overrides=_overrides(short))
    pretrain(data, "3kg", run, overrides=_overrides(short, "debug.nan_at_step=null"), resume=True)
    assert (run / "DONE").exists() and (run / "encoder.safetensors").exists()


@pytest.fixture
def nan_data(data: Path, tmp_path: Path) -> Path:
    """A copy of the prepared dataset with one NaN written into record 7's signals after prepare."""
    bad = tmp_path / "nan-data"
    shutil.copytree(data, bad)
    signals = np.load(bad / "signals.npy", mmap_mode="r+")
    signals[7, 2, 40] = np.nan
    signals.flush()
    del signals
    return bad


def test_nan_in_a_prepared_dataset_stops_pretraining_cleanly(nan_data: Path, tmp_path: Path) -> None:
    """Every record is drawn within the first epoch (54 records, batch 16: by step 4)."""
    run = tmp_path / "run"
    with pytest.raises(NonFiniteInputError) as err:
        pretrain(nan_data, "3kg", run, overrides=_overrides())
    name = str(pd.read_csv(nan_data / "records.csv")["record"].iloc[7])
    message = str(err.value)
    assert "step" in message and name in message and str(nan_data) in message, message
    assert err.value.rows == [7]
    assert not (run / "DONE").exists() and not (run / "encoder.safetensors").exists()


def test_nonfinite_rows_checks_both_views_of_paired_batches() -> None:
    batch = {"x": torch.zeros(4, 12, 10), "x2": torch.zeros(4, 12, 10), "index": torch.tensor([10, 11, 12, 13])}
    assert nonfinite_rows(batch) == []
    batch["x2"][2, 5, 3] = float("inf")
    batch["x"][0, 0, 0] = float("nan")
    assert nonfinite_rows(batch) == [10, 12]


def test_nan_in_a_prepared_dataset_is_named_by_evaluate(nan_data: Path, tmp_path: Path) -> None:
    """Regression: the LBFGS probe used to die on NaN embeddings without naming anything (fixed in ae77978)."""
    from threekg.evaluate import EvalOptions, evaluate

    options = EvalOptions(fractions=(1.0,), seeds=(0,), n_boot=0, crop_seconds=None, progress=False,
                          arch={"name": "resnet18-small"})
    with pytest.raises(ValueError, match=r"(?i)(nan|finite).*(A0000|record|signals)|(A0000|record|signals).*(nan|finite)"):
        evaluate(nan_data, ["random"], tmp_path / "eval", options)
    assert not (tmp_path / "eval" / "metrics.json").exists()
