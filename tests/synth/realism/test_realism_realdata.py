"""The features of real PTB-XL normal ECGs fall in the published normal limits (checks the measure itself)."""

from __future__ import annotations

import ast

import numpy as np
import pandas as pd
import pytest
import wfdb

pytest.importorskip("neurokit2")

from realdata_paths import shared_subdir
from threekg.synth.realism.features import record_features

pytestmark = pytest.mark.realdata


def test_ptbxl_normal_records_measure_in_normal_limits() -> None:
    root = shared_subdir("ptbxl-500")
    db = pd.read_csv(root / "ptbxl_database.csv")
    norm = db[[ast.literal_eval(s).get("NORM", 0) >= 80 for s in db["scp_codes"]]].head(8)
    feats = []
    for name in norm["filename_hr"]:
        rec = wfdb.rdrecord(str(root / name))
        feats.append(record_features(rec.p_signal.T, float(rec.fs)))
    med = pd.DataFrame(feats).median()
    # adult normal limits (AHA/ACCF/HRS 2009 recommendations): rate 50-100, PR 120-200, QRS < 110 ms,
    # QTc 350-450 ms, axis -30..90; the delineator's QRS bounds lie near the Q and S peaks, so QRS reads short
    assert 50 < med["hr_bpm"] < 100
    assert 110 < med["pr_ms"] < 210
    assert 50 < med["qrs_ms"] < 110
    assert 350 < med["qtc_ms"] < 460
    assert -30 < med["qrs_axis_deg"] < 90
    assert med["t_amp_mv_V5"] > 0.1 and med["rs_ratio_V1"] < 0.5 < med["rs_ratio_V6"]
    assert np.isfinite(med.to_numpy(dtype=float)).all()
