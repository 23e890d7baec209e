"""livecam annotate --report / --reports: the page's figures against facts
known independently of the report code (the clip's frame count, the maps a
refresh of 4 makes, the log's most frequent top-1), written whole."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter

import cv2
import pytest
from typer.testing import CliRunner

from livecam.cli import app
from livecam.models.labels import short_label


def embedded(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def annotated_with_report(samples, tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    video, log, report = folder / "out.mp4", folder / "frames.jsonl", folder / "out.html"
    clip = samples / "moving_monarch.mp4"
    result = CliRunner().invoke(
        app,
        [
            *("annotate", str(clip), "-o", str(video), "--log", str(log)),
            *("--report", str(report), "--refresh", "4", "--top", "3"),
        ],
    )
    assert result.exit_code == 0, result.output
    return clip, video, log, report, result


def test_the_report_tells_the_run_as_the_log_and_the_video_do(annotated_with_report):
    clip, _, log, report, result = annotated_with_report
    capture = cv2.VideoCapture(str(clip))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    figures = embedded(report.read_text())
    assert figures["frames"] == frames == 45
    assert figures["maps"] == -(-frames // 4)  # one map every 4th frame
    records = [json.loads(line) for line in log.read_text().splitlines()]
    top1 = Counter(short_label(r["predictions"][0]["label"]) for r in records)
    assert figures["top1_most_often"] == top1.most_common(1)[0][0]
    assert figures["wall_s"] == pytest.approx(records[-1]["wall_s"], abs=1e-3)
    assert all(b["wall_s"] >= a["wall_s"] for a, b in itertools.pairwise(records))
    page = report.read_text()
    for section in ("summary", "top-classes-over-time", "peak-trajectory", "contact-sheet"):
        assert f'<section id="{section}">' in page
    assert page.count("data:image/png;base64,") == 4
    assert f"report: {report}" in result.stdout


def test_a_report_without_a_log_uses_a_temporary_one(samples, tmp_path):
    result = CliRunner().invoke(
        app,
        ["annotate", str(samples / "vtest.avi"), "--out-dir", str(tmp_path), "--reports"],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "index.html",
        "vtest.livecam.mp4",
        "vtest.livecam.report.html",
    ]  # no log left behind
    assert embedded((tmp_path / "vtest.livecam.report.html").read_text())["frames"] == 30
    assert 'href="vtest.livecam.report.html"' in (tmp_path / "index.html").read_text()


def test_report_options_are_checked_before_any_work(samples, tmp_path):
    runner = CliRunner()
    two = [str(samples / "vtest.avi"), str(samples / "moving_monarch.mp4")]
    result = runner.invoke(app, ["annotate", *two, "--report", str(tmp_path / "r.html")])
    assert result.exit_code == 1 and "--report take one input" in result.stderr
    existing = tmp_path / "r.html"
    existing.write_text("mine")
    result = runner.invoke(
        app, ["annotate", two[0], "--out-dir", str(tmp_path), "--report", str(existing)]
    )
    assert result.exit_code == 1 and "exists; pass --overwrite" in result.stderr
    assert existing.read_text() == "mine" and not (tmp_path / "vtest.livecam.mp4").exists()


def test_inputs_of_the_same_name_each_get_their_own_report(samples, tmp_path):
    """Beside each input, without --log: each report reads its own video's log."""
    import shutil

    first, second = tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.mp4"
    for clip, folder in ((samples / "moving_monarch.mp4", first), (samples / "vtest.avi", second)):
        folder.parent.mkdir()
        shutil.copy(clip, folder)
    result = CliRunner().invoke(app, ["annotate", str(first), str(second), "--reports"])
    assert result.exit_code == 0, result.output
    frames = {
        folder: embedded((tmp_path / folder / "clip.livecam.report.html").read_text())["frames"]
        for folder in ("a", "b")
    }
    assert frames == {"a": 45, "b": 30}


def test_without_matplotlib_a_report_is_refused_before_any_work(samples, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    runner = CliRunner()
    for command in (
        ["annotate", str(samples / "vtest.avi"), "--out-dir", str(tmp_path), "--reports"],
        ["bench", "--frames", "2", "--plot", str(tmp_path / "b.png")],
        ["eval", str(samples / "eval"), "--annotations", str(samples / "eval" / "instances.json"),
         "--report", str(tmp_path / "e.html")],
    ):  # fmt: skip
        result = runner.invoke(app, command)
        assert result.exit_code == 1, result.output
        assert "pip install 'livecam[report]'" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was annotated, measured or written


def test_the_bench_plot_draws_each_configuration_s_measured_rates():
    from livecam.bench import BenchConfig
    from livecam.bench.plot import _rates
    from livecam.bench.runner import BenchResult

    results = [
        BenchResult(BenchConfig(batch=1), cam_fps=60.0, pipeline_fps=50.0,
                    baselines={"eager": {"fps": 5.0}}),
        BenchResult(BenchConfig(batch=8), cam_fps=70.0, pipeline_fps=55.0,
                    baselines={"tf-keras-vis": {"skipped": "not installed"}}),
    ]  # fmt: skip
    assert _rates(results) == {
        "CAM step": [60.0, 70.0],
        "pipeline": [50.0, 55.0],
        "eager": [5.0, 0.0],  # not run for the second: no bar
        "tf-keras-vis": [0.0, 0.0],
    }
