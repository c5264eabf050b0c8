"""Vectorcardiogram physics: the Dower, inverse Dower and Kors matrices, and ECG <-> VCG maps.

The matrices are data and live here only. Column/row order is declared next to each one:
the 8-lead side is always :data:`threekg.leads.INDEPENDENT_LEADS` (I, II, V1-V6); the 3-D side
is (X, Y, Z) with X to the subject's left, Y inferior (feet) and Z posterior (back).

All functions accept NumPy arrays or torch tensors (on any device, any float dtype) and return
the same kind; computation happens in the input's dtype.
"""

from __future__ import annotations

from typing import Literal, TypeVar

import numpy as np
import torch

from threekg.leads import INDEPENDENT_INDEX, LEADS

ArrayLike = TypeVar("ArrayLike", np.ndarray, torch.Tensor)
VcgMatrix = Literal["inverse_dower", "kors"]

INVERSE_DOWER: np.ndarray = np.array(
    [
        # I      II     V1     V2     V3     V4     V5     V6
        [0.156, -0.010, -0.172, -0.074, 0.122, 0.231, 0.239, 0.194],  # X
        [-0.227, 0.887, 0.057, -0.019, -0.106, -0.022, 0.041, 0.048],  # Y
        [0.022, 0.102, -0.229, -0.310, -0.246, -0.063, 0.055, 0.108],  # Z
    ]
)
"""Inverse Dower matrix (3 x 8), published values rounded to 3 decimals: VCG = T @ x8."""

DOWER: np.ndarray = np.array(
    [
        # X      Y       Z
        [0.632, -0.235, 0.059],  # I
        [0.235, 1.066, -0.132],  # II
        [-0.515, 0.157, -0.917],  # V1
        [0.044, 0.164, -1.387],  # V2
        [0.882, 0.098, -1.277],  # V3
        [1.213, 0.127, -0.601],  # V4
        [1.125, 0.127, -0.086],  # V5
        [0.831, 0.076, 0.230],  # V6
    ]
)
"""Dower matrix (8 x 3), published values: x8 = D @ VCG."""

KORS: np.ndarray = np.array(
    [
        # I     II     V1     V2     V3     V4     V5     V6
        [0.38, -0.07, -0.13, 0.05, -0.01, 0.14, 0.06, 0.54],  # X
        [-0.07, 0.93, 0.06, -0.02, -0.05, 0.06, -0.17, 0.13],  # Y
        [0.11, -0.23, -0.43, -0.06, -0.14, -0.20, -0.11, 0.31],  # Z
    ]
)
"""Kors regression matrix (3 x 8): VCG = K @ x8. Matches measured Frank Z better than inverse Dower."""

_TO_VCG: dict[str, np.ndarray] = {"inverse_dower": INVERSE_DOWER, "kors": KORS}

LIMB_FROM_I_II: np.ndarray = np.array(
    [
        # I     II
        [1.0, 0.0],  # I
        [0.0, 1.0],  # II
        [-1.0, 1.0],  # III = II - I
        [-0.5, -0.5],  # aVR = -(I + II) / 2
        [1.0, -0.5],  # aVL = I - II / 2
        [-0.5, 1.0],  # aVF = II - I / 2
    ]
)
"""Rows: the six limb leads in :data:`LEADS` order as combinations of (I, II) (Einthoven/Goldberger)."""


def expand_8_to_12() -> np.ndarray:
    """The 12 x 8 matrix E with ecg12 = E @ x8: limb leads derived from I and II, V1-V6 copied."""
    e = np.zeros((len(LEADS), 8))
    e[:6, :2] = LIMB_FROM_I_II
    e[6:, 2:] = np.eye(6)
    return e


def select_8_from_12() -> np.ndarray:
    """The 8 x 12 selection matrix P with x8 = P @ ecg12 (takes I, II, V1-V6)."""
    p = np.zeros((8, len(LEADS)))
    p[np.arange(8), list(INDEPENDENT_INDEX)] = 1.0
    return p


def to_vcg_matrix(matrix: VcgMatrix = "inverse_dower") -> np.ndarray:
    """The 3 x 8 ECG-to-VCG matrix by name (``"inverse_dower"`` or ``"kors"``)."""
    try:
        return _TO_VCG[matrix]
    except KeyError:
        raise ValueError(f"unknown VCG matrix {matrix!r}; choose one of {sorted(_TO_VCG)}") from None


def _matmul_leads(m: np.ndarray, x: ArrayLike) -> ArrayLike:
    """Apply a (k, n) matrix along the lead axis (-2) of x (..., n, T) -> (..., k, T)."""
    if isinstance(x, torch.Tensor):
        mt = torch.as_tensor(m, dtype=x.dtype, device=x.device)
        return torch.matmul(mt, x)
    if isinstance(x, np.ndarray):
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
        return np.matmul(m.astype(dtype), x.astype(dtype, copy=False))
    raise TypeError(f"expected a numpy array or torch tensor, got {type(x).__name__}")


def ecg_to_vcg(ecg: ArrayLike, matrix: VcgMatrix = "inverse_dower") -> ArrayLike:
    """Map 12-lead ECGs to the vectorcardiogram.

    Args:
        ecg: (..., 12, T) in :data:`LEADS` order, mV.
        matrix: ``"inverse_dower"`` (default) or ``"kors"``.

    Returns:
        (..., 3, T): X, Y, Z in mV (dipole units of the chosen matrix).
    """
    if ecg.shape[-2] != len(LEADS):
        raise ValueError(f"expected 12 leads on axis -2, got shape {tuple(ecg.shape)}")
    return _matmul_leads(to_vcg_matrix(matrix) @ select_8_from_12(), ecg)


def vcg_to_ecg(vcg: ArrayLike) -> ArrayLike:
    """Project a vectorcardiogram back to 12 leads with the Dower matrix.

    Args:
        vcg: (..., 3, T), X, Y, Z.

    Returns:
        (..., 12, T) in :data:`LEADS` order; limb leads III, aVR, aVL, aVF derived from I and II.
    """
    if vcg.shape[-2] != 3:
        raise ValueError(f"expected 3 VCG axes on axis -2, got shape {tuple(vcg.shape)}")
    return _matmul_leads(expand_8_to_12() @ DOWER, vcg)


def derive_limb_leads(ecg: ArrayLike) -> ArrayLike:
    """Recompute III, aVR, aVL, aVF from I and II; V1-V6 unchanged. (..., 12, T) -> (..., 12, T)."""
    if ecg.shape[-2] != len(LEADS):
        raise ValueError(f"expected 12 leads on axis -2, got shape {tuple(ecg.shape)}")
    return _matmul_leads(expand_8_to_12() @ select_8_from_12(), ecg)


def dipolar_projection(ecg: ArrayLike, matrix: VcgMatrix = "inverse_dower") -> ArrayLike:
    """The dipolar part of 12-lead ECGs, E D T P ecg: (..., 12, T) -> (..., 12, T).

    This is what the non-residual 3KG transform returns for zero rotation and unit scale; the
    difference ``ecg - dipolar_projection(ecg)`` is the non-dipolar remainder the residual variant keeps.
    """
    if ecg.shape[-2] != len(LEADS):
        raise ValueError(f"expected 12 leads on axis -2, got shape {tuple(ecg.shape)}")
    return _matmul_leads(expand_8_to_12() @ DOWER @ to_vcg_matrix(matrix) @ select_8_from_12(), ecg)
