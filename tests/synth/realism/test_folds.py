"""The per-fold comparison reads the right real records for each subset (constructed so that one feature is
inside the real IQR for the held-out folds only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from threekg.synth.realism.features import DWT_LEADS, GLOBAL_FEATURES, lead_features
from threekg.synth.realism.folds import compare_by_folds


def test_subsets_follow_strat_fold(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    features = list(GLOBAL_FEATURES + lead_features(DWT_LEADS))
    ids = np.arange(1, 61)
    folds = np.where(ids <= 40, 1 + ids % 7, 8 + ids % 3)  # 40 training records, 20 held out
    real = pd.DataFrame(rng.normal(size=(60, len(features))), index=pd.Index(ids, name="record"), columns=features)
    real.loc[folds >= 8, "hr_bpm"] += 10.0  # the held-out records have a higher rate
    synth = pd.DataFrame(rng.normal(size=(50, len(features))), columns=features)
    synth["hr_bpm"] += 10.0  # like the held-out records, not like the training ones
    real.to_csv(tmp_path / "features_real.csv")
    synth.to_csv(tmp_path / "features_synth.csv")
    ptbxl = tmp_path / "ptbxl"
    ptbxl.mkdir()
    pd.DataFrame({"ecg_id": ids, "strat_fold": folds}).to_csv(ptbxl / "ptbxl_database.csv", index=False)

    table = compare_by_folds(tmp_path, ptbxl, held_out=(8, 9, 10)).set_index("real")
    assert table["n_real"].to_dict() == {"all": 60, "training folds": 40, "held-out folds": 20}
    assert "hr_bpm" in table.loc["training folds", "outside"]
    assert "hr_bpm" not in table.loc["held-out folds", "outside"]
    held = float(str(table.loc["held-out folds", "logistic"]).split()[0])
    train = float(str(table.loc["training folds", "logistic"]).split()[0])
    assert train > held  # the rate separates synth from the training records only
