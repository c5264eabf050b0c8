"""The 3KG heart-vector transform: physical identities and an independent per-sample reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from threekg.augment import ThreeKGSpatial, rotation_matrix, spatial_matrix, spatial_transform
from threekg.leads import INDEPENDENT_INDEX
from threekg.vcg import DOWER, INVERSE_DOWER, KORS, derive_limb_leads, ecg_to_vcg, vcg_to_ecg


def _ecg(b: int = 5, t: int = 64, seed: int = 0, consistent: bool = True) -> np.ndarray:
    """Random 12-lead batch; with ``consistent`` the limb leads obey Einthoven/Goldberger."""
    x = np.random.default_rng(seed).normal(size=(b, 12, t))
    return derive_limb_leads(x) if consistent else x


def _params(b: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(-45, 45, size=(b, 3)), rng.uniform(0.6, 1.5, size=(b, 3))


def _reference(
    ecg: np.ndarray, angles: np.ndarray, scales: np.ndarray, to_vcg: np.ndarray, residual: bool
) -> np.ndarray:
    """Per-ECG loop written independently: SciPy extrinsic z-y-x Euler rotation, explicit limb leads."""
    out = np.empty_like(ecg)
    for b in range(ecg.shape[0]):
        ax, ay, az = angles[b]
        r = Rotation.from_euler("zyx", [az, ay, ax], degrees=True).as_matrix()  # = Rx(ax) Ry(ay) Rz(az)
        x8 = ecg[b, list(INDEPENDENT_INDEX)]
        vcg = to_vcg @ x8
        new_vcg = np.diag(scales[b]) @ r @ vcg
        x8_new = x8 + DOWER @ (new_vcg - vcg) if residual else DOWER @ new_vcg
        i, ii = x8_new[0], x8_new[1]
        limbs = [i, ii, ii - i, -(i + ii) / 2, i - ii / 2, ii - i / 2]
        if residual:  # residual keeps each limb lead's own remainder: add the change of the derived lead
            i0, ii0 = x8[0], x8[1]
            old = [i0, ii0, ii0 - i0, -(i0 + ii0) / 2, i0 - ii0 / 2, ii0 - i0 / 2]
            limbs = [ecg[b, k] + limbs[k] - old[k] for k in range(6)]
        out[b] = np.concatenate([np.stack(limbs), x8_new[2:]])
    return out


def test_rotation_matrix_is_extrinsic_zyx() -> None:
    angles, _ = _params(7)
    expected = Rotation.from_euler("zyx", angles[:, ::-1], degrees=True).as_matrix()
    np.testing.assert_allclose(rotation_matrix(angles), expected, atol=1e-12)
    r = rotation_matrix(torch.from_numpy(angles))
    np.testing.assert_allclose(
        (r @ r.transpose(1, 2)).numpy(), np.broadcast_to(np.eye(3), (7, 3, 3)), atol=1e-12
    )


def test_axis_order_permutes_the_composition() -> None:
    angles, _ = _params(2)
    order = np.array([[2, 1, 0], [1, 2, 0]])
    expected0 = Rotation.from_euler("xyz", angles[0], degrees=True).as_matrix()  # Rz Ry Rx
    r = rotation_matrix(angles, order)
    np.testing.assert_allclose(r[0], expected0, atol=1e-12)
    ex, ey, ez = (Rotation.from_euler(a, angles[1, i], degrees=True).as_matrix() for i, a in enumerate("xyz"))
    np.testing.assert_allclose(r[1], ey @ ez @ ex, atol=1e-12)


@pytest.mark.parametrize("matrix, to_vcg", [("inverse_dower", INVERSE_DOWER), ("kors", KORS)])
@pytest.mark.parametrize("residual", [False, True])
def test_matches_independent_per_sample_reference(matrix: str, to_vcg: np.ndarray, residual: bool) -> None:
    ecg = _ecg(6, consistent=False)
    angles, scales = _params(6)
    got = spatial_transform(ecg, angles, scales, residual=residual, matrix=matrix)  # type: ignore[arg-type]
    np.testing.assert_allclose(got, _reference(ecg, angles, scales, to_vcg, residual), atol=1e-10)


def test_identity_parameters_give_the_dipolar_projection() -> None:
    ecg = _ecg()
    b = ecg.shape[0]
    out = spatial_transform(ecg, np.zeros((b, 3)), np.ones((b, 3)))
    np.testing.assert_allclose(out, vcg_to_ecg(ecg_to_vcg(ecg)), atol=1e-12)
    # ... which is not the input: the round trip drops the non-dipolar part.
    assert np.linalg.norm(out - ecg) > 0.1 * np.linalg.norm(ecg)


def test_residual_with_identity_parameters_returns_input_exactly() -> None:
    ecg = _ecg(consistent=False)
    b = ecg.shape[0]
    out = spatial_transform(ecg, np.zeros((b, 3)), np.ones((b, 3)), residual=True)
    np.testing.assert_array_equal(out, ecg)  # exact: the matrix is I12 + E D 0 T P
    t = torch.from_numpy(ecg).float()
    out_t = spatial_transform(t, torch.zeros(b, 3), torch.ones(b, 3), residual=True)
    assert torch.equal(out_t, t)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_three_120_degree_turns_are_the_identity(axis: int) -> None:
    angles = np.zeros((1, 3))
    angles[0, axis] = 120.0
    r = rotation_matrix(angles)[0]
    np.testing.assert_allclose(r @ r @ r, np.eye(3), atol=1e-12)
    ecg = _ecg(1)
    once = spatial_transform(ecg, angles, np.ones((1, 3)), residual=True)
    thrice = spatial_transform(
        spatial_transform(once, angles, np.ones((1, 3)), residual=True),
        angles,
        np.ones((1, 3)),
        residual=True,
    )
    # each residual step maps the dipolar part through D R T; T D = I up to the rounding of the
    # published matrices, so three turns come back to the input up to that rounding.
    assert np.abs(thrice - ecg).max() < 0.05 * np.abs(ecg).max()
    m = spatial_matrix(torch.from_numpy(angles), torch.ones(1, 3, dtype=torch.float64))
    proj = spatial_matrix(torch.zeros(1, 3, dtype=torch.float64), torch.ones(1, 3, dtype=torch.float64))
    # with D = pinv(T) exactly, (E D R T P)^3 = E D R^3 T P; the published D is within rounding of pinv(T)
    assert torch.allclose(m @ m @ m, proj @ proj @ proj, atol=0.05)


def test_derived_limb_leads_obey_einthoven_after_transform() -> None:
    ecg = _ecg(consistent=False)
    out = spatial_transform(ecg, *_params(ecg.shape[0]))
    i, ii, iii, avr, avl, avf = out[:, :6].transpose(1, 0, 2)
    np.testing.assert_allclose(iii, ii - i, atol=1e-12)
    np.testing.assert_allclose(avr, -(i + ii) / 2, atol=1e-12)
    np.testing.assert_allclose(avl, i - ii / 2, atol=1e-12)
    np.testing.assert_allclose(avf, ii - i / 2, atol=1e-12)


def test_float32_and_float64_agree_and_torch_matches_numpy() -> None:
    ecg = _ecg(consistent=False)
    angles, scales = _params(ecg.shape[0])
    ref = spatial_transform(ecg, angles, scales)
    out32 = spatial_transform(
        torch.from_numpy(ecg).float(), torch.from_numpy(angles).float(), torch.from_numpy(scales).float()
    )
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), ref, atol=1e-5 * np.abs(ref).max())
    out64 = spatial_transform(torch.from_numpy(ecg), torch.from_numpy(angles), torch.from_numpy(scales))
    np.testing.assert_allclose(out64.numpy(), ref, atol=1e-12)


def test_scaling_multiplies_the_vcg_axes() -> None:
    ecg = _ecg()
    b = ecg.shape[0]
    scales = np.tile([1.5, 1.0, 1.0], (b, 1))
    out = spatial_transform(ecg, np.zeros((b, 3)), scales)
    vcg_in, vcg_out = ecg_to_vcg(ecg), ecg_to_vcg(out)
    # T D is I3 up to the rounding of the published matrices.
    ratio = np.linalg.norm(vcg_out[:, 0]) / np.linalg.norm(vcg_in[:, 0])
    assert abs(ratio - 1.5) < 0.05
    assert abs(np.linalg.norm(vcg_out[:, 1]) / np.linalg.norm(vcg_in[:, 1]) - 1.0) < 0.05


def test_module_draws_in_range_and_validates_shape() -> None:
    x = torch.from_numpy(_ecg(64)).float()
    g = torch.Generator().manual_seed(3)
    _, p = ThreeKGSpatial(angle=30, scale=1.2, scale_low=0.8)(x, generator=g, return_params=True)
    assert p["angles"].abs().max() <= 30 and p["angles"].abs().max() > 20
    assert p["scales"].min() >= 0.8 and p["scales"].max() <= 1.2
    _, p = ThreeKGSpatial(rotation=False, scaling=False)(x, generator=g, return_params=True)
    assert torch.all(p["angles"] == 0) and torch.all(p["scales"] == 1)
    _, p = ThreeKGSpatial(random_axis_order=True)(x, generator=g, return_params=True)
    assert torch.equal(p["axis_order"].sort(dim=1).values, torch.arange(3).expand(64, 3))
    with pytest.raises(ValueError, match=r"\(B, 12, T\)"):
        ThreeKGSpatial()(torch.zeros(2, 8, 10))
    with pytest.raises(ValueError, match="unknown VCG matrix"):
        ThreeKGSpatial(matrix="frank")  # type: ignore[arg-type]


def test_closed_form_rotation_is_the_product_of_the_axis_rotations() -> None:
    from threekg.augment.spatial import _axis_rotations_np, _compose_np, _rotation_xyz_np

    angles = np.random.default_rng(3).uniform(-180, 180, size=(200, 3))
    want = _compose_np(_axis_rotations_np(angles), None)
    np.testing.assert_allclose(_rotation_xyz_np(angles), want, rtol=0, atol=1e-15)
    np.testing.assert_allclose(_rotation_xyz_np(angles), rotation_matrix(torch.from_numpy(angles)).numpy(), atol=1e-15)
