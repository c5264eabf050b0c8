"""A patient's normal beat from the shape model, ready for the renderer.

The beat drawn from :mod:`threekg.synth.shape_model` (8 leads, normalised time ``tau``) is split

* in lead space: its dipolar part, the heart vector ``v = pinv(D) @ beat`` (3, L) for the Dower matrix
  ``D`` (8, 3) that :func:`threekg.vcg.vcg_to_ecg` projects with, and the non-dipolar residual
  ``beat - D @ v`` (8, L) that no single dipole makes (real P waves are larger in I than Dower allows
  for their size in V5). The heart vector is rotated, scaled and modified by the disease machinery
  like the parametric lobes; the residual is added in lead space with the same wave gains.
* in time: three overlapping segments, atrial (P, PR), ventricular depolarisation (QRS) and
  repolarisation (ST-T), whose weights sum to 1 (raised-cosine hand-overs of 20 ms in the PR segment
  and at the J point), so each one follows its own time base (PR, QRS width, QT) as the parametric
  groups do (:func:`threekg.synth.template.normal_timing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from threekg.synth import shape_model as sm
from threekg.vcg import DOWER

N_CHANNELS = 11
"""Channels of a segment: heart vector X, Y, Z then the residual in I, II, V1-V6."""
SEGMENT_TAU_S: tuple[tuple[float, float], ...] = ((float(sm.TAU_S[0]), -0.04), (-0.06, 0.05),
                                                  (0.03, float(sm.TAU_S[-1])))
"""Normalised time range (s) where each segment (P, QRS, T) is not zero."""
QRS_ONSET_TAU_S = -0.045
"""Typical QRS onset of the real normal beats (s before R), for the beat's own QTc."""
SCORE_CLIP = 2.5
"""Component scores are truncated at this many s.d. (no implausible extremes)."""
_PINV = np.linalg.pinv(DOWER)


def _ramp(tau: np.ndarray, start: float, end: float) -> np.ndarray:
    """0 before ``start``, 1 after ``end``, raised cosine between."""
    x = np.clip((tau - start) / (end - start), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def segment_weights(tau: np.ndarray = sm.TAU_S) -> np.ndarray:
    """(3, L) weights of the P, QRS and T segments over ``tau``; they sum to 1."""
    to_qrs = _ramp(tau, SEGMENT_TAU_S[1][0], SEGMENT_TAU_S[0][1])
    to_t = _ramp(tau, SEGMENT_TAU_S[2][0], SEGMENT_TAU_S[1][1])
    return np.stack([1.0 - to_qrs, to_qrs - to_t, to_t])


@dataclass(frozen=True)
class PatientBeat:
    """One patient's normal beat, split for the renderer.

    ``waves``: (3 segments, 11 channels, L + 2) float32 mV on :data:`shape_model.TAU_S` with one zero
    sample at each end; ``p_centroid_s``: energy centroid of the P segment; ``t_end_s``: end of T
    (tangent to the steepest descent of the spatial magnitude); ``size``: QRS peak of the heart vector
    relative to the model's mean beat. All times in normalised s from R.
    """

    waves: np.ndarray
    p_centroid_s: float
    t_end_s: float
    size: float

    @property
    def qtc_s(self) -> float:
        """The beat's own QTc (s): QT at RR = 1 s, where the time normalisation is the identity."""
        return self.t_end_s - QRS_ONSET_TAU_S


def _t_end(mag: np.ndarray, tau: np.ndarray) -> float:
    after = tau > 0.12
    seg, tt = mag[after], tau[after]
    peak = int(np.argmax(seg))
    slope = np.gradient(seg, tt)
    k = peak + int(np.argmin(slope[peak:]))
    if slope[k] >= 0:
        return float(tt[peak])
    return float(tt[k] - seg[k] / slope[k])


def split_beat(beat: np.ndarray, reference_qrs_peak: float) -> PatientBeat:
    """Split a beat (8, L) mV into the renderer's segments (see the module docstring)."""
    tau = sm.TAU_S
    vcg = _PINV @ beat
    channels = np.concatenate([vcg, beat - DOWER @ vcg])
    w = segment_weights(tau)
    waves = np.zeros((3, N_CHANNELS, len(tau) + 2), dtype=np.float32)
    waves[:, :, 1:-1] = w[:, None, :] * channels[None]
    energy = np.sum(beat**2, axis=0) * w[0]
    mag = np.sqrt(np.sum(beat**2, axis=0))
    qrs = (tau > -0.06) & (tau < 0.06)
    size = float(np.linalg.norm(vcg[:, qrs], axis=0).max()) / reference_qrs_peak
    return PatientBeat(waves, float(np.sum(tau * energy) / np.sum(energy)), _t_end(mag, tau), size)


@lru_cache(maxsize=1)
def _reference_peak() -> float:
    qrs = (sm.TAU_S > -0.06) & (sm.TAU_S < 0.06)
    return float(np.linalg.norm((_PINV @ sm.default_model().mean)[:, qrs], axis=0).max())


@lru_cache(maxsize=4096)
def patient_beat(scores: tuple[float, ...]) -> PatientBeat:
    """The beat of a patient with standard-normal ``scores`` (at least K of them) under the shipped model."""
    model = sm.default_model()
    k = len(model.sd)
    if len(scores) < k:
        raise ValueError(f"need {k} shape scores, got {len(scores)}")
    z = np.clip(np.asarray(scores[:k]), -SCORE_CLIP, SCORE_CLIP)
    beat = model.mean + np.tensordot(z * model.sd, model.components, axes=1)
    return split_beat(beat, _reference_peak())
