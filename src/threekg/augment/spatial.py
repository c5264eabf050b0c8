"""The 3KG spatial augmentation: rotate and scale the heart vector, batched on the device.

For one ECG with angles (ax, ay, az) in degrees and scales (sx, sy, sz):

    R = Rx(ax) Ry(ay) Rz(az)            (Z turned first; the extrinsic z-y-x Euler matrix)
    S = diag(sx, sy, sz)
    M12 = E D S R T P                   (12 x 12, applied as ecg' = M12 @ ecg)

with P (8 x 12) selecting I, II, V1-V6, T (3 x 8) the ECG-to-VCG matrix (inverse Dower or Kors),
D (8 x 3) the Dower matrix and E (12 x 8) re-deriving III, aVR, aVL, aVF from the new I and II.
The residual variant changes only the dipolar part:

    M12 = I12 + E D (S R - I3) T P

which equals E [I8 + D (S R - I3) T] P on Einthoven-consistent input and returns any input exactly
when R = S = I. One 12 x 12 matrix per ECG is built batched and applied with one batched matmul.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch

from threekg.augment.base import Augmentation, Params, uniform
from threekg.errors import UsageError
from threekg.vcg import DOWER, VcgMatrix, expand_8_to_12, select_8_from_12, to_vcg_matrix


def _as_tensor(a: Any, dtype: torch.dtype | None = None, device: torch.device | None = None) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.to(device=device or a.device, dtype=dtype or a.dtype)
    return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)


def _on_cpu(a: Any) -> bool:
    return not isinstance(a, torch.Tensor) or a.device.type == "cpu"


def _to_numpy(a: Any) -> Any:
    return a.detach().numpy() if isinstance(a, torch.Tensor) else a


def axis_rotations(angles_deg: torch.Tensor) -> torch.Tensor:
    """Elementary rotations about X, Y, Z: (B, 3) degrees -> (B, 3, 3, 3) indexed [b, axis, row, col].

    Right-handed: Rx = [[1, 0, 0], [0, c, -s], [0, s, c]], Ry = [[c, 0, s], [0, 1, 0], [-s, 0, c]],
    Rz = [[c, -s, 0], [s, c, 0], [0, 0, 1]].
    """
    rad = torch.deg2rad(angles_deg)
    c, s = torch.cos(rad), torch.sin(rad)  # (B, 3)
    one, zero = torch.ones_like(c[:, 0]), torch.zeros_like(c[:, 0])
    cx, cy, cz, sx, sy, sz = c[:, 0], c[:, 1], c[:, 2], s[:, 0], s[:, 1], s[:, 2]
    entries = [
        [one, zero, zero, zero, cx, -sx, zero, sx, cx],  # Rx
        [cy, zero, sy, zero, one, zero, -sy, zero, cy],  # Ry
        [cz, -sz, zero, sz, cz, zero, zero, zero, one],  # Rz
    ]
    r = torch.stack([torch.stack(row, dim=-1) for row in entries], dim=1)  # (B, 3, 9)
    return r.view(angles_deg.shape[0], 3, 3, 3)


def _axis_rotations_np(angles_deg: np.ndarray) -> np.ndarray:
    """NumPy twin of :func:`axis_rotations` (B, 3) -> (B, 3, 3, 3), used for CPU parameters."""
    rad = np.deg2rad(angles_deg)
    c, s = np.cos(rad), np.sin(rad)
    r = np.zeros((angles_deg.shape[0], 3, 3, 3))
    for axis, (i, j) in enumerate(((1, 2), (2, 0), (0, 1))):  # Rx acts on (Y, Z), Ry on (Z, X), Rz on (X, Y)
        r[:, axis, axis, axis] = 1.0
        r[:, axis, i, i] = r[:, axis, j, j] = c[:, axis]
        r[:, axis, i, j] = -s[:, axis]
        r[:, axis, j, i] = s[:, axis]
    return r


def _compose_np(elementary: np.ndarray, axis_order: np.ndarray | None) -> np.ndarray:
    if axis_order is None:
        return elementary[:, 0] @ elementary[:, 1] @ elementary[:, 2]
    rows = np.arange(elementary.shape[0])
    e = [elementary[rows, axis_order[:, k]] for k in range(3)]
    return e[0] @ e[1] @ e[2]


def _check_order(order_sorted_ok: bool) -> None:
    if not order_sorted_ok:
        raise ValueError("rotation_matrix: axis_order rows must be permutations of (0, 1, 2) of shape (B, 3)")


def spatial_factors_numpy(
    angles_deg: np.ndarray,
    scales: np.ndarray,
    residual: bool = False,
    matrix: VcgMatrix = "inverse_dower",
    axis_order: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The rank-3 factors of the 3KG map: A (B, 3, 12) = S R T P (or (S R - I) T P) and E D (12, 3).

    The transform is ``E D A x`` (``x + E D A x`` with ``residual``): every 12 x 12 matrix has rank 3,
    so a kernel that goes through the heart vector does 72 instead of 144 multiply-adds per sample.
    Arguments as :func:`spatial_matrix`, as NumPy arrays (checked the same way); float64 throughout.
    CPU batches use it: the (B, 3)-sized algebra is far cheaper in NumPy than as a dozen tiny torch
    kernels, each of which can stall on a busy thread pool.
    """
    a = np.asarray(angles_deg, dtype=np.float64)
    sc = np.asarray(scales, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 3 or sc.shape != a.shape:
        raise ValueError(f"spatial_matrix: angles {a.shape} and scales {sc.shape} must both be (B, 3)")
    order = None if axis_order is None else np.asarray(axis_order, dtype=np.int64)
    if order is not None:
        _check_order(order.shape == a.shape and bool((np.sort(order, axis=1) == np.arange(3)).all()))
    rotation = _rotation_xyz_np(a) if order is None else _compose_np(_axis_rotations_np(a), order)
    sr = sc[:, :, None] * rotation
    if residual:
        sr = sr - np.eye(3)
    tp, ed = _constant_factors_np(matrix)
    return sr @ tp, ed


@functools.lru_cache(maxsize=8)
def _constant_factors_np(matrix: str) -> tuple[np.ndarray, np.ndarray]:
    """(T P) (3, 12) and (E D) (12, 3) as read-only float64 arrays, computed once per VCG matrix."""
    tp = to_vcg_matrix(matrix) @ select_8_from_12()  # type: ignore[arg-type]
    ed = expand_8_to_12() @ DOWER
    tp.flags.writeable = ed.flags.writeable = False
    return tp, ed


def _rotation_xyz_np(angles_deg: np.ndarray) -> np.ndarray:
    """Rx(ax) Ry(ay) Rz(az) for (B, 3) degrees, in closed form: (B, 3, 3) float64.

    The product of :func:`_axis_rotations_np`'s matrices written out (tests/augment/test_spatial.py
    checks it against that product); a few elementwise operations on (B,) vectors instead of two
    stacked 3 x 3 matrix products, which cost more in NumPy's per-call overhead than in arithmetic.
    """
    rad = np.deg2rad(angles_deg)
    c, s = np.cos(rad), np.sin(rad)
    cx, cy, cz, sx, sy, sz = c[:, 0], c[:, 1], c[:, 2], s[:, 0], s[:, 1], s[:, 2]
    sxsy, cxsy = sx * sy, cx * sy
    r = np.empty((angles_deg.shape[0], 3, 3))
    r[:, 0, 0], r[:, 0, 1], r[:, 0, 2] = cy * cz, -cy * sz, sy
    r[:, 1, 0], r[:, 1, 1], r[:, 1, 2] = sxsy * cz + cx * sz, cx * cz - sxsy * sz, -sx * cy
    r[:, 2, 0], r[:, 2, 1], r[:, 2, 2] = sx * sz - cxsy * cz, cxsy * sz + sx * cz, cx * cy
    return r


def rotation_matrix(angles_deg: Any, axis_order: Any = None) -> Any:
    """Rotation matrices R = Rx(ax) Ry(ay) Rz(az) for a batch of angle triples.

    Args:
        angles_deg: (B, 3) degrees, column i about axis X, Y, Z (torch or NumPy).
        axis_order: optional (B, 3) int permutations; row (i, j, k) gives R = R_i R_j R_k
            (so the default order is (0, 1, 2): Z is applied to the vector first).

    Returns:
        (B, 3, 3), same kind (torch/NumPy), dtype and device as ``angles_deg``.
    """
    if not isinstance(angles_deg, torch.Tensor):
        an = np.asarray(angles_deg, dtype=np.float64)
        if an.ndim != 2 or an.shape[1] != 3:
            raise ValueError(f"rotation_matrix: expected angles of shape (B, 3), got {an.shape}")
        order_np = None if axis_order is None else np.asarray(axis_order, dtype=np.int64)
        if order_np is not None:
            _check_order(
                order_np.shape == an.shape and bool((np.sort(order_np, axis=1) == np.arange(3)).all())
            )
        return _compose_np(_axis_rotations_np(an), order_np)
    a = angles_deg if angles_deg.is_floating_point() else angles_deg.double()
    if a.ndim != 2 or a.shape[1] != 3:
        raise ValueError(f"rotation_matrix: expected angles of shape (B, 3), got {tuple(a.shape)}")
    elementary = axis_rotations(a)
    if axis_order is None:
        r = elementary[:, 0] @ elementary[:, 1] @ elementary[:, 2]
    else:
        order = _as_tensor(axis_order, dtype=torch.int64, device=a.device)
        _check_order(
            order.shape == a.shape
            and bool((order.sort(dim=1).values == torch.arange(3, device=a.device)).all())
        )
        rows = torch.arange(a.shape[0], device=a.device)
        r = elementary[rows, order[:, 0]] @ elementary[rows, order[:, 1]] @ elementary[rows, order[:, 2]]
    return r


@functools.lru_cache(maxsize=32)
def _constants(matrix: str, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(E D) as (12, 3) and (T P) as (3, 12) for the chosen VCG matrix, cached per dtype/device."""
    ed = torch.as_tensor(expand_8_to_12() @ DOWER, dtype=dtype, device=device)
    tp = torch.as_tensor(to_vcg_matrix(matrix) @ select_8_from_12(), dtype=dtype, device=device)  # type: ignore[arg-type]
    return ed, tp


def spatial_matrix(
    angles_deg: torch.Tensor,
    scales: torch.Tensor,
    residual: bool = False,
    matrix: VcgMatrix = "inverse_dower",
    axis_order: torch.Tensor | None = None,
) -> torch.Tensor:
    """The per-ECG 12 x 12 matrices of the 3KG transform: (B, 3), (B, 3) -> (B, 12, 12).

    ``E D S R T P`` (or ``I + E D (S R - I) T P`` with ``residual``), in the dtype/device of ``angles_deg``.
    """
    if scales.shape != angles_deg.shape:
        raise ValueError(
            f"spatial_matrix: angles {tuple(angles_deg.shape)} and scales {tuple(scales.shape)} differ"
        )
    ed, tp = _constants(matrix, angles_deg.dtype, angles_deg.device)
    sr = scales.unsqueeze(-1) * rotation_matrix(angles_deg, axis_order)  # diag(s) @ R: scale row i by s_i
    if residual:
        sr = sr - torch.eye(3, dtype=sr.dtype, device=sr.device)
    m = ed @ sr @ tp  # (12, 3) @ (B, 3, 3) @ (3, 12) -> (B, 12, 12)
    if residual:
        m = m + torch.eye(12, dtype=m.dtype, device=m.device)
    return m


def spatial_transform(
    ecg: Any,
    angles_deg: Any,
    scales: Any,
    residual: bool = False,
    matrix: VcgMatrix = "inverse_dower",
    axis_order: Any = None,
) -> Any:
    """Apply the 3KG heart-vector rotation and scaling to a batch of 12-lead ECGs.

    Args:
        ecg: (B, 12, T) in :data:`threekg.leads.LEADS` order, mV; torch tensor (any device, float
            dtype) or NumPy array (returns NumPy).
        angles_deg: (B, 3) degrees; column i is the angle about axis X, Y, Z; R = Rx Ry Rz.
        scales: (B, 3); column i scales axis X, Y, Z after the rotation (map S R).
        residual: keep the non-dipolar remainder: ecg + E D (S R - I) T P ecg.
        matrix: ECG-to-VCG matrix, ``"inverse_dower"`` (default) or ``"kors"``.
        axis_order: optional (B, 3) permutations of the rotation order (see :func:`rotation_matrix`).

    Returns:
        (B, 12, T), same kind, dtype and device as ``ecg``; limb leads derived from the new I and II
        (non-residual), so Einthoven's law holds exactly.

    On the CPU (float32/float64, no autograd) this is one compiled pass through the heart vector
    (:mod:`threekg.augment.fused`, 72 instead of 144 multiply-adds per sample); elsewhere, or with
    ``THREEKG_FUSED=0``, one batched 12 x 12 matmul. The two agree to float rounding. One difference
    on non-finite input: the matmul spreads a NaN in III, aVR, aVL or aVF (whose columns are zero) to
    every lead, the compiled pass never reads those leads.
    """
    is_numpy = not isinstance(ecg, torch.Tensor)
    x = _as_tensor(ecg)
    if not x.is_floating_point():
        x = x.double()
    if x.ndim != 3 or x.shape[1] != 12:
        raise ValueError(f"spatial_transform: expected ecg of shape (B, 12, T), got {tuple(x.shape)}")
    # The tiny (B, 3) -> (B, 12, 12) algebra runs in float64 (float32 where the device has no float64),
    # in NumPy when the parameters are on the CPU; only the final matrix is cast to the batch dtype.
    shape_a, shape_s = tuple(np.shape(angles_deg)), tuple(np.shape(scales))
    if shape_a != (x.shape[0], 3) or shape_s != (x.shape[0], 3):
        raise ValueError(
            f"spatial_transform: angles {shape_a} and scales {shape_s} must be ({x.shape[0]}, 3)"
        )
    if all(_on_cpu(p) for p in (angles_deg, scales, axis_order)):
        vcg_map, lead_map = spatial_factors_numpy(
            _to_numpy(angles_deg), _to_numpy(scales), residual, matrix, _to_numpy(axis_order)
        )
        if x.device.type == "cpu":
            from threekg.augment.fused import fused_available, run_kernel  # fused imports this module

            fused = run_kernel(x, vcg_map, lead_map, None, 0, residual) if fused_available(x) else None
            if fused is not None:
                return fused.numpy() if is_numpy else fused
        m_np = lead_map @ vcg_map + (np.eye(12) if residual else 0.0)
        m = torch.from_numpy(m_np).to(device=x.device, dtype=x.dtype)
    else:
        work = torch.float32 if x.device.type == "mps" else torch.float64
        a = _as_tensor(angles_deg, dtype=work, device=x.device)
        s = _as_tensor(scales, dtype=work, device=x.device)
        order = None if axis_order is None else _as_tensor(axis_order, dtype=torch.int64, device=x.device)
        m = spatial_matrix(a, s, residual=residual, matrix=matrix, axis_order=order).to(x.dtype)
    out = torch.matmul(m, x)
    return out.numpy() if is_numpy else out


class ThreeKGSpatial(Augmentation):
    """Random 3KG heart-vector rotation and scaling, one 12 x 12 matrix per ECG.

    Options (defaults follow FS, fairseq-signals, method.md section 2):
        angle: 45 - each angle uniform in [-angle, angle] degrees (FS).
        scale: 1.5 - each scale uniform in [scale_low, scale] (FS).
        scale_low: 1.0 - FS only scales up; set < 1 (e.g. 0.67) for the "scales below 1" variant.
        random_axis_order: False - FS composes Rx Ry Rz; True draws a random order per ECG (open).
        residual: False - keep the non-dipolar remainder (not in the paper; our option).
        matrix: "inverse_dower" - or "kors" (better measured Z; not in the paper).
        rotation / scaling: True - switch either part off for the ablations.
    """

    name = "threekg_spatial"
    n_leads = 12

    def __init__(
        self,
        angle: float = 45.0,
        scale: float = 1.5,
        scale_low: float = 1.0,
        random_axis_order: bool = False,
        residual: bool = False,
        matrix: VcgMatrix = "inverse_dower",
        rotation: bool = True,
        scaling: bool = True,
    ) -> None:
        super().__init__(
            angle=angle,
            scale=scale,
            scale_low=scale_low,
            random_axis_order=random_axis_order,
            residual=residual,
            matrix=matrix,
            rotation=rotation,
            scaling=scaling,
        )
        if not (0 <= angle < math.inf and 0 < scale_low <= scale < math.inf):
            raise UsageError(
                f"threekg_spatial: need angle >= 0 and 0 < scale_low <= scale, got {self.options}"
            )
        to_vcg_matrix(matrix)  # validates the name
        self.angle, self.scale, self.scale_low = float(angle), float(scale), float(scale_low)
        self.random_axis_order, self.residual, self.matrix = random_axis_order, residual, matrix
        self.rotation, self.scaling = rotation, scaling

    def sample_params(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        b, dev = x.shape[0], x.device
        angle = self.angle if self.rotation else 0.0
        lo, hi = (self.scale_low, self.scale) if self.scaling else (1.0, 1.0)
        params = {
            "angles": uniform((b, 3), -angle, angle, generator, dev),
            "scales": uniform((b, 3), lo, hi, generator, dev),
        }
        if self.random_axis_order:
            keys = uniform((b, 3), 0.0, 1.0, generator, dev)
            params["axis_order"] = keys.argsort(dim=1)
        return params

    def apply_params(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        out: torch.Tensor = spatial_transform(
            x,
            params["angles"],
            params["scales"],
            residual=self.residual,
            matrix=self.matrix,
            axis_order=params.get("axis_order"),
        )
        return out
