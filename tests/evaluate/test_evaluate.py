import json

import numpy as np
import pandas as pd
import torch
from evaluate_fixtures import BandPower, NoiseProjection

from threekg.cli.main import main
from threekg.evaluate import EncoderSpec, EvalOptions, evaluate
from threekg.models import build_encoder, save_encoder

OPTS = dict(fractions=(0.1, 1.0), seeds=(0, 1), n_boot=200, crop_seconds=None, progress=False)


def test_planted_signal_scores_near_one_noise_near_half_and_encoder_untouched(planted, tmp_path) -> None:
    band = BandPower()
    before = {k: v.clone() for k, v in band.state_dict().items()}
    m = evaluate(planted.path, [EncoderSpec("band", "module", module=band),
                                EncoderSpec("noise", "module", module=NoiseProjection())],
                 tmp_path, EvalOptions(**OPTS))
    summ = {(s["encoder"], s["fraction"]): s for s in m["summary"]}
    assert summ[("band", 1.0)]["macro_auroc_mean"] > 0.97
    assert summ[("band", 0.1)]["macro_auroc_mean"] > 0.9
    assert abs(summ[("noise", 1.0)]["macro_auroc_mean"] - 0.5) < 0.12
    for s in m["summary"]:
        assert (s["ci_low"] <= s["macro_auroc_mean"] + 1e-9 and s["ci_low"] < s["ci_high"]) or s["ci_high"] == 1.0
    after = band.state_dict()
    for k, v in before.items():  # weights AND batch-norm running statistics
        assert torch.equal(v, after[k]), k
    assert band.training  # the caller's mode is restored after embedding in eval mode
    pair = next(p for p in m["paired"] if p["fraction"] == 0.1)
    assert pair["encoder_a"] == "band" and pair["ci_low"] > 0
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert len(runs) == 8 and set(runs["encoder"]) == {"band", "noise"}
    assert (runs["probe_unconverged"] == 0).all() and (runs["probe_iterations"] > 0).all()
    per_class = pd.read_csv(tmp_path / "per_class.csv")
    assert len(per_class) == 8 * 4
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["data"]["split"] == "patient"
    assert next(iter(written)) == "schema_version" and written["schema_version"] == 1  # docs/report.md


def test_cache_hit_skips_encoder_and_subsets_are_shared(planted, tmp_path) -> None:
    band = BandPower()
    opts = EvalOptions(**{**OPTS, "n_boot": 0})
    evaluate(planted.path, [EncoderSpec("band", "module", module=band)], tmp_path, opts)
    calls = band.calls
    assert calls > 0 and list((tmp_path / "embeddings").glob("emb-*.npy"))
    m2 = evaluate(planted.path, [EncoderSpec("band", "module", module=band)], tmp_path, opts)
    assert band.calls == calls
    other = tmp_path / "other"
    m3 = evaluate(planted.path, [EncoderSpec("noise", "module", module=NoiseProjection())], other, opts)
    for f in ("frac0.1_seed0.csv", "frac0.1_seed1.csv"):
        a = pd.read_csv(tmp_path / "subsets" / f)
        b = pd.read_csv(other / "subsets" / f)
        assert a.equals(b)
    assert [r["n_train"] for r in m2["runs"]] == [r["n_train"] for r in m3["runs"]]


def test_cli_with_checkpoint_random_and_supervised(planted, tmp_path) -> None:
    torch.manual_seed(0)
    enc = build_encoder("resnet18-small", width=4)
    save_encoder(enc, tmp_path / "run" / "encoder.safetensors")
    out = tmp_path / "eval"
    code = main(["evaluate", "--data", str(planted.path), "--encoders", str(tmp_path / "run"), "random",
                 "supervised", "--out", str(out), "--fractions", "0.5", "--seeds", "0", "--bootstrap", "50",
                 "--crop-seconds", "2", "--epochs", "1", "--threads", "1"])
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    assert [r["encoder"] for r in m["runs"]] == ["run", "random", "supervised"]
    assert m["encoders"]["random"]["config"] == m["encoders"]["run"]["config"]
    assert m["runs"][2]["mode"] == "supervised"
    assert all(0 <= r["macro_auroc"] <= 1 for r in m["runs"])
    assert np.isfinite([s["ci_low"] for s in m["summary"]]).all()


def test_labelled_only_datasets_leave_unlabelled_records_out(tmp_path) -> None:
    """A manifest with ``evaluate_labelled_only`` (the PTB-XL benchmark tasks) drops the records with no
    label from train, validation and test; the split file still lists every record."""
    from evaluate_fixtures import make_planted

    ds = make_planted(tmp_path / "ds", n=200, seed=3)
    unlabelled = ~np.asarray(ds.labels).any(axis=1)
    assert 20 < unlabelled.sum() < 100
    manifest = json.loads((ds.path / "manifest.json").read_text())
    (ds.path / "manifest.json").write_text(json.dumps({**manifest, "evaluate_labelled_only": True}))
    opts = EvalOptions(**{**OPTS, "fractions": (1.0,), "seeds": (0,), "n_boot": 0})
    m = evaluate(ds.path, [EncoderSpec("band", "module", module=BandPower())], tmp_path / "a", opts)
    d = m["data"]
    assert d["n_unlabelled_excluded"] == unlabelled.sum()
    assert d["n_train"] + d["n_val"] + d["n_test"] == (~unlabelled).sum()
    assert len(pd.read_csv(tmp_path / "a" / "split.csv")) == 200
    used = set(pd.read_csv(tmp_path / "a" / "subsets" / "frac1_seed0.csv")["record"])
    names = ds.records["record"].to_numpy()
    assert used and not used & set(names[unlabelled])
    cv = EvalOptions(**{**OPTS, "fractions": (1.0,), "seeds": (0,), "n_boot": 0, "split": "cv", "cv_folds": 5})
    m = evaluate(ds.path, [EncoderSpec("band", "module", module=BandPower())], tmp_path / "cv", cv)
    assert m["data"]["n_test"] == (~unlabelled).sum()  # every evaluated record tested once, no other
    (ds.path / "manifest.json").write_text(json.dumps(manifest))  # without the flag: every record
    m = evaluate(ds.path, [EncoderSpec("band", "module", module=BandPower())], tmp_path / "b", opts)
    assert m["data"]["n_unlabelled_excluded"] == 0
    assert m["data"]["n_train"] + m["data"]["n_val"] + m["data"]["n_test"] == 200
