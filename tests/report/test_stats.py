from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from report_fixtures import make_metrics

from threekg.report.model import class_groups, merge
from threekg.report.stats import MACRO_LABEL, group_gains, relative_gain


def _data(doc: dict, focus: str | None = None):  # type: ignore[no-untyped-def]
    return merge([(Path("/x/eval/metrics.json"), doc)], focus=focus)


def test_group_gain_is_mean_seed_difference_and_uses_paired_ci() -> None:
    doc = make_metrics(encoders=("3kg", "simclr"), fractions=(0.01,))
    data = _data(doc)
    gains = {g.group: g for g in group_gains(data, "3kg", "simclr", 0.01)}
    runs = {(r["encoder"], r["seed"]): r for r in doc["runs"]}
    for group in doc["groups"]:
        diffs = [runs[("3kg", s)]["group_auroc"][group] - runs[("simclr", s)]["group_auroc"][group] for s in (0, 1, 2)]
        assert gains[group].diff == pytest.approx(np.mean(diffs), abs=1e-12)
        assert sorted(gains[group].seed_diffs) == pytest.approx(sorted(diffs))
        assert gains[group].ci_low is None  # no group-level paired CI in the file
    pair = next(p for p in doc["paired"] if p["encoder_b"] == "simclr")
    macro = gains[MACRO_LABEL]
    assert (macro.diff, macro.ci_low, macro.ci_high) == (pair["diff_mean"], pair["ci_low"], pair["ci_high"])


def test_paired_entry_in_the_other_direction_is_flipped() -> None:
    doc = make_metrics(encoders=("3kg", "simclr"), fractions=(0.1,))
    for p in doc["paired"]:
        p["encoder_a"], p["encoder_b"] = p["encoder_b"], p["encoder_a"]
        p["diff_mean"], p["ci_low"], p["ci_high"] = -p["diff_mean"], -p["ci_high"], -p["ci_low"]
        p["group_diff"] = {"rhythm": {"diff_mean": -0.03, "ci_low": -0.05, "ci_high": -0.01}}
    gains = {g.group: g for g in group_gains(_data(doc), "3kg", "simclr", 0.1)}
    assert gains[MACRO_LABEL].diff > 0 and gains[MACRO_LABEL].ci_low < gains[MACRO_LABEL].ci_high
    rhythm = gains["rhythm"]
    assert (rhythm.diff, rhythm.ci_low, rhythm.ci_high) == pytest.approx((0.03, 0.01, 0.05))


def test_relative_gain_picks_best_self_supervised_baseline_not_supervised() -> None:
    doc = make_metrics(encoders=("3kg", "simclr", "cmsc", "supervised", "random"), fractions=(1.0,))
    for s in doc["summary"]:
        s["macro_auroc_mean"] = {"3kg": 0.826, "simclr": 0.757, "cmsc": 0.70, "supervised": 0.9, "random": 0.6}[
            s["encoder"]]
    pct, base = relative_gain(_data(doc), "3kg", 1.0)  # type: ignore[misc]
    assert base == "simclr" and pct == pytest.approx(100 * (0.826 - 0.757) / 0.757)
    assert f"{pct:+.1f}%" == "+9.1%"


def test_classes_outside_every_group_are_listed_under_other() -> None:
    doc = make_metrics(classes=["AF", "LAD", "XYZ"], encoders=("3kg",), fractions=(1.0,), seeds=(0,))
    assert class_groups(_data(doc)) == [("rhythm", ["AF"]), ("axis", ["LAD"]), ("other", ["XYZ"])]
