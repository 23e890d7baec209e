"""The typer app, and what every command shares: error reporting, exit codes,
signals, the progress bar and the closing summary.

Each command parses options, calls the library, and turns a
:class:`~livecam.errors.LivecamError` into one red line and exit code 1.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

# OpenCV and FFmpeg log every failed write or probe to stderr; the CLI reports
# errors itself, in one line. Set before cv2 is first imported.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from livecam import __version__
from livecam.errors import LivecamError, RunAborted

# TensorFlow warns of "retracing" once five engines have each traced their own
# step (eval builds one per method and randomised copy): by design, not a fault.
logging.getLogger("tensorflow").setLevel(logging.ERROR)

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
        print_summary(exc.summary, "stopped after")
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


def each_input(paths: list[Path], work: Callable[[Path], Any]) -> int:
    """Run ``work`` per input; a failing input is reported and the rest still run."""
    failures = 0
    for path in paths:
        try:
            work(path)
        except Exception as exc:
            report(exc)
            failures += 1
    return failures


def print_summary(summary: Any, verb: str) -> None:
    outputs = ", ".join(str(path) for path in summary.outputs) or "nothing"
    line = (
        f"{verb} {summary.frames_out} frames of {summary.source} in {summary.elapsed_s:.1f} s "
        f"({summary.fps:.1f} fps)"
    )
    if summary.dropped:
        line += f", {summary.dropped} dropped by the live reader"
    if summary.maps and summary.maps != summary.frames_out and summary.maps_per_s:
        line += f", {summary.maps} maps ({summary.maps_per_s:.1f}/s)"
    if summary.frame_interval_p99_ms is not None:
        line += f", p99 frame interval {summary.frame_interval_p99_ms:.0f} ms"
    if summary.quality:
        line += f", quality {summary.quality}"
    typer.echo(f"{line}; wrote {outputs}", err=True)
    for warning in summary.warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    for skipped in summary.skipped:
        fail(f"skipped {skipped}")


@contextmanager
def rate_bar(label: str, unit: str) -> Iterator[Callable[..., None] | None]:
    """A progress bar on a terminal (done/total, a rate, ETA) whose callback
    takes ``(done, total, rate)``; no callback when stderr is not a terminal."""
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
        TextColumn("{task.fields[rate]:.1f} " + unit),
        TimeRemainingColumn(),
        transient=True,
    )
    task = bar.add_task(label, total=None, rate=0.0)
    with bar:
        yield lambda done, total, rate: bar.update(task, completed=done, total=total, rate=rate)


@contextmanager
def progress_bar(name: str) -> Iterator[Callable[[int, Optional[int]], None] | None]:
    """Frames done, fps and ETA of one video; the callback takes ``(done, total)``."""
    with rate_bar(name, "fps") as update:
        if update is None:
            yield None
            return
        started = time.perf_counter()
        yield lambda done, total: update(
            done, total, done / max(time.perf_counter() - started, 1e-9)
        )


def status_line(text: str) -> None:
    end = "\r" if sys.stderr.isatty() else "\n"
    sys.stderr.write(text + end)
    sys.stderr.flush()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        fail("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    finally:
        # The outputs are final and reported: a late Ctrl-C or SIGTERM while
        # Python shuts down must not turn the exit code into a signal death.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
