"""``livecam annotate`` (recorded videos) and ``livecam webcam`` (live)."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from livecam.cli import options as opt
from livecam.cli.app import (
    EXIT_ERROR,
    app,
    fail,
    interrupted_exit,
    print_summary,
    progress_bar,
    report,
    reported_errors,
    sigterm_as_interrupt,
    status_line,
)
from livecam.errors import LivecamError


@app.command()
def annotate(
    inputs: Annotated[
        list[Path], typer.Argument(help="Videos, folders of videos, or image folders.")
    ],
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Output video (one input only).")
    ] = None,
    out_dir: Annotated[
        Optional[Path], typer.Option(help="Folder for the outputs; default: beside each input.")
    ] = None,
    heatmap_out: Annotated[
        Optional[Path], typer.Option(help="Also write the heatmap-only video (one input only).")
    ] = None,
    log: opt.Log = None,
    logs: Annotated[
        bool, typer.Option("--logs", help="One JSON-lines log per video, beside its output.")
    ] = False,
    report_file: Annotated[
        Optional[Path],
        typer.Option(
            "--report",
            help="Also write an HTML report: top classes over time, the map's peak "
            "trajectory, maps and frames per second, a contact sheet (one input only; "
            "needs livecam[report]).",
        ),
    ] = None,
    reports: Annotated[
        bool,
        typer.Option(
            "--reports", help="One HTML report per video beside its output, and an index.html."
        ),
    ] = False,
    batch: Annotated[
        int,
        typer.Option(
            help="Frames per call of the compiled step.", callback=opt.at_least("--batch", 1)
        ),
    ] = 1,
    refresh: Annotated[
        int,
        typer.Option(
            help="Compute a map every N-th frame, reuse it in between (long archives).",
            callback=opt.at_least("--refresh", 1),
        ),
    ] = 1,
    follow: opt.Follow = False,
    model: opt.Model = "lite0",
    weights: opt.Weights = "imagenet",
    layer: opt.Layer = None,
    labels: opt.Labels = None,
    method: opt.Method = "gradcam",
    eigen_smooth: opt.EigenSmooth = False,
    aug_smooth: opt.AugSmooth = False,
    max_channels: opt.MaxChannels = None,
    score: opt.Score = "logit",
    top: opt.Top = None,
    class_: opt.Classes = None,
    alpha: opt.Alpha = 0.5,
    colormap: opt.Colormap = "jet",
    input_size: opt.InputSize = None,
    precision: opt.Precision = "float32",
    runtime: opt.Runtime = "tensorflow",
    calibration: opt.Calibration = None,
    grid: opt.Grid = None,
    skip_tokens: opt.SkipTokens = None,
    threshold: opt.Threshold = None,
    region: opt.Region = None,
    similar_to: opt.SimilarTo = None,
    smooth: opt.Smooth = 0.0,
    codec: opt.Codec = None,
    overwrite: opt.Overwrite = False,
    engine: Annotated[
        str,
        typer.Option(
            help="local (this process) or ray (a Ray cluster; pip install livecam[ray]).",
            callback=opt.one_of("--engine", ("local", "ray")),
        ),
    ] = "local",
    address: Annotated[
        Optional[str],
        typer.Option(help="ray: the cluster (else RAY_ADDRESS, else a local one for this run)."),
    ] = None,
    workers: Annotated[
        Optional[int],
        typer.Option(
            help="ray: workers (default: what the CPUs allow).",
            callback=opt.at_least("--workers", 1),
        ),
    ] = None,
    cpus_per_worker: Annotated[
        float,
        typer.Option(help="ray: CPUs per worker.", callback=opt.positive("--cpus-per-worker")),
    ] = 2,
    gpus_per_worker: Annotated[
        float,
        typer.Option(help="ray: GPUs per worker.", callback=opt.at_least("--gpus-per-worker", 0)),
    ] = 0,
    retries: Annotated[
        int,
        typer.Option(
            help="ray: retries of a video whose worker died.",
            callback=opt.at_least("--retries", 0),
        ),
    ] = 3,
    summary: Annotated[
        Optional[Path], typer.Option(help="ray: write the job summary (JSON) here.")
    ] = None,
) -> None:
    """Annotate recorded videos: every frame, in order, with its heatmap overlay.

    The output keeps the input's size, frame rate and frame count. Frames done
    before an error or Ctrl-C are kept in a playable file.

    Examples:

      livecam annotate samples/megamind.mp4 -o out.mp4 --log frames.jsonl

      livecam annotate videos/ --out-dir annotated/ --batch 8 --smooth 0.6

      livecam annotate archive/ --out-dir out/ --refresh 4 --follow

      livecam annotate /archive/cams/ --out-dir /archive/out/ --engine ray --logs

      livecam annotate samples/megamind.mp4 -o out.mp4 --report out.html
    """
    from livecam.render import HeatmapRenderer
    from livecam.video import expand_inputs
    from livecam.video.annotate import annotate_video, check_refresh, default_output

    failures = 0
    with reported_errors(), sigterm_as_interrupt(), contextlib.ExitStack() as stack:
        kinds = opt.KindOptions(grid, skip_tokens, threshold, region, similar_to)
        choice = opt.ModelChoice.of(model, weights, layer, labels, input_size, precision,
                                 top, class_, kinds, runtime, calibration)  # fmt: skip
        sources = expand_inputs(inputs)
        options = opt.method_options(eigen_smooth, aug_smooth, max_channels, method)
        if len(sources) > 1 and (output or heatmap_out or log or report_file):
            raise LivecamError(
                "-o, --heatmap-out, --log and --report take one input; use --out-dir "
                "(and --logs, --reports)"
            )
        if report_file or reports:
            opt.check_plots()
        check_refresh(refresh, follow)  # here too: a Ray job would fail in every worker
        if engine == "ray":
            from livecam.cli.cluster import run_on_ray
            from livecam.cluster import AnnotateJob, plan_tasks

            tasks = plan_tasks(sources, out_dir, log=logs or bool(report_file) or reports)
            if output or heatmap_out or log:  # one input, outputs named as locally
                first = tasks[0]
                tasks = [
                    replace(first, output=output or first.output, log=log or first.log,
                            heatmap=heatmap_out)
                ]  # fmt: skip
            planned = [o for t in tasks for o in (*t.outputs(), t.record)]
            opt.check_outputs(planned, sources, overwrite=True)
            wanted = _report_paths([t.output for t in tasks], report_file, reports)
            # rewritten after each run, as a resumed job rewrites its outputs
            opt.check_outputs([*wanted, _index_path(wanted, reports)], sources, overwrite=True)
            job = AnnotateJob(
                choice.spec, method, score, top, tuple(class_ or ()), options, alpha, colormap,
                batch, smooth, refresh, codec, overwrite, follow, threshold,
            )  # fmt: skip
            failed = run_on_ray(
                tasks,
                job,
                summary=summary,
                address=address,
                workers=workers,
                cpus_per_worker=cpus_per_worker,
                gpus_per_worker=gpus_per_worker,
                retries=retries,
            )
            done = [
                (task.input, task.log, task.output, path)
                for task, path in zip(tasks, wanted, strict=False)
                if task.complete()
            ]
            _write_reports(done, _index_path(wanted, reports))
            if failed:
                raise typer.Exit(EXIT_ERROR)
            return
        planned = [output or default_output(s, out_dir) for s in sources]
        logs_planned = [p.with_suffix(".jsonl") if logs else log for p in planned]
        wanted = _report_paths(planned, report_file, reports) or [None] * len(planned)
        index = _index_path([w for w in wanted if w], reports)
        outputs = [*planned, heatmap_out, *logs_planned, *wanted, index]
        opt.check_outputs(outputs, sources, overwrite)
        explainer = choice.explainer(method, score, options)
        renderer = HeatmapRenderer(alpha, colormap)
        scratch = None  # a folder for the logs that only a report needs
        done = []
        for number, (source, target, log_path, report_path) in enumerate(
            zip(sources, planned, logs_planned, wanted, strict=True)
        ):
            if report_path is not None and log_path is None:  # the report reads a log
                scratch = scratch or stack.enter_context(tempfile.TemporaryDirectory())
                log_path = Path(scratch) / f"{number}.jsonl"  # inputs may share a name
            try:
                with progress_bar(source.name) as progress:
                    summary = annotate_video(
                        source,
                        target,
                        explainer,
                        renderer,
                        heatmap_output=heatmap_out,
                        log_path=log_path,
                        batch=batch,
                        smooth=smooth,
                        codec=codec,
                        progress=progress,
                        overwrite=overwrite,
                        refresh=refresh,
                        follow=follow,
                    )
            except Exception as exc:
                report(exc)
                failures += 1
                continue
            print_summary(summary, "annotated")
            failures += bool(summary.skipped)
            if report_path is not None and summary.frames_written:
                done.append((source, log_path, target, report_path))
            if summary.interrupted:
                _write_reports(done, index)  # what was done is reported
                fail("interrupted")
                raise typer.Exit(interrupted_exit())
        _write_reports(done, index)
    if failures:
        raise typer.Exit(EXIT_ERROR)


def _report_paths(outputs: list[Path], report: Path | None, reports: bool) -> list[Path]:
    """Where each video's report goes: ``--report`` for the one input, or with
    ``--reports`` beside each output; none without either."""
    if report is not None:
        return [report]
    return [o.with_suffix(".report.html") for o in outputs] if reports else []


def _index_path(reports_planned: list[Path], reports: bool) -> Path | None:
    return reports_planned[0].parent / "index.html" if reports and reports_planned else None


def _write_reports(done: list[tuple[Path, Path, Path, Path]], index: Path | None) -> None:
    """Each finished video's report (source, log, annotated video, report), then the index."""
    from livecam.video.report import first_frame, write_index, write_video_report

    for source, log_path, video, path in done:
        write_video_report(log_path, video, path, first_frame(source))
        typer.echo(f"report: {path}")
    if index is not None:
        write_index([(video.name, path) for _, _, video, path in done], index)
        typer.echo(f"index: {index}")


@app.command()
def webcam(
    camera: Annotated[int, typer.Option(help="Camera index.")] = 0,
    source: Annotated[
        Optional[str],
        typer.Option(help="Stream URL (http://, rtsp://), video file or image folder instead."),
    ] = None,
    fps_target: opt.FpsTarget = None,
    record: opt.Record = None,
    log: opt.Log = None,
    no_display: Annotated[bool, typer.Option("--no-display", help="Run without a window.")] = False,
    duration: opt.Duration = None,
    max_frames: Annotated[
        Optional[int],
        typer.Option(help="Stop after this many frames.", callback=opt.at_least("--max-frames", 1)),
    ] = None,
    reconnect: opt.Reconnect = 0,
    timeout: opt.Timeout = 5.0,
    model: opt.Model = "lite0",
    weights: opt.Weights = "imagenet",
    layer: opt.Layer = None,
    labels: opt.Labels = None,
    method: opt.Method = "gradcam",
    eigen_smooth: opt.EigenSmooth = False,
    aug_smooth: opt.AugSmooth = False,
    max_channels: opt.MaxChannels = None,
    score: opt.Score = "logit",
    top: opt.Top = None,
    class_: opt.Classes = None,
    alpha: opt.Alpha = 0.5,
    colormap: opt.Colormap = "jet",
    input_size: opt.InputSize = None,
    precision: opt.Precision = "float32",
    runtime: opt.Runtime = "tensorflow",
    calibration: opt.Calibration = None,
    grid: opt.Grid = None,
    skip_tokens: opt.SkipTokens = None,
    threshold: opt.Threshold = None,
    region: opt.Region = None,
    similar_to: opt.SimilarTo = None,
    smooth: opt.Smooth = 0.0,
    follow: opt.Follow = False,
    codec: opt.Codec = None,
    overwrite: opt.Overwrite = False,
) -> None:
    """Live overlay from a camera or stream, with an optional frame-rate target.

    Keys: q/Esc quit, space pause, n/p next/previous of the top-k classes,
    m next method, s snapshot PNG, +/- alpha. Without a display it runs
    headless with a status line.

    Examples:

      livecam webcam --fps-target 15

      livecam webcam --model vgg16 --fps-target 15 --follow

      livecam webcam --source http://192.168.1.20:8080/video --record out.mp4

      livecam webcam --no-display --duration 60 --log live.jsonl --top 3
    """
    from livecam.render import HeatmapRenderer
    from livecam.video import open_source
    from livecam.video.display import Display
    from livecam.video.live import ExplainerCache, LiveRunner

    with reported_errors(), sigterm_as_interrupt():
        kinds = opt.KindOptions(grid, skip_tokens, threshold, region, similar_to)
        choice = opt.ModelChoice.of(model, weights, layer, labels, input_size, precision,
                                 top, class_, kinds, runtime, calibration)  # fmt: skip
        inputs = [Path(source)] if source is not None and Path(source).exists() else []
        opt.check_outputs([record, log], inputs, overwrite)
        bundle, wanted = choice.load()
        options = opt.method_options(eigen_smooth, aug_smooth, max_channels, method)
        cache = ExplainerCache(bundle, method, wanted, score, options, threshold)
        display = Display(enabled=not no_display)
        status = status_line  # used only while there is no window
        runner = LiveRunner(
            cache,
            HeatmapRenderer(alpha, colormap),
            fps_target=fps_target,
            smooth=smooth,
            follow=follow,
            display=display,
            status=status,
            announce=lambda line: typer.echo(line, err=True),
        )
        for precision, reason in runner.refused.items():
            typer.echo(f"{precision} not used for {method} (fidelity gate): {reason}", err=True)
        frames = open_source(source if source is not None else camera, timeout, reconnect)
        try:
            summary = runner.run(
                frames,
                record=record,
                log_path=log,
                duration=duration,
                max_frames=max_frames,
                codec=codec,
                overwrite=overwrite,
            )
        finally:
            frames.close()
        if not display.enabled and sys.stderr.isatty():
            typer.echo("", err=True)
        print_summary(summary, "showed")
        if summary.interrupted:
            fail("interrupted")
            raise typer.Exit(interrupted_exit())
        if getattr(frames, "lost_reason", None):
            raise typer.Exit(EXIT_ERROR)
