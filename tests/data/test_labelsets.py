"""PTB-XL label sets against the PTB-XL benchmark's definition (Strodthoff et al. 2021,
helme/ecg_ptbxl_benchmarking ``compute_label_aggregations`` / ``select_data``), written here from
that definition: on a generated PTB-XL tree and on the 500 real records (skipped when absent)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from data_fixtures import write_record

from realdata_paths import shared_subdir
from threekg.data import open_dataset, prepare
from threekg.data.labelsets import LABEL_SET_ALIASES, PTBXL_TASKS, get_label_set

TASK_SIZES = {"all": 71, "diagnostic": 44, "subdiagnostic": 23, "superdiagnostic": 5, "form": 19, "rhythm": 12}
AGGREGATED = {"subdiagnostic": "diagnostic_subclass", "superdiagnostic": "diagnostic_class"}


def benchmark_labels(task: str, scp_codes: dict[str, float], statements: pd.DataFrame) -> set[str]:
    """The labels the benchmark gives one record for ``task``: every key of ``scp_codes`` counts,
    whatever its likelihood; diagnostic tasks look only at statements with ``diagnostic == 1.0``;
    sub/superdiagnostic map them to ``diagnostic_subclass`` / ``diagnostic_class``, skipping NaN."""
    if task == "all":
        return set(scp_codes)
    if task in ("diagnostic", *AGGREGATED):
        diag = statements[statements["diagnostic"] == 1.0]
        if task == "diagnostic":
            return {k for k in scp_codes if k in diag.index}
        column = AGGREGATED[task]
        return {str(diag.loc[k, column]) for k in scp_codes if k in diag.index and str(diag.loc[k, column]) != "nan"}
    flagged = statements[statements[task] == 1.0]
    return {k for k in scp_codes if k in flagged.index}


def benchmark_classes(task: str, statements: pd.DataFrame) -> list[str]:
    """The task's statement list, sorted (the order of the benchmark's MultiLabelBinarizer)."""
    if task == "all":
        return sorted(statements.index)
    diag = statements[statements["diagnostic"] == 1.0]
    if task == "diagnostic":
        return sorted(diag.index)
    if task in AGGREGATED:
        return sorted(set(diag[AGGREGATED[task]].dropna()))
    return sorted(statements.index[statements[task] == 1.0])


def labels_of(ds, i: int) -> set[str]:
    return {ds.label_names[j] for j in np.flatnonzero(ds.labels[i])}


# --- a generated PTB-XL tree ------------------------------------------------------------------

STATEMENTS = pd.DataFrame(
    {"description": ["normal", "inferior MI", "non-specific ST", "ischemic", "sinus rhythm", "low QRS"],
     "diagnostic": [1.0, 1.0, 1.0, 1.0, np.nan, np.nan], "form": [np.nan, np.nan, 1.0, np.nan, np.nan, 1.0],
     "rhythm": [np.nan, np.nan, np.nan, np.nan, 1.0, np.nan],
     "diagnostic_class": ["NORM", "MI", "STTC", "STTC", np.nan, np.nan],
     "diagnostic_subclass": ["NORM", "IMI", "NST_", np.nan, np.nan, np.nan]},
    index=pd.Index(["NORM", "IMI", "NST_", "ISC_", "SR", "LVOLT"]))
SCP = {1: {"NORM": 100.0, "SR": 0.0}, 2: {"IMI": 50.0, "NST_": 0.0, "SR": 0.0}, 3: {"NST_": 0.0, "LVOLT": 0.0},
       4: {"SR": 0.0}, 5: {"ISC_": 15.0}}


def _ptbxl_tree(root: Path) -> Path:
    rows = []
    for ecg_id, scp in SCP.items():
        write_record(root / "records100" / "00000", f"{ecg_id:05d}_lr", fs=100.0, n=1000, ext="dat", fmt="16",
                     comments=(), seed=ecg_id)
        rows.append({"ecg_id": ecg_id, "patient_id": 100.0 + ecg_id, "age": 50, "sex": ecg_id % 2,
                     "scp_codes": repr(scp), "strat_fold": ecg_id * 2,
                     "filename_lr": f"records100/00000/{ecg_id:05d}_lr",
                     "filename_hr": f"records500/00000/{ecg_id:05d}_hr"})
    pd.DataFrame(rows).to_csv(root / "ptbxl_database.csv", index=False)
    STATEMENTS.to_csv(root / "scp_statements.csv")
    return root


@pytest.mark.parametrize("task", list(TASK_SIZES))
def test_generated_tree_each_task_as_the_benchmark(tmp_path: Path, task: str) -> None:
    src = _ptbxl_tree(tmp_path / "src")
    summary = prepare(src, tmp_path / "p", fs=100, seconds=5, label_set=f"ptbxl-{task}", workers=1, progress=False)
    ds = open_dataset(tmp_path / "p")
    assert ds.label_names == benchmark_classes(task, STATEMENTS)
    expected = [benchmark_labels(task, SCP[int(r)], STATEMENTS) for r in ds.records["record"]]
    assert [labels_of(ds, i) for i in range(len(ds))] == expected
    n_empty = sum(not e for e in expected)
    assert ds.manifest["n_unlabelled"] == summary.n_unlabelled == n_empty
    assert ds.manifest["evaluate_labelled_only"] is True
    if n_empty:
        assert "left out of evaluation" in str(summary)


def test_generated_tree_aggregation_by_hand(tmp_path: Path) -> None:
    """The rules spelt out on five records (likelihood 0 counts; NaN subclass is skipped)."""
    src = _ptbxl_tree(tmp_path / "src")
    prepare(src, tmp_path / "sub", fs=100, seconds=5, label_set="ptbxl-subdiagnostic", workers=1, progress=False)
    prepare(src, tmp_path / "sup", fs=100, seconds=5, label_set="ptbxl-superdiagnostic", workers=1, progress=False)
    sub, sup = open_dataset(tmp_path / "sub"), open_dataset(tmp_path / "sup")
    assert sub.label_names == ["IMI", "NORM", "NST_"] and sup.label_names == ["MI", "NORM", "STTC"]
    assert [labels_of(sub, i) for i in range(5)] == [{"NORM"}, {"IMI", "NST_"}, {"NST_"}, set(), set()]
    assert [labels_of(sup, i) for i in range(5)] == [{"NORM"}, {"MI", "STTC"}, {"STTC"}, set(), {"STTC"}]


def test_min_likelihood_is_an_opt_in_deviation(tmp_path: Path) -> None:
    """``ptbxl_min_likelihood=0`` drops the diagnostic statements stored at likelihood 0 (NST_ here);
    rhythm and form statements (stored at 0 too) always count."""
    src = _ptbxl_tree(tmp_path / "src")
    prepare(src, tmp_path / "p", fs=100, seconds=5, label_set="ptbxl-all", ptbxl_min_likelihood=0,
            workers=1, progress=False)
    ds = open_dataset(tmp_path / "p")
    assert [labels_of(ds, i) for i in range(5)] == [{"NORM", "SR"}, {"IMI", "SR"}, {"LVOLT"}, {"SR"}, {"ISC_"}]
    assert ds.manifest["options"]["ptbxl_min_likelihood"] == 0


def test_former_name_ptbxl_superclass_is_an_alias(tmp_path: Path) -> None:
    assert LABEL_SET_ALIASES == {"ptbxl-superclass": "ptbxl-superdiagnostic"}
    old = get_label_set("ptbxl-superclass", statements=STATEMENTS)
    new = get_label_set("ptbxl-superdiagnostic", statements=STATEMENTS)
    assert old == new and old.name == "ptbxl-superdiagnostic"
    src = _ptbxl_tree(tmp_path / "src")
    prepare(src, tmp_path / "p", fs=100, seconds=5, label_set="ptbxl-superclass", workers=1, progress=False)
    assert open_dataset(tmp_path / "p").manifest["label_set"] == "ptbxl-superdiagnostic"
    prepare(src, tmp_path / "d", fs=100, seconds=5, workers=1, progress=False)  # the PTB-XL default
    assert open_dataset(tmp_path / "d").manifest["label_set"] == "ptbxl-superdiagnostic"
    with pytest.raises(ValueError, match=r"unknown label set 'ptbxl-super'.*former names: ptbxl-superclass"):
        get_label_set("ptbxl-super", statements=STATEMENTS)


def test_non_ptbxl_sets_evaluate_every_record(tmp_path: Path) -> None:
    assert not get_label_set("cinc2020").evaluate_labelled_only
    assert all(get_label_set(t, statements=STATEMENTS).evaluate_labelled_only for t in PTBXL_TASKS)


# --- the 500 real records -------------------------------------------------------------------


def _real() -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    src = shared_subdir("ptbxl-500")
    db = pd.read_csv(src / "ptbxl_database.csv", index_col="ecg_id")
    db["scp_codes"] = db["scp_codes"].apply(ast.literal_eval)
    return src, db, pd.read_csv(src / "scp_statements.csv", index_col=0)


@pytest.mark.realdata
@pytest.mark.parametrize("task", list(TASK_SIZES))
def test_real_500_each_task_record_by_record(tmp_path: Path, task: str) -> None:
    src, db, statements = _real()
    prepare(src, tmp_path / "p", fs=100, seconds=1, label_set=f"ptbxl-{task}", workers=1, progress=False)
    ds = open_dataset(tmp_path / "p")
    assert len(ds) == 500
    assert ds.label_names == benchmark_classes(task, statements) and len(ds.label_names) == TASK_SIZES[task]
    expected = {int(r): benchmark_labels(task, db.loc[int(r), "scp_codes"], statements) for r in ds.records["record"]}
    for i, record in enumerate(ds.records["record"]):
        assert labels_of(ds, i) == expected[int(record)], f"record {record}"
    counts = pd.Series([c for e in expected.values() for c in e]).value_counts()
    assert {k: v for k, v in ds.manifest["label_counts"].items() if v} == counts.to_dict()
    assert ds.manifest["n_unlabelled"] == sum(not e for e in expected.values())


@pytest.mark.realdata
def test_real_500_superdiagnostic_figures_and_the_likelihood_deviation(tmp_path: Path) -> None:
    """The figures of docs/data.md: STTC 96 and 12 records without a superclass under the benchmark's
    rule; with ``--ptbxl-min-likelihood 0`` STTC 93 and 13 (records 263, 351 and 482 carry NST_ at 0)."""
    src, db, statements = _real()
    prepare(src, tmp_path / "b", fs=100, seconds=1, workers=1, progress=False)
    prepare(src, tmp_path / "d", fs=100, seconds=1, workers=1, progress=False, ptbxl_min_likelihood=0)
    bench, dev = open_dataset(tmp_path / "b"), open_dataset(tmp_path / "d")
    assert bench.manifest["label_counts"] == {"CD": 78, "HYP": 40, "MI": 73, "NORM": 297, "STTC": 96}
    assert bench.manifest["n_unlabelled"] == 12
    assert dev.manifest["label_counts"]["STTC"] == 93 and dev.manifest["n_unlabelled"] == 13
    diag = statements[statements["diagnostic"] == 1.0]
    for i, record in enumerate(dev.records["record"]):
        scp = db.loc[int(record), "scp_codes"]
        kept = {k: v for k, v in scp.items() if k not in diag.index or v > 0}
        assert labels_of(dev, i) == benchmark_labels("superdiagnostic", kept, statements), f"record {record}"
    changed = sorted(int(r) for i, r in enumerate(bench.records["record"]) if labels_of(bench, i) != labels_of(dev, i))
    assert changed == [263, 351, 482]
