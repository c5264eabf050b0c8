"""The realism run: selections, measuring with failures and resume, the CNN test, the CLI end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("neurokit2")

from threekg.cli.main import main
from threekg.data import write_dataset
from threekg.synth import generate_batch
from threekg.synth.realism import measure as measure_mod
from threekg.synth.realism.run import select


def test_select_specs(tmp_path: Path) -> None:
    labels = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 0, 1]], dtype=np.uint8)
    ds = write_dataset(tmp_path / "d", np.zeros((4, 12, 10), np.float32), labels, ["NSR", "AF", "PVC"],
                       pd.DataFrame({"record": list("abcd")}), fs=500, label_set="csv", source="test")
    assert select(ds, None).tolist() == [0, 1, 2, 3]
    assert select(ds, "NSR").tolist() == [0, 1, 3]
    assert select(ds, "=NSR").tolist() == [0]
    assert select(ds, "NSR+PVC").tolist() == [3]
    assert select(ds, "=AF+PVC").tolist() == [2]
    with pytest.raises(ValueError, match="no label 'XYZ'"):
        select(ds, "XYZ")


def test_measure_keeps_failures_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signals, _, _ = generate_batch(3, seed=4)
    signals = np.concatenate([signals, np.zeros_like(signals[:1])])  # a flat record NeuroKit2 cannot read
    names = ["r0", "r1", "r2", "flat"]
    journal = tmp_path / "j.jsonl"
    first = measure_mod.measure(signals, names, fs=500, journal=journal, workers=1, progress=False)
    assert list(first.features.index) == ["r0", "r1", "r2"]
    assert first.failed["record"].tolist() == ["flat"] and "\n" not in first.failed["reason"][0]
    calls: list[str] = []
    real = measure_mod._measure_one
    monkeypatch.setattr(measure_mod, "_measure_one", lambda rec, *a: calls.append(rec) or real(rec, *a))
    again = measure_mod.measure(signals, names, fs=500, journal=journal, workers=1, progress=False)
    assert calls == []  # everything came from the journal
    pd.testing.assert_frame_equal(again.features, first.features)
    more = measure_mod.measure(signals[:2], ["r0", "new"], fs=500, journal=journal, workers=1, progress=False)
    assert calls == ["new"] and list(more.features.index) == ["r0", "new"]


def test_cnn_separates_ecgs_from_noise_and_not_ecgs_from_ecgs() -> None:
    pytest.importorskip("torch")
    from threekg.synth.realism.cnn import cnn_discriminate, prepare_signals

    a, _, _ = generate_batch(40, seed=5)
    b, _, _ = generate_batch(40, seed=6)
    assert prepare_signals(a[:2], 500).shape == (2, 8, 1000)
    noise = np.random.default_rng(0).normal(0, 0.3, a.shape).astype(np.float32)
    assert cnn_discriminate(a, noise, 500, folds=4, epochs=4).auroc > 0.9
    assert cnn_discriminate(a, b, 500, folds=4, epochs=4).auroc < 0.8


def test_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, seed in (("a", 1), ("b", 2)):
        assert main(["synth", str(tmp_path / name), "--n", "5", "--seed", str(seed), "--workers", "1",
                     "--no-progress"]) == 0
    out = tmp_path / "out"
    code = main(["realism", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out), "--max-records", "3",
                 "--no-cnn", "--workers", "1", "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    assert "synth-vs-real/logistic" in text and "| hr_bpm |" in text
    for name in ("realism.md", "realism.csv", "discriminators.json", "features_synth.csv", "features_real.csv",
                 "distributions.png", "per_lead.png"):
        assert (out / name).is_file(), name
    assert len(pd.read_csv(out / "features_synth.csv")) == 3
    assert main(["realism", str(tmp_path / "a"), str(tmp_path / "nowhere"), "--out", str(out)]) == 2  # a user error
    assert "nowhere" in capsys.readouterr().err
