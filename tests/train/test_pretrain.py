"""End-to-end pretraining runs on tiny structured data: every method, determinism, resume, NaN guard."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from threekg.models import load_encoder, load_encoder_metadata
from threekg.ssl.methods import METHODS
from threekg.train import ConfigError, NonFiniteLossError, RunDirError, pretrain

FAST = [
    "data.batch_size=8", "data.crop_seconds=1.0", "trainer.max_steps=3", "trainer.checkpoint_every_n_steps=2",
    "trainer.log_every_n_steps=1", "trainer.progress_bar=false", "encoder.options={width: 8}",
]
"""Overrides that make a run take a second or two (resnet18-small at width 8, 1 s crops at 100 Hz)."""


def encoder_state(run: Path) -> dict[str, torch.Tensor]:
    return load_encoder(run).state_dict()


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_finishes_with_loadable_checkpoint_and_encoder(tiny_data: Path, tmp_path: Path, method: str) -> None:
    run = pretrain(tiny_data, method, tmp_path / "run", overrides=FAST)
    assert (run / "DONE").is_file()
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 3
    assert (run / "checkpoints" / "step-2.ckpt").is_file()
    encoder = load_encoder(run)
    # the exported encoder holds exactly the trained weights of the checkpoint
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, ckpt["state_dict"][f"encoder.{key}"])
    assert load_encoder_metadata(run)["method"] == method
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["method"]["name"] == method and saved["data"]["batch_size"] == 8
    metrics = pd.read_csv(run / "logs" / "csv" / "metrics.csv")
    losses = metrics["train/loss"].dropna()
    assert len(losses) == 3 and losses.map(float).notna().all()
    assert metrics["train/samples_per_s"].dropna().gt(0).all()
    assert metrics["lr-Adam"].dropna().eq(2e-4).all()
    assert any((run / "logs" / "tb").glob("events.out.tfevents.*"))


def test_same_seed_same_weights_and_other_seed_differs(tiny_data: Path, tmp_path: Path) -> None:
    a = pretrain(tiny_data, "3kg", tmp_path / "a", overrides=FAST)
    b = pretrain(tiny_data, "3kg", tmp_path / "b", overrides=FAST)
    c = pretrain(tiny_data, "3kg", tmp_path / "c", overrides=[*FAST, "seed=1"])
    sa, sb, sc = encoder_state(a), encoder_state(b), encoder_state(c)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_stopped_then_resumed_run_equals_uninterrupted_run(tiny_data: Path, tmp_path: Path) -> None:
    opts = [*FAST, "trainer.max_steps=5", "trainer.accumulate=2", "optim.schedule=cosine", "optim.warmup_steps=2"]
    full = pretrain(tiny_data, "3kg", tmp_path / "full", overrides=opts)
    part = tmp_path / "part"
    # the schedule is defined over the whole run, so the first leg is cut by a hook, not by max_steps
    with pytest.raises(NonFiniteLossError):
        pretrain(tiny_data, "3kg", part, overrides=[*opts, "debug.nan_at_step=3"])
    assert not (part / "DONE").exists()
    resumed = pretrain(tiny_data, "3kg", part, overrides=[*opts, "debug.nan_at_step=null"], resume=True)
    assert json.loads((resumed / "DONE").read_text())["global_step"] == 5
    sf, sr = encoder_state(full), encoder_state(resumed)
    assert all(torch.equal(sf[k], sr[k]) for k in sf)


def test_completed_run_extended_with_more_steps_equals_longer_run(tiny_data: Path, tmp_path: Path) -> None:
    long = pretrain(tiny_data, "simclr", tmp_path / "long", overrides=[*FAST, "trainer.max_steps=4"])
    short = pretrain(tiny_data, "simclr", tmp_path / "short", overrides=[*FAST, "trainer.max_steps=2"])
    assert json.loads((short / "DONE").read_text())["global_step"] == 2
    pretrain(tiny_data, "simclr", short, overrides=["trainer.max_steps=4"], resume=True)
    assert json.loads((short / "DONE").read_text())["global_step"] == 4
    sl, ss = encoder_state(long), encoder_state(short)
    assert all(torch.equal(sl[k], ss[k]) for k in sl)
    # one metrics.csv holds both legs, each step once
    steps = pd.read_csv(short / "logs" / "csv" / "metrics.csv").dropna(subset=["train/loss"])["step"].tolist()
    assert steps == [0, 1, 2, 3]


def test_nan_guard_names_step_keeps_last_good_checkpoint_and_no_done(tiny_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match=r"at step 3 .*last good checkpoint: .*last\.ckpt"):
        pretrain(tiny_data, "3kg", run, overrides=[*FAST, "trainer.max_steps=5", "debug.nan_at_step=3"])
    assert not (run / "DONE").exists() and not (run / "encoder.safetensors").exists()
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())


def test_run_directory_states(tiny_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    run = pretrain(tiny_data, "cmsc", tmp_path / "run", overrides=FAST)
    mtime = (run / "encoder.safetensors").stat().st_mtime_ns
    with caplog.at_level("INFO"):
        pretrain(tiny_data, "cmsc", run, overrides=FAST)
    assert "already complete" in caplog.text
    assert (run / "encoder.safetensors").stat().st_mtime_ns == mtime
    (run / "DONE").unlink()
    with pytest.raises(RunDirError, match=r"--resume .*--overwrite"):
        pretrain(tiny_data, "cmsc", run, overrides=FAST)
    pretrain(tiny_data, "cmsc", run, overrides=FAST, overwrite=True)
    assert (run / "DONE").is_file()
    with pytest.raises(ConfigError, match="started with --method cmsc"):
        pretrain(tiny_data, "3kg", run, overrides=["trainer.max_steps=9"], resume=True)


def test_configuration_errors_name_the_key(tiny_data: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"optim\.lrr"):
        pretrain(tiny_data, "3kg", tmp_path / "a", overrides=["optim.lrr=1"])
    with pytest.raises(ConfigError, match=r"100 Hz .*data\.fs=500"):
        pretrain(tiny_data, "3kg", tmp_path / "b", preset="paper")
    with pytest.raises(ConfigError, match="unknown method 'nope'"):
        pretrain(tiny_data, "nope", tmp_path / "c", overrides=FAST)
    with pytest.raises(ValueError, match="patient_positive"):
        pretrain(tiny_data, "3kg", tmp_path / "d", overrides=[*FAST, "method.options={patient_positive: true}"])
    with pytest.raises(ValueError, match="fewer than one global batch"):
        pretrain(tiny_data, "3kg", tmp_path / "e", overrides=[*FAST, "data.batch_size=64"])


def test_pclr_single_recording_patients_warns_with_the_fallback(
    single_patient_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING"):
        run = pretrain(single_patient_data, "pclr", tmp_path / "run", overrides=FAST)
    assert "every patient" in caplog.text and "two independent random 1 s crops of the same recording" in caplog.text
    assert (run / "DONE").is_file()


def test_epochs_sets_the_number_of_steps(tiny_data: Path, tmp_path: Path) -> None:
    # 48 records, batch 8 -> 6 batches per epoch; 2 epochs with accumulate 3 -> 4 optimizer steps
    run = pretrain(tiny_data, "3kg-temporal", tmp_path / "run",
                   overrides=[*FAST, "trainer.epochs=2", "trainer.accumulate=3"])
    assert json.loads((run / "DONE").read_text())["global_step"] == 4


def test_loss_falls_on_structured_data(tiny_data: Path, tmp_path: Path) -> None:
    # the paper's same-window views: an easy task, so 60 steps show that the engine learns (with the
    # default shortcut-free windows the loss falls far more slowly, by design: docs/pretrain.md)
    run = pretrain(tiny_data, "3kg", tmp_path / "run",
                   overrides=[*FAST, "trainer.max_steps=60", "optim.lr=1e-3", "trainer.checkpoint_every_n_steps=60",
                              "method.options.windows=same"])
    losses = pd.read_csv(run / "logs" / "csv" / "metrics.csv")["train/loss"].dropna().to_numpy()
    assert len(losses) == 60
    assert losses[-15:].mean() < losses[:15].mean() - 0.2, (losses[:15].mean(), losses[-15:].mean())
