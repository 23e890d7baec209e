"""The ``livecam`` command line: a thin layer over the library.

Each command parses options, calls the library, and turns a
:class:`~livecam.errors.LivecamError` into one red line and exit code 1.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

# OpenCV and FFmpeg log every failed write or probe to stderr; the CLI reports
# errors itself, in one line. Set before cv2 is first imported.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from livecam import __version__
from livecam.errors import LivecamError, RunAborted

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

app = typer.Typer(
    help="Live class-activation-map (Grad-CAM) overlays for webcams, videos and images.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
_state: dict[str, Any] = {"debug": False, "signal": None}


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered like Ctrl-C so every loop finalises its outputs."""


def _on_sigterm(signum, frame) -> None:
    _state["signal"] = "SIGTERM"
    raise Terminated()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupted_exit() -> int:
    return EXIT_TERMINATED if _state["signal"] == "SIGTERM" else EXIT_INTERRUPTED


def fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)


@contextmanager
def reported_errors() -> Iterator[None]:
    """One line instead of a traceback (unless --debug), and the exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except Exception as exc:
        report(exc)
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        fail("interrupted")
        raise typer.Exit(interrupted_exit()) from None


def report(exc: Exception) -> None:
    """Print an error as one line (re-raise it under --debug); for an aborted
    run, first say what was kept."""
    if _state["debug"]:
        raise exc
    if isinstance(exc, RunAborted):
        _print_summary(exc.summary, "stopped after")
    if isinstance(exc, LivecamError):
        fail(str(exc))
        return
    lines = str(exc).strip().splitlines()
    detail = f": {lines[0]}" if lines else ""
    fail(f"unexpected {type(exc).__name__}{detail} (run with --debug for the traceback)")


def _quiet_tensorflow_import() -> None:
    """Import TensorFlow with its C++ start-up messages (CUDA probing on a
    CPU-only machine) sent to /dev/null: they are noise to a CLI user."""
    if _state["debug"] or "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_logical_devices()  # device initialisation logs too
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"livecam {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Live class-activation-map (Grad-CAM) overlays for webcams, videos and images."""
    _state["debug"] = debug
    if ctx.invoked_subcommand is not None:
        _quiet_tensorflow_import()


ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="lite0 (bundled, offline), a keras.applications name "
        "(vgg16, resnet50, ...) or a .keras/.h5 file.",
    ),
]
WeightsOption = Annotated[
    str,
    typer.Option(
        help="imagenet (downloaded by Keras; bundled for lite0), none, or a weights file."
    ),
]
LayerOption = Annotated[Optional[str], typer.Option(help="CAM layer; default: auto-detected.")]
LabelsOption = Annotated[Optional[Path], typer.Option(help="Labels file, one per line.")]
MethodOption = Annotated[str, typer.Option(help="gradcam, gradcam++ or cam.")]
ScoreOption = Annotated[str, typer.Option(help="Differentiate the logit or the probability.")]
TopOption = Annotated[
    Optional[int], typer.Option("--top", "-k", help="Explain each of the k most likely classes.")
]
ClassOption = Annotated[
    Optional[list[str]],
    typer.Option("--class", "-c", help="Explain this class (name or index); repeatable."),
]
AlphaOption = Annotated[float, typer.Option(help="Heatmap weight in the blend, 0..1.")]
ColormapOption = Annotated[str, typer.Option(help="OpenCV colormap name.")]
InputSizeOption = Annotated[
    Optional[int], typer.Option(help="Run the model at this square input size.")
]
PrecisionOption = Annotated[str, typer.Option(help="float32, mixed_bfloat16 or mixed_float16.")]


def _validate_common(
    alpha: float,
    colormap: str,
    top: int | None,
    classes: list[str] | None,
    precision: str,
    method: str,
) -> None:
    from livecam.cam import METHODS
    from livecam.models import PRECISIONS
    from livecam.render import check_alpha, colormap_id

    check_alpha(alpha)
    colormap_id(colormap)
    if top is not None and top < 1:
        raise LivecamError(f"--top must be at least 1, got {top}")
    if top is not None and classes:
        raise LivecamError("use either --top or --class, not both")
    if precision not in PRECISIONS:
        raise LivecamError(
            f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}"
        )
    if method.lower() not in METHODS:
        raise LivecamError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def _model_and_targets(
    model: str,
    weights: str,
    layer: str | None,
    labels: Path | None,
    top: int | None,
    classes: list[str] | None,
    input_size: int | None,
    precision: str,
):
    from livecam import targets as target_specs
    from livecam.models import load_model

    with redirect_stdout(sys.stderr):  # Keras prints download progress; keep stdout for results
        bundle = load_model(
            model,
            weights=weights,
            layer=layer,
            labels=labels,
            input_size=input_size,
            precision=precision,
        )
    wanted = target_specs.classes(bundle.labels, classes) if classes else target_specs.top(top or 1)
    return bundle, wanted


def _explainer(
    model: str,
    weights: str,
    layer: str | None,
    labels: Path | None,
    method: str,
    score: str,
    top: int | None,
    classes: list[str] | None,
    input_size: int | None,
    precision: str,
):
    from livecam.explain import Explainer

    bundle, wanted = _model_and_targets(
        model, weights, layer, labels, top, classes, input_size, precision
    )
    return Explainer(bundle, method=method, targets=wanted, score=score)


def _print_result(result: Any) -> None:
    typer.echo(str(result.path))
    shown = {t.index for t in result.targets}
    for rank, prediction in enumerate(result.explanation.predictions[:5], start=1):
        mark = "*" if prediction.index in shown else " "
        typer.echo(f" {mark}{rank}. {prediction.name:<32} {prediction.probability:7.2%}")
    for target in result.targets:
        typer.echo(f"   {target.overlay}")
    if result.comparison:
        typer.echo(f"   {result.comparison}")


def _each(paths: list[Path], work: Callable[[Path], Any]) -> int:
    """Run ``work`` per input; a failing input is reported and the rest still run."""
    failures = 0
    for path in paths:
        try:
            work(path)
        except Exception as exc:
            report(exc)
            failures += 1
    return failures


@app.command()
def image(
    paths: Annotated[list[Path], typer.Argument(help="Image files.", show_default=False)],
    model: ModelOption = "lite0",
    weights: WeightsOption = "imagenet",
    layer: LayerOption = None,
    labels: LabelsOption = None,
    method: MethodOption = "gradcam",
    score: ScoreOption = "logit",
    top: TopOption = None,
    class_: ClassOption = None,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="Output folder; default: beside each image."),
    ] = None,
    alpha: AlphaOption = 0.5,
    colormap: ColormapOption = "jet",
    input_size: InputSizeOption = None,
    precision: PrecisionOption = "float32",
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per image on stdout.")
    ] = False,
    overwrite: OverwriteOption = False,
) -> None:
    """Explain images: print the top predictions and write heatmap overlays.

    Examples:

      livecam image samples/squirrel_cls.jpg --top 3

      livecam image photo.jpg --class "monarch" --method gradcam++ -o out/

      livecam image *.jpg --model vgg16 --weights vgg16.h5 --json
    """
    from livecam.images import explain_image
    from livecam.render import HeatmapRenderer

    with reported_errors():
        _validate_common(alpha, colormap, top, class_, precision, method)
        explainer = _explainer(
            model, weights, layer, labels, method, score, top, class_, input_size, precision
        )
        renderer = HeatmapRenderer(alpha, colormap)

        def one(path: Path) -> None:
            result = explain_image(path, explainer, renderer, out, overwrite)
            if as_json:
                typer.echo(json.dumps(result.to_json()))
            else:
                _print_result(result)

        failures = _each(paths, one)
    if failures:
        raise typer.Exit(EXIT_ERROR)


@app.command()
def models() -> None:
    """List the built-in models with their input size and detected CAM layer.

    Builds each architecture with random weights (nothing is downloaded).
    """
    from livecam.models import load_model, model_names

    with reported_errors():
        typer.echo(f"{'model':<20} {'input':<9} cam layer")
        for name in model_names():
            bundle = load_model(name, weights="imagenet" if name == "lite0" else None)
            height, width = bundle.input_size
            default = "  (default, offline)" if name == "lite0" else ""
            typer.echo(f"{name:<20} {height}x{width:<5} {bundle.cam_layer}{default}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the results.")] = Path(
        "livecam-demo"
    ),
) -> None:
    """Explain the bundled sample photos and annotate the bundled sample video
    with the bundled model (top 3 for photos, Grad-CAM).

    Example:

      livecam demo -o /tmp/demo
    """
    from livecam.annotate import annotate_video, default_output
    from livecam.images import explain_image
    from livecam.outputs import check_writable_dir
    from livecam.samples import sample_images, sample_video
    from livecam.targets import classes, top

    with reported_errors(), sigterm_as_interrupt():
        from livecam.explain import Explainer

        check_writable_dir(out)
        explainer = Explainer("lite0", targets=top(3))
        for path in sample_images():
            _print_result(explain_image(path, explainer, out_dir=out, overwrite=True))
        # The clip slides a monarch over a circuit board, which the model calls
        # "modem": explaining the class "monarch" shows targeting at work.
        video = sample_video()
        monarch = Explainer(explainer.model, targets=classes(explainer.labels, ["monarch"]))
        with _progress(video.name) as progress:
            summary = annotate_video(
                video,
                default_output(video, out),
                monarch,
                log_path=out / f"{video.stem}.jsonl",
                progress=progress,
                overwrite=True,
            )
        _print_summary(summary, "annotated")
        typer.echo(
            f"wrote the overlays, heatmaps, top-3 strips and the annotated video to {out.resolve()}"
        )


SmoothOption = Annotated[
    float, typer.Option(help="Average maps over frames: 0 (off) to 0.95 (heavy).")
]
OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="Replace existing outputs (never an input).")
]
CodecOption = Annotated[Optional[str], typer.Option(help="FourCC to force, e.g. mp4v or MJPG.")]
LogOption = Annotated[Optional[Path], typer.Option(help="Write one JSON object per frame here.")]


def _print_summary(summary: Any, verb: str) -> None:
    outputs = ", ".join(str(path) for path in summary.outputs) or "nothing"
    line = (
        f"{verb} {summary.frames_out} frames of {summary.source} in {summary.elapsed_s:.1f} s "
        f"({summary.fps:.1f} fps)"
    )
    if summary.dropped:
        line += f", {summary.dropped} dropped by the live reader"
    if summary.quality:
        line += f", quality {summary.quality}"
    typer.echo(f"{line}; wrote {outputs}", err=True)
    for warning in summary.warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    for skipped in summary.skipped:
        fail(f"skipped {skipped}")


@contextmanager
def _progress(name: str) -> Iterator[Callable[[int, Optional[int]], None] | None]:
    """A progress bar (frames, fps, ETA) on a terminal; no callback when piped."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[fps]:.1f} fps"),
        TimeRemainingColumn(),
        transient=True,
    )
    task = bar.add_task(name, total=None, fps=0.0)
    started = time.perf_counter()

    def update(done: int, total: int | None) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        bar.update(task, completed=done, total=total, fps=rate)

    with bar:
        yield update


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
    log: LogOption = None,
    batch: Annotated[int, typer.Option(help="Frames per call of the compiled step.")] = 1,
    model: ModelOption = "lite0",
    weights: WeightsOption = "imagenet",
    layer: LayerOption = None,
    labels: LabelsOption = None,
    method: MethodOption = "gradcam",
    score: ScoreOption = "logit",
    top: TopOption = None,
    class_: ClassOption = None,
    alpha: AlphaOption = 0.5,
    colormap: ColormapOption = "jet",
    input_size: InputSizeOption = None,
    precision: PrecisionOption = "float32",
    smooth: SmoothOption = 0.0,
    codec: CodecOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Annotate recorded videos: every frame, in order, with its heatmap overlay.

    The output keeps the input's size, frame rate and frame count. Frames done
    before an error or Ctrl-C are kept in a playable file.

    Examples:

      livecam annotate samples/megamind.mp4 -o out.mp4 --log frames.jsonl

      livecam annotate videos/ --out-dir annotated/ --batch 8 --smooth 0.6
    """
    from livecam.annotate import annotate_video, default_output
    from livecam.render import HeatmapRenderer
    from livecam.video import expand_inputs

    failures = 0
    with reported_errors(), sigterm_as_interrupt():
        _validate_common(alpha, colormap, top, class_, precision, method)
        _at_least("--batch", batch, 1)
        _check_smooth(smooth)
        sources = expand_inputs(inputs)
        if len(sources) > 1 and (output or heatmap_out or log):
            raise LivecamError("-o, --heatmap-out and --log take one input; use --out-dir")
        planned = [output or default_output(s, out_dir) for s in sources]
        _check_outputs([*planned, heatmap_out, log], sources, overwrite)
        explainer = _explainer(
            model, weights, layer, labels, method, score, top, class_, input_size, precision
        )
        renderer = HeatmapRenderer(alpha, colormap)
        for source, target in zip(sources, planned, strict=True):
            try:
                with _progress(source.name) as progress:
                    summary = annotate_video(
                        source,
                        target,
                        explainer,
                        renderer,
                        heatmap_output=heatmap_out,
                        log_path=log,
                        batch=batch,
                        smooth=smooth,
                        codec=codec,
                        progress=progress,
                        overwrite=overwrite,
                    )
            except Exception as exc:
                report(exc)
                failures += 1
                continue
            _print_summary(summary, "annotated")
            failures += bool(summary.skipped)
            if summary.interrupted:
                fail("interrupted")
                raise typer.Exit(interrupted_exit())
    if failures:
        raise typer.Exit(EXIT_ERROR)


@app.command()
def webcam(
    camera: Annotated[int, typer.Option(help="Camera index.")] = 0,
    source: Annotated[
        Optional[str],
        typer.Option(help="Stream URL (http://, rtsp://), video file or image folder instead."),
    ] = None,
    fps_target: Annotated[
        Optional[float], typer.Option(help="Lower the quality as needed to hold this frame rate.")
    ] = None,
    record: Annotated[Optional[Path], typer.Option(help="Record the overlay video here.")] = None,
    log: LogOption = None,
    no_display: Annotated[bool, typer.Option("--no-display", help="Run without a window.")] = False,
    duration: Annotated[Optional[float], typer.Option(help="Stop after this many seconds.")] = None,
    max_frames: Annotated[Optional[int], typer.Option(help="Stop after this many frames.")] = None,
    reconnect: Annotated[int, typer.Option(help="Reopen a lost camera/stream this often.")] = 0,
    timeout: Annotated[float, typer.Option(help="Seconds without a frame = source lost.")] = 5.0,
    model: ModelOption = "lite0",
    weights: WeightsOption = "imagenet",
    layer: LayerOption = None,
    labels: LabelsOption = None,
    method: MethodOption = "gradcam",
    score: ScoreOption = "logit",
    top: TopOption = None,
    class_: ClassOption = None,
    alpha: AlphaOption = 0.5,
    colormap: ColormapOption = "jet",
    input_size: InputSizeOption = None,
    precision: PrecisionOption = "float32",
    smooth: SmoothOption = 0.0,
    codec: CodecOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Live overlay from a camera or stream, with an optional frame-rate target.

    Keys: q/Esc quit, space pause, n/p next/previous of the top-k classes,
    m next method, s snapshot PNG, +/- alpha. Without a display it runs
    headless with a status line.

    Examples:

      livecam webcam --fps-target 15

      livecam webcam --source http://192.168.1.20:8080/video --record out.mp4

      livecam webcam --no-display --duration 60 --log live.jsonl --top 3
    """
    from livecam.display import Display
    from livecam.live import ExplainerCache, LiveRunner
    from livecam.render import HeatmapRenderer
    from livecam.video import open_source

    with reported_errors(), sigterm_as_interrupt():
        _validate_common(alpha, colormap, top, class_, precision, method)
        if fps_target is not None and fps_target <= 0:
            raise LivecamError(f"--fps-target must be positive, got {fps_target}")
        if duration is not None and duration <= 0:
            raise LivecamError(f"--duration must be positive, got {duration}")
        if max_frames is not None:
            _at_least("--max-frames", max_frames, 1)
        _at_least("--reconnect", reconnect, 0)
        if timeout <= 0:
            raise LivecamError(f"--timeout must be positive, got {timeout}")
        _check_smooth(smooth)
        inputs = [Path(source)] if source is not None and Path(source).exists() else []
        _check_outputs([record, log], inputs, overwrite)
        bundle, wanted = _model_and_targets(
            model, weights, layer, labels, top, class_, input_size, precision
        )
        cache = ExplainerCache(bundle, method, wanted, score)
        display = Display(enabled=not no_display)
        status = None if display.enabled else _status_line
        runner = LiveRunner(
            cache,
            HeatmapRenderer(alpha, colormap),
            fps_target=fps_target,
            smooth=smooth,
            display=display,
            status=status,
        )
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
        if status is not None and sys.stderr.isatty():
            typer.echo("", err=True)
        _print_summary(summary, "showed")
        if summary.interrupted:
            fail("interrupted")
            raise typer.Exit(interrupted_exit())
        if getattr(frames, "lost_reason", None):
            raise typer.Exit(EXIT_ERROR)


def _at_least(option: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise LivecamError(f"{option} must be at least {minimum}, got {value}")


def _check_smooth(smooth: float) -> None:
    if not 0.0 <= smooth < 1.0:
        raise LivecamError(f"--smooth must be in [0, 1) (0 = off), got {smooth}")


def _check_outputs(paths: list[Path | None], inputs: list[Path], overwrite: bool) -> None:
    """Before any work: output folders writable, no output onto an input, and
    no existing output unless --overwrite."""
    from livecam.outputs import check_writable_dir, is_same_file

    for path in filter(None, paths):
        if any(
            path.resolve() == source.resolve() or is_same_file(path, source) for source in inputs
        ):
            raise LivecamError(f"refusing to write {path}: it is an input")
        if path.exists() and not overwrite:
            raise LivecamError(f"{path} exists; pass --overwrite to replace it")
        check_writable_dir(path.parent)


def _values(raw: list[str] | None, default: list[str]) -> list[str]:
    """Repeated options and comma-separated values alike: ``--x 1 --x 2`` or ``--x 1,2``."""
    return [v.strip() for item in (raw or default) for v in item.split(",") if v.strip()]


@app.command()
def bench(
    model: Annotated[
        Optional[list[str]], typer.Option("--model", "-m", help="Models; repeat or comma-separate.")
    ] = None,
    weights: WeightsOption = "imagenet",
    method: Annotated[Optional[list[str]], typer.Option(help="CAM methods.")] = None,
    input_size: Annotated[
        Optional[list[str]], typer.Option(help="Input sizes, or 'native'.")
    ] = None,
    precision: Annotated[Optional[list[str]], typer.Option(help="Precisions.")] = None,
    batch: Annotated[Optional[list[str]], typer.Option(help="Batch sizes.")] = None,
    frames: Annotated[int, typer.Option(help="Frames per configuration.")] = 48,
    source: Annotated[
        Optional[str],
        typer.Option(help="Video, stream URL, or synthetic:WxH; default the sample clip."),
    ] = None,
    baseline: Annotated[
        Optional[list[str]], typer.Option(help="eager and/or tf-keras-vis, in the same run.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Every figure as JSON on stdout.")
    ] = False,
) -> None:
    """Measure frames per second: the compiled CAM step, the threaded pipeline
    (decode -> CAM -> render -> encode) and, optionally, baselines.

    Every option takes several values; the matrix of all combinations runs on
    the same frames. Warm-up (tracing) is timed apart.

    Examples:

      livecam bench --baseline eager --baseline tf-keras-vis

      livecam bench -m lite0,vgg16 --weights none --input-size 224,160 --batch 1,8

      livecam bench --source synthetic:640x480 --precision float32,mixed_bfloat16 --json
    """
    from livecam.bench import expand_matrix, machine_info, run_matrix, table_row, text_table
    from livecam.samples import sample_video

    with reported_errors():
        sizes = [
            None if s == "native" else _int(s, "--input-size")
            for s in _values(input_size, ["native"])
        ]
        configs = expand_matrix(
            model=_values(model, ["lite0"]),
            weights=[weights],
            method=_values(method, ["gradcam"]),
            input_size=sizes,
            precision=_values(precision, ["float32"]),
            batch=[_int(b, "--batch") for b in _values(batch, ["1"])],
        )
        for config in configs:
            _validate_common(0.5, "jet", None, None, config.precision, config.method)
        machine = machine_info()
        if not as_json:
            typer.echo(
                f"{machine['cpu']}, {machine['cores']} cores, TensorFlow "
                f"{machine['tensorflow']}, oneDNN {machine['onednn']}",
                err=True,
            )

        def show(result) -> None:
            if not as_json:
                typer.echo("  " + "  ".join(table_row(result)), err=True)

        with redirect_stdout(sys.stderr):
            results = run_matrix(
                configs,
                source or str(sample_video()),
                frames,
                tuple(_values(baseline, [])),
                on_result=show,
            )
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "machine": machine,
                        "source": source or "sample",
                        "results": [r.to_json() for r in results],
                    },
                    indent=1,
                )
            )
        else:
            typer.echo(text_table(results))


def _int(text: str, option: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise LivecamError(f"{option} takes whole numbers, got {text!r}") from None


def _status_line(text: str) -> None:
    end = "\r" if sys.stderr.isatty() else "\n"
    sys.stderr.write(text + end)
    sys.stderr.flush()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        fail("interrupted")
        sys.exit(EXIT_INTERRUPTED)
