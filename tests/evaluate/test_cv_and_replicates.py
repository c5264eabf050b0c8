"""Cross-validated evaluation (every record tested once) and replicate groups (NAME@K)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evaluate_fixtures import BandPower, NoiseProjection
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from threekg.data import open_dataset
from threekg.evaluate import EncoderSpec, EvalOptions, evaluate
from threekg.evaluate.encoders import parse_encoders
from threekg.evaluate.outputs import summarise
from threekg.evaluate.splits import fold_partitions, make_folds, make_split


def test_strat_fold_cv_partition_ten_is_the_fixed_split() -> None:
    records = pd.DataFrame({"record": [f"r{i}" for i in range(40)], "patient_id": [f"p{i}" for i in range(40)],
                            "strat_fold": np.tile(np.arange(1, 11), 4)})
    folds, kind = make_folds(records)
    assert kind == "strat_fold" and (folds == records["strat_fold"].to_numpy()).all()
    parts = fold_partitions(folds)
    assert len(parts) == 10
    fixed, _ = make_split(records)
    last = parts[9]  # test fold 10; validation wraps around to fold 1
    assert (folds[last["test"]] == 10).all() and (folds[last["val"]] == 1).all()
    ninth = parts[8]  # test 9, validation 10
    assert (folds[ninth["val"]] == 10).all()
    tested = np.concatenate([p["test"] for p in parts])
    assert np.array_equal(np.sort(tested), np.arange(40))  # every record tested exactly once
    for p in parts:
        assert not set(p["train"]) & (set(p["val"]) | set(p["test"]))
        assert p["train"].size + p["val"].size + p["test"].size == 40
    # the fixed split is partition "test 10, validation 9": the benchmark's folds 1-8 / 9 / 10
    assert set(np.flatnonzero(fixed == "test")) == set(np.flatnonzero(folds == 10))


def test_patient_folds_are_balanced_and_never_split_a_patient() -> None:
    rng = np.random.default_rng(0)
    records = pd.DataFrame({"record": [f"r{i}" for i in range(203)],
                            "patient_id": [f"p{rng.integers(90)}" for _ in range(203)]})
    folds, kind = make_folds(records, k=5, seed=3)
    assert kind == "patient" and set(folds) == {1, 2, 3, 4, 5}
    for _, rows in records.groupby("patient_id").groups.items():
        assert len(set(folds[np.asarray(rows)])) == 1
    sizes = np.bincount(folds)[1:]
    assert sizes.max() - sizes.min() <= 6  # within a few records (patients have up to ~6)
    again, _ = make_folds(records, k=5, seed=3)
    assert np.array_equal(folds, again)
    with pytest.raises(ValueError, match="at least 3 folds"):
        make_folds(records, k=2)


def test_cv_pools_out_of_fold_predictions_like_sklearn(planted, tmp_path) -> None:
    """Every record is scored once; the pooled macro AUROC equals an sklearn reference built fold by fold."""
    lam = 1e-2
    m = evaluate(planted.path, [EncoderSpec("band", "module", module=BandPower())], tmp_path,
                 EvalOptions(fractions=(1.0,), seeds=(0,), n_boot=100, crop_seconds=None, progress=False,
                             split="cv", cv_folds=5, l2_grid=(lam,)))
    ds = open_dataset(planted.path)
    assert m["data"]["n_test"] == len(ds) and m["data"]["n_folds"] == 5 and m["data"]["split"] == "patient-cv5"
    z = np.load(next((tmp_path / "embeddings").glob("emb-*.npy")))
    y = np.asarray(ds.labels)
    folds = pd.read_csv(tmp_path / "split.csv")["fold"].to_numpy()
    prob = np.zeros(y.shape)
    for p in fold_partitions(folds):
        scaler = StandardScaler().fit(z[p["train"]])
        for c in range(y.shape[1]):
            clf = LogisticRegression(C=1 / (lam * p["train"].size), tol=1e-10, max_iter=10000)
            clf.fit(scaler.transform(z[p["train"]]), y[p["train"], c])
            prob[p["test"], c] = clf.predict_proba(scaler.transform(z[p["test"]]))[:, 1]
    # metrics order follows the folds: compare on the record order through the pooled index
    order = np.concatenate([p["test"] for p in fold_partitions(folds)])
    ref = np.mean([roc_auc_score(y[order, c], prob[order, c]) for c in range(y.shape[1])])
    assert abs(m["runs"][0]["macro_auroc"] - ref) < 2e-3
    assert len(m["runs"][0]["l2"]) == 5  # one strength per fold


def test_random_replicates_and_group_summary(planted, tmp_path) -> None:
    specs = parse_encoders(["random@0", "random@1", "random@2"], {"name": "resnet18-small", "width": 4})
    assert [s.init_seed for s in specs] == [0, 1, 2] and {s.group for s in specs} == {"random"}
    with pytest.raises(ValueError, match="replicates are random@K"):
        parse_encoders(["supervised@1"], {"name": "resnet18-small"})
    m = evaluate(planted.path, [*specs, EncoderSpec("band", "module", module=BandPower())], tmp_path,
                 EvalOptions(fractions=(1.0,), seeds=(0,), n_boot=100, crop_seconds=2.0, progress=False,
                             arch={"name": "resnet18-small", "width": 4}))
    embs = sorted((tmp_path / "embeddings").glob("emb-*.npy"))
    assert len(embs) == 4  # three different initialisations + band
    group = next(s for s in m["summary"] if s["encoder"] == "random")
    members = [s for s in m["summary"] if s["encoder"].startswith("random@")]
    assert group["replicates"] == ["random@0", "random@1", "random@2"]
    assert group["macro_auroc_mean"] == pytest.approx(np.mean([s["macro_auroc_mean"] for s in members]))
    assert group["replicate_std"] == pytest.approx(np.std([s["macro_auroc_mean"] for s in members], ddof=1))
    pair = next(p for p in m["paired"] if {p["encoder_a"], p["encoder_b"]} == {"random", "band"})
    band = next(s for s in m["summary"] if s["encoder"] == "band")
    sign = 1 if pair["encoder_a"] == "band" else -1
    assert sign * pair["diff_mean"] == pytest.approx(band["macro_auroc_mean"] - group["macro_auroc_mean"])


def test_group_paired_difference_uses_the_shared_resamples() -> None:
    rng = np.random.default_rng(0)
    boot = {(e, 1.0, s): rng.random(50) for e in ("a@0", "a@1", "b") for s in (0, 1)}
    runs = [{"encoder": e, "fraction": 1.0, "seed": s, "n_train": 10, "macro_auroc": float(boot[(e, 1.0, s)].mean()),
             "per_class_auroc": {}, "group_auroc": {}, "macro_auprc": 0.5, "challenge_metric": None}
            for e in ("a@0", "a@1", "b") for s in (0, 1)]
    _, paired = summarise(runs, boot, ["a@0", "a@1", "b"], [1.0], [0, 1],
                                replicate_groups={"a@0": "a", "a@1": "a", "b": "b"})
    row = next(p for p in paired if (p["encoder_a"], p["encoder_b"]) == ("a", "b"))
    d = np.mean([boot[("a@0", 1.0, s)] for s in (0, 1)] + [boot[("a@1", 1.0, s)] for s in (0, 1)], axis=0) \
        - np.mean([boot[("b", 1.0, s)] for s in (0, 1)], axis=0)
    assert (row["ci_low"], row["ci_high"]) == tuple(np.quantile(d, [0.025, 0.975]))
    assert row["p_le_0"] == (d <= 0).mean()
    with pytest.raises(ValueError, match="also encoder names"):
        summarise(runs, boot, ["a@0", "a@1", "b"], [1.0], [0, 1], replicate_groups={"a@0": "b", "a@1": "b"})


def test_noise_encoder_in_cv_is_near_chance(planted, tmp_path) -> None:
    m = evaluate(planted.path, [EncoderSpec("noise", "module", module=NoiseProjection())], tmp_path,
                 EvalOptions(fractions=(1.0,), seeds=(0,), n_boot=100, crop_seconds=None, progress=False,
                             split="cv", cv_folds=4))
    assert abs(m["runs"][0]["macro_auroc"] - 0.5) < 0.1


def test_minmax_encoders_are_probed_on_minmax_input_and_random_follows(planted, tmp_path) -> None:
    """An encoder pretrained on 1/(max-min) scaled recordings is embedded on the same scaling."""
    import torch

    from threekg.data.normalize import normalize_recordings
    from threekg.evaluate.embeddings import embed
    from threekg.models import build_encoder, save_encoder

    torch.manual_seed(0)
    enc = build_encoder("resnet18-small", width=4)
    save_encoder(enc, tmp_path / "run" / "encoder.safetensors", metadata={"input": {"normalize": "minmax"}})
    specs = parse_encoders([str(tmp_path / "run"), "random"])
    assert [s.normalize for s in specs] == ["minmax", "minmax"]
    evaluate(planted.path, specs, tmp_path / "eval",
             EvalOptions(fractions=(1.0,), seeds=(0,), n_boot=0, crop_seconds=2.0, progress=False))
    ds = open_dataset(planted.path)
    cached = [np.load(p) for p in sorted((tmp_path / "eval" / "embeddings").glob("emb-*.npy"))]
    expected = embed(enc, normalize_recordings(np.asarray(ds.signals), "minmax"), 200, progress=False)
    assert any(np.allclose(c, expected, atol=1e-5) for c in cached)
    raw = embed(enc, np.asarray(ds.signals), 200, progress=False)
    assert not any(np.allclose(c, raw, atol=1e-3) for c in cached)


def test_report_shows_replicate_groups_in_place_of_their_members(planted, tmp_path) -> None:
    from threekg.report import build_report
    from threekg.report.model import merge
    from threekg.report.schema import load_metrics

    specs = parse_encoders(["random@0", "random@1"], {"name": "resnet18-small", "width": 4})
    m = evaluate(planted.path, [*specs, EncoderSpec("band", "module", module=BandPower())], tmp_path / "eval",
                 EvalOptions(fractions=(1.0,), seeds=(0, 1), n_boot=50, crop_seconds=2.0, progress=False,
                             arch={"name": "resnet18-small", "width": 4}))
    assert m["replicate_groups"] == {"random": ["random@0", "random@1"]}
    data = merge([(tmp_path / "eval" / "metrics.json", load_metrics(tmp_path / "eval"))])
    assert [e.name for e in data.encoders] == ["band", "random"]
    assert len(data.runs[("random", 1.0)]) == 4  # 2 replicates x 2 subset seeds, pooled
    assert {frozenset((p["a"], p["b"])) for p in data.paired} == {frozenset(("band", "random"))}
    html = build_report([tmp_path / "eval"], tmp_path / "report.html").read_text()
    assert "random@0" not in html.split("<h2>")[1]  # the headline table shows the group, not the members
