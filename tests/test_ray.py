"""The Ray engine on a real local Ray instance (and a two-node cluster):
the same results as the local engine, retries when a worker dies, resume
after an interrupt, bad inputs reported one by one."""

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from livecam.cluster import AnnotateJob, annotate_on_ray, plan_tasks
from livecam.cluster.ray_annotate import KILL_HOOK, PROGRESS_EVERY
from livecam.media import write_video
from livecam.spec import ModelSpec
from livecam.video import open_source
from test_video import count_frames

ray = pytest.importorskip("ray", reason='Ray is not installed (pip install "livecam[ray]")')
pytestmark = pytest.mark.ray
JOB = AnnotateJob(ModelSpec("lite0"))


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
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["good.livecam.mp4", "good.livecam.status.json"], "no trace of the bad"


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


def test_ray_runs_write_one_report_per_video_and_an_index(local_ray, clips, tmp_path):
    from typer.testing import CliRunner

    from livecam.cli import app

    result = CliRunner().invoke(
        app,
        [
            *("annotate", str(clips[0]), str(clips[2]), "--out-dir", str(tmp_path)),
            *("--reports", "--engine", "ray", "--cpus-per-worker", "1"),
        ],
    )
    assert result.exit_code == 0, result.output
    index = (tmp_path / "index.html").read_text()
    for clip in (clips[0], clips[2]):
        report = tmp_path / f"{clip.stem}.livecam.report.html"
        assert f'href="{report.name}"' in index
        figures = re.search(r'id="data">(.*?)</script>', report.read_text(), re.S).group(1)
        assert json.loads(figures)["frames"] == count_frames(clip)[0]


def test_the_cli_without_ray_says_what_to_install(clips, tmp_path):
    code = "import sys; sys.modules['ray'] = None\nfrom livecam.cli import main; main()"
    run = subprocess.run(
        [sys.executable, "-c", code, "annotate", str(clips[0]), "--out-dir", str(tmp_path),
         "--engine", "ray"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 1
    assert 'error: --engine ray needs: pip install "livecam[ray]"' in run.stderr


def test_removing_a_node_mid_job_still_completes_it(samples, tmp_path):
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

        def remove_mid_video(progress) -> None:
            at_work = progress.videos_begun - progress.videos_done
            if not removed and at_work == 2 and progress.frames >= PROGRESS_EVERY:
                removed.append(progress.frames)
                cluster.remove_node(doomed)

        with open_source(samples / "megamind.mp4") as source:
            frames = [f.image for f in source] * 3  # long enough to be removed mid-video
        clips = [write_video(tmp_path / f"long{i}.avi", frames, fps=15.0) for i in range(2)]
        results = annotate_on_ray(
            plan_tasks(clips, tmp_path / "out"),
            JOB,
            cpus_per_worker=1,
            on_progress=remove_mid_video,
        )
        assert removed, "the node was removed while both workers were at work"
        assert [r.status for r in results] == ["done", "done"], results
        assert sorted(r.attempts for r in results) == [1, 2], "the lost video retried"
        for clip in clips:
            output = tmp_path / "out" / f"{clip.stem}.livecam.mp4"
            assert count_frames(output)[0] == count_frames(clip)[0]
        assert hidden(tmp_path / "out") == []
    finally:
        ray.shutdown()
        cluster.shutdown()
        start_local_ray()  # for any test after this one


# Resume and retries after failures (issue 21, items 1-4 and 17) ---------------


def broken_folder(samples, folder: Path, good: int = 3) -> Path:
    """Frames that fail mid-run: the last one has another size than the rest."""
    import cv2

    folder.mkdir()
    photo = cv2.imread(str(samples / "orange.jpg"))
    for i in range(good):
        cv2.imwrite(str(folder / f"{i}.png"), photo)
    cv2.imwrite(str(folder / f"{good}.png"), cv2.resize(photo, (200, 100)))
    return folder


def ray_cli(*args, address: str) -> subprocess.CompletedProcess:
    command = [
        *(sys.executable, "-m", "livecam", "annotate", *map(str, args)),
        *("--engine", "ray", "--address", address, "--cpus-per-worker", "1"),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_a_video_that_failed_midway_is_redone_on_resume_not_skipped(
    local_ray, samples, clips, tmp_path
):
    # given: a job where one input fails after 3 frames (its partial video is kept)
    frames = broken_folder(samples, tmp_path / "frames")
    out = tmp_path / "out"
    address = ray.get_runtime_context().gcs_address
    first = ray_cli(frames, clips[0], "--out-dir", out, address=address)
    assert first.returncode == 1, first.stderr
    partial = out / "frames.livecam.mp4"
    assert count_frames(partial)[0] == 3, "the frames before the error are kept, visibly"
    record = json.loads((out / "frames.livecam.status.json").read_text())
    assert record["state"] == "partial" and record["frames"] == 3
    # when: the input is mended and the job re-run, as the README says
    import cv2

    cv2.imwrite(str(frames / "3.png"), cv2.imread(str(frames / "0.png")))
    again = ray_cli(frames, clips[0], "--out-dir", out, address=address)
    # then: the partial video is redone (not "skipped", not "exists"), the complete one skipped
    assert again.returncode == 0, again.stderr
    assert f"skipped {clips[0]}" in again.stderr
    assert f"annotated 4 frames of {frames}" in again.stderr
    assert count_frames(partial)[0] == 4
    assert json.loads((out / "frames.livecam.status.json").read_text())["state"] == "complete"


def test_a_death_between_the_renames_is_redone_on_resume(local_ray, clips, tmp_path):
    out = tmp_path / "out"
    [task] = plan_tasks(clips[:1], out, log=True, heatmap=True)
    [done] = annotate_on_ray([task], JOB, cpus_per_worker=1)
    assert done.status == "done" and task.complete()
    frames = count_frames(task.output)[0]
    # given: what a worker killed after renaming the heatmap and the log leaves behind
    record = json.loads(task.record.read_text())
    task.record.write_text(json.dumps({**record, "state": "running"}))
    task.output.unlink()
    assert not task.complete()
    # when: the job is run again, without --overwrite
    [again] = annotate_on_ray([task], JOB, cpus_per_worker=1)
    # then: the video is redone, its outputs replaced, and now complete
    assert again.status == "done", again.reason
    assert count_frames(task.output)[0] == count_frames(task.heatmap)[0] == frames
    assert task.complete()


def test_complete_needs_the_record_the_input_and_every_output_unchanged(local_ray, clips, tmp_path):
    out = tmp_path / "out"
    [task] = plan_tasks(clips[1:2], out, log=True)
    annotate_on_ray([task], JOB, cpus_per_worker=1)
    assert task.complete()
    with task.log.open("a") as log:  # an output that changed since
        log.write("\n")
    assert not task.complete()
    [task] = plan_tasks(clips[1:2], tmp_path / "other")
    task.output.parent.mkdir()
    task.output.write_bytes(clips[1].read_bytes())  # a file of that name, no record
    assert not task.complete()
    result = annotate_on_ray([task], JOB, cpus_per_worker=1)[0]
    assert result.status == "failed" and "exists; pass --overwrite" in result.reason


def test_partials_are_removed_for_their_own_video_only(tmp_path):
    from livecam.outputs import create_temporary

    [task, neighbour] = plan_tasks([Path("clip[1].avi"), Path("clip1.avi")], tmp_path)
    ours = [create_temporary(task.output, suffix="")[1], create_temporary(task.output)[1]]
    theirs = create_temporary(neighbour.output, suffix="")[1]
    task.remove_partials()
    assert not any(p.exists() for p in ours)
    assert theirs.exists(), "another video's temporary survives"


def kill_processes(title: str) -> int:
    """SIGKILL the Ray workers whose process title starts with ``title``."""
    killed = 0
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")[0].decode()
        except (OSError, UnicodeDecodeError):
            continue
        if proc.name.isdigit() and cmdline.startswith(title):
            os.kill(int(proc.name), signal.SIGKILL)
            killed += 1
    return killed


def test_work_handed_to_a_dead_worker_is_not_an_attempt(local_ray, clips, tmp_path):
    killed = []

    def kill_the_idle_worker(result) -> None:
        if not killed:  # the worker that just finished dies before it is given the next video
            killed.append(kill_processes("ray::_Worker"))

    results = annotate_on_ray(
        plan_tasks(clips[:3], tmp_path / "out"),
        JOB,
        workers=1,
        cpus_per_worker=1,
        on_result=kill_the_idle_worker,
    )
    assert killed and killed[0] >= 1  # (an idle actor of an earlier test may die too)
    assert [(r.status, r.attempts) for r in results] == [("done", 1)] * 3, results


def test_the_job_outlives_its_progress_board(local_ray, clips, tmp_path):
    killed = []

    def kill_the_board(progress) -> None:
        if not killed and progress.frames > 0:
            killed.append(kill_processes("ray::_ProgressBoard"))

    results = annotate_on_ray(
        plan_tasks(clips[:2], tmp_path / "out"), JOB, cpus_per_worker=1, on_progress=kill_the_board
    )
    assert killed and killed[0] >= 1  # earlier jobs' boards are gone: this one's
    assert [r.status for r in results] == ["done", "done"]


def test_an_empty_error_message_is_named_by_its_type():
    from livecam.errors import last_line

    assert last_line(MemoryError()) == "MemoryError"
    assert last_line(ValueError("first\nlast\n")) == "last"


def test_an_unreachable_cluster_is_one_line(clips, tmp_path):
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = ray_cli(clips[0], "--out-dir", tmp_path, address=f"127.0.0.1:{port}")
    assert run.returncode == 1
    assert f"error: cannot reach the Ray cluster at 127.0.0.1:{port}" in run.stderr
    assert "Traceback" not in run.stderr
