"""NeuroKit2's R peaks on real PTB-XL records at 100 Hz: plausible heart rates, and the same beats as at 500 Hz."""

from __future__ import annotations

import numpy as np
import pytest

from realdata_paths import shared_subdir
from threekg.data import read_record
from threekg.evaluate.diagnostics import find_r_peaks
from threekg.leads import LEADS


def test_r_peaks_at_100_hz_match_those_at_500_hz() -> None:
    pytest.importorskip("neurokit2")
    root = shared_subdir("ptbxl-500")
    lo_res = sorted((root / "records100").glob("*/*_lr.hea"))[:12]
    assert lo_res, f"{root}: no records100/*/*_lr.hea"
    matched, total, rates = 0, 0, []
    for hea in lo_res:
        lo = read_record(hea)
        hi = read_record(root / "records500" / hea.parent.name / hea.name.replace("_lr", "_hr"))
        p100 = find_r_peaks(lo.signal[LEADS.index("II")], lo.fs)
        p500 = find_r_peaks(hi.signal[LEADS.index("II")], hi.fs)
        rates.append(60.0 / np.median(np.diff(p100) / lo.fs))
        # every 500 Hz beat should have a 100 Hz beat within 50 ms
        gaps = np.abs(p500[:, None] / hi.fs - p100[None, :] / lo.fs).min(axis=1)
        matched += int((gaps <= 0.05).sum())
        total += p500.size
    assert matched / total >= 0.9, (matched, total)
    assert all(35 <= r <= 180 for r in rates), rates
