"""``livecam bench``: frame-rate benchmarks of the compiled step, the pipeline
and the baselines."""

from __future__ import annotations

import json
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Annotated, Optional

import typer

from livecam.cli import options as opt
from livecam.cli.app import app, reported_errors
from livecam.errors import LivecamError
from livecam.spec import ModelSpec


@app.command()
def bench(
    model: Annotated[
        Optional[list[str]], typer.Option("--model", "-m", help="Models; repeat or comma-separate.")
    ] = None,
    weights: opt.Weights = "imagenet",
    layer: opt.Layer = None,
    labels: opt.Labels = None,
    grid: opt.Grid = None,
    skip_tokens: opt.SkipTokens = None,
    region: opt.Region = None,
    similar_to: opt.SimilarTo = None,
    method: Annotated[Optional[list[str]], typer.Option(help="CAM methods, or 'all'.")] = None,
    input_size: Annotated[
        Optional[list[str]], typer.Option(help="Input sizes, or 'native'.")
    ] = None,
    precision: Annotated[Optional[list[str]], typer.Option(help="Precisions.")] = None,
    runtime: Annotated[
        Optional[list[str]],
        typer.Option(help="Runtimes below the CAM layer: tensorflow, openvino, auto."),
    ] = None,
    batch: Annotated[Optional[list[str]], typer.Option(help="Batch sizes.")] = None,
    calibration: opt.Calibration = None,
    frames: Annotated[int, typer.Option(help="Frames per configuration.")] = 48,
    max_channels: opt.MaxChannels = None,
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
    plot: Annotated[
        Optional[Path],
        typer.Option(
            help="Also write a PNG: frames per second per configuration beside the "
            "baselines, and time per pipeline stage (needs livecam[report])."
        ),
    ] = None,
    overwrite: opt.Overwrite = False,
) -> None:
    """Measure frames per second: the compiled CAM step, the threaded pipeline
    (decode -> CAM -> render -> encode) and, optionally, baselines.

    Every option takes several values; the matrix of all combinations runs on
    the same frames. Warm-up (tracing) is timed apart.

    Examples:

      livecam bench --baseline eager --baseline tf-keras-vis

      livecam bench -m lite0,vgg16 --weights none --input-size 224,160 --batch 1,8

      livecam bench --source synthetic:640x480 --precision float32,mixed_bfloat16 --json

      livecam bench --method gradcam,layercam,eigencam,scorecam --max-channels 64

      livecam bench --method all --frames 16

      livecam bench --runtime tensorflow,openvino --precision float32,mixed_bfloat16,int8

      livecam bench -m vit.keras --skip-tokens 1 --labels labels.txt --weights none

    The model options are image's (--layer, --labels, --grid, --skip-tokens,
    --region, --similar-to), shared by every row.

    A precision or runtime other than TensorFlow float32 is checked by the
    fidelity gate (its maps against float32's on the bundled labelled photos):
    the last column says whether the live governor may use it, or why not.

      livecam bench --batch 1,8 --baseline eager --plot bench.png
    """
    from livecam import runtime as runtimes
    from livecam.bench import expand_matrix, machine_info, run_matrix, table_row, text_table
    from livecam.samples import sample_video

    with reported_errors():
        kinds = opt.KindOptions(grid, skip_tokens, None, region, similar_to)
        base = ModelSpec(layer=layer, labels=labels, **kinds.load_options())
        sizes = [
            None if s == "native" else _int(s, "--input-size")
            for s in opt.values(input_size, ["native"])
        ]
        configs = expand_matrix(
            base,
            model=opt.values(model, ["lite0"]),
            weights=[weights],
            method=opt.method_names(method, ["gradcam"]),
            input_size=sizes,
            precision=opt.values(precision, ["float32"]),
            batch=[_int(b, "--batch") for b in opt.values(batch, ["1"])],
            max_channels=[max_channels],
            runtime=opt.values(runtime, ["tensorflow"]),
            calibration=[str(calibration) if calibration else None],
        )
        # a precision its runtime cannot run (int8 on TensorFlow); a runtime not
        # installed is refused below, whole
        impossible = {
            config: reason
            for config in configs
            if config.runtime in runtimes.RUNTIMES
            and (reason := runtimes.get(config.runtime).unavailable(config.precision))
            and not runtimes.get(config.runtime).unavailable("float32")
        }
        if impossible and len(impossible) < len(configs):  # the rest of the matrix runs
            configs = [c for c in configs if c not in impossible]
            for reason in dict.fromkeys(impossible.values()):
                typer.echo(f"not measured: {reason}", err=True)
        for config in configs:
            opt.check_method(config.method)
            opt.check_precision(config.precision)
            opt.check_runtime(config.runtime, config.precision)
        if plot is not None:
            opt.check_outputs([plot], [], overwrite)
            opt.check_plots()
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
                tuple(opt.values(baseline, [])),
                on_result=show,
            )
        if plot is not None:
            from livecam.bench.plot import plot_results

            described = (
                f"{machine['cpu']}, {machine['cores']} cores, TensorFlow {machine['tensorflow']}"
            )
            plot_results(results, plot, described)
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "machine": machine,
                        "source": source or "sample",
                        "results": [r.to_json() for r in results],
                    },
                    indent=1,
                    allow_nan=False,
                )
            )
        else:
            typer.echo(text_table(results))
            if plot is not None:
                typer.echo(f"plot: {plot}")


def _int(text: str, option: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise LivecamError(f"{option} takes whole numbers, got {text!r}") from None
