"""A corrupted collection: prepare accepts exactly the good records, identical to a run on the good
ones alone, and lists every bad one with a one-line reason naming what is wrong."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from threekg.data import open_dataset
from threekg.data.prepare import prepare

from .corrupt_tree import FAULTS, copy_good, make_tree

OPTS = {"fs": 100.0, "seconds": 2.0, "label_set": "cinc2020", "progress": False}


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("corrupt")
    tree = make_tree(base / "all", n=1000)
    copy_good(tree, base / "good")
    prepare(tree.root, base / "out-all", workers=2, **OPTS)
    prepare(base / "good", base / "out-good", workers=1, **OPTS)
    return tree, base


def test_every_fault_is_present(trees) -> None:  # type: ignore[no-untyped-def]
    tree, _ = trees
    assert set(tree.bad.values()) == set(FAULTS)
    assert len(tree.bad) == 100 and len(tree.good) == 900


def test_exactly_the_good_records_are_accepted(trees) -> None:  # type: ignore[no-untyped-def]
    tree, base = trees
    ds = open_dataset(base / "out-all")
    accepted = list(ds.records["record"])
    assert len(accepted) == len(set(accepted)) == len(tree.good)
    assert set(accepted) == set(tree.good)
    assert ds.manifest["n_rejected"] == len(tree.bad)


def test_every_bad_record_is_listed_with_its_reason(trees) -> None:  # type: ignore[no-untyped-def]
    tree, base = trees
    rejected = pd.read_csv(base / "out-all" / "rejected.csv", dtype=str, keep_default_na=False)
    by_name = {Path(r).stem if "/" in r else r: reason for r, reason in zip(rejected["record"], rejected["reason"], strict=True)}
    assert set(by_name) == set(tree.bad)
    wrong = {n: (tree.bad[n], by_name[n]) for n in tree.bad
             if not by_name[n].strip() or "\n" in by_name[n]
             or not re.search(FAULTS[tree.bad[n]], by_name[n], flags=re.IGNORECASE)}
    assert not wrong, f"reasons that do not say what is wrong: {list(wrong.items())[:5]}"


def test_good_records_are_byte_identical_to_a_run_on_the_good_ones_alone(trees) -> None:  # type: ignore[no-untyped-def]
    _, base = trees
    for name in ("signals.npy", "labels.npy"):
        assert (base / "out-all" / name).read_bytes() == (base / "out-good" / name).read_bytes(), name
    a = pd.read_csv(base / "out-all" / "records.csv", dtype=str, keep_default_na=False)
    g = pd.read_csv(base / "out-good" / "records.csv", dtype=str, keep_default_na=False)
    for df, root in ((a, "all"), (g, "good")):
        if "source_file" in df:
            df["source_file"] = [s.split(f"/{root}/", 1)[-1] for s in df["source_file"]]
    pd.testing.assert_frame_equal(a, g)
    assert np.isfinite(open_dataset(base / "out-all").signals[:]).all()
