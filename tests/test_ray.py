"""The Ray engine on a real local Ray instance (and a two-node cluster):
the same results as the local engine, retries when a worker dies, resume
after an interrupt, bad inputs reported one by one."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from livecam.bench import write_video
from livecam.cluster import AnnotateJob, annotate_on_ray, plan_tasks
from livecam.cluster.ray_annotate import KILL_HOOK
from livecam.video import open_source
from test_video import count_frames

ray = pytest.importorskip("ray", reason='Ray is not installed (pip install "livecam[ray]")')
pytestmark = pytest.mark.ray
JOB = AnnotateJob(model="lite0")


def start_local_ray() -> None:
    if not ray.is_initialized():
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=150 * 1024 * 1024,
            logging_level=logging.WARNING,
        )


@pytest.fixture(scope="session")
def local_ray():
    start_local_ray()
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(samples, tmp_path_factory) -> list[Path]:
    """Four short real clips, cut from the samples."""
    folder = tmp_path_factory.mktemp("archive")
    specs = [
        ("vtest.avi", 0, 16),
        ("megamind.mp4", 0, 20),
        ("moving_monarch.mp4", 0, 18),
        ("megamind.mp4", 24, 14),
    ]
    paths = []
    for i, (name, start, count) in enumerate(specs):
        with open_source(samples / name) as source:
            frames = [f.image for f in source][start : start + count]
        paths.append(write_video(folder / f"clip{i}.avi", frames, fps=15.0))
    return paths


def peaks(log: Path) -> list[tuple[int, list[int]]]:
    return [(r["frame"], r["peak"]) for r in map(json.loads, log.read_text().splitlines())]


def hidden(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_ray_gives_what_the_local_engine_gives(local_ray, clips, tmp_path, lite0):
    from livecam.explain import Explainer
    from livecam.video.annotate import annotate_video

    local_dir, ray_dir = tmp_path / "local", tmp_path / "ray"
    local_dir.mkdir()
    explainer = Explainer(lite0)
    for clip in clips:
        out = local_dir / f"{clip.stem}.livecam.mp4"
        annotate_video(clip, out, explainer, log_path=out.with_suffix(".jsonl"))
    results = annotate_on_ray(plan_tasks(clips, ray_dir, log=True), JOB, cpus_per_worker=1)
    assert [r.status for r in results] == ["done"] * 4
    assert len({r.node for r in results}) == 1  # one node here, two workers on it
    for clip in clips:
        ours, theirs = local_dir / f"{clip.stem}.livecam.mp4", ray_dir / f"{clip.stem}.livecam.mp4"
        assert count_frames(ours) == count_frames(theirs)
        a, b = peaks(ours.with_suffix(".jsonl")), peaks(theirs.with_suffix(".jsonl"))
        assert [f for f, _ in a] == [f for f, _ in b]
        assert all(
            np.abs(np.subtract(p, q)).max() <= 2 for (_, p), (_, q) in zip(a, b, strict=True)
        )
    assert hidden(ray_dir) == []


def test_a_worker_killed_mid_video_is_retried_and_nothing_is_lost(
    local_ray, clips, tmp_path, monkeypatch
):
    monkeypatch.setenv(KILL_HOOK, "6")  # one worker SIGKILLs itself after 6 frames, once
    out = tmp_path / "out"
    results = annotate_on_ray(plan_tasks(clips, out, log=True), JOB, cpus_per_worker=1)
    assert [r.status for r in results].count("done") == 4, results
    assert sorted(r.attempts for r in results) == [1, 1, 1, 2], "exactly one video retried"
    for clip in clips:
        output = out / f"{clip.stem}.livecam.mp4"
        frames = count_frames(clip)[0]
        assert count_frames(output)[0] == frames
        logged = [f for f, _ in peaks(output.with_suffix(".jsonl"))]
        assert logged == list(range(frames)), "each frame exactly once"
    assert hidden(out) == [], "no temporary file left"


def test_bad_inputs_are_reported_one_by_one_and_not_retried(local_ray, clips, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.avi").write_bytes(clips[0].read_bytes())
    (folder / "corrupt.mp4").write_bytes(os.urandom(5000))
    (folder / "notes.avi").write_text("not a video at all")
    from livecam.video import expand_inputs

    tasks = plan_tasks(expand_inputs([folder]), tmp_path / "out")
    results = {Path(r.input).name: r for r in annotate_on_ray(tasks, JOB, cpus_per_worker=1)}
    assert results["good.avi"].status == "done"
    for bad in ("corrupt.mp4", "notes.avi"):
        assert results[bad].status == "failed" and results[bad].attempts == 1
        assert "cannot open" in results[bad].reason or "no decodable" in results[bad].reason
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.livecam.mp4"]


def test_an_interrupted_job_resumes_where_it_stopped(local_ray, clips, tmp_path):
    archive, out = clips[0].parent, tmp_path / "out"
    address = ray.get_runtime_context().gcs_address
    command = [
        *(sys.executable, "-m", "livecam", "annotate", str(archive), "--out-dir", str(out)),
        *("--engine", "ray", "--address", address, "--cpus-per-worker", "1", "--workers", "1"),
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not list(out.glob("*.livecam.mp4")):  # the first video is complete
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    done_first = sorted(p.name for p in out.glob("*.livecam.mp4"))
    assert 1 <= len(done_first) < 4 and hidden(out) == []
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    for name in done_first:
        assert f"skipped {archive / name.replace('.livecam.mp4', '.avi')}" in again.stderr
    assert again.stderr.count("annotated ") == 4 - len(done_first)
    for clip in clips:
        assert count_frames(out / f"{clip.stem}.livecam.mp4")[0] == count_frames(clip)[0]


def test_one_input_with_output_heatmap_and_log_through_the_cli(local_ray, clips, tmp_path):
    from typer.testing import CliRunner

    from livecam.cli import app

    out, heat, log = tmp_path / "o.mp4", tmp_path / "h.mp4", tmp_path / "l.jsonl"
    summary = tmp_path / "summary.json"
    result = CliRunner().invoke(
        app,
        [
            *("annotate", str(clips[1]), "-o", str(out), "--heatmap-out", str(heat)),
            *("--log", str(log), "--engine", "ray", "--cpus-per-worker", "1"),
            *("--summary", str(summary)),
        ],
    )
    assert result.exit_code == 0, result.output
    frames = count_frames(clips[1])[0]
    assert count_frames(out)[0] == count_frames(heat)[0] == frames
    assert [f for f, _ in peaks(log)] == list(range(frames))
    [video] = json.loads(summary.read_text())["videos"]
    assert video["status"] == "done" and video["frames"] == frames and video["attempts"] == 1
    assert f"annotated {frames} frames of {clips[1]}" in result.stderr


def test_the_cli_without_ray_says_what_to_install(clips, tmp_path):
    code = "import sys; sys.modules['ray'] = None\nfrom livecam.cli import main; main()"
    run = subprocess.run(
        [sys.executable, "-c", code, "annotate", str(clips[0]), "--out-dir", str(tmp_path),
         "--engine", "ray"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 1
    assert 'error: --engine ray needs: pip install "livecam[ray]"' in run.stderr


def test_removing_a_node_mid_job_still_completes_it(clips, tmp_path):
    from ray.cluster_utils import Cluster

    ray.shutdown()  # this test needs a cluster of its own
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 3},
        },
    )
    doomed = cluster.add_node(num_cpus=1)
    try:
        ray.init(address=cluster.address, logging_level=logging.WARNING)
        removed = []

        def remove_after_first(result) -> None:
            if not removed:
                removed.append(result)
                cluster.remove_node(doomed)

        results = annotate_on_ray(
            plan_tasks(clips, tmp_path / "out"),
            JOB,
            cpus_per_worker=1,
            on_result=remove_after_first,
        )
        assert [r.status for r in results].count("done") == 4, results
        for clip in clips:
            output = tmp_path / "out" / f"{clip.stem}.livecam.mp4"
            assert count_frames(output)[0] == count_frames(clip)[0]
        assert hidden(tmp_path / "out") == []
    finally:
        ray.shutdown()
        cluster.shutdown()
        start_local_ray()  # for any test after this one
