"""`threekg export --hub`: a folder both loaders read, and a model card whose figures come from the files."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from encoder_fixtures import make_data, make_run
from threekg.cli.main import main
from threekg.embed import embed_dataset
from threekg.evaluate import EvalOptions, evaluate
from threekg.export import export_hub
from threekg.models import load_encoder


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A study layout: data/, runs/3kg (finished), eval/metrics.json of 3kg and random."""
    root = tmp_path_factory.mktemp("study")
    make_data(root / "data")
    make_run(root / "runs" / "3kg")
    evaluate(root / "data", [str(root / "runs" / "3kg"), "random"], root / "eval",
             EvalOptions(fractions=(0.5, 1.0), seeds=(0, 1), n_boot=50, crop_seconds=2.0, progress=False))
    return root


def test_folder_loads_back_with_both_loaders(study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = study / "runs" / "3kg"
    result = export_hub(run, tmp_path / "hub")
    assert sorted(p.name for p in result.path.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    x = torch.randn(4, 12, 200)
    original = load_encoder(run)
    assert torch.equal(load_encoder(result.path)(x), original(x))
    pytest.importorskip("huggingface_hub", reason="the optional extra threekg[hub] is not installed")
    from threekg.models.hub_mixin import ThreeKGEncoder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert torch.equal(ThreeKGEncoder.from_pretrained(result.path)(x), original(x))
    config = json.loads((result.path / "config.json").read_text())
    assert config["input"]["crop_samples"] == 200 and config["metadata"]["method"] == "3kg"
    import hashlib

    assert config["metadata"]["source_sha256"] == hashlib.sha256((run / "encoder.safetensors").read_bytes()).hexdigest()


def test_embed_from_the_hub_folder_gives_the_runs_numbers(study: Path, tmp_path: Path) -> None:
    run = study / "runs" / "3kg"
    hub = export_hub(run, tmp_path / "hub").path
    a = embed_dataset(study / "data", run, tmp_path / "a", progress=False)
    b = embed_dataset(study / "data", hub, tmp_path / "b", progress=False)
    assert np.array_equal(np.asarray(a.z), np.asarray(b.z))


def test_card_has_method_steps_data_table_limits_licence(study: Path, tmp_path: Path) -> None:
    result = export_hub(study / "runs" / "3kg", tmp_path / "hub", pretrain_data=study / "data")
    assert result.metrics == (study / "eval" / "metrics.json").resolve() and result.metrics_encoder == "3kg"
    card = (result.path / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: threekg\n")
    for needle in ("pretrained with `3kg`", "7 optimizer steps", "batch 16", "100 Hz", "200 samples (2 s)",
                   "`data`: 150 records from a `test` source", "## Limits", "Not a medical device",
                   "## Data licence", "unknown: state the licence"):
        assert needle in card, needle
    metrics = json.loads((study / "eval" / "metrics.json").read_text())
    for row in metrics["summary"]:  # every summary figure appears, formatted as on the card
        cell = f"{row['macro_auroc_mean']:.3f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
        line = next(ln for ln in card.splitlines() if ln.startswith(f"| {row['encoder']}")
                    or ln.startswith(f"| **{row['encoder']}**"))
        assert cell in line, (cell, line)
    (pair,) = [p for p in metrics["paired"] if p["fraction"] == 1.0]
    sign = 1 if pair["encoder_a"] == "3kg" else -1
    assert f"vs random at 100% of labels: {sign * pair['diff_mean']:+.3f}" in card
    assert re.search(r"\| encoder \| 50% of labels \| 100% of labels \|", card)


def test_card_without_evaluation_or_data_says_so(study: Path, tmp_path: Path) -> None:
    run = shutil.copytree(study / "runs" / "3kg", tmp_path / "lone" / "3kg")
    result = export_hub(run, tmp_path / "hub", data_licence="CC BY 4.0 (PTB-XL)")
    card = (result.path / "README.md").read_text()
    assert result.metrics is None and "No evaluation was given" in card
    assert "not recorded in the run" in card and "Pretraining data: CC BY 4.0 (PTB-XL)." in card


def test_cli_hub_and_refusals(study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = study / "runs" / "3kg"
    out = tmp_path / "hub"
    assert main(["export", str(run), "--hub", str(out), "--metrics", str(study / "eval")]) == 0
    assert "evaluation table from" in capsys.readouterr().out
    before = (out / "model.safetensors").read_bytes()
    assert main(["export", str(run), "--hub", str(out)]) == 2
    assert "not empty; pass --overwrite" in capsys.readouterr().err
    assert (out / "model.safetensors").read_bytes() == before
    assert main(["export", str(run), "--hub", str(tmp_path / "h2"), "--metrics", str(tmp_path / "none.json")]) == 2
    assert "none.json" in capsys.readouterr().err
    assert main(["export", str(run), "--hub", str(tmp_path / "h3"), "--pretrain-data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path) in err
