"""The beat shape model: fit against scikit-learn's PCA, the dipole/residual split, the shipped file and
its reproducible build from PTB-XL (skipped when ../shared/data is absent)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from realdata_paths import shared_subdir
from threekg.synth import shape_model as sm
from threekg.synth.patient import sample_patient
from threekg.synth.shape_beat import patient_beat, segment_weights, split_beat
from threekg.vcg import DOWER


def test_fit_matches_sklearn_pca() -> None:
    rng = np.random.default_rng(0)
    beats = rng.normal(size=(30, 8, 50)) @ np.diag(np.linspace(2.0, 0.1, 50))
    mean, comp, sd = sm.fit(beats, k=5)
    ref = PCA(n_components=5, svd_solver="full").fit(beats.reshape(30, -1))
    np.testing.assert_allclose(mean.ravel(), ref.mean_, atol=1e-12)
    np.testing.assert_allclose(sd, np.sqrt(ref.explained_variance_), rtol=1e-10)
    dots = np.sum(comp.reshape(5, -1) * ref.components_, axis=1)
    np.testing.assert_allclose(np.abs(dots), 1.0, atol=1e-10)  # same axes, up to sign


def test_time_normalisation_is_identity_at_60_bpm() -> None:
    np.testing.assert_allclose(sm.beat_time(sm.TAU_S, 1.0), sm.TAU_S)
    t = sm.beat_time(np.array([0.04, 0.44]), 0.64)
    np.testing.assert_allclose(t, [0.04, 0.04 + 0.4 * 0.8])  # ST-T stretched by sqrt(RR) from J


def test_split_is_exact_and_residual_is_not_dipolar() -> None:
    beat = sm.default_model().mean
    w = segment_weights()
    np.testing.assert_allclose(w.sum(axis=0), 1.0)
    pb = split_beat(beat, 1.0)
    total = pb.waves[:, :, 1:-1].astype(float).sum(axis=0)  # segments add up to the beat
    vcg, residual = total[:3], total[3:]
    np.testing.assert_allclose(DOWER @ vcg + residual, beat, atol=1e-5)
    np.testing.assert_allclose(DOWER.T @ residual, 0.0, atol=1e-4)  # orthogonal to every dipole's leads


def test_shipped_model_is_plausible_and_draws_are_deterministic() -> None:
    model = sm.default_model()
    assert model.folds == sm.DEFAULT_FOLDS and model.n_records > 100
    assert np.all(np.diff(model.sd) <= 0)
    r = int(np.argmin(np.abs(sm.TAU_S)))
    assert model.mean[1, r] > 0.5  # the R peak of lead II sits at tau = 0
    z = tuple(np.random.default_rng(3).standard_normal(40))
    a, b = patient_beat(z), patient_beat(tuple(float(x) for x in z))
    np.testing.assert_array_equal(a.waves, b.waves)
    mean = patient_beat((0.0,) * 40)
    assert 0.36 < mean.qtc_s < 0.44 and -0.16 < mean.p_centroid_s < -0.09 and mean.size == pytest.approx(1.0)


def test_build_reproduces_the_shipped_model() -> None:
    ptbxl = shared_subdir("ptbxl-500")
    built = sm.build(ptbxl)
    again = sm.build(ptbxl, limit=20)
    assert np.array_equal(again.mean, sm.build(ptbxl, limit=20).mean)  # deterministic
    shipped = sm.default_model()
    assert built.n_records == shipped.n_records
    np.testing.assert_allclose(built.mean, shipped.mean, atol=1e-5)
    np.testing.assert_allclose(built.sd, shipped.sd, rtol=1e-4)
    np.testing.assert_allclose(built.components, shipped.components, atol=1e-4)
    np.testing.assert_allclose(built.within_sd, shipped.within_sd, rtol=1e-4)
    np.testing.assert_allclose(built.within_components, shipped.within_components, atol=1e-4)
    assert built.within_scale_sd == pytest.approx(shipped.within_scale_sd, rel=1e-6)
    assert built.within_scale_mean == pytest.approx(shipped.within_scale_mean, rel=1e-6)


def test_within_residuals_remove_each_beats_gain() -> None:
    rng = np.random.default_rng(4)
    shape = sm.default_model().mean
    gains = rng.uniform(0.8, 1.2, 9)
    extra = rng.normal(0.0, 0.01, (9, 8, len(sm.TAU_S)))
    res = sm.within_residuals(gains[:, None, None] * shape + extra)
    med = sm.remove_baseline(np.median(gains[:, None, None] * shape + extra, axis=0))
    np.testing.assert_allclose(np.tensordot(res, med, axes=2), 0.0, atol=1e-9)  # no gain left
    assert np.sqrt(np.mean(res**2)) < 0.012  # what is left is the beat-to-beat part


def test_fit_within_recovers_the_variance_of_each_component() -> None:
    rng = np.random.default_rng(5)
    axes = np.linalg.qr(rng.normal(size=(8 * 20, 3)))[0].T  # 3 orthonormal directions
    sd = np.array([2.0, 1.0, 0.5])
    records = [(rng.standard_normal((400, 3)) * sd) @ axes for _ in range(5)]
    comp, got, _, scale_sd = sm.fit_within([r.reshape(400, 8, 20) for r in records], 3)
    np.testing.assert_allclose(got, sd, rtol=0.06)
    np.testing.assert_allclose(np.abs(np.sum(comp.reshape(3, -1) * axes, axis=1)), 1.0, atol=0.01)
    assert scale_sd < 0.1  # every record has the same scale


def test_beat_to_beat_variation_has_the_fitted_variance() -> None:
    from threekg.synth.beats import WITHIN_GAIN, beat_variation

    model = sm.default_model()
    rng = np.random.default_rng(6)
    scores = np.concatenate([beat_variation(12, rng, z) for z in rng.standard_normal(3000)])
    # E[scale^2] of the log-normal
    expected = (WITHIN_GAIN * model.within_sd) ** 2 * np.exp(2 * model.within_scale_mean + 2 * model.within_scale_sd**2)
    np.testing.assert_allclose(scores.var(axis=0), expected, rtol=0.12)


def test_each_rendered_beat_is_its_patients_beat_plus_its_own_variation() -> None:
    from threekg.synth import render
    from threekg.synth.generate import make_spec
    from threekg.synth.shape_beat import within_waves

    patient = sample_patient(np.random.default_rng(8))
    spec, _ = make_spec(patient, ["NSR"], 500.0, 10.0, np.random.default_rng(9), noise=False)
    assert spec.waves is not None and spec.waves.variation is not None and spec.beat is not None
    nb = len(spec.r_times)
    for seg in range(4):
        table, _, per_beat = render._segment_table([spec], seg)
        r0, r1 = render._segment_rows()[seg]
        rows = table.reshape(nb if per_beat else 1, r1 + 1 - r0, -1)
        assert per_beat == (seg != 0)  # the P segment does not vary from beat to beat
        assert not np.any(spec.beat[seg, :, :r0]) and not np.any(spec.beat[seg, :, r1 + 1:])  # zero outside
        for b in (0, 3):
            want = spec.beat + np.tensordot(spec.waves.variation[b], within_waves(), axes=1)
            np.testing.assert_allclose(rows[b if per_beat else 0], want[seg, :, r0 : r1 + 1].T, atol=1e-5)
        if per_beat:
            assert not np.allclose(rows[0], rows[1])  # beats differ
