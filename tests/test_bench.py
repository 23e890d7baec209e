import importlib.util
import json
import math

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from livecam.bench import BenchConfig, expand_matrix
from livecam.cli import app
from livecam.media import load_frames
from livecam.timing import StageTimer, fps_from_timestamps, percentiles


def test_percentiles_interpolate_like_numpy_linear():
    samples = list(range(1, 101))  # 1..100
    stats = percentiles(samples)
    assert stats["p50"] == pytest.approx(50.5)
    assert stats["p95"] == pytest.approx(95.05)
    assert stats["p99"] == pytest.approx(99.01)
    assert percentiles([7.0]) == {"p50": 7.0, "p95": 7.0, "p99": 7.0}
    assert all(math.isnan(v) for v in percentiles([]).values())


def test_fps_counts_intervals_not_timestamps():
    # 11 frames finishing every 0.1 s span 1 s: 10 intervals, 10 fps (not 11).
    stamps = [i * 0.1 for i in range(11)]
    assert fps_from_timestamps(stamps) == pytest.approx(10.0)
    assert math.isnan(fps_from_timestamps([1.0]))
    assert fps_from_timestamps([2.0, 2.0]) == math.inf


def test_stage_timer_summary_in_milliseconds():
    timer = StageTimer()
    for seconds in (0.010, 0.020, 0.030):
        timer.add("cam", seconds)
    summary = timer.summary_ms()["cam"]
    assert summary["p50"] == pytest.approx(20.0)
    assert summary["mean"] == pytest.approx(20.0)
    assert timer.last("cam") == 0.030


def test_matrix_is_every_combination():
    configs = expand_matrix(model=["lite0", "vgg16"], input_size=[None, 160], batch=[1, 8])
    assert len(configs) == 8
    assert BenchConfig("vgg16", input_size=160, batch=8) in configs


def test_synthetic_and_looped_frames(samples):
    synthetic = load_frames("synthetic:320x240", 4)
    assert [f.shape for f in synthetic] == [(240, 320, 3)] * 4
    looped = load_frames(str(samples / "vtest.avi"), 40)  # the clip has 30 frames
    assert len(looped) == 40 and (looped[30] == looped[0]).all()


def test_bench_json_smoke_has_every_field(samples, tmp_path):
    plot = tmp_path / "bench.png"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "--frames",
            "5",
            "--json",
            "--batch",
            "1,2",
            "--baseline",
            "eager",
            "--baseline",
            "tf-keras-vis",
            "--source",
            str(samples / "vtest.avi"),
            "--plot",
            str(plot),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout, parse_constant=reject_non_json)
    picture = cv2.imread(str(plot))
    assert picture is not None and picture.shape[1] > 1000 and picture.std() > 10
    assert {"cpu", "cores", "tensorflow", "onednn"} <= set(report["machine"])
    assert len(report["results"]) == 2
    for entry in report["results"]:
        assert entry["traces"] == 1
        assert entry["warmup_s"] > 0 and entry["cam_fps"] > 0 and entry["pipeline_fps"] > 0
        assert {"p50", "p95", "p99"} <= set(entry["cam_ms"])
        assert entry["forward_ms"]["p50"] > 0  # the bare forward pass, timed beside
        assert entry["beyond_forward_ms"] == entry["cam_ms"]["p50"] - entry["forward_ms"]["p50"]
        for stage in ("read_wait", "preprocess", "cam", "render", "write"):
            assert {"p50", "p95", "p99"} <= set(entry["pipeline_stages_ms"][stage])
        assert entry["peak_rss_mb"] > 100
        eager = entry["baselines"]["eager"]
        assert eager["fps"] > 0 and eager["speedup"] > 0
        assert eager["correlation"] > 0.999
        tkv = entry["baselines"]["tf-keras-vis"]
        if importlib.util.find_spec("tf_keras_vis") is None:
            assert "not installed" in tkv["skipped"]
        else:
            assert tkv["fps"] > 0 and tkv["correlation"] > 0.999


def test_method_all_is_every_method_in_order():
    from livecam.cam import METHODS
    from livecam.cli.options import method_names

    assert method_names(["all"], []) == list(METHODS) and len(METHODS) == 18
    assert method_names(["layercam,gradcam"], []) == ["layercam", "gradcam"]
    assert method_names(None, ["gradcam"]) == ["gradcam"]


def test_bench_rejects_bad_options():
    result = CliRunner().invoke(app, ["bench", "--batch", "x"])
    assert result.exit_code == 1 and "--batch takes whole numbers" in result.stderr
    result = CliRunner().invoke(app, ["bench", "--baseline", "pytorch", "--frames", "2"])
    assert result.exit_code == 1 and "unknown baseline" in result.stderr


def reject_non_json(constant: str):
    raise AssertionError(f"{constant} is not JSON")


def test_figures_that_could_not_be_measured_are_null_in_json():
    from livecam.bench import BenchResult

    result = BenchResult(BenchConfig(), cam_fps=float("inf"), cam_ms={"p50": float("nan")})
    result.baselines["eager"] = {"correlation": float("nan"), "fps": 2.5}
    text = json.dumps(result.to_json(), allow_nan=False)
    data = json.loads(text, parse_constant=reject_non_json)
    assert data["cam_fps"] is None and data["cam_ms"]["p50"] is None
    assert data["baselines"]["eager"] == {"correlation": None, "fps": 2.5}


def test_the_eager_baseline_explains_the_same_classes_as_livecam():
    from conftest import bundle_of, tiny_classifier
    from livecam.bench.baselines import eager_baseline
    from livecam.cam import CamEngine, Rank

    tiny = bundle_of(tiny_classifier())
    inputs = np.random.default_rng(2).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    ours = CamEngine(tiny)(inputs, [Rank(1)])  # the second most likely class, not the top-1
    figures = eager_baseline(tiny, inputs, ours.maps[:, 0], ours.class_ids[:, 0])
    assert figures["correlation"] > 0.999
