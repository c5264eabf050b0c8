"""Diagnostics wired to encoders: invariance 1 for encoders that ignore a transform, determinism, cache,
the timing-shortcut test end to end on simulated ECGs, and ``evaluate`` writing them to metrics.json."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import torch
from evaluate_fixtures import FS, BandPower, NoiseProjection
from scipy.signal import find_peaks
from sklearn.metrics import roc_auc_score
from torch import nn

from threekg.data import PreparedDataset, write_dataset
from threekg.evaluate import DiagnosticOptions, EncoderSpec, EvalOptions, evaluate
from threekg.evaluate import diagnostics as dx
from threekg.evaluate.diagnose import Diagnoser, crop_embeddings, plan_crops
from threekg.evaluate.embeddings import embed
from threekg.evaluate.splits import fold_partitions, load_or_make_folds


class TimeShape(nn.Module):
    """|top right-singular vector| of each crop (12, L): the time course of a rank-one ECG, blind to any lead mixing."""

    config: ClassVar[dict[str, str]] = {"name": "timeshape"}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.svd(x.double(), full_matrices=False)[2][:, 0].abs().float()


class MaxAbs(nn.Module):
    """Largest |value| of each lead: blind to where in time a value sits and to zeroed samples."""

    config: ClassVar[dict[str, str]] = {"name": "maxabs"}

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x.abs().amax(dim=-1)


def _options(**kw) -> DiagnosticOptions:
    return DiagnosticOptions(**{"max_records": 40, "crops_per_record": 3, **kw})


def _invariances(encoder: nn.Module, signals: np.ndarray, crop: int = 200) -> dict[str, float]:
    plan = plan_crops(np.arange(len(signals)), signals.shape[-1], crop, _options(), FS)
    z = crop_embeddings(encoder, signals, plan, FS, seed=0)
    return {k: dx.invariance(z["clean"], z[k], plan.rows) for k in ("rotation_scaling", "time_mask", "time_shift")}


def test_invariance_is_one_for_an_encoder_that_ignores_the_transform() -> None:
    rng = np.random.default_rng(0)
    rank_one = (rng.normal(size=(40, 12, 1)) * rng.normal(size=(40, 1, 400))).astype(np.float32)
    assert _invariances(TimeShape(), rank_one)["rotation_scaling"] == pytest.approx(1.0, abs=1e-5)
    constant = np.repeat(rng.normal(size=(40, 12, 1)), 400, axis=2).astype(np.float32)
    inv = _invariances(MaxAbs(), constant)
    assert inv["time_mask"] == pytest.approx(1.0, abs=1e-6) and inv["time_shift"] == pytest.approx(1.0, abs=1e-6)
    assert inv["rotation_scaling"] < 0.99  # the lead values do change under rotation and scaling
    noise = rng.normal(size=(40, 12, 400)).astype(np.float32)
    assert _invariances(MaxAbs(), noise)["time_shift"] < 0.99  # another window has other maxima


def test_crop_embeddings_are_seeded_and_independent_of_the_batch_size() -> None:
    signals = np.random.default_rng(1).normal(size=(30, 12, 500)).astype(np.float32)
    plan = plan_crops(np.arange(30), 500, 200, _options(), FS)
    a = crop_embeddings(MaxAbs(), signals, plan, FS, seed=0, batch_size=7)
    b = crop_embeddings(MaxAbs(), signals, plan, FS, seed=0, batch_size=64)
    c = crop_embeddings(MaxAbs(), signals, plan, FS, seed=1)
    assert set(a) == {"clean", "time_shift", "view_a", "view_b", "rotation_scaling", "time_mask"}
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.allclose(a["view_a"], c["view_a"]) and not np.allclose(a["view_a"], a["view_b"])
    np.testing.assert_array_equal(a["clean"], c["clean"])  # the plan fixes the crops; the seed the transforms


def test_crop_embeddings_scale_whole_recordings_like_the_encoder_was_pretrained() -> None:
    signals = np.random.default_rng(2).normal(size=(10, 12, 500)).astype(np.float32)
    plan = plan_crops(np.arange(10), 500, 200, _options(), FS)
    big = {n: crop_embeddings(MaxAbs(), 10 * signals, plan, FS, seed=0, normalize=n) for n in ("none", "minmax")}
    small = crop_embeddings(MaxAbs(), signals, plan, FS, seed=0, normalize="minmax")
    np.testing.assert_allclose(big["minmax"]["clean"], small["clean"], rtol=1e-5)  # one scale per recording
    np.testing.assert_allclose(big["none"]["clean"], 10 * crop_embeddings(MaxAbs(), signals, plan, FS, 0)["clean"],
                               rtol=1e-5)
    span = signals.max(axis=(1, 2)) - signals.min(axis=(1, 2))  # of the whole recording, not the crop
    crops = np.stack([signals[r, :, st : st + 200] for r, st in zip(plan.rows, plan.starts, strict=True)])
    np.testing.assert_allclose(small["clean"], np.abs(crops).max(axis=2) / span[plan.rows, None], rtol=1e-5)


def test_plan_crops_stays_inside_the_records() -> None:
    plan = plan_crops(np.arange(100), 1000, 500, _options(max_records=30, max_shift_seconds=0.5), FS)
    assert np.unique(plan.rows).size == 30 and plan.rows.size == 90 and plan.max_shift == 50
    assert (plan.starts + plan.shifts >= 0).all() and (plan.starts + plan.shifts + 500 <= 1000).all()
    assert (plan.shifts != 0).all() and (np.abs(plan.shifts) <= 50).all()
    whole = plan_crops(np.arange(10), 400, 500, _options(), FS)  # crop longer than the records: one whole crop
    assert whole.length == 400 and whole.max_shift == 0 and whole.rows.size == 10 and (whole.starts == 0).all()


class PhaseOracle(nn.Module):
    """Finds the R peaks of lead II inside the crop and returns the cycle phase at its two edges (regular rhythm)."""

    config: ClassVar[dict[str, str]] = {"name": "phase-oracle"}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        for lead in x[:, 1].numpy():
            p, _ = find_peaks(lead, height=0.5 * lead.max(), distance=int(0.3 * FS))
            if p.size < 2:  # a transformed view (time mask) may hide the beats
                out.append([0.0] * 4)
                continue
            rr = float(np.median(np.diff(p)))
            a = 2 * math.pi * ((0 - (p[0] - rr)) / rr)
            b = 2 * math.pi * ((lead.size - 1 - p[-1]) / rr)
            out.append([math.cos(a), math.sin(a), math.cos(b), math.sin(b)])
        return torch.tensor(out, dtype=torch.float32)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory):
    """30 simulated 10 s ECGs at 100 Hz (NeuroKit2), heart rates 55-110 bpm, the same signal on every lead."""
    nk = pytest.importorskip("neurokit2")
    rng = np.random.default_rng(0)
    x = np.stack([np.repeat(nk.ecg_simulate(duration=10, sampling_rate=100, heart_rate=int(rng.integers(55, 110)),
                                            method="simple", random_state=i)[None, :1000], 12, axis=0)
                  for i in range(30)])
    y = (rng.random((30, 2)) < 0.5).astype(np.uint8)
    records = pd.DataFrame({"record": [f"s{i}" for i in range(30)], "patient_id": [f"p{i}" for i in range(30)]})
    return write_dataset(tmp_path_factory.mktemp("sim") / "ds", x.astype(np.float32), y, ["a", "b"], records, FS,
                         label_set="synthetic", source="test")


def _diagnoser(ds: PreparedDataset, cache: Path, **kw) -> Diagnoser:
    n = len(ds)
    part = {"train": np.arange(0, n // 2), "val": np.zeros(0, dtype=np.int64), "test": np.arange(n // 2, n)}
    return Diagnoser(ds.signals, ds.labels, ds.fs, [part], {(0, 1.0, 0): part["train"]}, np.ones(2, bool), 250,
                     "fp", cache, _options(**kw), ds.records["record"].tolist(), progress=False)


def test_shortcut_r2_high_for_an_encoder_that_reads_the_beat_timing(simulated, tmp_path) -> None:
    d = _diagnoser(simulated, tmp_path)
    z_oracle = np.zeros((30, 4))
    oracle = d("oracle", PhaseOracle(), "oracle-fp", z_oracle + np.random.default_rng(0).normal(size=(30, 4)))
    noise = d("noise", NoiseProjection(), "noise-fp", np.random.default_rng(1).normal(size=(30, 8)))
    assert oracle["shortcut"]["n_records"] >= 25 and oracle["shortcut"]["lead"] == "II"
    assert oracle["shortcut_r2"] > 0.8, oracle
    assert abs(noise["shortcut_r2"]) < 0.15 and abs(noise["peak_train_r2"]) < 0.15, noise


def test_diagnoser_caches_crop_embeddings_and_peaks(simulated, tmp_path) -> None:
    enc = MaxAbs()
    z = np.random.default_rng(0).normal(size=(30, 12))
    first = _diagnoser(simulated, tmp_path)("maxabs", enc, "maxabs-fp", z)
    calls = enc.calls
    assert calls > 0 and first["views"]["cache"] == "computed"
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == ["diag", "peaks"]
    second = _diagnoser(simulated, tmp_path)("maxabs", enc, "maxabs-fp", z)
    assert enc.calls == calls and second["views"]["cache"] == "hit"
    np.testing.assert_equal({k: v for k, v in first.items() if k != "views"}, {k: v for k, v in second.items() if k != "views"})


def test_shortcut_is_skipped_with_a_reason_without_neurokit(simulated, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "neurokit2", None)  # import neurokit2 -> ImportError
    out = _diagnoser(simulated, tmp_path)("shape", TimeShape(), "fp", np.random.default_rng(0).normal(size=(30, 12)))
    assert out["shortcut_r2"] is None and "NeuroKit2 is not installed" in out["shortcut"]["skipped"]
    assert out["alignment"] >= 0 and math.isfinite(out["invariance"]["time_mask"])


def test_evaluate_writes_diagnostics_for_frozen_encoders(planted, tmp_path) -> None:
    opt = EvalOptions(fractions=(0.5, 1.0), seeds=(0, 1), n_boot=20, progress=False, crop_seconds=2.0,
                      diagnostics=DiagnosticOptions(max_records=60, crops_per_record=2))
    specs = [EncoderSpec("bandpower", "module", module=BandPower()), EncoderSpec("noise", "module", module=NoiseProjection())]
    m = evaluate(planted.path, specs, tmp_path / "a", opt)
    diag = m["diagnostics"]
    assert set(diag) == {"bandpower", "noise"}
    bp = diag["bandpower"]
    assert [r["fraction"] for r in bp["knn"]] == [0.5, 1.0] and set(bp["knn"][0]["per_seed"]) == {"0", "1"}
    assert bp["knn"][1]["macro_auroc_mean"] > 0.9 and abs(diag["noise"]["knn"][1]["macro_auroc_mean"] - 0.5) < 0.1
    assert 1.0 <= bp["effective_rank"] <= bp["max_rank"] == 4 and 1 <= bp["dims_99"] <= 4
    assert 0.0 <= bp["alignment"] <= 4.0 and -4.0 <= bp["uniformity"] <= 0.0
    assert set(bp["invariance"]) == {"rotation_scaling", "time_mask", "time_shift"}
    assert bp["views"]["n_records"] == 60 and bp["views"]["crop_samples"] == 200
    cv = evaluate(planted.path, specs, tmp_path / "cv",
                  EvalOptions(fractions=(1.0,), seeds=(0,), n_boot=0, progress=False, crop_seconds=2.0, split="cv",
                              cv_folds=3, diagnostics=DiagnosticOptions(max_records=30, crops_per_record=1)))
    folds, _ = load_or_make_folds(planted.records, tmp_path / "cv" / "split.csv", k=3, seed=0)
    z = embed(BandPower(), planted.signals, 200, progress=False)
    pooled_y, pooled_s = [], []
    for p in fold_partitions(folds):  # fraction 1: the whole training split of each fold
        zc = z - z[p["train"]].mean(axis=0)
        pooled_s.append(dx.knn_scores(zc[p["train"]], planted.labels[p["train"]], zc[p["test"]]))
        pooled_y.append(planted.labels[p["test"]])
    y, sc = np.concatenate(pooled_y), np.concatenate(pooled_s)
    expected = np.mean([roc_auc_score(y[:, c], sc[:, c]) for c in range(y.shape[1])])
    assert cv["diagnostics"]["bandpower"]["knn"][0]["macro_auroc_mean"] == pytest.approx(expected, abs=1e-6)
    assert expected > 0.9
    off = evaluate(planted.path, specs[:1], tmp_path / "b",
                   EvalOptions(fractions=(1.0,), seeds=(0,), n_boot=0, progress=False,
                               diagnostics=DiagnosticOptions(enabled=False)))
    assert off["diagnostics"] == {}


def test_diagnostic_views_keep_the_papers_strengths() -> None:
    """The rotation/scaling invariance and the alignment views use the paper's +-45 deg and [1, 1.5],
    not the (milder) defaults of the 3kg method, so diagnostics compare across threekg versions."""
    from threekg.augment import PIPELINES, build_pipeline
    from threekg.evaluate.diagnose import VIEWS

    for view in ("view_a", "view_b", "rotation_scaling"):
        spatial = build_pipeline(PIPELINES[VIEWS[view]]).augmentations[0]
        assert (spatial.angle, spatial.scale, spatial.scale_low) == (45.0, 1.5, 1.0), view
    assert [a["name"] for a in PIPELINES[VIEWS["time_mask"]]] == ["time_mask"]
