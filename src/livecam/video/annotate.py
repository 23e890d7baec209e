"""Offline annotation: every frame of a video through the compiled CAM step."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path

import numpy as np

from livecam.errors import LivecamError
from livecam.explain import Explainer, Explanation
from livecam.frames import prepare
from livecam.media.sinks import VideoSink
from livecam.media.sources import Frame, FrameSource, VideoFileSource, open_source
from livecam.render import HeatmapRenderer
from livecam.timing import StageTimer
from livecam.video.follow import MapFollower
from livecam.video.outputs import FrameLog, HeatmapVideo, OverlayVideo
from livecam.video.pipeline import (
    MapSmoother,
    OutputWorker,
    Processed,
    RunSummary,
    aborting_keeps,
    signals_deferred,
)

ProgressCallback = Callable[[int, "int | None"], None]


def default_output(source: Path, out_dir: Path | None = None, suffix: str = ".mp4") -> Path:
    """``clip.avi`` -> ``clip.livecam.mp4`` beside it (or in ``out_dir``)."""
    return (out_dir or source.parent) / f"{source.stem}.livecam{suffix}"


def _batches(frames: Iterator[Frame], size: int, timer: StageTimer) -> Iterator[list[Frame]]:
    while True:
        start = time.perf_counter()
        chunk = list(islice(frames, size))
        if not chunk:
            return
        per_frame = (time.perf_counter() - start) / len(chunk)
        for _ in chunk:
            timer.add("read_wait", per_frame)
        yield chunk


@dataclass
class _HeldMap:
    """The latest map: what it explains, from which frame, its number."""

    explanation: Explanation
    frame: Frame
    seq: int
    heatmap: np.ndarray


def process_frames(
    source: FrameSource,
    explainer: Explainer,
    worker: OutputWorker,
    timer: StageTimer,
    summary: RunSummary,
    batch: int = 1,
    smooth: float = 0.0,
    progress: ProgressCallback | None = None,
    max_frames: int | None = None,
    refresh: int = 1,
    follow: bool = False,
) -> int:
    """Run every frame of ``source`` (or the first ``max_frames``), in order:
    every ``refresh``-th frame through the CAM step (in batches), the frames in
    between with the latest map (``follow``: warped to them by optical flow).
    ``summary.frames_in`` and ``summary.maps`` count as they go (so they are
    right after an interrupt too)."""
    smoother = MapSmoother(smooth)
    follower = MapFollower() if follow else None
    size = explainer.model.input_size
    # With --refresh, most frames need no model input: prepare only those that do.
    source.prepare = partial(prepare, size=size) if refresh == 1 else None
    done = 0
    held: _HeldMap | None = None
    for chunk in _batches(islice(iter(source), max_frames), batch * refresh, timer):
        summary.frames_in += len(chunk)
        due = [frame for k, frame in enumerate(chunk) if (done + k) % refresh == 0]
        with timer.stage("preprocess"):
            inputs = np.stack(
                [f.prepared if f.prepared is not None else prepare(f.image, size) for f in due]
            )
        with timer.stage("cam"):
            explained = dict(
                zip((f.index for f in due), explainer.explain_batch(inputs), strict=True)
            )
        shares = {
            "read_wait": timer.last("read_wait"),
            "preprocess": timer.last("preprocess") / len(due),
            "cam": timer.last("cam") / len(due),
        }
        for frame in chunk:
            timings = {"read_wait": shares["read_wait"]}
            if frame.index in explained:
                explanation = explained[frame.index]
                summary.maps += 1
                heatmap = smoother(explanation.targets[0].heatmap)
                held = _HeldMap(explanation, frame, summary.maps, heatmap)
                timings = dict(shares)
            fields = {
                "map_seq": held.seq,
                "map_age_ms": round((frame.time_s - held.frame.time_s) * 1000.0, 1),
            }
            heatmap = held.heatmap
            if follower is not None:  # every frame: it follows the scene frame to frame
                with timer.stage("follow"):
                    heatmap = follower.follow(heatmap, held.frame, frame)
                timings["follow"] = timer.last("follow")
            target = held.explanation.targets[0]
            worker.submit(
                Processed(frame, held.explanation, target, heatmap, timings, None, fields)
            )
        done += len(chunk)
        if progress is not None:
            progress(done, source.info.frame_count)
    return done


def check_refresh(refresh: int, follow: bool) -> None:
    """Raises LivecamError unless ``refresh`` (and ``follow`` with it) make sense."""
    if refresh < 1:
        raise LivecamError(f"refresh must be at least 1, got {refresh}")
    if follow and refresh == 1:
        raise LivecamError(
            "--follow moves a map to the frames between maps: add --refresh N (N >= 2)"
        )


def annotate_video(
    source_spec: str | Path,
    output: str | Path,
    explainer: Explainer,
    renderer: HeatmapRenderer | None = None,
    *,
    heatmap_output: str | Path | None = None,
    log_path: str | Path | None = None,
    batch: int = 1,
    smooth: float = 0.0,
    codec: str | None = None,
    progress: ProgressCallback | None = None,
    max_frames: int | None = None,
    overwrite: bool = False,
    refresh: int = 1,
    follow: bool = False,
) -> RunSummary:
    """Write ``output``: the source with the heatmap of its first target blended
    into every frame, at the source's size and frame rate.

    Args:
        source_spec: A video file, an image folder or a glob.
        output: The annotated video (``.mp4``, ``.avi``, ``.mkv``, ...).
        explainer: Model, method and targets.
        renderer: Overlay settings.
        heatmap_output: Also write the heatmap-only video here.
        log_path: Write one JSON object per frame here.
        batch: Frames per call of the compiled step.
        smooth: Exponential moving average of maps, 0 (off) to <1.
        codec: FourCC to force.
        progress: Called with (frames done, frames expected or None).
        max_frames: Stop after this many frames.
        overwrite: Replace existing outputs (never an input).
        refresh: Compute a map every ``refresh``-th frame and blend it into the
            frames up to the next one (1: every frame).
        follow: Warp the map to the frames between refreshes with dense optical
            flow (see :mod:`livecam.video.follow`); needs ``refresh`` of 2 or more.

    Returns:
        The run's summary (``interrupted`` after Ctrl-C/SIGTERM).

    Raises:
        SourceError, SinkError: Before any frame, when an input or output is unusable.
        RunAborted: An error mid-run; the frames processed so far are written,
            the video files finalised, and ``.summary`` says how many.
    """
    if batch < 1:
        raise LivecamError(f"batch must be at least 1, got {batch}")
    check_refresh(refresh, follow)
    renderer = renderer or HeatmapRenderer()
    timer = StageTimer()
    summary = RunSummary(source=str(source_spec))
    summary.outputs = [Path(output)] + ([Path(heatmap_output)] if heatmap_output else [])
    inputs = (Path(source_spec),)
    with ExitStack() as stack:
        source = stack.enter_context(open_source(source_spec))
        fps, size = source.info.fps, (source.info.width, source.info.height)
        sink = stack.enter_context(VideoSink(output, fps, size, codec, inputs, overwrite))
        heat_sink = None
        if heatmap_output is not None:
            heat_sink = VideoSink(heatmap_output, fps, size, codec, inputs, overwrite)
            stack.enter_context(heat_sink)
        log = stack.enter_context(open(log_path, "w", encoding="utf-8")) if log_path else None
        explainer.warm_up()
        with aborting_keeps(summary, stack):
            started = time.perf_counter()
            outputs = [OverlayVideo(sink)]
            outputs += [HeatmapVideo(heat_sink)] if heat_sink is not None else []
            outputs += [FrameLog(log)] if log is not None else []
            worker = OutputWorker(renderer, timer, outputs)
            try:
                process_frames(
                    source,
                    explainer,
                    worker,
                    timer,
                    summary,
                    batch,
                    smooth,
                    progress,
                    max_frames,
                    refresh,
                    follow,
                )
            except KeyboardInterrupt:
                summary.interrupted = True
            finally:
                with signals_deferred(summary):
                    worker.close()  # every frame handed over is written...
                    summary.frames_out = worker.frames_done
                    summary.frames_written = sink.frames_written
                    summary.elapsed_s = time.perf_counter() - started
                    summary.timings_ms = timer.summary_ms()
                    if summary.elapsed_s > 0:
                        summary.maps_per_s = summary.maps / summary.elapsed_s
                    stack.close()  # ...then the videos are finalised, whatever signal comes
            if worker.error is not None:
                raise worker.error
        complete = max_frames is None and not summary.interrupted
        summary.warnings.extend(_source_warnings(source, sink, complete))
        summary.skipped.extend(getattr(source, "unreadable", []))
    return summary


def _source_warnings(source: FrameSource, sink: VideoSink, read_to_end: bool) -> list[str]:
    warnings = []
    if isinstance(source, VideoFileSource) and source.truncated and read_to_end:
        warnings.append(
            f"{source.name}: decoded {source.frames_read} of the "
            f"{source.info.frame_count} frames the container announces (truncated?)"
        )
    if sink.padded:
        warnings.append(
            f"{sink.path}: odd frame size {sink.size[0]}x{sink.size[1]} padded to "
            f"{sink.encoded_size[0]}x{sink.encoded_size[1]} (codecs need even sizes)"
        )
    return warnings
