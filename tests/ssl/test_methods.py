"""Method definitions: view shapes, which rows are positives, registry."""

from __future__ import annotations

import pytest
import torch

from threekg.augment import build_pipeline
from threekg.ssl.methods import METHODS, Method, build_method, register_method


def batch(b: int = 4, t: int = 200, seed: int = 0, paired: bool = False) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {"x": torch.randn(b, 12, t, generator=g), "index": torch.arange(10, 10 + b),
           "patient": torch.tensor([0, 0, 1, 2][:b]), "batch": torch.zeros(b, dtype=torch.int64)}
    if paired:
        out["x2"] = torch.randn(b, 12, t, generator=g)
    return out


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", ["3kg", "3kg-spatial", "3kg-temporal", "3kg-rotation", "3kg-scaling",
                                  "3kg-residual", "3kg-kors", "simclr"])
def test_augmentation_methods_are_two_draws_of_their_pipeline(name: str) -> None:
    method = build_method(name, fs=100.0, windows="same")
    data = batch()
    views, indexes = method.make_views(data, gen(5))
    assert views.shape == (8, 12, 200) and indexes.tolist() == [10, 11, 12, 13] * 2
    # exactly the pipeline applied twice with the same generator stream
    pipe = build_pipeline(name, fs=100.0)
    g = gen(5)
    expected = torch.cat([pipe(data["x"], generator=g), pipe(data["x"], generator=g)])
    torch.testing.assert_close(views, expected, rtol=0, atol=0)
    assert not torch.equal(views[:4], views[4:])
    again, _ = method.make_views(data, gen(5))
    assert torch.equal(views, again)


def test_patient_positives_use_patient_codes() -> None:
    _, indexes = build_method("3kg", fs=100.0, patient_positives=True, windows="same").make_views(batch(), gen())
    assert indexes.tolist() == [0, 0, 1, 2] * 2


def test_cmsc_views_are_adjacent_halves_of_the_crop() -> None:
    method = build_method("cmsc", fs=100.0)
    assert method.crop_factor == 2 and not method.paired
    data = batch(t=200)
    views, indexes = method.make_views(data, gen(1))
    assert views.shape == (8, 12, 100) and indexes.tolist() == [10, 11, 12, 13] * 2
    x = data["x"]
    for i in range(4):
        # the loader crop is 2 x 100 = 200 samples: the two segments tile it exactly, in order
        assert torch.equal(torch.cat([views[i], views[4 + i]], dim=-1), x[i])


def test_pclr_pairs_the_two_recordings_with_patient_indexes() -> None:
    method = build_method("pclr", fs=100.0)
    assert method.paired
    data = batch(paired=True)
    views, indexes = method.make_views(data, None)
    assert torch.equal(views, torch.cat([data["x"], data["x2"]]))
    assert indexes.tolist() == [0, 0, 1, 2] * 2
    with pytest.raises(ValueError, match="x2"):
        method.make_views(batch(), None)


def test_registry_accepts_new_methods_and_rejects_bad_names_and_options() -> None:
    class Flip(Method):
        name = "flip-test"

        def make_views(self, batch, generator):  # type: ignore[no-untyped-def]
            return torch.cat([batch["x"], -batch["x"]]), batch["index"].repeat(2)

    register_method("flip-test")(lambda fs: Flip())
    try:
        views, _ = build_method("flip-test", fs=100.0).make_views(batch(), None)
        assert views.shape[0] == 8
        with pytest.raises(ValueError, match="already registered"):
            register_method("flip-test")(lambda fs: Flip())
    finally:
        del METHODS["flip-test"]
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        build_method("nope", fs=100.0)
    with pytest.raises(ValueError, match="method '3kg': bad options"):
        build_method("3kg", fs=100.0, patient_positive=True)


@pytest.mark.parametrize("name", ["3kg", "3kg-spatial", "simclr"])
def test_shortcut_free_views_augment_each_of_the_two_windows(name: str) -> None:
    """The loader hands two windows end to end (B, 12, 2L); each half is augmented on its own."""
    method = build_method(name, fs=100.0, windows="adjacent")
    assert method.loader_samples(100, 1000) == 200 and method.loader_windows() == ("adjacent", 100, 0)
    data = batch(t=200)
    views, indexes = method.make_views(data, gen(2))
    assert views.shape == (8, 12, 100) and indexes.tolist() == [10, 11, 12, 13] * 2
    g = gen(2)
    pipe = build_pipeline(name, fs=100.0)
    expected = torch.cat([pipe(data["x"][..., :100], generator=g), pipe(data["x"][..., 100:], generator=g)])
    torch.testing.assert_close(views, expected, rtol=0, atol=0)


def test_random_windows_and_their_offset() -> None:
    method = build_method("3kg", fs=100.0, windows="random", min_offset_seconds=2.5)
    assert method.loader_samples(250, 1000) == 500 and method.loader_windows() == ("random", 250, 250)
    assert "at least 2.5 s apart" in method.describe()
    with pytest.raises(ValueError, match="need 1150 samples"):
        build_method("3kg", fs=100.0, windows="random", min_offset_seconds=9.0).loader_samples(250, 1000)
    views, _ = method.make_views(batch(t=500), gen(0))
    assert views.shape == (8, 12, 250)
    with pytest.raises(ValueError, match=r"two windows end to end, \(B, 12, 2 x 250\)"):
        method.make_views(batch(t=1000), gen(0))
    assert build_method("3kg", fs=100.0, windows="same").loader_windows() is None


def test_window_options_are_checked() -> None:
    with pytest.raises(ValueError, match="windows must be one of"):
        build_method("3kg", fs=100.0, windows="overlap")
    with pytest.raises(ValueError, match="exactly 2 views"):
        build_method("3kg", fs=100.0, windows="adjacent", n_views=3)
    with pytest.raises(ValueError, match="used by windows='random' only"):
        build_method("3kg", fs=100.0, windows="adjacent", min_offset_seconds=1.0)


def test_default_windows_are_random_and_one_view_apart(caplog: pytest.LogCaptureFixture) -> None:
    """The default (chosen by the ptbxl-500 study): two windows that never overlap."""
    method = build_method("3kg", fs=100.0)
    assert method.windows == "random" and method.loader_samples(250, 1000) == 500 and method.min_offset == 250
    short = build_method("simclr", fs=100.0)
    with caplog.at_level("WARNING"):
        assert short.loader_samples(250, 400) == 500
    assert short.min_offset == 150 and "only 150 samples apart" in caplog.text


def test_3kg_strengths_and_the_papers_recipe_by_name() -> None:
    """`3kg` (and its ablations) rotate by up to 15 deg and scale by up to 1.2; `3kg-paper` keeps
    the paper's 45 deg / [1, 1.5] (method.md section 2) and time-aligned views."""
    from threekg.augment import PIPELINES, THREEKG_STRENGTH

    assert THREEKG_STRENGTH == {"angle": 15.0, "scale": 1.2}
    default = build_method("3kg", 100.0)
    spatial = default.pipeline.augmentations[0]  # type: ignore[attr-defined]
    assert (spatial.angle, spatial.scale) == (15.0, 1.2) and default.windows == "random"  # type: ignore[attr-defined]
    paper = build_method("3kg-paper", 100.0)
    spatial = paper.pipeline.augmentations[0]  # type: ignore[attr-defined]
    assert (spatial.angle, spatial.scale, spatial.scale_low) == (45.0, 1.5, 1.0)
    assert paper.windows == "same"  # type: ignore[attr-defined]
    assert build_method("3kg-paper", 100.0, windows="adjacent").windows == "adjacent"  # type: ignore[attr-defined]
    for name in ("3kg-spatial", "3kg-rotation", "3kg-scaling", "3kg-residual", "3kg-kors"):
        first = PIPELINES[name][0]
        assert (first["angle"], first["scale"]) == (15.0, 1.2), name
