"""Per-beat Gaussian parameters: how each class changes the dipole model.

Every beat gets amplitude (mV), centre (s relative to its R peak), width (s) and group for every
template column (see :mod:`threekg.synth.template`); a zero amplitude switches a column off.

* PR: the P group moves earlier by ``pr_shift`` (IAVB: 70-140 ms more, PR > 200 ms).
* QT: the T group stretches so that QT = QTc x sqrt(preceding RR) (Bazett); LQT: QTc 480-530 ms.
* AF: no P group (the fibrillatory waves are added by :mod:`threekg.synth.render`).
* RBBB: QRS 10 % longer plus a terminal right-anterior lobe (R' in V1, wide S in I and V6).
* LBBB: the septal (initial rightward, q-producing) and normal depolarisation Gaussians are replaced
  by two broad leftward-posterior lobes; repolarisation discordant to them.
* TInv: the T lobes negated.
* PAC beats: P group moved to ``ECTOPIC_P`` (rotated by the patient's ectopic-focus angle).
* PVC beats: no P, no normal QRS-T; two broad lobes along the patient's ectopic direction and a
  discordant T lobe, all in group ``ECTOPIC``.
"""

from __future__ import annotations

import numpy as np

from threekg.synth import template as tp
from threekg.synth.patient import PatientParams
from threekg.synth.rhythm import PAC, PVC, BeatSchedule

QTC_NORMAL_S = (0.385, 0.435)
QTC_LONG_S = (0.480, 0.530)
IAVB_EXTRA_PR_S = (0.070, 0.140)
T_END_REF_S = 0.321
"""End of the template T wave after the R peak at 60 bpm (tangent method), used to stretch the T group."""
J_POINT_S = 0.04
"""End of the template QRS after the R peak (s): the ST-T stretches from here."""
RBBB_T_DELAY_S = 0.03
"""Repolarisation delay behind the widened QRS of a right bundle branch block (s)."""

_RBBB_DIR = np.array([-0.55, 0.1, -0.83])
_LBBB_DIRS = (np.array([0.75, 0.2, 0.55]), np.array([0.6, -0.05, 0.8]))


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


def beat_parameters(
    labels: list[str], patient: PatientParams, sched: BeatSchedule, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
    """Amplitude (mV), centre (s), width (s) and group of every column of every beat, each (B, C).

    Also returns the record-level values drawn (``pr_extra_s``, ``qtc_s``) for the metadata.
    """
    nb, nc = len(sched.r_times), tp.N_COLUMNS
    a, t = np.zeros((nb, nc)), np.zeros((nb, nc))
    s, g = np.full((nb, nc), 1e-3), np.zeros((nb, nc), dtype=np.int64)
    g[:, : tp.N_NORMAL] = tp.NORMAL_GROUP
    rr = np.clip(sched.rr_prev, 0.3, 1.6)
    normal = np.flatnonzero(sched.kind != PVC)
    resp = 1.0 + 0.05 * np.sin(2 * np.pi * patient.resp_hz * sched.r_times + rng.uniform(0, 2 * np.pi))
    jitter = rng.normal(1.0, 0.02, nb)

    # Atrial depolarisation.
    pr_extra = -patient.pr_shift + (rng.uniform(*IAVB_EXTRA_PR_S) if "IAVB" in labels else 0.0)
    pc = tp.normal_columns(tp.P)
    centre = float(np.mean(tp.NORMAL_T[pc]))
    if "AF" not in labels:
        rate = rr[normal, None] ** 0.1
        a[np.ix_(normal, pc)] = tp.NORMAL_A[pc] * patient.p_amp * jitter[normal, None]
        t[np.ix_(normal, pc)] = (centre + (tp.NORMAL_T[pc] - centre) * patient.p_width) * rate - pr_extra
        s[np.ix_(normal, pc)] = tp.NORMAL_SIGMA[pc] * patient.p_width * rate
        pac = np.flatnonzero(sched.kind == PAC)
        g[np.ix_(pac, pc)] = tp.ECTOPIC_P

    # Ventricular depolarisation of conducted beats.
    qc = tp.normal_columns(tp.QRS)
    amp_q = patient.size * resp * jitter
    width = patient.qrs_width
    if "LBBB" in labels:
        widths = rng.uniform(0.017, 0.019)
        for lobe, (direction, amp, ctr) in enumerate(zip(_LBBB_DIRS, (1.1, 1.0), (-0.002, 0.038), strict=True)):
            _set_lobe(a, t, s, g, normal, lobe, direction, amp * amp_q[normal], ctr * width, widths, tp.QRS)
    else:
        if "RBBB" in labels:
            width *= 1.1
            _set_lobe(a, t, s, g, normal, 1, _RBBB_DIR, rng.uniform(0.5, 0.75) * amp_q[normal],
                      0.052 * width, 0.014 * width, tp.QRS)
        a[np.ix_(normal, qc)] = tp.NORMAL_A[qc] * amp_q[normal, None]
        t[np.ix_(normal, qc)] = tp.NORMAL_T[qc] * width
        s[np.ix_(normal, qc)] = tp.NORMAL_SIGMA[qc] * width

    # Repolarisation: QT follows the preceding RR (Bazett), TInv negates it.
    lo, hi = QTC_LONG_S if "LQT" in labels else QTC_NORMAL_S
    qtc = lo + patient.qtc_quantile * (hi - lo) + (0.006 if patient.sex == "Female" else 0.0)
    # The ST-T stretches from the J point; a wide QRS delays it (its QT still meets the label's range).
    delay = RBBB_T_DELAY_S if "RBBB" in labels else 0.0
    stretch = (qtc * np.sqrt(rr) + tp.QRS_ONSET_S - J_POINT_S - delay) / (T_END_REF_S - J_POINT_S)
    sign = -1.0 if "TInv" in labels else 1.0
    amp_t = sign * patient.t_amp * np.sqrt(patient.size) * resp * jitter
    tc = tp.normal_columns(tp.T)
    if "LBBB" in labels:
        mean_dir = _unit(1.1 * _unit(_LBBB_DIRS[0]) + _unit(_LBBB_DIRS[1]))
        _set_lobe(a, t, s, g, normal, 2, -mean_dir, 0.4 * amp_t[normal], J_POINT_S + 0.29 * stretch[normal],
                  0.06 * stretch[normal], tp.T)
    else:
        a[np.ix_(normal, tc)] = tp.NORMAL_A[tc] * amp_t[normal, None]
        t[np.ix_(normal, tc)] = J_POINT_S + delay + (tp.NORMAL_T[tc] - J_POINT_S) * stretch[normal, None]
        s[np.ix_(normal, tc)] = tp.NORMAL_SIGMA[tc] * stretch[normal, None]

    # Premature ventricular beats: wide bizarre QRS along the ectopic direction, discordant T.
    pvc = np.flatnonzero(sched.kind == PVC)
    if len(pvc):
        d1 = np.asarray(patient.ectopic_dir)
        d2 = _unit(d1 + 0.6 * _unit(np.cross(d1, [0.0, 0.0, 1.0]) + 1e-6))
        amp_e = patient.size * jitter[pvc]
        _set_lobe(a, t, s, g, pvc, 0, d1, 1.3 * amp_e, -0.03, 0.024, tp.ECTOPIC)
        _set_lobe(a, t, s, g, pvc, 1, d2, 0.85 * amp_e, 0.035, 0.026, tp.ECTOPIC)
        _set_lobe(a, t, s, g, pvc, 2, -_unit(1.3 * d1 + 0.85 * d2), 0.45 * amp_e, J_POINT_S + 0.3 * stretch[pvc],
                  0.08 * stretch[pvc], tp.ECTOPIC)
    return a, t, s, g, {"pr_extra_s": float(pr_extra), "qtc_s": float(qtc)}
