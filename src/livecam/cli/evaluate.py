"""``livecam eval``: which CAM method localises best on your labelled images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from livecam.cli import options as opt
from livecam.cli.app import app, fail, progress_bar, reported_errors
from livecam.errors import LivecamError
from livecam.tables import aligned


def _table(report) -> str:
    from livecam.evaluate.runner import SCORE_COLUMNS

    rows = [["method", *(title for _, title, _ in SCORE_COLUMNS)]]
    for name, scores in [*report.methods.items(), *report.baselines.items()]:
        cells = [name if name in report.methods else f"({name})"]
        for key, _, fmt in SCORE_COLUMNS:
            value = scores.get(key)
            cells.append("-" if value is None else format(value, fmt))
        rows.append(cells)
    return aligned(rows)


@app.command(name="eval")
def evaluate_command(
    images: Annotated[Path, typer.Argument(help="Folder of the annotated images.")],
    annotations: Annotated[
        Optional[Path],
        typer.Option(
            help="COCO instances JSON, or a folder of Pascal VOC XML files "
            "(default: IMAGES/instances.json)."
        ),
    ] = None,
    method: Annotated[
        Optional[list[str]],
        typer.Option(help="Methods; repeat or comma-separate; all for every method."),
    ] = None,
    metrics: Annotated[
        Optional[list[str]],
        typer.Option(
            help="pointing, energy, deletion, insertion, road, drop, increase, sanity "
            "(default: all)."
        ),
    ] = None,
    class_map: Annotated[
        Optional[Path],
        typer.Option(help='JSON {"category": class index or label} for unmatched names.'),
    ] = None,
    limit: Annotated[
        Optional[int],
        typer.Option(help="Evaluate only the first N images.", callback=opt.at_least("--limit", 1)),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Every figure as JSON on stdout.")
    ] = False,
    report: Annotated[
        Optional[Path],
        typer.Option(
            help="Also write one self-contained HTML page: curves, pointing per class, ROAD "
            "per threshold, maps by method (needs livecam[report])."
        ),
    ] = None,
    overwrite: opt.Overwrite = False,
    model: opt.Model = "lite0",
    weights: opt.Weights = "imagenet",
    layer: opt.Layer = None,
    labels: opt.Labels = None,
    input_size: opt.InputSize = None,
    precision: opt.Precision = "float32",
    runtime: opt.Runtime = "tensorflow",
    calibration: opt.Calibration = None,
    eigen_smooth: opt.EigenSmooth = False,
    aug_smooth: opt.AugSmooth = False,
    max_channels: opt.MaxChannels = None,
) -> None:
    """Score CAM methods on labelled images: the pointing game, the energy in
    the boxes, deletion and insertion AUC, ROAD, Average Drop and Increase in
    Confidence, and the time per image, beside the centre and random
    baselines. Each annotated class is explained (not the top-1).

    Examples:

      livecam eval samples/eval --annotations samples/eval/instances.json

      livecam eval images/ --annotations voc/ --method gradcam,scorecam --max-channels 64

      livecam eval images/ --annotations coco.json --metrics pointing,road --json

      livecam eval samples/eval --annotations samples/eval/instances.json --report eval.html
    """
    from livecam.evaluate import METRICS, evaluate, load_annotations
    from livecam.evaluate.annotations import read_class_map
    from livecam.explain import MethodOptions

    with reported_errors():
        methods = opt.method_names(method, ["gradcam", "gradcam++", "layercam"])
        for name in methods:
            opt.check_method(name)
        chosen = opt.values(metrics, list(METRICS))
        unknown = sorted(set(chosen) - set(METRICS))
        if unknown:
            raise LivecamError(f"unknown metric {unknown}; choose from {', '.join(METRICS)}")
        if max_channels is not None and "scorecam" not in methods:
            raise LivecamError("--max-channels applies to scorecam, which is not among --method")
        if report is not None:
            opt.check_outputs([report], [], overwrite)
            opt.check_plots()
        dataset = load_annotations(annotations or _default_annotations(images), images)
        mapping = read_class_map(class_map) if class_map else None
        choice = opt.ModelChoice.of(model, weights, layer, labels, input_size, precision,
                                    None, None, runtime=runtime,
                                    calibration=calibration)  # fmt: skip
        bundle, _ = choice.load()
        method_options = MethodOptions(eigen_smooth, aug_smooth, max_channels)
        with progress_bar("eval") as progress:
            results = evaluate(
                dataset,
                bundle,
                methods,
                chosen,
                mapping,
                limit,
                progress=progress,
                method_options=method_options,
            )
        for problem in results.problems:
            fail(problem)
        if report is not None:
            from livecam.evaluate.report import write_report

            write_report(results, report)
        if as_json:
            typer.echo(json.dumps(results.to_json(), indent=1, allow_nan=False))
        else:
            typer.echo(_table(results))
            if report is not None:
                typer.echo(f"report: {report}")
            for flag in results.flagged:
                typer.secho(f"flag: {flag}", fg=typer.colors.YELLOW, err=True)


def _default_annotations(images: Path) -> Path:
    found = images / "instances.json"
    if not found.is_file():
        raise LivecamError(f"no --annotations given and no {found}: pass --annotations FILE")
    return found
