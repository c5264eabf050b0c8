"""Synth against real: the realism table and two-sample discriminators on the features.

* :func:`realism_table`: per feature, the synthetic median against the real median and IQR, whether
  the synthetic median lies inside the real IQR, and the AUROC of that feature alone (0.5: the two
  sets overlap completely; 1.0: a threshold separates them).
* :func:`discriminate`: cross-validated AUROC of a classifier told to separate the two sets from all
  features at once (logistic regression, the issue's reference, or gradient-boosted trees).
  Angles enter as cosine and sine; missing values are imputed with the training fold's median plus
  a missing-indicator column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from threekg.errors import DataError

ANGLE_SUFFIX = "_deg"
MODELS = ("logistic", "boosting")


def _auroc_alone(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    auc = roc_auc_score(np.r_[np.ones(len(a)), np.zeros(len(b))], np.r_[a, b])
    return float(max(auc, 1.0 - auc))


def realism_table(synth: pd.DataFrame, real: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """One row per feature: ``synth_median, real_median, real_q25, real_q75, inside, auroc_alone,
    n_synth, n_real`` (medians over records that have the feature)."""
    rows = []
    for f in features:
        a = synth[f].to_numpy(dtype=float) if f in synth else np.array([])
        b = real[f].to_numpy(dtype=float) if f in real else np.array([])
        fa, fb = a[np.isfinite(a)], b[np.isfinite(b)]
        med = float(np.median(fa)) if len(fa) else float("nan")
        q25, q50, q75 = np.percentile(fb, [25, 50, 75]) if len(fb) else (np.nan,) * 3
        rows.append({"feature": f, "synth_median": med, "real_median": float(q50), "real_q25": float(q25),
                     "real_q75": float(q75), "inside": bool(q25 <= med <= q75),
                     "auroc_alone": _auroc_alone(a, b), "n_synth": len(fa), "n_real": len(fb)})
    return pd.DataFrame(rows).set_index("feature")


def design_matrix(df: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """(N, F') float matrix: angles (``*_deg``) as cosine and sine, the rest as they are (NaN kept)."""
    cols = []
    for f in features:
        x = df[f].to_numpy(dtype=float) if f in df else np.full(len(df), np.nan)
        if f.endswith(ANGLE_SUFFIX):
            cols += [np.cos(np.deg2rad(x)), np.sin(np.deg2rad(x))]
        else:
            cols.append(x)
    return np.stack(cols, axis=1) if cols else np.empty((len(df), 0))


@dataclass(frozen=True)
class Discrimination:
    """Cross-validated AUROC (mean and s.d. over folds and repeats) of telling set A from set B."""

    model: str
    auroc: float
    sd: float
    n_a: int
    n_b: int
    folds: int
    repeats: int


def _classifier(model: str, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if model == "logistic":
        return make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler(),
                             LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced"))
    if model == "boosting":  # handles NaN itself
        return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                              class_weight="balanced", random_state=seed)
    raise ValueError(f"unknown model {model!r}; choose from {MODELS}")


def discriminate(a: pd.DataFrame, b: pd.DataFrame, features: Sequence[str], model: str = "logistic",
                 folds: int = 5, repeats: int = 3, seed: int = 0) -> Discrimination:
    """Stratified ``folds``-fold cross-validated AUROC of ``model`` separating ``a`` from ``b``.

    Repeated ``repeats`` times with different fold splits; returns the mean and s.d. of the fold AUROCs.
    """
    from sklearn.model_selection import RepeatedStratifiedKFold

    x = np.concatenate([design_matrix(a, features), design_matrix(b, features)])
    y = np.r_[np.ones(len(a)), np.zeros(len(b))]
    keep = ~np.all(np.isnan(x), axis=0)  # a feature missing everywhere carries nothing
    x = x[:, keep]
    k = min(folds, len(a), len(b))
    if k < 2:
        raise DataError(f"need at least 2 measured records on each side, got {len(a)} and {len(b)}")
    scores = []
    cv = RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=seed)
    for train, test in cv.split(x, y):
        clf = _classifier(model, seed)
        clf.fit(x[train], y[train])
        scores.append(roc_auc_score(y[test], clf.predict_proba(x[test])[:, 1]))
    return Discrimination(model, float(np.mean(scores)), float(np.std(scores)), len(a), len(b), k, repeats)


def markdown_table(table: pd.DataFrame) -> str:
    """The realism table as Markdown: feature | synth median | real median [IQR] | inside | AUROC alone."""
    def fmt(v: float) -> str:
        if not np.isfinite(v):
            return "n/a"
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"

    lines = ["| feature | synth median | real median [IQR] | inside IQR | AUROC alone |",
             "|---|---|---|---|---|"]
    for f, r in table.iterrows():
        lines.append(f"| {f} | {fmt(r.synth_median)} | {fmt(r.real_median)} [{fmt(r.real_q25)}, {fmt(r.real_q75)}] "
                     f"| {'yes' if r.inside else '**no**'} | {fmt(r.auroc_alone)} |")
    return "\n".join(lines)
