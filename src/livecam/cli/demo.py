"""``livecam demo``, ``livecam models`` and ``livecam layers``: the first commands
a new user runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from livecam.cli import options as opt
from livecam.cli.app import (
    app,
    print_summary,
    progress_bar,
    reported_errors,
    sigterm_as_interrupt,
)
from livecam.cli.image import print_result


@app.command()
def models(
    every: Annotated[
        bool,
        typer.Option("--all", help="List every keras.applications name (without building them)."),
    ] = False,
) -> None:
    """List the built-in models (input size, detected CAM layer) and the CAM methods.

    Builds each architecture with random weights (nothing is downloaded).

    Examples:

      livecam models

      livecam models --all
    """
    from livecam.cam import METHODS
    from livecam.models import load_model, model_names

    if every:
        _list_every_model()
        return
    with reported_errors():
        typer.echo(f"{'model':<20} {'input':<9} cam layer")
        for name in model_names(every=False):
            bundle = load_model(name, weights="imagenet" if name == "lite0" else None)
            height, width = bundle.input_size
            default = "  (default, offline)" if name == "lite0" else ""
            typer.echo(f"{name:<20} {height}x{width:<5} {bundle.cam_layer}{default}")
        typer.echo(f"\n{'method':<20} {'gradients':<10} paper")
        for name, method in METHODS.items():
            gradients = "yes" if method.uses_gradients else "no"
            typer.echo(f"{name:<20} {gradients:<10} {method.paper}")


def _list_every_model() -> None:
    from livecam.models import zoo

    typer.echo(f"{'model':<22} keras.applications")
    typer.echo(f"{zoo.DEFAULT_MODEL:<22} (bundled EfficientNet-Lite0, offline)")
    for name, (constructor, _) in zoo.KERAS_APPLICATIONS.items():
        typer.echo(f"{name:<22} {constructor}")
    typer.echo("\nlivecam layers NAME shows its layers; ImageNet weights download on first use")


@app.command()
def layers(
    model: Annotated[
        str, typer.Argument(help="lite0, a keras.applications name or a .keras/.h5 file.")
    ],
    weights: opt.Weights = "none",
) -> None:
    """List the layers a map can explain: each layer with a spatial output, its
    shape, how deep into the model it sits, and which one is the default
    (--layer chooses another). Random weights unless --weights: the layers do
    not depend on them.

    Example:

      livecam layers vgg16

      livecam layers my_model.keras
    """
    from livecam.models import model_layers

    with reported_errors():
        report = model_layers(model, weights=weights)
        typer.echo(f"{'layer':<32} {'output':<16} depth")
        for layer in report.candidates:
            mark = " *" if layer.name == report.default else ""
            typer.echo(f"{layer.name + mark:<32} {layer.shape_text:<16} {layer.depth:>5.0%}")
        if report.default is not None:
            typer.echo(f"\n* the default for {model}; --layer NAME explains another")
        else:
            typer.echo(f"\nno default layer: {report.refusal}")


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
    from livecam.cam import classes, top
    from livecam.explain import Explainer
    from livecam.images import explain_image
    from livecam.outputs import check_writable_dir
    from livecam.samples import sample_images, sample_video
    from livecam.video.annotate import annotate_video, default_output

    with reported_errors(), sigterm_as_interrupt():
        check_writable_dir(out)
        explainer = Explainer("lite0", targets=top(3))
        for path in sample_images():
            print_result(explain_image(path, explainer, out_dir=out, overwrite=True))
        # The clip slides a monarch over a circuit board, which the model calls
        # "modem": explaining the class "monarch" shows targeting at work.
        video = sample_video()
        monarch = Explainer(explainer.model, targets=classes(explainer.labels, ["monarch"]))
        with progress_bar(video.name) as progress:
            summary = annotate_video(
                video,
                default_output(video, out),
                monarch,
                log_path=out / f"{video.stem}.jsonl",
                progress=progress,
                overwrite=True,
            )
        print_summary(summary, "annotated")
        typer.echo(
            f"wrote the overlays, heatmaps, top-3 strips and the annotated video to {out.resolve()}"
        )
