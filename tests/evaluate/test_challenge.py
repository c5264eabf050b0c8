"""The CinC 2020 challenge metric against the organisers' definition.

Reference: ``evaluate_12ECG_score.py`` of physionetchallenges/evaluation-2020, final version (commit
c700fd8, September 2020, the one that scored the official entries). The reference below is written
here from that definition (it is not the organisers' code): equivalent codes replaced by the first
code of their pair, the modified confusion matrix ``A[j, k] += 1 / max(1, |labels_i OR outputs_i|)``
for every positive label j and positive output k of recording i, score ``sum(W * A)``, normalised
with the always-correct and the always-NSR outputs. Labels and outputs are scored as given: the
normal-class rules of the July 2020 versions were removed by the organisers (see
threekg.evaluate.challenge) and are applied neither by the final scorer nor by threekg.
"""

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from threekg.data.labelsets import cinc2020
from threekg.evaluate.challenge import _tables, challenge_metric, load_weights

TABLES = Path(__file__).resolve().parents[2] / "src" / "threekg" / "data" / "tables"
NAMES = pd.read_csv(TABLES / "cinc2020_scored.csv")["class"].drop_duplicates().tolist()
NSR_CODE = "426783006"
EQUIVALENT = [["713427006", "59118001"], ["284470004", "63593006"], ["427172004", "17338001"]]


def official_weights() -> tuple[list[str], np.ndarray]:
    """weights.csv read with the csv module: its 27 codes and values."""
    with open(TABLES / "cinc2020_weights.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    codes = [c.strip() for c in rows[0][1:]]
    assert [r[0].strip() for r in rows[1:]] == codes
    return codes, np.array([[float(v) for v in r[1:]] for r in rows[1:]])


def representative(code: str) -> str:
    return next((pair[0] for pair in EQUIVALENT if code in pair), code)


def reference_score(labels: list[set[str]], outputs: list[set[str]]) -> float:
    """The final official score of per-recording code sets (SNOMED codes, unscored ones ignored)."""
    codes, values = official_weights()
    rep = [representative(c) for c in codes]
    classes = [c for i, c in enumerate(rep) if c not in rep[:i]]
    keep = [rep.index(c) for c in classes]
    w = values[np.ix_(keep, keep)]
    n = len(labels)

    def one_hot(sets: list[set[str]]) -> np.ndarray:
        out = np.zeros((n, len(classes)), dtype=bool)
        for i, s in enumerate(sets):
            for code in s:
                if representative(code) in classes:
                    out[i, classes.index(representative(code))] = True
        return out

    def score(t: np.ndarray, p: np.ndarray) -> float:
        a = np.zeros((len(classes), len(classes)))
        for i in range(n):
            norm = float(max(np.sum(t[i] | p[i]), 1))
            for j in np.flatnonzero(t[i]):
                for k in np.flatnonzero(p[i]):
                    a[j, k] += 1.0 / norm
        return float(np.sum(w * a))

    t, p = one_hot(labels), one_hot(outputs)
    inactive = np.zeros_like(t)
    inactive[:, classes.index(NSR_CODE)] = True
    observed, correct, baseline = score(t, p), score(t, t), score(t, inactive)
    return (observed - baseline) / (correct - baseline) if correct != baseline else 0.0


def threekg_score(labels: list[set[str]], outputs: list[set[str]]) -> float:
    """threekg's path: codes -> the merged 24-class label set -> challenge_metric."""
    ls = cinc2020()
    return challenge_metric(ls.encode([sorted(s) for s in labels]), ls.encode([sorted(s) for s in outputs]),
                            list(ls.names))


def test_weight_table_is_symmetric_unit_diagonal_with_equivalents() -> None:
    w, scored = _tables()
    m = w.to_numpy()
    assert m.shape == (27, 27) and np.allclose(m, m.T) and np.allclose(np.diag(m), 1)
    for a, b in EQUIVALENT:
        assert w.loc[a, b] == 1.0
    assert set(w.index) == set(scored["snomed"].astype(str))
    assert ((m > 0.1) & (m <= 1)).all()


# --- hand-computed cases ------------------------------------------------------------------------
# Weights of the official table used below: W[NSR, AF] = 0.25, W[NSR, IAVB] = 0.45.
AF, IAVB, NSR = "164889003", "270492004", NSR_CODE


def test_the_weights_used_by_hand() -> None:
    codes, w = official_weights()
    assert w[codes.index(NSR), codes.index(AF)] == 0.25 and w[codes.index(NSR), codes.index(IAVB)] == 0.45


def test_by_hand_nsr_with_another_class_stays_positive() -> None:
    """Record 1 labelled NSR + AF, output AF; record 2 IAVB, output IAVB.
    observed = (0.25 + 1) / 2 + 1 = 1.625; correct = (1 + 0.25 + 0.25 + 1) / 2 + 1 = 2.25;
    all-NSR = (1 + 0.25) / 2 + 0.45 / 2 = 0.85; score = 0.775 / 1.4.
    (The July 2020 rule "NSR negative when another class is positive" would give 1.0.)"""
    labels, outputs = [{NSR, AF}, {IAVB}], [{AF}, {IAVB}]
    assert threekg_score(labels, outputs) == pytest.approx(0.775 / 1.4, abs=1e-12)
    assert reference_score(labels, outputs) == pytest.approx(0.775 / 1.4, abs=1e-12)


def test_by_hand_an_output_with_no_positive_class_stays_empty() -> None:
    """Record 1 labelled AF, no output; record 2 IAVB, output IAVB.
    observed = 0 + 1; correct = 2; all-NSR = 0.25 / 2 + 0.45 / 2 = 0.35; score = 0.65 / 1.65.
    (The July 2020 rule "NSR positive when no class is" would give 0.775 / 1.65.)"""
    labels, outputs = [{AF}, {IAVB}], [set(), {IAVB}]
    assert threekg_score(labels, outputs) == pytest.approx(0.65 / 1.65, abs=1e-12)
    assert reference_score(labels, outputs) == pytest.approx(0.65 / 1.65, abs=1e-12)


def test_by_hand_both_situations_together() -> None:
    """Record 1 has no scored label (an unscored code) and no output; record 2 NSR + IAVB, output NSR;
    record 3 AF, output AF. observed = 0 + (1 + 0.45) / 2 + 1 = 1.725; correct = 0 + (1 + 0.45 +
    0.45 + 1) / 2 + 1 = 2.45; all-NSR = 0 + 0.725 + 0.25 / 2 = 0.85; score = 0.875 / 1.6.
    (Both July 2020 rules together would give 0.875 / 1.65.)"""
    labels, outputs = [{"164865005"}, {NSR, IAVB}, {AF}], [set(), {NSR}, {AF}]
    assert threekg_score(labels, outputs) == pytest.approx(0.875 / 1.6, abs=1e-12)
    assert reference_score(labels, outputs) == pytest.approx(0.875 / 1.6, abs=1e-12)


def test_truth_scores_one_all_nsr_zero_and_undefined_is_nan() -> None:
    rng = np.random.default_rng(0)
    t = rng.random((300, len(NAMES))) < 0.1
    t[~t.any(axis=1), NAMES.index("NSR")] = True
    nsr = np.zeros_like(t)
    nsr[:, NAMES.index("NSR")] = True
    assert abs(challenge_metric(t, t, NAMES) - 1.0) < 1e-12
    assert abs(challenge_metric(t, nsr, NAMES)) < 1e-12
    noisy = t ^ (rng.random(t.shape) < 0.05)
    assert 0 < challenge_metric(t, noisy, NAMES) < 1
    assert load_weights(NAMES).shape == (24, 24)
    # every record NSR only: truth and all-NSR score alike; the official scorer returns 0.0, we NaN
    assert np.isnan(challenge_metric(nsr, t, NAMES))
    assert reference_score([{NSR}] * 3, [{AF}, {NSR}, set()]) == 0.0


def test_caller_arrays_are_not_modified() -> None:
    t = np.zeros((2, len(NAMES)), dtype=np.uint8)
    t[0, [NAMES.index("NSR"), NAMES.index("AF")]] = 1
    p = np.zeros_like(t)
    before = t.copy(), p.copy()
    challenge_metric(t, p, NAMES)
    assert np.array_equal(t, before[0]) and np.array_equal(p, before[1])


# --- the equivalent-class merge and random comparisons ------------------------------------------


def _random_code_sets(rng: np.random.Generator, n: int, density: float) -> tuple[list[set[str]], list[set[str]]]:
    """Labels and outputs over the 27 scored codes plus an unscored one; NSR often with other classes,
    some empty outputs, equivalent codes drawn separately (both members of a pair sometimes)."""
    codes, _ = official_weights()
    pool = [*codes, "164865005"]
    labels, outputs = [], []
    for _ in range(n):
        t = {c for c in pool if rng.random() < density}
        if rng.random() < 0.3:
            t.add(NSR)
        p = {c for c in pool if (c in t) != (rng.random() < 0.08)}
        if rng.random() < 0.1:
            p = set()
        labels.append(t)
        outputs.append(p)
    return labels, outputs


def test_merged_24_classes_equal_the_official_27_code_score() -> None:
    """The label set merges CRBBB/RBBB, PAC/SVPB, PVC/VPB; scoring the merged classes must equal the
    official score computed on the unmerged codes (which merges them the same way)."""
    rng = np.random.default_rng(1)
    for _ in range(5):
        labels, outputs = _random_code_sets(rng, 150, 0.08)
        for i in range(0, 150, 10):  # pairs where only the non-representative member is given
            labels[i] |= {"59118001", "17338001"}
            outputs[i] |= {"63593006"}
        assert threekg_score(labels, outputs) == pytest.approx(reference_score(labels, outputs), abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_random_sets_equal_the_reference(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 400))
    labels, outputs = _random_code_sets(rng, n, float(rng.uniform(0.01, 0.2)))
    ours, ref = threekg_score(labels, outputs), reference_score(labels, outputs)
    if np.isnan(ours):
        assert ref == 0.0
    else:
        assert ours == pytest.approx(ref, abs=1e-12)
