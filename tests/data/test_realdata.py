"""prepare and read_record on the real recordings in ../shared/data (skipped when absent)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from realdata_paths import shared_subdir
from threekg.data import open_dataset, prepare, read_record
from threekg.data.labelsets import cinc2020_table
from threekg.leads import LEADS

wfdb = pytest.importorskip("wfdb")
pytestmark = pytest.mark.realdata


def _rdrecord(path: Path) -> np.ndarray:
    r = wfdb.rdrecord(str(path))
    names = [n.upper() for n in r.sig_name]
    return r.p_signal[:, [names.index(lead.upper()) for lead in LEADS]].T


def test_cinc2021_sample_labels_match_table(tmp_path: Path) -> None:
    src = shared_subdir("cinc2021-sample")
    prepare(src, tmp_path / "c", fs=500, workers=1, progress=False)
    ds = open_dataset(tmp_path / "c")
    assert len(ds) + len(ds.rejected) == 50 and len(ds) >= 45
    table = cinc2020_table()
    cls = dict(zip(table["snomed"], table["class"], strict=True))
    for i, rec in ds.records.iterrows():
        header = (src / f"{rec['record']}.hea").read_text()
        dx = next(line for line in header.splitlines() if line.lstrip("# ").lower().startswith("dx"))
        codes = {c.strip() for c in dx.split(":", 1)[1].split(",") if c.strip()}
        expected = {cls[c] for c in codes if c in cls}
        assert {ds.label_names[j] for j in np.flatnonzero(ds.labels[i])} == expected
        np.testing.assert_allclose(ds.signals[i], _rdrecord(src / rec["record"]), atol=1e-6)


@pytest.mark.parametrize("fs", [100, 500])
def test_ptbxl_signals_and_superclasses(tmp_path: Path, fs: int) -> None:
    src = shared_subdir("ptbxl-500")
    prepare(src, tmp_path / "p", fs=fs, limit=40, workers=1, progress=False)
    ds = open_dataset(tmp_path / "p")
    db = pd.read_csv(src / "ptbxl_database.csv", index_col="ecg_id")
    st = pd.read_csv(src / "scp_statements.csv", index_col=0)
    assert len(ds) == 40 and ds.n_samples == 10 * fs
    for i, rec in ds.records.iterrows():
        row = db.loc[int(rec["record"])]
        assert rec["strat_fold"] == row["strat_fold"] and rec["patient_id"] == str(int(row["patient_id"]))
        scp = ast.literal_eval(row["scp_codes"])
        expected = {st.loc[c, "diagnostic_class"] for c in scp
                    if c in st.index and st.loc[c, "diagnostic"] == 1}  # every statement, as the benchmark
        assert {ds.label_names[j] for j in np.flatnonzero(ds.labels[i])} == expected
        if i < 10:
            name = row["filename_lr"] if fs == 100 else row["filename_hr"]
            np.testing.assert_allclose(ds.signals[i], _rdrecord(src / name), atol=1e-6)


def test_ptb_frank_lower_case_1000hz(tmp_path: Path) -> None:
    src = shared_subdir("ptb-frank")
    rec = read_record(src / "s0010_re")
    assert rec.fs == 1000 and rec.signal.shape == (12, 38400) and rec.age == 81 and rec.sex == "F"
    np.testing.assert_allclose(rec.signal, _rdrecord(src / "s0010_re")[:, :], atol=1e-12)
    prepare(src, tmp_path / "f", fs=500, workers=1, progress=False)
    ds = open_dataset(tmp_path / "f")
    assert len(ds) == 1 and ds.label_names == [] and ds.records["fs_original"].iloc[0] == 1000
    from scipy.signal import resample_poly
    np.testing.assert_allclose(ds.signals[0], resample_poly(rec.signal[:, :11000], 1, 2, axis=1)[:, :5000], atol=1e-5)


def test_cinc2020_all_has_every_code_seen(tmp_path: Path) -> None:
    src = shared_subdir("cinc2021-sample")
    prepare(src, tmp_path / "c", fs=100, seconds=2, workers=1, progress=False, label_set="cinc2020-all")
    ds = open_dataset(tmp_path / "c")
    per_record = []
    for rec in ds.records["record"]:
        header = (src / f"{rec}.hea").read_text()
        dx = next(line for line in header.splitlines() if line.lstrip("# ").lower().startswith("dx"))
        per_record.append({c.strip() for c in dx.split(":", 1)[1].split(",") if c.strip()})
    seen = set().union(*per_record)
    assert set(ds.label_names) == seen and len(ds.label_names) == len(seen)
    assert ds.label_names == sorted(ds.label_names, key=int)
    for i, codes in enumerate(per_record):
        assert {ds.label_names[j] for j in np.flatnonzero(ds.labels[i])} == codes
    assert ds.manifest["codes_outside_label_set"] == {}


def test_ptbxl_folds_keep_exactly_the_training_folds(tmp_path: Path) -> None:
    """`--folds 1-8` keeps every record of ptbxl_database.csv with strat_fold 1-8 and no other."""
    src = shared_subdir("ptbxl-500")
    prepare(src, tmp_path / "p", fs=100, workers=1, progress=False, label_set="none", folds="1-8")
    ds = open_dataset(tmp_path / "p")
    db = pd.read_csv(src / "ptbxl_database.csv")
    expected = set(db.loc[db["strat_fold"] <= 8, "ecg_id"].astype(str))
    assert set(ds.records["record"]) | set(ds.rejected["record"]) == expected
    assert set(ds.records["strat_fold"]) <= set(range(1, 9))
