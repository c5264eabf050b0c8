import numpy as np
import pandas as pd
import pytest

from threekg.evaluate.fractions import label_subset, load_or_make_subset
from threekg.evaluate.splits import load_or_make_split, make_split


def test_patient_split_has_no_leakage_and_is_seeded(tmp_path) -> None:
    rng = np.random.default_rng(0)
    rec = pd.DataFrame({"record": [f"r{i}" for i in range(500)],
                        "patient_id": [f"p{k}" for k in rng.integers(0, 150, 500)]})
    split, kind = make_split(rec, seed=1)
    assert kind == "patient"
    per_patient = pd.DataFrame({"p": rec["patient_id"], "s": split}).groupby("p")["s"].nunique()
    assert (per_patient == 1).all()
    frac = pd.Series(split).value_counts(normalize=True)
    assert abs(frac["train"] - 0.7) < 0.05 and abs(frac["test"] - 0.2) < 0.05
    assert (make_split(rec, seed=1)[0] == split).all() and not (make_split(rec, seed=2)[0] == split).all()
    a, _ = load_or_make_split(rec, tmp_path / "split.csv", seed=1)
    b, _ = load_or_make_split(rec, tmp_path / "split.csv", seed=99)  # the saved file wins
    assert (a == b).all() and (a == split).all()


def test_strat_fold_split() -> None:
    rec = pd.DataFrame({"record": list("abcd"), "patient_id": list("abcd"), "strat_fold": [1, 8, 9, 10]})
    assert make_split(rec)[0].tolist() == ["train", "train", "val", "test"]


@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.5])
def test_subsets_keep_positives_sizes_and_determinism(fraction: float) -> None:
    rng = np.random.default_rng(1)
    y = rng.random((3000, 20)) < np.geomspace(0.001, 0.3, 20)
    y[:, 0] = False
    y[rng.choice(3000, 2), 0] = True  # 2 positives
    idx = label_subset(y, fraction, seed=7)
    assert (y[idx].sum(axis=0) > 0).sum() == (y.sum(axis=0) > 0).sum()
    assert round(fraction * 3000) <= idx.size <= round(fraction * 3000) + 20
    assert (label_subset(y, fraction, seed=7) == idx).all()
    assert not np.array_equal(label_subset(y, fraction, seed=8), idx)
    if fraction >= 0.1:  # stratification: prevalence of a common class is kept
        assert abs(y[idx, -1].mean() - y[:, -1].mean()) < 0.02


def test_saved_subset_is_reused(tmp_path) -> None:
    rng = np.random.default_rng(2)
    y = rng.random((400, 5)) < 0.2
    rec = pd.Series([f"r{i}" for i in range(400)])
    a = load_or_make_subset(rec, y, 0.1, 0, "ds", tmp_path)
    b = load_or_make_subset(rec, y, 0.1, 0, "ds", tmp_path)
    assert (a == b).all() and (tmp_path / "subsets" / "frac0.1_seed0.csv").exists()


def test_a_saved_subset_from_a_changed_split_is_drawn_again(tmp_path, caplog) -> None:
    """Records left out of the training split since the subset was saved (new labels excluded them)
    must not be used: the subset is drawn again from the current split, with a warning."""
    rng = np.random.default_rng(3)
    y = rng.random((400, 5)) < 0.2
    rec = pd.Series([f"r{i}" for i in range(400)])
    first = load_or_make_subset(rec, y, 0.1, 0, "ds", tmp_path)
    keep = np.setdiff1d(np.arange(400), first[:3])  # three subset records leave the split
    with caplog.at_level("WARNING"):
        again = load_or_make_subset(rec[keep].reset_index(drop=True), y[keep], 0.1, 0, "ds", tmp_path)
    assert "drawn again" in caplog.text
    names = set(rec[keep].iloc[again])
    assert names <= set(rec[keep]) and len(again) >= 30
    saved = pd.read_csv(tmp_path / "subsets" / "frac0.1_seed0.csv", dtype=str)["record"]
    assert set(saved) == names  # the file now holds the new draw
