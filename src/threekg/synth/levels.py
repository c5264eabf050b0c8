"""A joint model of a record's variability and noise levels, fitted on real PTB-XL NORM records.

Real records' levels are correlated (a noisy record is noisy in every band; a record with a large
RR variation also has a large beat-to-beat amplitude variation), and they spread over a wide range.
Drawing each level independently from a range gives neither. So the levels of a synthetic patient
are one draw of a multivariate normal distribution of the *log* levels, fitted on what the realism
measure (:func:`threekg.synth.realism.features.record_features`, NeuroKit2) reads on the real
records: :data:`LEVELS`. The generator then sets its parameters so that a synthetic record measures
about those levels (:mod:`threekg.synth.noise`, :mod:`threekg.synth.rhythm`, :mod:`threekg.synth.beats`).

* Fitted on the NORM records (any likelihood) of strat_fold 1-7 of a PTB-XL folder, the same
  records as the beat shape model (:mod:`threekg.synth.shape_model`); 8-10 stay held out.
* A record without a finite value of every level is left out (with its reason when ``verbose``).
* Draws are truncated at :data:`Z_CLIP` standard deviations in each whitened direction.

The shipped file (``levels_model.npz`` next to this module) holds the mean (d,) and covariance (d, d)
only, no record; PTB-XL (Wagner et al. 2020, PhysioNet) is CC BY 4.0. It is rebuilt with (NeuroKit2
needed, extra ``threekg[realism]``)

    python -m threekg.synth.levels build ../shared/data/ptbxl-500 --out src/threekg/synth/levels_model.npz
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).with_name("levels_model.npz")
LEVELS: tuple[str, ...] = ("rr_cv", "rmssd_norm", "qrs_amp_cv", "t_amp_cv", "wander_mv", "wander_p2p_mv",
                           "muscle_mv", "hf_noise_mv", "powerline_mv")
"""The levels modelled, named as the realism measure's features (dimensionless or mV)."""
Z_CLIP = 2.5
"""Whitened draws are truncated at this many s.d. (no implausible extremes)."""
TARGET_SHRINK: dict[str, float] = {"rr_cv": 1.0, "rmssd_norm": 1.0, "qrs_amp_cv": 0.67, "t_amp_cv": 0.5,
                                   "wander_mv": 0.67, "wander_p2p_mv": 0.9, "muscle_mv": 0.84, "hf_noise_mv": 1.0,
                                   "powerline_mv": 0.75}
"""The generator's targets are the drawn log levels pulled towards the mean by these factors: a synthetic
record measures its target level with a scatter of its own (random wander phases, beat-to-beat draws,
the measure's own error), which widens the measured spread; the factor is about
sqrt(1 - scatter variance / real variance), from the measured against the asked-for levels of the NSR
records of development seed 77 (docs/synth.md, Realism). RR variation is not pulled in: the sinus-rhythm
limit on the RR range already narrows it."""


@dataclass(frozen=True)
class LevelModel:
    """Mean (d,) and covariance (d, d) of the natural log of :data:`LEVELS`, and provenance."""

    mean: np.ndarray
    cov: np.ndarray
    n_records: int
    folds: tuple[int, ...]

    @property
    def cholesky(self) -> np.ndarray:
        return np.linalg.cholesky(self.cov)

    def levels(self, z: np.ndarray) -> dict[str, float]:
        """The levels of standard-normal scores ``z`` (d,): exp(mean + L @ clip(z)), L the Cholesky factor."""
        z = np.clip(np.asarray(z, dtype=float)[: len(LEVELS)], -Z_CLIP, Z_CLIP)
        if len(z) != len(LEVELS):
            raise ValueError(f"need {len(LEVELS)} level scores, got {len(z)}")
        x = self.mean + self.cholesky @ z
        return {name: float(np.exp(v)) for name, v in zip(LEVELS, x, strict=True)}

    def targets(self, z: np.ndarray) -> dict[str, float]:
        """The generator's target levels for scores ``z``: :meth:`levels` with :data:`TARGET_SHRINK`."""
        drawn = self.levels(z)
        return {name: float(np.exp(m + TARGET_SHRINK[name] * (np.log(drawn[name]) - m)))
                for name, m in zip(LEVELS, self.mean, strict=True)}


def fit(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (ddof 1) of the log of positive ``values`` (N, d)."""
    logs = np.log(np.asarray(values, dtype=float))
    return logs.mean(axis=0), np.cov(logs, rowvar=False)


def measure_records(ptbxl: Path, folds: tuple[int, ...], limit: int | None = None,
                    verbose: bool = False) -> np.ndarray:
    """The :data:`LEVELS` (N, d) of the NORM records of ``folds`` that have all of them, by ecg_id."""
    import wfdb

    from threekg.leads import LEADS, normalise_lead_name
    from threekg.synth.realism.features import DelineationError, record_features
    from threekg.synth.shape_model import norm_records

    rows = norm_records(ptbxl, folds)
    if limit is not None:
        rows = rows.iloc[:limit]
    out = []
    for _, row in rows.iterrows():
        path = ptbxl / str(row["filename_hr"])
        try:
            signal, fields = wfdb.rdsamp(str(path))
            names = [normalise_lead_name(s) for s in fields["sig_name"]]
            ecg = np.asarray(signal, dtype=float).T[[names.index(lead) for lead in LEADS]]
            feats = record_features(ecg, float(fields["fs"]))
        except (DelineationError, ValueError, OSError) as err:
            if verbose:
                print(f"skipped {path}: {err}")
            continue
        v = np.array([feats[name] for name in LEVELS])
        if not np.all(np.isfinite(v) & (v > 0)):
            if verbose:
                print(f"skipped {path}: a level is missing or not positive")
            continue
        out.append(v)
        if verbose and len(out) % 25 == 0:
            print(f"{len(out)} records measured")
    return np.array(out).reshape(-1, len(LEVELS))


def build(ptbxl: Path, folds: tuple[int, ...] | None = None, limit: int | None = None,
          verbose: bool = False) -> LevelModel:
    """Fit the model on the NORM records of ``folds`` (default: the shape model's) of a PTB-XL folder."""
    from threekg.synth.shape_model import DEFAULT_FOLDS

    folds = DEFAULT_FOLDS if folds is None else folds
    values = measure_records(ptbxl, folds, limit, verbose)
    if len(values) <= len(LEVELS):
        raise ValueError(f"{ptbxl}: only {len(values)} NORM records with every level in folds {folds}")
    mean, cov = fit(values)
    return LevelModel(mean, cov, len(values), tuple(folds))


def save(model: LevelModel, path: Path) -> None:
    """Write the model as .npz, atomically (a stopped build leaves the previous file)."""
    tmp = path.with_name(path.name + ".partial.npz")
    np.savez(tmp, mean=model.mean, cov=model.cov, levels=np.asarray(LEVELS), n_records=np.int64(model.n_records),
             folds=np.asarray(model.folds, dtype=np.int64))
    os.replace(tmp, path)


def load(path: Path = MODEL_PATH) -> LevelModel:
    """Read a model written by :func:`save`."""
    with np.load(path) as z:
        if tuple(str(s) for s in z["levels"]) != LEVELS:
            raise ValueError(f"{path}: levels {list(z['levels'])} differ from this version's {list(LEVELS)}")
        return LevelModel(z["mean"].astype(float), z["cov"].astype(float), int(z["n_records"]),
                          tuple(int(f) for f in z["folds"]))


@cache
def default_model() -> LevelModel:
    """The shipped model (fitted on PTB-XL-500 NORM, strat_fold 1-7)."""
    return load(MODEL_PATH)


def main(argv: list[str] | None = None) -> int:
    from threekg.synth.shape_model import build_parser, fold_list

    parser, _ = build_parser(__doc__, MODEL_PATH)
    args = parser.parse_args(argv)
    model = build(args.ptbxl, fold_list(args.folds, "--folds"), verbose=True)
    save(model, args.out)
    sd = np.sqrt(np.diag(model.cov))
    print(f"{model.n_records} records; median and log s.d. of each level:")
    for name, m, s in zip(LEVELS, model.mean, sd, strict=True):
        print(f"  {name}: {np.exp(m):.4g} (log s.d. {s:.2f})")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    from threekg.errors import run_tool

    raise SystemExit(run_tool(main))
