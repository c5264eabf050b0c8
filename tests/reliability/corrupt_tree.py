"""Generate a challenge-format tree in which a known share of records is broken in known ways."""

from __future__ import annotations

import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from threekg.leads import LEADS

FS = 500
N_SAMPLES = 1000  # 2 s at 500 Hz keeps 1,000 records small

# fault name -> a regular expression the rejection reason must match
FAULTS: dict[str, str] = {
    "truncated_mat": r"truncat|short|size|bytes|smaller|end of file",
    "length_mismatch": r"samples|length",
    "lead_count_mismatch": r"lead|signal|column|row",
    "absurd_values": r"absurd|mV|amplitude|range",
    "flat_lead": r"flat",
    "missing_lead": r"missing lead|lead",
    "unknown_lead_name": r"lead",
    "missing_dx": r"Dx|diagnos|label",
    "zero_gain": r"gain",
    "garbage_header": r"header|record line|parse|invalid",
    "missing_signal_file": r"signal file|cannot read|no such|missing",
    "empty_dx": r"Dx|diagnos|label|code",
}


@dataclass(frozen=True)
class Tree:
    root: Path
    good: list[str]
    bad: dict[str, str]  # record name -> fault


def _mat4(val: np.ndarray) -> bytes:
    r, c = val.shape
    return struct.pack("<5i", 30, r, c, 0, 4) + b"val\0" + np.asfortranarray(val.astype("<i2")).tobytes(order="F")


def _signal(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(N_SAMPLES) / FS
    hr = rng.uniform(1.0, 1.6)
    beat = np.exp(-(((t * hr) % 1.0) - 0.3) ** 2 / 0.0008)
    leads = np.stack([beat * rng.uniform(300, 1200) + rng.normal(0, 8, N_SAMPLES) for _ in range(12)])
    return np.round(leads).astype(np.int16)


def _header(name: str, n_sig: int = 12, n_samp: int = N_SAMPLES, gains: list[str] | None = None,
            leads: list[str] | None = None, dx: str | None = "426783006,164889003") -> str:
    leads = leads if leads is not None else list(LEADS)
    gains = gains if gains is not None else ["1000"] * len(leads)
    lines = [f"{name} {n_sig} {FS} {n_samp}"]
    lines += [f"{name}.mat 16+24 {g}/mV 16 0 0 0 0 {lead}" for g, lead in zip(gains, leads, strict=True)]
    lines += ["#Age: 61", "#Sex: Female"]
    if dx is not None:
        lines.append(f"#Dx: {dx}")
    lines += ["#Rx: Unknown", "#Hx: Unknown", "#Sx: Unknown"]
    return "\n".join(lines) + "\n"


def _write(folder: Path, name: str, header: str | bytes, mat: bytes | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.hea").write_bytes(header if isinstance(header, bytes) else header.encode())
    if mat is not None:
        (folder / f"{name}.mat").write_bytes(mat)


def _broken(fault: str, name: str, sig: np.ndarray) -> tuple[str | bytes, bytes | None]:
    if fault == "truncated_mat":
        return _header(name), _mat4(sig)[: 16 + 12 * 300]
    if fault == "length_mismatch":
        return _header(name, n_samp=N_SAMPLES + 250), _mat4(sig)
    if fault == "lead_count_mismatch":
        return _header(name), _mat4(sig[:11])
    if fault == "absurd_values":
        s = sig.copy()
        s[3, 100:110] = 32000
        return _header(name, gains=["1000"] * 3 + ["100"] + ["1000"] * 8), _mat4(s)
    if fault == "flat_lead":
        s = sig.copy()
        s[7] = 5
        return _header(name), _mat4(s)
    if fault == "missing_lead":
        return _header(name, n_sig=11, leads=list(LEADS[:11])), _mat4(sig[:11])
    if fault == "unknown_lead_name":
        return _header(name, leads=[*LEADS[:5], "XYZ", *LEADS[6:]]), _mat4(sig)
    if fault == "missing_dx":
        return _header(name, dx=None), _mat4(sig)
    if fault == "zero_gain":
        return _header(name, gains=["1000"] * 11 + ["0"]), _mat4(sig)
    if fault == "garbage_header":
        return b"\x00\xffnot a header\x13\n", _mat4(sig)
    if fault == "missing_signal_file":
        return _header(name), None
    if fault == "empty_dx":
        return _header(name, dx=",,"), _mat4(sig)
    raise ValueError(fault)


def make_tree(root: Path, n: int = 1000, bad_every: int = 10, seed: int = 0) -> Tree:
    """``n`` records in subfolders of 100; every ``bad_every``-th is broken (faults in rotation)."""
    rng = np.random.default_rng(seed)
    faults = list(FAULTS)
    good: list[str] = []
    bad: dict[str, str] = {}
    for i in range(n):
        name = f"A{i:05d}"
        folder = root / f"g{i // 100 + 1}"
        sig = _signal(rng)
        if i % bad_every == bad_every - 1:
            fault = faults[(i // bad_every) % len(faults)]
            header, mat = _broken(fault, name, sig)
            bad[name] = fault
        else:
            header, mat = _header(name), _mat4(sig)
            good.append(name)
        _write(folder, name, header, mat)
    return Tree(root, good, bad)


def copy_good(tree: Tree, dest: Path) -> None:
    """The same tree with the broken records left out (same relative paths)."""
    for hea in tree.root.rglob("*.hea"):
        if hea.stem in tree.bad:
            continue
        target = dest / hea.relative_to(tree.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(hea, target)
        shutil.copy2(hea.with_suffix(".mat"), target.with_suffix(".mat"))
