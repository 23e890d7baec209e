import itertools
import json

import numpy as np
import pytest

from livecam.cam.targets import classes
from livecam.explain import Explainer
from livecam.video import open_source
from livecam.video.annotate import annotate_video
from livecam.video.pipeline import MapSmoother
from test_video import count_frames


@pytest.fixture(scope="module")
def explainer(lite0):
    return Explainer(lite0)


def test_annotate_keeps_count_fps_and_size_and_logs_every_frame(samples, tmp_path, explainer):
    out, heat, log = tmp_path / "out.mp4", tmp_path / "heat.mp4", tmp_path / "frames.jsonl"
    summary = annotate_video(
        samples / "megamind.mp4", out, explainer, heatmap_output=heat, log_path=log, batch=4
    )
    assert summary.frames_in == summary.frames_out == summary.frames_written == 48
    for video in (out, heat):
        frames, fps, size = count_frames(video)
        assert (frames, size) == (48, (720, 528))
        assert fps == pytest.approx(23.976, abs=1e-3)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(48))
    assert records[10]["time_s"] == pytest.approx(10 / 23.976, abs=1e-3)
    for record in records:
        assert {"frame", "time_s", "predictions", "target", "peak", "timings_ms"} <= set(record)
        x, y = record["peak"]
        assert 0 <= x < 720 and 0 <= y < 528
        assert {"read_wait", "preprocess", "cam", "render", "write"} <= set(record["timings_ms"])


def test_logged_peak_follows_the_moving_monarch(samples, tmp_path, lite0):
    meta = json.loads((samples / "moving_monarch.json").read_text())
    monarch = Explainer(lite0, targets=classes(lite0.labels, ["monarch"]))
    log = tmp_path / "frames.jsonl"
    annotate_video(samples / "moving_monarch.mp4", tmp_path / "o.mp4", monarch, log_path=log)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == len(meta["boxes_xyxy"]) == 45
    inside = sum(
        x0 <= r["peak"][0] < x1 and y0 <= r["peak"][1] < y1
        for r, (x0, y0, x1, y1) in zip(records, meta["boxes_xyxy"], strict=True)
    )
    assert inside >= 0.9 * len(records)
    assert all(r["target"]["label"].startswith("monarch") for r in records)


def test_batching_gives_the_same_results_as_single_frames(samples, tmp_path, explainer):
    logs = {}
    for batch in (1, 8):
        logs[batch] = tmp_path / f"b{batch}.jsonl"
        annotate_video(
            samples / "vtest.avi",
            tmp_path / f"b{batch}.avi",
            explainer,
            log_path=logs[batch],
            batch=batch,
        )
    one, eight = ([json.loads(x) for x in logs[b].read_text().splitlines()] for b in (1, 8))
    assert len(one) == len(eight) == 30
    for a, b in zip(one, eight, strict=True):
        assert a["target"]["index"] == b["target"]["index"]
        assert a["target"]["probability"] == pytest.approx(b["target"]["probability"], abs=1e-4)
        assert abs(a["peak"][0] - b["peak"][0]) <= 2 and abs(a["peak"][1] - b["peak"][1]) <= 2
    # The maps and probabilities themselves, batched vs one by one.
    with open_source(samples / "vtest.avi") as source:
        frames = [frame.image for _, frame in zip(range(8), source, strict=False)]
    batched = explainer.explain(frames)
    for frame, together in zip(frames, batched, strict=True):
        alone = explainer.explain([frame])[0]
        for a, b in zip(alone.targets, together.targets, strict=True):
            assert a.index == b.index
            assert np.corrcoef(a.heatmap.ravel(), b.heatmap.ravel())[0, 1] >= 0.999
        np.testing.assert_allclose(
            [p.probability for p in alone.predictions],
            [p.probability for p in together.predictions],
            atol=1e-4,
        )


def test_smoothing_cuts_flicker_on_real_footage(samples, explainer):
    with open_source(samples / "vtest.avi") as source:
        maps = [e.targets[0].heatmap for f in source for e in explainer.explain([f.image])]
    smoother = MapSmoother(0.7)
    smoothed = [smoother(m) for m in maps]
    raw_flicker = np.mean([np.abs(b - a).mean() for a, b in itertools.pairwise(maps)])
    smooth_flicker = np.mean([np.abs(b - a).mean() for a, b in itertools.pairwise(smoothed)])
    assert smooth_flicker < 0.6 * raw_flicker


def test_an_interrupted_run_counts_the_frames_it_read(samples, tmp_path, lite0):
    from livecam.explain import Explainer

    def interrupt_after_ten(done, total):
        if done >= 10:
            raise KeyboardInterrupt

    summary = annotate_video(
        samples / "vtest.avi",
        tmp_path / "out.avi",
        Explainer(lite0),
        batch=2,
        progress=interrupt_after_ten,
    )
    assert summary.interrupted
    assert summary.frames_in == 10 and summary.frames_out == 10


def test_refresh_keeps_every_frame_and_logs_which_map_each_shows(samples, tmp_path, explainer):
    out, log = tmp_path / "out.mp4", tmp_path / "frames.jsonl"
    summary = annotate_video(
        samples / "megamind.mp4", out, explainer, log_path=log, batch=2, refresh=4
    )
    assert summary.frames_in == summary.frames_out == summary.frames_written == 48
    assert count_frames(out)[0] == 48
    assert summary.maps == 12
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["map_seq"] for r in records] == [1 + i // 4 for i in range(48)]
    for i, record in enumerate(records):  # age: frames since the map's frame
        assert record["map_age_ms"] == pytest.approx((i % 4) / 23.976 * 1000, abs=0.2)
        if i % 4:
            assert record["timings_ms"]["cam"] == 0
            assert record["predictions"] == records[i - i % 4]["predictions"]
        else:
            assert record["timings_ms"]["cam"] > 0


def test_refresh_through_the_cli_is_checked_and_summarised(samples, tmp_path):
    from typer.testing import CliRunner

    from livecam.cli import app

    runner = CliRunner()
    bad = runner.invoke(app, ["annotate", str(samples / "vtest.avi"), "--refresh", "0"])
    assert bad.exit_code == 1 and "--refresh must be at least 1" in bad.stderr
    out = tmp_path / "out.mp4"
    result = runner.invoke(
        app, ["annotate", str(samples / "vtest.avi"), "-o", str(out), "--refresh", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "annotated 30 frames" in result.stderr and "10 maps" in result.stderr
    alone = runner.invoke(app, ["annotate", str(samples / "vtest.avi"), "--follow"])
    assert alone.exit_code == 1 and "add --refresh N" in alone.stderr
    followed = tmp_path / "followed.mp4"
    result = runner.invoke(
        app,
        ["annotate", str(samples / "vtest.avi"), "-o", str(followed), "--refresh", "3", "--follow"],
    )
    assert result.exit_code == 0, result.output
    assert count_frames(followed)[0] == 30
