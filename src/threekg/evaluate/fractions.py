"""Labelled subsets of the training split: a fraction of its records, stratified over classes.

:func:`label_subset` draws ``round(fraction * n)`` records (at least 1) with iterative
stratification (Sechidis, Tsoumakas and Vlahavas, ECML-PKDD 2011, two folds: the subset and the
rest). Before stratifying, a cover step puts one random positive of every class into the subset,
rarest class first, skipping classes already covered - so every class with a positive in the
training split keeps at least one (the subset can then exceed the target size when there are
more classes than target records). The draw depends only on (labels, fraction, seed): the same
subset for every encoder, which makes comparisons paired. ``fraction >= 1`` is the whole split.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


def label_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices (into the rows of ``labels`` (n, C)) of the stratified subset."""
    y = np.asarray(labels) > 0
    n = y.shape[0]
    if not 0 < fraction:
        raise ValueError(f"label fraction must be > 0, got {fraction}")
    if fraction >= 1.0:
        return np.arange(n)
    target = max(1, round(fraction * n))
    rng = np.random.default_rng(seed)
    in_subset = np.zeros(n, dtype=bool)
    # Cover: one positive per class, rarest class first.
    counts = y.sum(axis=0)
    for c in np.argsort(counts, kind="stable"):
        if counts[c] == 0 or (y[:, c] & in_subset).any():
            continue
        in_subset[rng.choice(np.flatnonzero(y[:, c]))] = True
    # Iterative stratification of the rest into two folds (subset, rest).
    remaining = ~in_subset
    want_size = np.array([max(target - in_subset.sum(), 0), remaining.sum()], dtype=np.float64)
    want_size[1] -= want_size[0]
    share = want_size / max(remaining.sum(), 1)
    want = share[:, None] * (y & remaining[:, None]).sum(axis=0)[None, :]  # (2, C)
    left = y & remaining[:, None]
    while remaining.any():
        n_left = left.sum(axis=0)
        labelled = n_left > 0
        if labelled.any():
            c = int(np.flatnonzero(labelled)[np.argmin(n_left[labelled])])
            rows = np.flatnonzero(left[:, c])
        else:
            c, rows = -1, np.flatnonzero(remaining)
        for i in rng.permutation(rows):
            if c >= 0:
                best = np.flatnonzero(want[:, c] == want[:, c].max())
            else:
                best = np.array([0, 1])
            if best.size > 1:
                best = best[want_size[best] == want_size[best].max()]
            fold = int(rng.choice(best)) if best.size > 1 else int(best[0])
            if fold == 0:
                in_subset[i] = True
            want[fold] -= y[i]
            want_size[fold] -= 1
            remaining[i] = False
            left[i] = False
    return np.flatnonzero(in_subset)


def subset_seed(dataset_key: str, fraction: float, seed: int) -> int:
    """Seed of the subset draw: a hash of (dataset key, fraction, seed), independent of the encoder."""
    h = hashlib.sha256(f"{dataset_key}|{fraction:.6g}|{seed}".encode()).digest()
    return int.from_bytes(h[:8], "little")


def load_or_make_subset(records: pd.Series, labels: np.ndarray, fraction: float, seed: int,
                        dataset_key: str, out_dir: Path) -> np.ndarray:
    """Indices into ``records``/``labels`` (the training split) of the subset, saved as CSV.

    ``out_dir/subsets/frac{fraction}_seed{seed}.csv`` lists the record names; an existing file
    is reused when all its records are in ``records`` (so a re-run or a second encoder gets the
    identical subset), and drawn again, with a warning, when the training split lost some of them.
    """
    path = Path(out_dir) / "subsets" / f"frac{fraction:g}_seed{seed}.csv"
    names = records.astype(str).to_numpy()
    if path.exists():
        saved = pd.read_csv(path, dtype={"record": str})["record"].to_numpy()
        pos = {r: i for i, r in enumerate(names)}
        missing = [r for r in saved if r not in pos]
        if not missing:
            return np.sort(np.array([pos[r] for r in saved], dtype=np.int64))
        # the training split changed since it was drawn (other labels, records left out): a stale
        # subset must not be used, so it is drawn again from the current split
        log.warning("%s: %d saved records are no longer in the training split (e.g. %s): the subset "
                    "is drawn again", path, len(missing), missing[0])
    idx = label_subset(labels, fraction, subset_seed(dataset_key, fraction, seed))
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"record": names[idx]}).to_csv(path, index=False)
    return idx
