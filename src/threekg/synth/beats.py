"""Per-beat Gaussian parameters: how each class changes the dipole model.

Every beat gets amplitude (mV), centre (s relative to its R peak), width (s) and group for every
template column (see :mod:`threekg.synth.template`); a zero amplitude switches a column off.
Timing of the normal columns: :func:`threekg.synth.template.normal_timing`.

* PR: the P group moves earlier by the patient's ``pr_shift``; IAVB 70-140 ms more (PR > 200 ms);
  LPR 65-95 ms earlier than the template whatever the patient (PR 205-240 ms).
* QT: the T group stretches so that QT = QTc x sqrt(preceding RR) (Bazett); normal QTc 360-410 ms,
  LQT 480-530 ms.
* Every beat: respiratory and random size variation, and the T size varying more, at the patient's target
  levels (:func:`amplitude_variation`); P size varying 2 % more, P and T timing 2 ms (s.d.); with the
  shape-model beat, its own combination of the model's beat-to-beat shape components (:func:`beat_variation`).
* AF, AFL: no P group (the fibrillatory or flutter waves are added by :mod:`threekg.synth.render`).
* Brady (junctional escape rhythm): the P group follows the QRS by 65-125 ms and is retrograde
  (group ``ECTOPIC_P``, its vertical component reversed by the record's ectopic-P matrix).
* RBBB: QRS 10 % longer plus a terminal right-anterior lobe (R' in V1, wide S in I and V6).
  IRBBB: the same lobe smaller and earlier, QRS 5-12 % longer than the template whatever the patient
  (QRS 100-119 ms).
* LBBB: the septal (initial rightward, q-producing) and normal depolarisation Gaussians are replaced
  by two broad leftward-posterior lobes; repolarisation discordant to them.
* NSIVCB: the whole normal QRS 35-60 % longer, its activation order kept, with a septal (left-to-right)
  initial lobe so that the q in I, V5, V6 that LBBB lacks is always there (QRS >= 110 ms, no R').
* LAnFB: initial forces inferior-rightward (small r in II, III, aVF, q in I and aVL), and the frontal
  axis set to -80..-50 degrees by the render step.
* QAb: an initial lobe pointing away from an old infarct, inferior (Q in II, III, aVF) or anterior
  (Q in V1-V3), 30-40 ms long.
* TInv: the T lobes negated. TAb: the T lobes flattened to 3-15 % of their amplitude.
* PAC beats: P group moved to ``ECTOPIC_P`` (rotated by the patient's ectopic-focus angle).
* PVC beats: no P, no normal QRS-T; two broad lobes along the patient's ectopic direction and a
  discordant T lobe, all in group ``ECTOPIC``.
* PR (atrial-sensed ventricular pacing): sinus P, then a pacemaker spike (0.6 ms wide) and a wide
  QRS from the right-ventricular apex (superior, leftward, posterior lobes) with a discordant T.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from threekg.synth import levels as lv
from threekg.synth import shape_model as sm
from threekg.synth import template as tp
from threekg.synth.patient import PatientParams
from threekg.synth.rhythm import PAC, PVC, BeatSchedule
from threekg.synth.shape_beat import N_SEGMENTS, QRS_ONSET_TAU_S, SEG_QRS, SEG_ST, SEG_T, PatientBeat

QTC_NORMAL_S = (0.355, 0.405)
"""Normal QTc drawn (Bazett); measured by the realism measure about 12 ms longer (PTB-XL NORM median 392)."""
QTC_LONG_S = (0.480, 0.530)
IAVB_EXTRA_PR_S = (0.070, 0.140)
LPR_PR_EXTRA_S = (0.065, 0.095)
"""LPR: the P group 65-95 ms earlier than the template (whatever the patient's own PR): PR 205-240 ms."""
JUNCTIONAL_P_AFTER_R_S = (0.065, 0.125)
NSIVCB_WIDTH = (1.35, 1.6)
TAB_T_FACTOR = (0.03, 0.15)
RBBB_T_DELAY_S = 0.03
"""Repolarisation delay behind the widened QRS of a right bundle branch block (s)."""
RESP_AMPLITUDE = 0.035
"""Respiratory modulation of the QRS and T size (+-3.5 %; +-5 % gave a beat-to-beat QRS amplitude
variation above the real IQR with the shape-model beat)."""
T_JITTER = (0.012, 0.06)
"""Range (log-uniform, per record) of the beat-to-beat s.d. of the T size on top of the shared 2 % jitter
(real records differ widely: PTB-XL NORM T-amplitude variation IQR 0.034-0.081)."""
SHAPE_P_WIDTH_MEAN = 1.1
"""The patient's P duration factor (1.0-1.2) divided by this scales the shape-model P (0.91-1.09)."""
PACED_AV_SPIKE_S = -0.06
"""Pacemaker spike time relative to the paced beat's reference point (s)."""

_RBBB_DIR = np.array([-0.55, 0.1, -0.83])
_LBBB_DIRS = (np.array([0.75, 0.2, 0.55]), np.array([0.6, -0.05, 0.8]))
_PACED_DIRS = (np.array([0.3, -0.8, 0.5]), np.array([0.7, -0.4, 0.6]))
_LANFB_INITIAL_DIR = np.array([-0.5, 0.85, 0.0])
_QAB_DIRS = {"inferior": np.array([0.1, -1.0, 0.15]), "anterior": np.array([-0.1, 0.1, 1.0])}
_SEPTAL_DIR = np.array([-0.9, 0.1, -0.4])
_NSIVCB_TERMINAL_DIR = np.array([0.45, -0.1, 0.9])
IRBBB_QRS_S = (0.102, 0.110)
"""IRBBB with the shape-model beat: QRS duration made by the terminal lobe (criterion 100-119 ms)."""
QT_OWN_RR_WEIGHT = 0.4
"""Weight of a beat's own preceding RR in the RR its ST-T is stretched for (the rest: the record's median RR)."""
IRBBB_LOBE_SD_S = 0.010
IRBBB_OWN_QRS_MAX_S = 0.085
"""IRBBB: a beat whose own QRS is longer is compressed to this, so that the terminal lobe comes after it."""


AMP_CV_OTHER = 0.02
"""Beat-to-beat QRS amplitude variation (relative s.d.) the measure finds without any size modulation
(breathing's swing of the heart vector, the beat-to-beat shape components, noise, delineation);
subtracted from the target level (in quadrature)."""
T_CV_OTHER = 0.05
"""The same for the T amplitude (the beat-to-beat shape components vary the T most)."""
AMP_CV_FLOOR = 0.006
"""Smallest respiratory and random size variation (relative s.d.) of a record with target levels."""


def amplitude_variation(patient: PatientParams, rng: np.random.Generator) -> tuple[float, float, float]:
    """Respiratory size modulation (amplitude of the sine), random size s.d. shared by the waves, and the
    T wave's own extra s.d. of a record, relative.

    With target levels (:mod:`threekg.synth.levels`), the beat-to-beat QRS amplitude variation
    ``qrs_amp_cv`` (less :data:`AMP_CV_OTHER`) is split evenly between breathing (s.d. of a sine
    A / sqrt(2)) and random variation, and the T wave gets what ``t_amp_cv`` asks beyond it;
    without, the fixed 3.5 % and 2 % and a log-uniform T jitter (:data:`T_JITTER`).
    """
    if not patient.levels:
        return RESP_AMPLITUDE, 0.02, float(np.exp(rng.uniform(*np.log(T_JITTER))))
    qrs_cv, t_cv = patient.levels[2], patient.levels[3]
    own = max(qrs_cv**2 - AMP_CV_OTHER**2, 2 * AMP_CV_FLOOR**2)
    half = float(np.sqrt(own / 2))
    t_extra = float(np.sqrt(max(t_cv**2 - qrs_cv**2 - T_CV_OTHER**2, AMP_CV_FLOOR**2)))
    return float(np.sqrt(2.0) * half), half, t_extra


WITHIN_GAIN = 0.4
"""The beat-to-beat components are drawn at this fraction of their fitted size. The real beats' residuals
hold more than beat-to-beat change of the heart's activity: the time normalisation stretches each
real ST-T with its own preceding RR (real QT follows the rate with a delay), and baseline movement
faster than 0.5 Hz. Development seed 77, median beat-to-beat correlation (real 0.9982): 0.9974 at 0.5,
0.9981 at 0.4."""


def beat_variation(nb: int, rng: np.random.Generator, z: float) -> np.ndarray:
    """Scores (nb, W) mV of the shape model's beat-to-beat components for ``nb`` beats of one record:
    independent normal draws with the components' s.d., times the record's own scale (log-normal as
    fitted between records, at standard-normal score ``z``) and :data:`WITHIN_GAIN`. The score is the
    record's QRS amplitude variation level (standardised): a record whose beats vary in size also
    varies in shape."""
    model = sm.default_model()
    scale = WITHIN_GAIN * float(np.exp(model.within_scale_mean + model.within_scale_sd * z))
    return rng.standard_normal((nb, len(model.within_sd))) * (model.within_sd * scale)[None, :]


def variation_score(patient: PatientParams) -> float:
    """The patient's standardised log ``qrs_amp_cv`` level (0 without levels)."""
    if not patient.levels:
        return 0.0
    model = lv.default_model()
    k = lv.LEVELS.index("qrs_amp_cv")
    return float((np.log(patient.levels[k]) - model.mean[k]) / np.sqrt(model.cov[k, k]))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _set_lobe(a: np.ndarray, t: np.ndarray, s: np.ndarray, g: np.ndarray, rows: np.ndarray, lobe: int,
              direction: np.ndarray, amp: np.ndarray | float, centre: np.ndarray | float,
              width: np.ndarray | float, group: int) -> None:
    cols = tp.lobe_columns(lobe)
    amp_col = np.broadcast_to(np.asarray(amp, dtype=float), rows.shape)[:, None]
    a[rows, cols] = amp_col * _unit(direction)[None, :]
    t[rows, cols] = np.broadcast_to(np.asarray(centre, dtype=float), rows.shape)[:, None]
    s[rows, cols] = np.broadcast_to(np.asarray(width, dtype=float), rows.shape)[:, None]
    g[rows, cols] = group


@dataclass(frozen=True)
class WaveTiming:
    """Where and how large each beat's P, QRS and T segments of the patient's beat are drawn.

    ``gain``, ``slope``, ``offset``: (B, 4) for the segments P, QRS, ST, T: beat time (s from the beat's R)
    = ``slope`` x normalised time + ``offset``; a zero gain leaves the segment out. ``group``: (B, 4)
    the renderer group each segment's heart vector goes to (the P of a premature atrial or junctional
    beat goes to ``ECTOPIC_P``).
    """

    gain: np.ndarray
    slope: np.ndarray
    offset: np.ndarray
    group: np.ndarray
    variation: np.ndarray | None = None  # (B, W) mV: each beat's scores of the model's beat-to-beat components


def beat_parameters(
    labels: list[str], patient: PatientParams, sched: BeatSchedule, rng: np.random.Generator,
    beat: PatientBeat | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, float], WaveTiming | None]:
    """Amplitude (mV), centre (s), width (s) and group of every column of every beat, each (B, C).

    Also returns the record-level values drawn (``pr_extra_s``, ``qtc_s``) for the metadata, and,
    with the patient's shape-model ``beat``, the timing and gains of its segments (the normal
    Gaussian columns are then switched off: the shape-model beat replaces them, every pathological
    lobe stays, sized by the beat's own QRS).
    """
    nb, nc = len(sched.r_times), tp.N_COLUMNS
    a, t = np.zeros((nb, nc)), np.zeros((nb, nc))
    s, g = np.full((nb, nc), 1e-3), np.zeros((nb, nc), dtype=np.int64)
    g[:, : tp.N_NORMAL] = tp.NORMAL_GROUP
    rr = np.clip(sched.rr_prev, 0.3, 1.6)
    normal = np.flatnonzero(sched.kind != PVC)
    resp_amp, size_sd, t_jitter = amplitude_variation(patient, rng)
    resp = 1.0 + resp_amp * np.sin(2 * np.pi * patient.resp_hz * sched.r_times + rng.uniform(0, 2 * np.pi))
    jitter = rng.normal(1.0, size_sd, nb)
    # beat-to-beat morphology variation on top of the shared jitter: each wave's own size and timing
    wave_jitter = {tp.P: rng.normal(1.0, 0.02, nb), tp.T: rng.normal(1.0, t_jitter, nb)}
    timing_jitter = {tp.P: rng.normal(0.0, 0.002, nb), tp.T: rng.normal(0.0, 0.002, nb)}
    paced = "PR" in labels

    # Timing of the normal columns: PR, QRS width, QT. The shape-model beat has its own PR, QRS and QT
    # (those of a real normal record): the factors drawn per patient are for the parametric template only.
    p_mid = float(np.mean(tp.NORMAL_T[tp.NORMAL_GROUP == tp.P]))
    own_pr_shift = 0.0 if beat is None else beat.p_centroid_s - p_mid
    pr_shift = patient.pr_shift if beat is None else 0.0
    if "Brady" in labels:
        p_centre = p_mid if beat is None else beat.p_centroid_s
        pr_extra = -(-p_centre + rng.uniform(*JUNCTIONAL_P_AFTER_R_S))
    else:
        pr_extra = (-pr_shift + rng.uniform(*IAVB_EXTRA_PR_S) if "IAVB" in labels else
                    rng.uniform(*LPR_PR_EXTRA_S) + own_pr_shift if "LPR" in labels else -pr_shift)
    qrs_width = patient.qrs_width if beat is None else 1.0
    width = (rng.uniform(1.05, 1.12) if "IRBBB" in labels and beat is None else
             min(1.0, IRBBB_OWN_QRS_MAX_S / (beat.qrs_off_s - beat.qrs_on_s)) if "IRBBB" in labels and beat else
             qrs_width * (1.1 if "RBBB" in labels else rng.uniform(*NSIVCB_WIDTH) if "NSIVCB" in labels
                          else 1.0))
    lo, hi = QTC_LONG_S if "LQT" in labels else QTC_NORMAL_S
    qtc = lo + patient.qtc_quantile * (hi - lo) + (0.006 if patient.sex == "Female" else 0.0)
    if beat is not None and "LQT" not in labels:
        qtc = beat.qtc_s
    # The ST-T stretches from the J point; a wide QRS delays it (its QT still meets the label's range).
    delay = RBBB_T_DELAY_S if "RBBB" in labels else 0.01 if "IRBBB" in labels else 0.0
    centre, sigma, stretch = tp.normal_timing(rr, patient.p_width, pr_extra, width, qtc, delay)
    for group, shift in timing_jitter.items():
        centre[:, tp.NORMAL_GROUP == group] += shift[:, None]
    t[:, : tp.N_NORMAL], s[:, : tp.N_NORMAL] = centre, sigma
    # QT hysteresis: the repolarisation of a beat follows the recent rate more than its own preceding RR
    # (a premature beat's QT is only a little shorter)
    rr_qt = QT_OWN_RR_WEIGHT * rr + (1.0 - QT_OWN_RR_WEIGHT) * float(np.median(rr))
    p_time = patient.p_width / SHAPE_P_WIDTH_MEAN
    waves = None if beat is None else _wave_timing(rr, rr_qt, pr_extra, p_time, width, delay, qtc, beat, timing_jitter,
                                                   beat_variation(nb, rng, variation_score(patient)))

    # Atrial depolarisation.
    pc = tp.normal_columns(tp.P)
    if not ({"AF", "AFL"} & set(labels)):
        p_gain = (patient.p_amp if beat is None else 1.0) * (jitter * wave_jitter[tp.P])[normal]
        a[np.ix_(normal, pc)] = tp.NORMAL_A[pc] * p_gain[:, None]
        ectopic_p = normal if "Brady" in labels else np.flatnonzero(sched.kind == PAC)
        g[np.ix_(ectopic_p, pc)] = tp.ECTOPIC_P
        if waves is not None:
            waves.gain[normal, 0] = p_gain
            waves.group[ectopic_p, 0] = tp.ECTOPIC_P

    # Ventricular depolarisation and repolarisation of conducted (or paced) beats.
    qc, tc = tp.normal_columns(tp.QRS), tp.normal_columns(tp.T)
    size = patient.size if beat is None else beat.size
    amp_q = size * resp * jitter
    sign = -1.0 if "TInv" in labels else 1.0
    t_factor = rng.uniform(*TAB_T_FACTOR) if "TAb" in labels else 1.0
    t_amp = patient.t_amp * np.sqrt(patient.size) if beat is None else 1.0
    amp_t = sign * t_factor * t_amp * resp * jitter
    if paced:
        _paced_beats(a, t, s, g, normal, amp_q, stretch, rng)
    elif "LBBB" in labels:
        widths = rng.uniform(0.017, 0.019)
        for lobe, (direction, amp, ctr) in enumerate(zip(_LBBB_DIRS, (1.1, 1.0), (-0.002, 0.038), strict=True)):
            _set_lobe(a, t, s, g, normal, lobe, direction, amp * amp_q[normal], tp.qrs_time(ctr, width), widths,
                      tp.QRS)
        mean_dir = _unit(1.1 * _unit(_LBBB_DIRS[0]) + _unit(_LBBB_DIRS[1]))
        _set_lobe(a, t, s, g, normal, tp.LOBE_REPOL, -mean_dir, 0.4 * amp_t[normal],
                  tp.J_POINT_S + 0.29 * stretch[normal], 0.06 * stretch[normal], tp.T)
    else:
        a[np.ix_(normal, qc)] = tp.NORMAL_A[qc] * amp_q[normal, None]
        a[np.ix_(normal, tc)] = tp.NORMAL_A[tc] * (amp_t * wave_jitter[tp.T])[normal, None]
        if waves is not None:
            waves.gain[normal, SEG_QRS] = (resp * jitter)[normal]
            waves.gain[normal, SEG_ST] = (resp * jitter)[normal]  # a T-wave change leaves the ST
            waves.gain[normal, SEG_T] = (amp_t * wave_jitter[tp.T])[normal]
        if "RBBB" in labels or ("IRBBB" in labels and beat is None):
            full = "RBBB" in labels
            size = rng.uniform(0.5, 0.75) if full else rng.uniform(0.3, 0.45)
            _set_lobe(a, t, s, g, normal, tp.LOBE_TERMINAL, _RBBB_DIR, size * amp_q[normal],
                      tp.qrs_time(0.052 if full else 0.040, width), (0.014 if full else 0.011) * width, tp.QRS)
        elif "IRBBB" in labels and beat is not None:
            # the terminal lobe ends (2 s.d.) where the QRS, from the beat's own onset, lasts 104-114 ms
            end = float(tp.qrs_time(beat.qrs_on_s, width)) + rng.uniform(*IRBBB_QRS_S)
            _set_lobe(a, t, s, g, normal, tp.LOBE_TERMINAL, _RBBB_DIR, rng.uniform(0.45, 0.6) * amp_q[normal],
                      end - 2 * IRBBB_LOBE_SD_S, IRBBB_LOBE_SD_S, tp.QRS)
        if "NSIVCB" in labels and beat is not None:
            # delayed left-posterior terminal forces: no R' in V1 whatever the beat's own terminal forces
            _set_lobe(a, t, s, g, normal, tp.LOBE_TERMINAL, _NSIVCB_TERMINAL_DIR,
                      rng.uniform(0.25, 0.35) * amp_q[normal], tp.qrs_time(beat.qrs_off_s, width) - 0.01,
                      0.012 * width, tp.QRS)
        if "LAnFB" in labels:
            _set_lobe(a, t, s, g, normal, tp.LOBE_INITIAL, _LANFB_INITIAL_DIR,
                      rng.uniform(0.15, 0.25) * amp_q[normal], tp.qrs_time(-0.032, width), 0.008 * width, tp.ECTOPIC)
        if "NSIVCB" in labels:
            _set_lobe(a, t, s, g, normal, tp.LOBE_INITIAL, _SEPTAL_DIR, rng.uniform(0.25, 0.35) * amp_q[normal],
                      tp.qrs_time(-0.040, width), 0.007 * width, tp.ECTOPIC)
        if "QAb" in labels:
            _set_lobe(a, t, s, g, normal, tp.LOBE_INITIAL, _QAB_DIRS[patient.qab_territory],
                      rng.uniform(0.45, 0.7) * amp_q[normal], tp.qrs_time(-0.028, width), 0.012 * width, tp.ECTOPIC)

    # Premature ventricular beats: wide bizarre QRS along the ectopic direction, discordant T.
    pvc = np.flatnonzero(sched.kind == PVC)
    if len(pvc):
        d1 = np.asarray(patient.ectopic_dir)
        d2 = _unit(d1 + 0.6 * _unit(np.cross(d1, [0.0, 0.0, 1.0]) + 1e-6))
        amp_e = patient.size * jitter[pvc]
        _set_lobe(a, t, s, g, pvc, tp.LOBE_DEPOL_1, d1, 1.8 * amp_e, -0.03, 0.024, tp.ECTOPIC)
        _set_lobe(a, t, s, g, pvc, tp.LOBE_DEPOL_2, d2, 1.2 * amp_e, 0.035, 0.026, tp.ECTOPIC)
        _set_lobe(a, t, s, g, pvc, tp.LOBE_REPOL, -_unit(1.8 * d1 + 1.2 * d2), 0.6 * amp_e,
                  tp.J_POINT_S + 0.3 * stretch[pvc], 0.08 * stretch[pvc], tp.ECTOPIC)
    if waves is not None:
        a[:, : tp.N_NORMAL] = 0.0
    return a, t, s, g, {"pr_extra_s": float(pr_extra), "qtc_s": float(qtc)}, waves


def _wave_timing(rr: np.ndarray, rr_qt: np.ndarray, pr_extra: float, p_time: float, width: float, delay: float,
                 qtc: float, beat: PatientBeat, timing_jitter: dict[int, np.ndarray],
                 variation: np.ndarray | None = None) -> WaveTiming:
    """Affine time maps of the beat's P, QRS and T segments (the same time bases as the parametric
    groups): P ``p_time`` times as long about its centroid, scaled by RR^0.1 and moved ``pr_extra`` earlier, QRS ``width`` times longer from its
    onset, ST and T from the (delayed) J point stretched by sqrt(``rr_qt``) x QTc / the beat's own QTc.
    Gains 0."""
    nb = len(rr)
    slope, offset = np.zeros((nb, N_SEGMENTS)), np.zeros((nb, N_SEGMENTS))
    rate, c = rr**0.1, beat.p_centroid_s
    slope[:, 0], offset[:, 0] = rate * p_time, c * rate * (1.0 - p_time) - pr_extra + timing_jitter[tp.P]
    slope[:, SEG_QRS], offset[:, SEG_QRS] = width, tp.QRS_ONSET_S * (1.0 - width)
    fixed = tp.J_POINT_S - QRS_ONSET_TAU_S
    stretch = np.sqrt(rr_qt) * (qtc - fixed) / (beat.qtc_s - fixed)
    j = tp.J_POINT_S + delay + (tp.J_POINT_S - tp.QRS_ONSET_S) * (width - 1.0) + timing_jitter[tp.T]
    for seg in (SEG_ST, SEG_T):
        slope[:, seg], offset[:, seg] = stretch, j - tp.J_POINT_S * stretch
    group = np.broadcast_to(np.array([tp.P, tp.QRS, tp.T, tp.T]), (nb, N_SEGMENTS)).copy()
    return WaveTiming(np.zeros((nb, N_SEGMENTS)), slope, offset, group, variation)


def _paced_beats(a: np.ndarray, t: np.ndarray, s: np.ndarray, g: np.ndarray, rows: np.ndarray,
                 amp_q: np.ndarray, stretch: np.ndarray, rng: np.random.Generator) -> None:
    """Right-ventricular apical pacing: spike, wide superior-leftward-posterior QRS, discordant T."""
    spike_dir = np.array([rng.normal(0.0, 1.0), rng.normal(-0.5, 1.0), rng.normal(0.0, 0.5)])
    _set_lobe(a, t, s, g, rows, tp.LOBE_SPIKE, spike_dir, rng.uniform(2.5, 6.0), PACED_AV_SPIKE_S, 0.0006,
              tp.ECTOPIC)
    d1, d2 = _PACED_DIRS
    _set_lobe(a, t, s, g, rows, tp.LOBE_DEPOL_1, d1, 1.0 * amp_q[rows], -0.02, 0.024, tp.ECTOPIC)
    _set_lobe(a, t, s, g, rows, tp.LOBE_DEPOL_2, d2, 0.8 * amp_q[rows], 0.04, 0.026, tp.ECTOPIC)
    _set_lobe(a, t, s, g, rows, tp.LOBE_REPOL, -_unit(_unit(d1) + _unit(d2)), 0.35 * amp_q[rows],
              tp.J_POINT_S + 0.05 + 0.3 * stretch[rows], 0.08 * stretch[rows], tp.ECTOPIC)
