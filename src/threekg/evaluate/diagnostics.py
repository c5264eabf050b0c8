"""Representation diagnostics: pure functions on embedding arrays (docs/evaluate.md, "Diagnostics").

They explain a linear-probe result: does the embedding use its dimensions, are its neighbourhoods
label-consistent, is it invariant to the 3KG transforms, and does it encode where the heart beats fall
in the crop (the timing shortcut of time-aligned views)?

Shapes: ``z`` (n, D) embeddings (one row per record or per crop); ``y`` (n, C) labels in {0, 1}.

* :func:`knn_scores` - cosine k-nearest-neighbour class scores, neighbours weighted by
  ``exp(cos / temperature)`` (Wu et al. 2018; DINO's k = 20, T = 0.07); equal to scikit-learn's
  ``KNeighborsClassifier(metric="cosine", weights=...)`` probabilities.
* :func:`effective_rank` - exp of the entropy of the normalised singular values of the centred
  embeddings (Roy & Vetterli 2007); :func:`dims_for_variance` - principal components holding 99%.
* :func:`alignment`, :func:`uniformity` - Wang & Isola (2020) on L2-normalised embeddings.
* :func:`invariance` - cosine similarity of an embedding and its transformed version, rescaled so
  that 1 = invariant and 0 = as different as another record.
* :func:`edge_phases`, :func:`r_peak_train`, :func:`shortcut_r2` - how well a ridge read-out of a
  crop's embedding predicts where the R peaks fall in the crop: the phase of the cardiac cycle at its
  two edges, or a smoothed train of its R peaks (cross-validated R^2, grouped by record).
* :func:`find_r_peaks` - R peaks of one lead with NeuroKit2 (an optional dependency).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp

from threekg.evaluate.metrics import auroc, macro

KNN_K = 20
KNN_TEMPERATURE = 0.07
RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-2, 5, 15))


def _unit_rows(z: np.ndarray) -> np.ndarray:
    """Rows of ``z`` (n, D) scaled to unit L2 norm (float64); an all-zero row stays zero."""
    z = np.asarray(z, dtype=np.float64)
    norm = np.linalg.norm(z, axis=1, keepdims=True)
    return z / np.where(norm > 0, norm, 1.0)


def knn_scores(z_train: np.ndarray, y_train: np.ndarray, z_test: np.ndarray, k: int = KNN_K,
               temperature: float = KNN_TEMPERATURE) -> np.ndarray:
    """Weighted cosine kNN class scores: (n_test, C) in [0, 1].

    For each test row, its ``min(k, n_train)`` training rows of highest cosine similarity s_j vote
    with weight ``exp(s_j / temperature)``; the score of class c is the weighted fraction of votes
    that are positive for c. ``z_train`` (n_train, D), ``y_train`` (n_train, C), ``z_test`` (n_test, D).
    Centre the embeddings first if they share a large common direction (the runner does).
    """
    y_train = np.asarray(y_train, dtype=np.float64)
    if z_train.shape[0] == 0 or z_train.shape[0] != y_train.shape[0]:
        raise ValueError(f"knn: {z_train.shape[0]} training rows for {y_train.shape[0]} label rows")
    if k < 1 or temperature <= 0:
        raise ValueError(f"knn: need k >= 1 and temperature > 0, got k={k}, temperature={temperature}")
    sim = _unit_rows(z_test) @ _unit_rows(z_train).T  # (n_test, n_train)
    k = min(k, sim.shape[1])
    nearest = np.argpartition(-sim, k - 1, axis=1)[:, :k]  # (n_test, k), unordered
    s = np.take_along_axis(sim, nearest, axis=1)
    w = np.exp((s - s.max(axis=1, keepdims=True)) / temperature)  # the common factor cancels below
    votes = np.einsum("nk,nkc->nc", w, y_train[nearest])
    return votes / w.sum(axis=1, keepdims=True)


def knn_macro_auroc(z_train: np.ndarray, y_train: np.ndarray, z_test: np.ndarray, y_test: np.ndarray,
                    keep: np.ndarray, k: int = KNN_K, temperature: float = KNN_TEMPERATURE) -> float:
    """Macro AUROC of :func:`knn_scores` over the ``keep`` (C,) classes (the probe's evaluable classes)."""
    return macro(np.asarray(auroc(y_test, knn_scores(z_train, y_train, z_test, k, temperature))), keep)


def singular_values(z: np.ndarray) -> np.ndarray:
    """Singular values (min(n, D),) of the column-centred embeddings ``z`` (n, D), largest first."""
    z = np.asarray(z, dtype=np.float64)
    return np.linalg.svd(z - z.mean(axis=0), compute_uv=False)


def effective_rank(z: np.ndarray) -> float:
    """Roy & Vetterli (2007): exp(-sum_k p_k log p_k), p_k = sigma_k / sum_j sigma_j, of the centred ``z`` (n, D).

    Between 1 (all variance along one direction) and min(n - 1, D) (a flat spectrum); NaN when every
    row is the same. Centring removes the mean direction (large for non-negative ReLU features), so
    the number counts the directions along which records differ.
    """
    s = singular_values(z)
    total = s.sum()
    if not total > 0:
        return float("nan")
    p = s[s > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))


def dims_for_variance(z: np.ndarray, fraction: float = 0.99) -> int:
    """Fewest principal components of the centred ``z`` (n, D) whose variance reaches ``fraction`` of the total (0 if none)."""
    var = singular_values(z) ** 2
    total = var.sum()
    if not total > 0:
        return 0
    # A tiny tolerance so that a spectrum that reaches the fraction exactly is not pushed one further by rounding.
    return int(np.searchsorted(np.cumsum(var) / total, fraction - 1e-12) + 1)


def alignment(za: np.ndarray, zb: np.ndarray, alpha: float = 2.0) -> float:
    """Wang & Isola (2020): mean over rows i of ||f(a_i) - f(b_i)||^alpha, f = L2 normalisation.

    ``za``, ``zb`` (n, D): embeddings of two views of the same n crops. 0 = the two views coincide;
    4 (alpha = 2) = antipodal.
    """
    if za.shape != zb.shape:
        raise ValueError(f"alignment: views of shapes {za.shape} and {zb.shape}")
    d = np.linalg.norm(_unit_rows(za) - _unit_rows(zb), axis=1)
    return float(np.mean(d**alpha))


def _pair_mask(n: int, groups: Sequence[int] | np.ndarray | None) -> np.ndarray:
    """(n, n) bool: pairs i < j, and from different groups when ``groups`` (n,) is given."""
    mask = np.triu(np.ones((n, n), dtype=bool), k=1)
    if groups is not None:
        g = np.asarray(groups)
        mask &= g[:, None] != g[None, :]
    return mask


def uniformity(z: np.ndarray, t: float = 2.0, groups: Sequence[int] | np.ndarray | None = None) -> float:
    """Wang & Isola (2020): log of the mean over pairs i < j of exp(-t ||f(z_i) - f(z_j)||^2), f = L2 normalisation.

    ``z`` (n, D). Lower = more uniform on the sphere: 0 when every row points the same way; the
    minimum for t = 2 tends to -4 when n >> D (about -3.9 for uniform points in many dimensions).
    ``groups`` (n,): only pairs from different groups (different records) count.
    """
    u = _unit_rows(z)
    sq = np.clip(2.0 - 2.0 * (u @ u.T), 0.0, 4.0)
    pairs = sq[_pair_mask(len(u), groups)]
    if pairs.size == 0:
        return float("nan")
    return float(logsumexp(-t * pairs) - np.log(pairs.size))


def mean_pair_cosine(z: np.ndarray, groups: Sequence[int] | np.ndarray | None = None) -> float:
    """Mean cosine similarity over pairs i < j of rows of ``z`` (n, D) (from different ``groups`` if given)."""
    u = _unit_rows(z)
    pairs = (u @ u.T)[_pair_mask(len(u), groups)]
    return float(pairs.mean()) if pairs.size else float("nan")


def invariance(z: np.ndarray, z_t: np.ndarray, groups: Sequence[int] | np.ndarray | None = None) -> float:
    """Invariance of an embedding to a transform: (s_same - s_other) / (1 - s_other).

    ``z`` (n, D): embeddings of n crops; ``z_t`` (n, D): of the same crops transformed.
    s_same = mean_i cos(z_i, z_t_i); s_other = mean over pairs i < j (from different ``groups``,
    i.e. records) of cos(z_i, z_j). 1 = the transform leaves the embedding's direction unchanged;
    0 = a transformed crop is as far from its original as another record is; negative = farther.
    NaN when s_other is 1 (every record embedded alike: the scale is undefined).
    """
    if z.shape != z_t.shape:
        raise ValueError(f"invariance: embeddings of shapes {z.shape} and {z_t.shape}")
    same = float(np.mean(np.sum(_unit_rows(z) * _unit_rows(z_t), axis=1)))
    other = mean_pair_cosine(z, groups)
    if not 1.0 - other > 1e-9:
        return float("nan")
    return (same - other) / (1.0 - other)


def r_peak_train(peaks: np.ndarray, start: int, length: int, fs: float, bin_seconds: float = 0.05,
                 sigma_seconds: float = 0.05) -> np.ndarray:
    """Where the R peaks fall in one crop: (n_bins,) the sum over ``peaks`` of a Gaussian bump at each bin centre.

    ``peaks`` (P,) R-peak sample indices in the whole record; the crop is samples
    ``[start, start + length)``; bins of ``bin_seconds`` tile it (n_bins = floor(length / (fs bin))),
    centre c_b in samples from the crop start. Value of bin b: sum_p exp(-(c_b - (p - start))^2 / (2 sigma^2)),
    sigma = ``sigma_seconds`` fs samples (peaks just outside the crop contribute their tails).
    """
    width = bin_seconds * fs
    n_bins = int(length // width)
    if n_bins < 1:
        raise ValueError(f"r_peak_train: a crop of {length} samples holds no bin of {width:g} samples")
    centres = (np.arange(n_bins) + 0.5) * width
    rel = np.asarray(peaks, dtype=np.float64) - start
    sigma = sigma_seconds * fs
    return np.exp(-((centres[:, None] - rel[None, :]) ** 2) / (2 * sigma**2)).sum(axis=1)


def cycle_phase(peaks: np.ndarray, t: int) -> float | None:
    """Phase in [0, 2 pi) of sample ``t`` in its R-R interval: 2 pi (t - p0) / (p1 - p0), p0 <= t < p1.

    ``peaks`` (P,) sorted R-peak sample indices of the record. None when ``t`` is before the first
    peak or at or after the last one (its interval is unknown).
    """
    peaks = np.asarray(peaks)
    i = int(np.searchsorted(peaks, t, side="right"))  # peaks[i - 1] <= t < peaks[i]
    if i == 0 or i >= peaks.size:
        return None
    p0, p1 = float(peaks[i - 1]), float(peaks[i])
    return 2.0 * np.pi * (t - p0) / (p1 - p0)


def edge_phases(peaks: np.ndarray, start: int, length: int) -> np.ndarray | None:
    """Where in the cardiac cycle a crop is cut: (cos a, sin a, cos b, sin b), (4,).

    a = :func:`cycle_phase` of the crop's first sample ``start``, b = of its last sample
    ``start + length - 1``. None when either is undefined (no R peak before the start or after the end).
    A convolutional encoder with global pooling sees absolute positions mostly through the crop's edges,
    so these two phases are what it can encode of "where the beats fall".
    """
    a = cycle_phase(peaks, start)
    b = cycle_phase(peaks, start + length - 1)
    if a is None or b is None:
        return None
    return np.array([np.cos(a), np.sin(a), np.cos(b), np.sin(b)])


def shortcut_r2(z: np.ndarray, target: np.ndarray, groups: np.ndarray, n_splits: int = 5, seed: int = 0,
                alphas: Sequence[float] = RIDGE_ALPHAS) -> float:
    """Cross-validated R^2 of a ridge read-out of ``target`` (n, B) from ``z`` (n, D).

    Folds: the groups (records) are shuffled with ``seed`` and dealt into ``n_splits`` folds (at most
    one per group), so a record's crops never sit on both sides. In each training fold: standardise ``z``,
    ridge regression with the penalty chosen by efficient leave-one-out over ``alphas``
    (scikit-learn ``RidgeCV``). The out-of-fold predictions of all rows are scored with
    ``r2_score(target, predictions, multioutput="uniform_average")``: the mean over the B outputs of
    1 - SSE / SS around the output's mean. About 0 (or below) for an embedding that carries no
    information on the target, 1 for a perfect linear read-out.
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    z = np.asarray(z, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    unique, inverse = np.unique(np.asarray(groups), return_inverse=True)
    if len(unique) < 2 or z.shape[0] != target.shape[0] or z.shape[0] != inverse.shape[0]:
        raise ValueError(f"shortcut_r2: need rows of equal count and >= 2 groups, got z {z.shape}, "
                         f"target {target.shape}, {len(unique)} groups")
    k = min(n_splits, len(unique))
    fold_of_group = np.empty(len(unique), dtype=np.int64)
    fold_of_group[np.random.default_rng(seed).permutation(len(unique))] = np.arange(len(unique)) % k
    fold = fold_of_group[inverse]
    cv = [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(k)]
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=tuple(alphas)))
    pred = cross_val_predict(model, z, target, cv=cv)
    return float(r2_score(target, pred, multioutput="uniform_average"))


def find_r_peaks(lead: np.ndarray, fs: float) -> np.ndarray:
    """R-peak sample indices (P,) int64 of one lead (T,) mV with NeuroKit2 (``ecg_clean`` then ``ecg_peaks``).

    Raises ImportError when NeuroKit2 is not installed (``pip install threekg[diagnostics]``) and
    ValueError when NeuroKit2 fails on the signal (flat lead, too short...).
    """
    import neurokit2 as nk

    x = np.asarray(lead, dtype=np.float64)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cleaned = nk.ecg_clean(x, sampling_rate=round(fs))
            _, info = nk.ecg_peaks(cleaned, sampling_rate=round(fs))
    except Exception as err:  # NeuroKit2 raises many types on degenerate signals
        raise ValueError(f"NeuroKit2 found no R peaks: {type(err).__name__}: {err}") from None
    return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
