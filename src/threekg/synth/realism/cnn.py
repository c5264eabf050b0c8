"""A small CNN told to separate two sets of raw ECGs: the feature-free two-sample test.

Signals are band-passed (0.5-40 Hz), resampled to 100 Hz, reduced to the 8 independent leads and
each lead's median removed; amplitudes are kept (mV). A 4-layer 1-D CNN (16-32 channels, global
average pooling, about 12k weights) is trained for a few epochs per fold on the CPU; the result is the
stratified k-fold cross-validated AUROC. Both sets are subsampled to the same size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.signal import butter, resample_poly, sosfiltfilt

from threekg.errors import DataError
from threekg.leads import INDEPENDENT_INDEX
from threekg.synth.realism.compare import Discrimination

CNN_FS = 100


def prepare_signals(signals: np.ndarray, fs: float) -> np.ndarray:
    """(N, 12, T) mV at ``fs`` -> (N, 8, T') float32 mV at 100 Hz, band-passed, median removed."""
    x = np.asarray(signals, dtype=np.float64)[:, list(INDEPENDENT_INDEX)]
    x = sosfiltfilt(butter(2, (0.5, min(40.0, 0.45 * fs)), btype="band", fs=fs, output="sos"), x, axis=-1)
    if round(fs) != CNN_FS:
        rate = round(fs)
        g = int(np.gcd(rate, CNN_FS))
        x = resample_poly(x, CNN_FS // g, rate // g, axis=-1)
    x -= np.median(x, axis=-1, keepdims=True)
    return x.astype(np.float32)


def _model() -> Any:
    import torch.nn as nn

    layers: list[nn.Module] = []
    ch = 8
    for out in (16, 16, 32, 32):
        layers += [nn.Conv1d(ch, out, 7, stride=2, padding=3), nn.BatchNorm1d(out), nn.ReLU()]
        ch = out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(ch, 1))


def cnn_discriminate(a: np.ndarray, b: np.ndarray, fs: float, folds: int = 5, epochs: int = 12,
                     seed: int = 0, max_per_side: int = 400) -> Discrimination:
    """Cross-validated AUROC of the CNN separating signals ``a`` (N, 12, T) from ``b`` (M, 12, T), mV."""
    import torch
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(seed)
    n = min(len(a), len(b), max_per_side)
    if n < folds:
        raise DataError(f"need at least {folds} records on each side for the CNN, got {len(a)} and {len(b)}",
                        hint="more records, or --no-cnn")
    xa = prepare_signals(a[np.sort(rng.choice(len(a), n, replace=False))], fs)
    xb = prepare_signals(b[np.sort(rng.choice(len(b), n, replace=False))], fs)
    t = min(xa.shape[-1], xb.shape[-1])
    x = torch.from_numpy(np.concatenate([xa[..., :t], xb[..., :t]]))
    y = torch.from_numpy(np.r_[np.ones(n), np.zeros(n)].astype(np.float32))
    scores = []
    torch.manual_seed(seed)
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x.numpy(), y.numpy()):
        model = _model()
        opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
        tr = torch.from_numpy(train)
        for _ in range(epochs):
            model.train()
            for batch in tr[torch.randperm(len(tr))].split(32):
                opt.zero_grad()
                loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x[batch])[:, 0], y[batch])
                loss.backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            p = model(x[torch.from_numpy(test)])[:, 0].numpy()
        scores.append(roc_auc_score(y[test].numpy(), p))
    return Discrimination("cnn", float(np.mean(scores)), float(np.std(scores)), n, n, folds, 1)
