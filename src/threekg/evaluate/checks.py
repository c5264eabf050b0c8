"""What :func:`threekg.evaluate.evaluate` refuses before it writes or computes anything.

Mistakes that are knowable from the options and the dataset's tables alone (a label fraction of
0, a dataset prepared without labels, classes without a single positive) are reported here, as
one-line :mod:`threekg.errors`, instead of surfacing minutes later from inside the probe solver.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from threekg.errors import DataError, UsageError

if TYPE_CHECKING:
    from threekg.data import PreparedDataset
    from threekg.evaluate.runner import EvalOptions


def _finite(x: float) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def check_options(opt: EvalOptions) -> None:
    """Raise :class:`UsageError` for options that cannot work (names the command-line flag)."""
    if not opt.fractions:
        raise UsageError("no label fraction given", hint="e.g. --fractions 0.01 0.1 1")
    bad = [f for f in opt.fractions if not (_finite(f) and 0 < f <= 1)]
    if bad:
        raise UsageError(f"--fractions {' '.join(f'{f:g}' for f in bad)}: a label fraction must be in (0, 1]",
                         hint="e.g. --fractions 0.01 0.1 1")
    if len(set(opt.fractions)) != len(opt.fractions):
        raise UsageError(f"--fractions lists a fraction twice: {list(opt.fractions)}")
    if not opt.seeds:
        raise UsageError("no seed given", hint="e.g. --seeds 0 1 2")
    if any(s < 0 for s in opt.seeds) or len(set(opt.seeds)) != len(opt.seeds):
        raise UsageError(f"--seeds {list(opt.seeds)}: seeds must be distinct integers >= 0")
    if opt.n_boot < 0:
        raise UsageError(f"--bootstrap {opt.n_boot}: the number of resamples must be >= 0 (0: no intervals)")
    if opt.crop_seconds is not None and not (_finite(opt.crop_seconds) and opt.crop_seconds > 0):
        raise UsageError(f"--crop-seconds {opt.crop_seconds:g}: must be a positive number of seconds "
                         "(0: the whole record)")
    if opt.split == "cv" and opt.cv_folds < 3:
        raise UsageError(f"--cv-folds {opt.cv_folds}: cross-validation needs at least 3 folds")
    if opt.batch_size < 1:
        raise UsageError(f"batch_size {opt.batch_size}: must be >= 1")
    if opt.train.epochs < 1 or opt.train.batch_size < 1:
        raise UsageError(f"--epochs {opt.train.epochs}: end-to-end training needs >= 1 epoch of batches >= 1")
    if not (_finite(opt.train.lr) and opt.train.lr > 0):
        raise UsageError(f"--lr {opt.train.lr:g}: the learning rate must be a positive number")
    _check_device(opt.device)
    if opt.arch is not None:
        from threekg.models import build_encoder_from_config

        try:
            build_encoder_from_config(opt.arch)
        except (KeyError, TypeError, ValueError) as err:
            reason = err.args[0] if isinstance(err, KeyError) and err.args else err
            raise UsageError(f"--arch {opt.arch}: {reason}",
                             hint='e.g. --arch \'{"name": "resnet18-small"}\'') from None


def _check_device(device: str) -> None:
    import torch

    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError, ValueError):
        raise UsageError(f"--device {device!r}: not a torch device", hint="e.g. --device cpu or cuda:0") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: no CUDA device is available here", hint="use --device cpu")


def check_dataset(ds: PreparedDataset, opt: EvalOptions) -> list[str]:
    """Raise when the dataset cannot be evaluated with ``opt``; returns the classes without positives.

    Refused: a crop shorter than one sample at the dataset's rate (:class:`UsageError`); no label
    column at all (``--label-set none``) or no class with a single positive record, as with a label
    set that does not match the source (:class:`DataError`). Classes without positives while others
    have some (returned) are evaluated without them and listed in ``dropped_classes``.
    """
    if opt.crop_seconds is not None and round(opt.crop_seconds * ds.fs) < 1:
        raise UsageError(f"--crop-seconds {opt.crop_seconds:g} is less than one sample at {ds.fs:g} Hz",
                         hint="give a longer crop, or 0 for the whole record")
    names = list(ds.label_names)
    label_set = ds.manifest.get("label_set", "?")
    if not names:
        raise DataError(f"{ds.path}: the dataset has no labels to evaluate against (label set {label_set!r})",
                        hint="prepare it again with a label set, e.g. --label-set cinc2020, or --labels CSV")
    positives = np.asarray(ds.labels).sum(axis=0, dtype=np.int64)
    if not positives.any():
        raise DataError(f"{ds.path}: none of its {len(names)} classes has a positive record "
                        f"(label set {label_set!r})",
                        hint="check that --label-set fits the source, and prepare it again")
    return [n for n, p in zip(names, positives, strict=True) if p == 0]


def check_test_split(data: object, names: Sequence[str], keep: np.ndarray, n_test: int) -> None:
    """Raise :class:`DataError` when no class has both a positive and a negative in the test split."""
    if names and not keep.any():
        raise DataError(f"{data}: no class has both a positive and a negative record among the "
                        f"{n_test} test records, so no AUROC can be computed",
                        hint="use a larger dataset, or one with more varied labels")
