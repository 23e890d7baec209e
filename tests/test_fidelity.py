"""The fidelity gate: a faster precision or runtime is used only where its maps
stay true on the bundled labelled photos; the governor never picks a refused
one, and ``livecam bench`` says why."""

from __future__ import annotations

import importlib.util
import math

import pytest

from conftest import bundle_of
from livecam.tuning.fidelity import MAX_POINTING_DROP, MIN_CORRELATION, Fidelity

HAS_OPENVINO = importlib.util.find_spec("openvino") is not None


def verdict(correlation=0.999, pointing=0.9, reference=0.9) -> Fidelity:
    return Fidelity(
        "gradcam", "openvino", "int8", correlation, correlation, pointing, reference, 21
    )


def test_the_gate_asks_for_correlated_maps_that_point_as_well():
    assert verdict().admitted and verdict().reason == ""
    assert verdict(correlation=MIN_CORRELATION).admitted
    low = verdict(correlation=0.97)
    assert not low.admitted and "map correlation 0.970 < 0.98" in low.reason
    assert not verdict(correlation=math.nan).admitted  # a flat map is no match
    assert verdict(pointing=0.9 - MAX_POINTING_DROP, reference=0.9).admitted
    worse = verdict(pointing=0.81, reference=0.857)
    assert not worse.admitted and "pointing 0.810 against 0.857" in worse.reason
    assert verdict(pointing=None, reference=None).admitted  # no labelled class: correlation only


def offset_model():
    """An ImageNet-sized head over a CAM layer whose activations are 1000 plus a
    signal of about 1: in bfloat16 (8 bits of mantissa, a step of 8 at 1000)
    the signal rounds away, so the maps cannot stay true."""
    import keras

    keras.utils.set_random_seed(11)
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="sigmoid")(x)
    x = keras.layers.Rescaling(1.0, offset=1000.0, name="cam")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(1000)(x), name="offset")


@pytest.fixture(scope="module")
def offset_bundle():
    return bundle_of(offset_model(), layer="cam")


def test_bfloat16_is_refused_where_it_rounds_the_maps_away(offset_bundle):
    from livecam.tuning import fidelity

    found = fidelity.measure(offset_bundle, "gradcam", "mixed_bfloat16", "tensorflow")
    assert not found.admitted and found.reason.startswith("map correlation")
    assert found.maps == 21  # the 21 labelled objects of samples/eval, ImageNet classes
    assert found.pointing is not None and found.reference_pointing is not None


def test_the_governor_never_uses_a_refused_precision_and_says_why(offset_bundle, tmp_path):
    from livecam.cam import top
    from livecam.render import HeatmapRenderer
    from livecam.tuning.governor import CostCache
    from livecam.video.display import Display
    from livecam.video.explainers import ExplainerCache
    from livecam.video.live import LiveRunner

    cache = ExplainerCache(offset_bundle, "gradcam", top(1), "logit")
    runner = LiveRunner(
        cache,
        HeatmapRenderer(),
        fps_target=1000,  # unreachable: a governor would try anything faster
        display=Display(enabled=False),
        cost_cache=CostCache(tmp_path / "governor.json", machine="box"),
    )
    assert {level.precision for level in runner.levels} == {"float32"}
    assert runner.refused["mixed_bfloat16"].startswith("map correlation")


def test_the_verdict_is_kept_and_a_second_check_measures_nothing(
    offset_bundle, monkeypatch, tmp_path
):
    """A measurement is announced first (it takes seconds); a kept verdict is not."""
    from livecam.tuning import fidelity

    monkeypatch.setenv("LIVECAM_CACHE_DIR", str(tmp_path))  # nothing measured yet
    told: list[str] = []
    first = fidelity.check(offset_bundle, "gradcam", "mixed_bfloat16", "tensorflow", told.append)
    assert len(told) == 1 and "checking mixed_bfloat16 on tensorflow for gradcam" in told[0]

    def measured_again(*_args, **_kwargs):
        raise AssertionError("measured again")

    monkeypatch.setattr(fidelity, "measure", measured_again)
    again = fidelity.check(offset_bundle, "gradcam", "mixed_bfloat16", "tensorflow", told.append)
    assert again == first and len(told) == 1


@pytest.mark.skipif(not HAS_OPENVINO, reason="livecam[openvino] not installed")
def test_bench_shows_the_gate_admitting_openvino_and_refusing_rounded_maps(offset_bundle, samples):
    """lite0 on OpenVINO float32 computes TensorFlow's maps: admitted (the real
    benchmark's verdict); the offset model's bfloat16 maps are refused, and
    the table says why."""
    from livecam.bench.runner import BenchConfig, BenchResult, bench_config
    from livecam.bench.tables import text_table
    from livecam.media import load_frames
    from livecam.tuning import fidelity

    frames = load_frames(str(samples / "moving_monarch.mp4"), 4)
    on_openvino = bench_config(BenchConfig(runtime="openvino"), frames, pipeline=False)
    admitted = on_openvino.fidelity
    assert admitted["admitted"] and admitted["correlation"] > 0.999
    assert admitted["pointing"] == admitted["reference_pointing"] > 0.9
    refused = fidelity.measure(offset_bundle, "gradcam", "mixed_bfloat16", "tensorflow")
    reference = BenchResult(BenchConfig())
    rounded = BenchResult(BenchConfig(precision="mixed_bfloat16"), fidelity=refused.to_json())
    lines = text_table([reference, on_openvino, rounded]).splitlines()
    assert lines[1].rstrip().endswith("reference")
    assert "admitted r=1.000" in lines[2]
    assert "refused: map correlation" in lines[3]


@pytest.fixture(scope="module")
def black_frames(tmp_path_factory):
    import cv2
    import numpy as np

    folder = tmp_path_factory.mktemp("black")
    for index in range(4):
        cv2.imwrite(str(folder / f"{index}.png"), np.zeros((120, 160, 3), np.uint8))
    return folder


@pytest.mark.skipif(not HAS_OPENVINO, reason="livecam[openvino] not installed")
def test_int8_calibrated_on_black_frames_is_refused_and_on_the_samples_keeps_the_maps(
    black_frames,
):
    """int8 quantizes with the ranges the calibration frames show it: black
    frames teach it nothing, and the gate refuses its maps; the bundled
    samples give maps close to float32's. Each calibration is its own conversion
    and its own verdict."""
    from livecam import runtime
    from livecam.loading import load_model
    from livecam.tuning import fidelity

    absurd = load_model("lite0", runtime="openvino", precision="int8", calibration=black_frames)
    refused = fidelity.check(absurd, "gradcam", "int8")  # kept per calibration, not reused
    assert not refused.admitted and refused.reason.startswith("map correlation")
    sampled = load_model("lite0", runtime="openvino", precision="int8")
    kept = fidelity.check(sampled, "gradcam", "int8")
    assert kept.correlation > 0.95 and kept.correlation > refused.correlation + 0.5
    assert kept.pointing >= 0.8 > refused.pointing  # int8's maps still find the objects
    assert runtime.backbone(absurd).path != runtime.backbone(sampled).path


def test_int8_runs_on_openvino_only():
    from livecam.errors import RuntimeChoiceError
    from livecam.loading import load_model

    with pytest.raises(RuntimeChoiceError, match="int8 runs on --runtime openvino"):
        load_model("lite0", precision="int8")


@pytest.mark.skipif(not HAS_OPENVINO, reason="livecam[openvino] not installed")
def test_the_cli_runs_int8_with_user_frames_and_keeps_stdout_for_the_json(
    samples, tmp_path, black_frames
):
    """NNCF's progress goes to stderr: stdout stays the JSON asked for."""
    import json

    from typer.testing import CliRunner

    from livecam.cli import app

    arguments = ["image", str(samples / "orange.jpg"), "--json", "--out", str(tmp_path)]
    int8 = ["--runtime", "openvino", "--precision", "int8", "--calibration", str(black_frames)]
    result = CliRunner().invoke(app, [*arguments, *int8])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["targets"]
    missing = CliRunner().invoke(app, [*arguments, *int8[:-1], str(tmp_path / "nowhere")])
    assert missing.exit_code != 0 and "nowhere" in missing.output
