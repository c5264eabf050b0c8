"""A patient's normal beat from the shape model, ready for the renderer.

The beat drawn from :mod:`threekg.synth.shape_model` (8 leads, normalised time ``tau``) is split

* in lead space: its dipolar part, the heart vector ``v = pinv(D) @ beat`` (3, L) for the Dower matrix
  ``D`` (8, 3) that :func:`threekg.vcg.vcg_to_ecg` projects with, and the non-dipolar residual
  ``beat - D @ v`` (8, L) that no single dipole makes (real P waves are larger in I than Dower allows
  for their size in V5). The heart vector is rotated, scaled and modified by the disease machinery
  like the parametric lobes; the residual is added in lead space with the same wave gains.
* in time: four overlapping segments, atrial (P, PR), ventricular depolarisation (QRS), early ST and
  T wave, whose weights sum to 1 (raised-cosine hand-overs of 20 ms in the PR segment, at the J point
  and at J + 50 ms), so each one follows its own time base (PR, QRS width, QT) as the parametric
  groups do (:func:`threekg.synth.template.normal_timing`); ST and T share the ST-T time base, but a
  T-wave change (inversion, flattening) acts on the T segment only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from threekg.synth import shape_model as sm
from threekg.vcg import DOWER

N_CHANNELS = 11
"""Channels of a segment: heart vector X, Y, Z then the residual in I, II, V1-V6."""
SEGMENT_TAU_S: tuple[tuple[float, float], ...] = ((float(sm.TAU_S[0]), -0.04), (-0.06, 0.05), (0.03, 0.11),
                                                  (0.07, float(sm.TAU_S[-1])))
"""Normalised time range (s) where each segment (P, QRS, ST, T) is not zero."""
N_SEGMENTS = 4
SEG_P, SEG_QRS, SEG_ST, SEG_T = range(N_SEGMENTS)
QRS_ONSET_TAU_S = -0.045
"""Typical QRS onset of the real normal beats (s before R), for the beat's own QTc."""
P_TIME_FACTOR = 0.93
P_GAIN = 1.15
"""The model's P segment is shortened by ``P_TIME_FACTOR`` about its centroid and made ``P_GAIN`` times
larger: a mean of registered P waves of different durations is wider and lower than a real P (on a
development seed the generated P lasted 114 ms against the real 106 [98, 116] and was 15 % smaller)."""
P_SCORE_CLIP = 1.0
"""The P move is truncated at 1 s.d. (about 16 ms; the components vary PR too): PR outside 120-200 ms is not a normal record (AV
block or pre-excitation). At 1.6 s.d. (and P 3 ms later) the PR spread came closer to the real one on the development
seed, but a normal record of the criteria tests then had PR 201 ms."""
P_ONSET_TAPER_S = (-0.28, -0.23)
"""The atrial part fades in over this normalised time range (the median beats' low TP-segment remnants
would otherwise make the P onset, and so PR, look earlier)."""
P_LATER_S = 0.007
"""All P waves are moved 7 ms later: on a development seed the generated PR was 7 ms longer than the real
median (165 against 158 ms, NeuroKit2), the earlier P onset of the sharpened, tapered P."""
SCORE_CLIP = 2.5
"""Component scores are truncated at this many s.d. (no implausible extremes)."""
_PINV = np.linalg.pinv(DOWER)


def _ramp(tau: np.ndarray, start: float, end: float) -> np.ndarray:
    """0 before ``start``, 1 after ``end``, raised cosine between."""
    x = np.clip((tau - start) / (end - start), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def segment_weights(tau: np.ndarray = sm.TAU_S) -> np.ndarray:
    """(4, L) weights of the P, QRS, ST and T segments over ``tau``; they sum to 1."""
    to_qrs = _ramp(tau, SEGMENT_TAU_S[SEG_QRS][0], SEGMENT_TAU_S[SEG_P][1])
    to_st = _ramp(tau, SEGMENT_TAU_S[SEG_ST][0], SEGMENT_TAU_S[SEG_QRS][1])
    to_t = _ramp(tau, SEGMENT_TAU_S[SEG_T][0], SEGMENT_TAU_S[SEG_ST][1])
    return np.stack([1.0 - to_qrs, to_qrs - to_st, to_st - to_t, to_t])


@dataclass(frozen=True)
class PatientBeat:
    """One patient's normal beat, split for the renderer.

    ``waves``: (4 segments, 11 channels, L + 2) float32 mV on :data:`shape_model.TAU_S` with one zero
    sample at each end; ``p_centroid_s``: energy centroid of the P segment; ``t_end_s``: end of T
    (tangent to the steepest descent of the spatial magnitude); ``size``: QRS peak of the heart vector
    relative to the model's mean beat; ``qrs_on_s``, ``qrs_off_s``: QRS bounds, where the spatial
    velocity (8 leads) around R stays above 6 % of its peak. All times in normalised s from R.
    """

    waves: np.ndarray
    p_centroid_s: float
    t_end_s: float
    size: float
    qrs_on_s: float
    qrs_off_s: float

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
    waves = np.zeros((N_SEGMENTS, N_CHANNELS, len(tau) + 2), dtype=np.float32)
    waves[:, :, 1:-1] = w[:, None, :] * channels[None]
    energy = np.sum(beat**2, axis=0) * w[0]
    mag = np.sqrt(np.sum(beat**2, axis=0))
    qrs = (tau > -0.06) & (tau < 0.06)
    size = float(np.linalg.norm(vcg[:, qrs], axis=0).max()) / reference_qrs_peak
    on, off = _qrs_bounds(beat, tau)
    return PatientBeat(waves, float(np.sum(tau * energy) / np.sum(energy)), _t_end(mag, tau), size, on, off)


def _qrs_bounds(beat: np.ndarray, tau: np.ndarray, fraction: float = 0.06) -> tuple[float, float]:
    velocity = np.sqrt(np.sum(np.gradient(beat, tau, axis=1) ** 2, axis=0))
    window = (tau > -0.1) & (tau < 0.12)
    fast = (velocity > fraction * velocity[(tau > -0.05) & (tau < 0.05)].max()) & window
    # a pause shorter than 20 ms (a notch, a slurred S) does not end the QRS
    gap = round(0.02 / sm.DTAU_S)
    bridged = np.convolve(fast, np.ones(2 * gap + 1), mode="same") > 0
    bridged &= np.convolve(fast, np.ones(gap + 1), mode="full")[: len(fast)] > 0  # fast somewhere before
    bridged &= np.convolve(fast[::-1], np.ones(gap + 1), mode="full")[: len(fast)][::-1] > 0  # and after
    r = int(np.argmin(np.abs(tau)))
    slow_before, slow_after = np.flatnonzero(~bridged[:r]), np.flatnonzero(~bridged[r:])
    start = slow_before[-1] + 1 if len(slow_before) else 0
    end = r + (slow_after[0] if len(slow_after) else len(tau) - r) - 1
    return float(tau[start]), float(tau[end])


@lru_cache(maxsize=1)
def within_waves() -> np.ndarray:
    """The shipped model's beat-to-beat components split like a beat, (W, 4 segments, 11 channels, L + 2)
    float32 (see :func:`split_beat`; the split is linear, so a beat plus c times a component splits into
    the beat's segments plus c times the component's). The P segment is left out: varying it moved the P
    onset of single beats, and a normal record's PR measured up to 214 ms in the criteria tests."""
    model = sm.default_model()
    w = segment_weights()
    out = np.zeros((len(model.within_sd), N_SEGMENTS, N_CHANNELS, len(sm.TAU_S) + 2), dtype=np.float32)
    for k, comp in enumerate(model.within_components):
        vcg = _PINV @ comp
        out[k, :, :, 1:-1] = w[:, None, :] * np.concatenate([vcg, comp - DOWER @ vcg])[None]
    out[:, SEG_P] = 0.0
    return out


@lru_cache(maxsize=1)
def _reference_peak() -> float:
    qrs = (sm.TAU_S > -0.06) & (sm.TAU_S < 0.06)
    return float(np.linalg.norm((_PINV @ sm.default_model().mean)[:, qrs], axis=0).max())


@lru_cache(maxsize=4096)
def patient_beat(scores: tuple[float, ...]) -> PatientBeat:
    """The beat of a patient with standard-normal ``scores`` (at least K + 1: the components', then the
    P move's) under the shipped model."""
    model = sm.default_model()
    k = len(model.sd)
    if len(scores) < k + 1:
        raise ValueError(f"need {k + 1} shape scores, got {len(scores)}")
    z = np.clip(np.asarray(scores[: k + 1]), -SCORE_CLIP, SCORE_CLIP)
    p_score = float(np.clip(z[k], -P_SCORE_CLIP, P_SCORE_CLIP))
    beat = sm.shift_p(model.beat(z[:k], p_score), P_LATER_S)
    return split_beat(_sharpen_p(beat), _reference_peak())


def _sharpen_p(beat: np.ndarray) -> np.ndarray:
    """The beat (8, L) with its atrial part scaled in time and size by P_TIME_FACTOR and P_GAIN."""
    tau = sm.TAU_S
    c = sm.p_centroid(beat)
    atrial = beat * sm.atrial_weight()
    read = c + (tau - c) / P_TIME_FACTOR
    moved = np.stack([np.interp(read, tau, lead, left=0.0, right=0.0) for lead in atrial])
    return beat - atrial + P_GAIN * moved * sm.atrial_weight() * _ramp(tau, *P_ONSET_TAPER_S)
