"""Named runs, pretraining seeds and pretraining corpora (including combinations) in a study."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from threekg.data import combine_datasets, open_dataset, write_dataset
from threekg.experiment import ConfigError, parse_config
from threekg.experiment.plan import build_plan
from threekg.experiment.runner import run_study


def tiny(path: Path, n: int, seed: int, label: bool = True, fs: float = 100.0, seconds: float = 2.0) -> Path:
    rng = np.random.default_rng(seed)
    t = int(fs * seconds)
    x = rng.normal(size=(n, 12, t)).astype(np.float32)
    y = (rng.random((n, 2)) < 0.4).astype(np.uint8) if label else np.zeros((n, 0), np.uint8)
    if label:
        x[y[:, 0] == 1, :, :] += np.sin(np.arange(t) / 3.0).astype(np.float32)
    rec = pd.DataFrame({"record": [f"r{i}" for i in range(n)], "patient_id": [f"p{i // 2}" for i in range(n)]})
    write_dataset(path, x, y, ["A", "B"] if label else [], rec, fs=fs, label_set="test" if label else "none",
                  source="test")
    return path


def study(tmp_path: Path, **pretrain: object) -> dict:
    return {"name": "t", "out": str(tmp_path / "out"), "data": {"prepared": str(tmp_path / "eval")},
            "pretrain": {"preset": "cpu-small", "set": {"trainer.max_steps": 2, "data.batch_size": 8,
                                                        "data.crop_seconds": 1.0, "encoder.options.width": 4,
                                                        "trainer.checkpoint_every_n_steps": 2,
                                                        "trainer.progress_bar": False},
                         **pretrain},
            "evaluate": {"fractions": [1.0], "seeds": [0], "options": {"n_boot": 20}},
            "report": {"enabled": False}}


def test_combine_concatenates_and_prefixes_ids(tmp_path: Path) -> None:
    a, b = tiny(tmp_path / "a", 6, 0), tiny(tmp_path / "b", 4, 1, label=False)
    ds = combine_datasets([a, b], tmp_path / "ab", names=["x", "y"])
    assert len(ds) == 10 and ds.label_names == [] and ds.manifest["label_set"] == "none"
    assert np.array_equal(ds.signals[:6], open_dataset(a).signals) and np.array_equal(ds.signals[6:],
                                                                                     open_dataset(b).signals)
    assert ds.records["record"].tolist()[:2] == ["x/r0", "x/r1"] and ds.records["corpus"].tolist()[-1] == "y"
    assert ds.records["patient_id"].tolist()[6] == "y/p0"  # never the same patient as x/p0
    assert ds.manifest["combined_from"] == {"x": 6, "y": 4}
    same = combine_datasets([a, a], tmp_path / "aa", names=["u", "v"])
    assert same.label_names == ["A", "B"] and same.labels.sum() == 2 * open_dataset(a).labels.sum()
    tiny(tmp_path / "c", 3, 2, fs=50.0)
    with pytest.raises(ValueError, match="prepare both with the same"):
        combine_datasets([a, tmp_path / "c"], tmp_path / "ac")
    with pytest.raises(FileExistsError):
        combine_datasets([a, b], tmp_path / "ab", names=["x", "y"])


@pytest.mark.parametrize("patch, message", [
    ({"runs": {"x": {"corpus": "study"}}}, "needs a method"),
    ({"runs": {"x": {"method": "3kg", "corpus": "nope"}}}, "corpus names 'nope'"),
    ({"runs": {"x@1": {"method": "3kg"}}}, "without '@'"),
    ({"methods": ["3kg"], "runs": {"3kg": {"method": "3kg"}}}, "name a run twice"),
    ({"seeds": [0, 0]}, "lists a seed twice"),
    ({"seeds": "0"}, "non-empty list of whole numbers"),
    ({"corpora": {"study": {"prepared": "x"}}}, "not 'study'"),
    ({"corpora": {"a": {"combine": ["study"]}}}, "at least two corpora"),
    ({"corpora": {"a": {"combine": ["study", "b"]}}}, "combine names 'b'"),
    ({"corpora": {"a": {"prepared": "x", "synth": {}}}}, "exactly one of synth, source, prepared"),
])
def test_bad_runs_and_corpora_name_the_problem(tmp_path: Path, patch: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(study(tmp_path, **patch), tmp_path)


def test_plan_expands_seeds_and_builds_corpora_once(tmp_path: Path) -> None:
    tiny(tmp_path / "eval", 24, 0)
    tiny(tmp_path / "extra", 16, 3, label=False)
    cfg = parse_config(study(tmp_path, seeds=[0, 1], corpora={
        "extra": {"prepared": str(tmp_path / "extra")},
        "both": {"combine": ["study", "extra"]},
        "unused": {"synth": {"n": 5}},
    }, runs={"a": {"method": "3kg", "corpus": "both", "set": {"method.options.windows": "adjacent"}},
             "b": {"method": "cmsc", "seeds": [7]}}), tmp_path)
    steps = build_plan(cfg)
    names = [s.name for s in steps]
    # seed-major: every run's first seed before any second seed
    assert names == ["corpus/both/combine", "pretrain/a@0", "pretrain/b", "pretrain/a@1", "evaluate"]
    a0 = steps[1]
    assert a0.options["overrides"]["seed"] == 0 and a0.options["overrides"]["method.name"] == "3kg"
    assert a0.options["resolved"]["method"]["options"] == {"windows": "adjacent"}
    assert steps[2].options["overrides"]["seed"] == 7
    assert steps[-1].options["encoders"] == [f"a@0={cfg.out / 'runs' / 'a@0'}", f"a@1={cfg.out / 'runs' / 'a@1'}",
                                            f"b={cfg.out / 'runs' / 'b'}", "random@0", "random@1"]


def test_a_study_with_corpora_and_seeds_runs_end_to_end_and_reruns_nothing(tmp_path: Path) -> None:
    tiny(tmp_path / "eval", 24, 0)
    tiny(tmp_path / "extra", 16, 3, label=False)
    raw = study(tmp_path, seeds=[0, 1], corpora={"extra": {"prepared": str(tmp_path / "extra")},
                                                 "both": {"combine": ["study", "extra"]}},
                runs={"a": {"method": "3kg", "corpus": "both", "set": {"method.options.windows": "adjacent"}}})
    raw["evaluate"]["splits"] = ["fixed", "cv"]
    raw["evaluate"]["options"]["cv_folds"] = 3
    cfg = parse_config(raw, tmp_path)
    outcomes = run_study(cfg)
    assert all(o.ran for o in outcomes)
    assert len(open_dataset(cfg.out / "corpora" / "both" / "data")) == 40
    m = json.loads((cfg.out / "eval" / "metrics.json").read_text())
    groups = {s["encoder"]: s for s in m["summary"]}
    assert groups["a"]["replicates"] == ["a@0", "a@1"] and groups["random"]["replicates"] == ["random@0", "random@1"]
    assert any({p["encoder_a"], p["encoder_b"]} == {"a", "random"} for p in m["paired"])
    cv = json.loads((cfg.out / "eval-cv" / "metrics.json").read_text())
    assert cv["data"]["n_test"] == 24 and cv["data"]["split"] == "patient-cv3"
    assert not any(o.ran for o in run_study(parse_config(raw, tmp_path)))


def test_evaluate_splits_are_checked(tmp_path: Path) -> None:
    raw = study(tmp_path)
    raw["evaluate"]["splits"] = ["cv", "cv"]
    with pytest.raises(ConfigError, match="'fixed' and/or 'cv' once each"):
        parse_config(raw, tmp_path)
    raw["evaluate"]["splits"] = ["fixed"]
    raw["evaluate"]["options"]["split"] = "cv"
    with pytest.raises(ConfigError, match=r"use evaluate\.splits"):
        parse_config(raw, tmp_path)
