from __future__ import annotations

import numpy as np
import torch

from threekg.leads import LEADS, normalise_lead_name
from threekg.vcg import DOWER, INVERSE_DOWER, derive_limb_leads, ecg_to_vcg, vcg_to_ecg


def test_dower_is_close_to_pinv_of_inverse_dower() -> None:
    assert np.abs(np.linalg.pinv(INVERSE_DOWER) - DOWER).max() < 0.01


def test_vcg_round_trip_is_identity_on_the_dipolar_part() -> None:
    rng = np.random.default_rng(0)
    vcg = rng.normal(size=(4, 3, 50))
    back = ecg_to_vcg(vcg_to_ecg(vcg))
    # T @ D is close to I3 (the published matrices are rounded), not exact.
    assert np.abs(back - vcg).max() < 0.05 * np.abs(vcg).max()


def test_limb_leads_obey_einthoven_and_torch_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    ecg = derive_limb_leads(rng.normal(size=(2, 12, 30)))
    i, ii, iii = ecg[:, 0], ecg[:, 1], ecg[:, 2]
    np.testing.assert_allclose(i + iii, ii, atol=1e-12)
    np.testing.assert_allclose(ecg[:, 3] + ecg[:, 4] + ecg[:, 5], 0.0, atol=1e-12)
    t = ecg_to_vcg(torch.from_numpy(ecg), matrix="kors")
    np.testing.assert_allclose(t.numpy(), ecg_to_vcg(ecg, matrix="kors"), atol=1e-12)


def test_lead_names_in_any_case() -> None:
    assert [normalise_lead_name(n.upper()) for n in LEADS] == list(LEADS)
    assert [normalise_lead_name(n.lower()) for n in LEADS] == list(LEADS)
    assert normalise_lead_name("vx") is None


def test_dipolar_projection_is_a_rank_3_near_idempotent_map() -> None:
    from threekg.vcg import KORS, dipolar_projection, expand_8_to_12, select_8_from_12

    rng = np.random.default_rng(2)
    ecg = derive_limb_leads(rng.normal(size=(3, 12, 40)))
    p = dipolar_projection(ecg)
    np.testing.assert_allclose(p, vcg_to_ecg(ecg_to_vcg(ecg)), atol=1e-12)
    m = expand_8_to_12() @ DOWER @ INVERSE_DOWER @ select_8_from_12()
    assert np.linalg.matrix_rank(m) == 3
    # T D = I3 up to the rounding of the published matrices, so projecting twice changes little.
    assert np.abs(dipolar_projection(p) - p).max() < 0.02 * np.abs(p).max()
    assert np.linalg.matrix_rank(expand_8_to_12() @ DOWER @ KORS @ select_8_from_12()) == 3
    t = dipolar_projection(torch.from_numpy(ecg), matrix="kors")
    np.testing.assert_allclose(t.numpy(), dipolar_projection(ecg, matrix="kors"), atol=1e-12)
