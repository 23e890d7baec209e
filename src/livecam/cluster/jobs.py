"""What a distributed annotate job is made of: plain, picklable descriptions
(paths and options, never models or frames), and the per-video work a worker
runs, which is the local engine's own code."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from livecam.cluster.completion import (
    COMPLETE,
    PARTIAL,
    RUNNING,
    is_complete,
    record_path,
    write_record,
)
from livecam.errors import LivecamError, RunAborted
from livecam.explain import MethodOptions
from livecam.outputs import create_temporary, temporaries_of
from livecam.spec import ModelSpec
from livecam.video.annotate import default_output


@dataclass(frozen=True)
class AnnotateJob:
    """The options of ``livecam annotate`` that every video shares; the model's
    paths (labels, ``similar_to``, int8's calibration) must be readable by every worker."""

    spec: ModelSpec = field(default_factory=ModelSpec)
    method: str = "gradcam"
    score: str = "logit"
    top: int | None = None
    classes: tuple[str, ...] = ()
    method_options: MethodOptions = field(default_factory=MethodOptions)
    alpha: float = 0.5
    colormap: str = "jet"
    batch: int = 1
    smooth: float = 0.0
    refresh: int = 1
    codec: str | None = None
    overwrite: bool = False
    follow: bool = False
    threshold: float | None = None


@dataclass(frozen=True)
class VideoTask:
    """One input video and where its outputs go."""

    input: Path
    output: Path
    log: Path | None = None
    heatmap: Path | None = None

    def outputs(self) -> list[Path]:
        return [p for p in (self.output, self.log, self.heatmap) if p is not None]

    @property
    def record(self) -> Path:
        """The status record that says whether the outputs are complete."""
        return record_path(self.output)

    def complete(self) -> bool:
        """Whether a finished run vouches for every output (see :mod:`.completion`)."""
        return is_complete(self.record, self.input, self.outputs())

    def begun_before(self) -> bool:
        """Whether livecam began this video before: its outputs are ours to replace."""
        return self.record.exists()

    def remove_partials(self) -> None:
        """Delete the hidden temporary files a killed worker left for this video."""
        for path in self.outputs():
            for leftover in temporaries_of(path):
                with contextlib.suppress(OSError):
                    leftover.unlink()


@dataclass
class VideoResult:
    """How one video went, for the per-video line and the job summary."""

    input: str
    output: str
    status: str  # "done", "failed" or "skipped"
    frames: int = 0
    seconds: float = 0.0
    node: str | None = None
    attempts: int = 0
    reason: str | None = None


def plan_tasks(
    inputs: list[Path],
    out_dir: Path,
    log: bool = False,
    heatmap: bool = False,
) -> list[VideoTask]:
    """One task per input, outputs named as the local engine names them, in
    ``out_dir``; the log and heatmap videos beside each output."""
    tasks = []
    for source in inputs:
        output = default_output(source, out_dir)
        tasks.append(
            VideoTask(
                source,
                output,
                output.with_suffix(".jsonl") if log else None,
                output.with_name(f"{source.stem}.livecam.heatmap.mp4") if heatmap else None,
            )
        )
    return tasks


class VideoAnnotator:
    """What a worker holds: the model, loaded and traced once, and the renderer.

    Args:
        job: The shared options.
        threads: TensorFlow's and OpenCV's thread count (the worker's CPU share).
    """

    def __init__(self, job: AnnotateJob, threads: int | None = None) -> None:
        if threads:
            import cv2
            import tensorflow as tf

            cv2.setNumThreads(threads)
            with contextlib.suppress(RuntimeError):  # already set in this process
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(1)
        from livecam.cam import chosen
        from livecam.explain import Explainer
        from livecam.loading import load_model
        from livecam.render import HeatmapRenderer

        self.job = job
        model = load_model(job.spec)
        targets = chosen(model.labels, job.top, job.classes)
        options = job.method_options.for_method(job.method)
        self.explainer = Explainer(
            model, job.method, targets, job.score, method_options=options, threshold=job.threshold
        )
        self.renderer = HeatmapRenderer(job.alpha, job.colormap)
        self.explainer.warm_up()

    def annotate(self, task: VideoTask, progress=None) -> dict:
        """Annotate one video with the local engine's code. The log is written
        under a temporary name and renamed with the videos; the status record
        is written before the work and, last, when every output is in place,
        so a resume never takes a broken set of outputs for complete.

        Returns:
            ``{"frames", "seconds", "warnings"}``.

        Raises:
            RunAborted: The video failed mid-run; what was written is kept
                and recorded as partial.
        """
        from livecam.video.annotate import annotate_video

        started = time.perf_counter()
        for path in task.outputs():
            path.parent.mkdir(parents=True, exist_ok=True)
        replace = self.job.overwrite or task.begun_before()
        write_record(task.record, RUNNING, task.input, task.outputs())
        log_tmp = None
        if task.log is not None:
            fd, log_tmp = create_temporary(task.log)
            os.close(fd)
        try:
            summary = annotate_video(
                task.input,
                task.output,
                self.explainer,
                self.renderer,
                heatmap_output=task.heatmap,
                log_path=log_tmp,
                batch=self.job.batch,
                smooth=self.job.smooth,
                codec=self.job.codec,
                progress=progress,
                overwrite=replace,
                refresh=self.job.refresh,
                follow=self.job.follow,
            )
            if log_tmp is not None:
                os.replace(log_tmp, task.log)
        except LivecamError as exc:
            self._record_failure(task, exc)
            raise
        finally:
            if log_tmp is not None and log_tmp.exists():
                log_tmp.unlink()
        state = PARTIAL if summary.interrupted else COMPLETE
        write_record(task.record, state, task.input, task.outputs(),
                     frames=summary.frames_written)  # fmt: skip
        return {
            "frames": summary.frames_written,
            "seconds": time.perf_counter() - started,
            "warnings": summary.warnings + summary.skipped,
        }

    @staticmethod
    def _record_failure(task: VideoTask, error: LivecamError) -> None:
        """A failed video's record says what was kept; one that wrote nothing leaves none."""
        if not any(path.exists() for path in task.outputs()):
            task.record.unlink(missing_ok=True)
            return
        summary = error.summary if isinstance(error, RunAborted) else None
        kept = summary.frames_written if summary is not None else 0
        write_record(task.record, PARTIAL, task.input, task.outputs(), frames=kept,
                     reason=str(error))  # fmt: skip
