"""The ECG-to-VCG matrices against a measured Frank vectorcardiogram (PTB record s0010_re)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import wfdb

from realdata_paths import shared_subdir
from threekg.leads import LEADS, normalise_lead_name
from threekg.vcg import ecg_to_vcg


def _read_frank() -> tuple[np.ndarray, np.ndarray]:
    """(12, T) standard leads in LEADS order and (3, T) measured Frank X, Y, Z, band-passed 0.5-40 Hz."""
    record = wfdb.rdrecord(str(shared_subdir("ptb-frank") / "s0010_re"))
    names = [n.lower() for n in record.sig_name]
    signal = record.p_signal.T
    standard = [normalise_lead_name(n) for n in record.sig_name]
    ecg = np.stack([signal[standard.index(lead)] for lead in LEADS])
    frank = np.stack([signal[names.index(n)] for n in ("vx", "vy", "vz")])
    b, a = scipy.signal.butter(2, [0.5, 40.0], btype="bandpass", fs=record.fs)
    return scipy.signal.filtfilt(b, a, ecg, axis=-1), scipy.signal.filtfilt(b, a, frank, axis=-1)


@pytest.mark.realdata
def test_inverse_dower_and_kors_against_measured_frank_leads() -> None:
    ecg, frank = _read_frank()
    r = {
        m: [np.corrcoef(v, f)[0, 1] for v, f in zip(ecg_to_vcg(ecg, m), frank, strict=True)]  # type: ignore[arg-type]
        for m in ("inverse_dower", "kors")
    }
    # Signed correlations: positive means our axis convention (X left, Y feet, Z back) is Frank's.
    assert r["inverse_dower"][0] >= 0.95, r
    assert r["inverse_dower"][1] >= 0.95, r
    assert r["kors"][2] > r["inverse_dower"][2], r
    assert r["kors"][2] > 0, r
