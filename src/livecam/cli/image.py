"""``livecam image``: explain image files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from livecam.cli import options as opt
from livecam.cli.app import EXIT_ERROR, app, each_input, reported_errors


def print_result(result: Any) -> None:
    """The top predictions (explained ones starred) and the files written."""
    typer.echo(str(result.path))
    shown = {t.index for t in result.targets}
    for rank, prediction in enumerate(result.explanation.predictions[:5], start=1):
        mark = "*" if prediction.index in shown else " "
        typer.echo(f" {mark}{rank}. {prediction.name:<32} {prediction.value_text:>7}")
    for target in result.targets:
        typer.echo(f"   {target.overlay}")
    if result.comparison:
        typer.echo(f"   {result.comparison}")


@app.command()
def image(
    paths: Annotated[list[Path], typer.Argument(help="Image files.", show_default=False)],
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
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="Output folder; default: beside each image."),
    ] = None,
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
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per image on stdout.")
    ] = False,
    overwrite: opt.Overwrite = False,
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
        kinds = opt.KindOptions(grid, skip_tokens, threshold, region, similar_to)
        choice = opt.ModelChoice.of(model, weights, layer, labels, input_size, precision,
                                 top, class_, kinds, runtime, calibration)  # fmt: skip
        options = opt.method_options(eigen_smooth, aug_smooth, max_channels, method)
        explainer = choice.explainer(method, score, options)
        renderer = HeatmapRenderer(alpha, colormap)

        def one(path: Path) -> None:
            result = explain_image(path, explainer, renderer, out, overwrite)
            if as_json:
                typer.echo(json.dumps(result.to_json()))
            else:
                print_result(result)

        failures = each_input(paths, one)
    if failures:
        raise typer.Exit(EXIT_ERROR)
