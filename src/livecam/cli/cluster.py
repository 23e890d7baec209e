"""``livecam annotate --engine ray``: the CLI side of the Ray engine (resume,
progress over the whole job, a line per video, the job summary)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import typer

from livecam.cli.app import fail, rate_bar
from livecam.outputs import write_text


def run_on_ray(tasks, job, *, summary: Path | None, **engine) -> int:
    """Run the job; returns how many videos failed. Outputs that exist are
    skipped (the job resumes) unless ``job.overwrite``."""
    from livecam.cluster import VideoResult, annotate_on_ray

    todo = [task for task in tasks if job.overwrite or not task.complete()]
    results = [
        VideoResult(str(t.input), str(t.output), "skipped", reason="complete output exists")
        for t in tasks
        if t not in todo
    ]
    for result in results:
        typer.echo(f"skipped {result.input}: {result.reason} ({result.output})", err=True)
    with _job_bar(len(todo)) as on_progress:
        results += annotate_on_ray(todo, job, on_result=_report, on_progress=on_progress, **engine)
    if summary is not None:
        records = [asdict(result) for result in results]
        write_text(summary, json.dumps({"videos": records}, indent=1) + "\n")
    return sum(result.status == "failed" for result in results)


def _report(result) -> None:
    if result.status == "done":
        typer.echo(
            f"annotated {result.frames} frames of {result.input} in {result.seconds:.1f} s on "
            f"{result.node} (attempt {result.attempts}); wrote {result.output}",
            err=True,
        )
        if result.reason:
            typer.secho(f"warning: {result.reason}", fg=typer.colors.YELLOW, err=True)
    else:
        fail(f"{result.input}: {result.reason}")


@contextmanager
def _job_bar(total: int) -> Iterator[Callable | None]:
    """One bar over the job: videos done/total, frames/s across the cluster, ETA."""
    with rate_bar("videos", "frames/s") as update:
        if update is None:
            yield None
            return
        yield lambda progress: update(progress.videos_done, total, progress.fps)
