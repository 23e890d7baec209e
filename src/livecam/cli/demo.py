"""``livecam demo`` and ``livecam models``: the first commands a new user runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from livecam.cli.app import (
    app,
    print_summary,
    progress_bar,
    reported_errors,
    sigterm_as_interrupt,
)
from livecam.cli.image import print_result


@app.command()
def models() -> None:
    """List the built-in models (input size, detected CAM layer) and the CAM methods.

    Builds each architecture with random weights (nothing is downloaded).
    """
    from livecam.cam import METHODS
    from livecam.models import load_model, model_names

    with reported_errors():
        typer.echo(f"{'model':<20} {'input':<9} cam layer")
        for name in model_names():
            bundle = load_model(name, weights="imagenet" if name == "lite0" else None)
            height, width = bundle.input_size
            default = "  (default, offline)" if name == "lite0" else ""
            typer.echo(f"{name:<20} {height}x{width:<5} {bundle.cam_layer}{default}")
        typer.echo(f"\n{'method':<20} {'gradients':<10} paper")
        for name, method in METHODS.items():
            gradients = "yes" if method.uses_gradients else "no"
            typer.echo(f"{name:<20} {gradients:<10} {method.paper}")


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
