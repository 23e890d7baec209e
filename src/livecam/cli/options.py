"""The options several commands share, declared once, each validated where
it is declared: a bad value stops the command before any work, as one line
and exit code 1 (like every other livecam error)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from livecam.cli.choice import KindOptions, ModelChoice  # noqa: F401  (the commands' opt.*)
from livecam.errors import LivecamError


class OptionError(typer.BadParameter):
    """A bad option value, shown as ``error: ...`` with exit code 1 (not
    click's usage text and exit code 2: a valid command with a bad value)."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        typer.secho(f"error: {self.message}", fg=typer.colors.RED, err=True)


def _checked(check) -> Any:
    """An option callback that runs ``check(value)`` unless the value is None."""

    def callback(value):
        if value is not None:
            try:
                check(value)
            except LivecamError as exc:
                raise OptionError(str(exc)) from None
        return value

    return callback


def at_least(option: str, minimum: float):
    def check(value: float) -> None:
        if value < minimum:
            raise LivecamError(f"{option} must be at least {minimum}, got {value}")

    return _checked(check)


def one_of(option: str, choices: tuple[str, ...]):
    def check(value: str) -> None:
        if value not in choices:
            raise LivecamError(f"{option} must be one of {', '.join(choices)}, got {value!r}")

    return _checked(check)


def positive(option: str):
    def check(value: float) -> None:
        if value <= 0:
            raise LivecamError(f"{option} must be positive, got {value}")

    return _checked(check)


def _check_alpha(value: float) -> None:
    from livecam.render import check_alpha

    check_alpha(value)


def _check_colormap(value: str) -> None:
    from livecam.render import colormap_id

    colormap_id(value)


def check_method(value: str) -> None:
    from livecam.cam import METHODS

    if value.lower() not in METHODS:
        raise LivecamError(f"unknown method {value!r}; choose one of {', '.join(METHODS)}")


def _check_score(value: str) -> None:
    from livecam.cam import SCORES

    if value not in SCORES:
        raise LivecamError(f"unknown score {value!r}; choose one of {', '.join(SCORES)}")


def check_runtime(value: str, precision: str = "float32") -> None:
    from livecam.runtime import check_runtime as library_check

    library_check(value, precision)


def check_precision(value: str) -> None:
    from livecam.models import PRECISIONS

    if value not in PRECISIONS:
        raise LivecamError(f"unknown precision {value!r}; choose one of {', '.join(PRECISIONS)}")


def _check_smooth(value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise LivecamError(f"--smooth must be in [0, 1) (0 = off), got {value}")


Model = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="lite0 (bundled, offline), a keras.applications name "
        "(vgg16, resnet50, ...) or a .keras/.h5 file.",
    ),
]
Weights = Annotated[
    str,
    typer.Option(
        help="imagenet (downloaded by Keras; bundled for lite0), none, or a weights file."
    ),
]
Layer = Annotated[
    Optional[str],
    typer.Option(
        help="CAM layer (see livecam layers); A,B,C averages the maps of several layers, "
        "each resized to the largest grid. Default: auto-detected."
    ),
]
Labels = Annotated[Optional[Path], typer.Option(help="Labels file, one per line.")]
Method = Annotated[
    str,
    typer.Option(
        help="gradcam (default) or another of the 18 methods livecam models lists with "
        "their papers: gradcam++, smoothgradcam++, layercam, scorecam, fullgrad, ...",
        callback=_checked(check_method),
    ),
]
Calibration = Annotated[
    Optional[Path],
    typer.Option(
        help="--precision int8: a video or a folder of images to calibrate the "
        "quantization on (default: the bundled samples).",
        exists=True,
    ),
]
EigenSmooth = Annotated[
    bool,
    typer.Option(
        "--eigen-smooth",
        help="First principal component of the weighted activations instead of their sum.",
    ),
]
AugSmooth = Annotated[
    bool,
    typer.Option("--aug-smooth", help="Average the maps of flipped and 0.9/1.0/1.1-scaled copies."),
]
MaxChannels = Annotated[
    Optional[int],
    typer.Option(
        help="scorecam: score only the N most active channels (Faster Score-CAM).",
        callback=at_least("--max-channels", 1),
    ),
]
Score = Annotated[
    str,
    typer.Option(
        help="Differentiate the logit or the probability.", callback=_checked(_check_score)
    ),
]
Top = Annotated[
    Optional[int],
    typer.Option(
        "--top",
        "-k",
        help="Explain each of the k most likely classes.",
        callback=at_least("--top", 1),
    ),
]
Classes = Annotated[
    Optional[list[str]],
    typer.Option("--class", "-c", help="Explain this class (name or index); repeatable."),
]
Alpha = Annotated[
    float, typer.Option(help="Heatmap weight in the blend, 0..1.", callback=_checked(_check_alpha))
]
Colormap = Annotated[
    str, typer.Option(help="OpenCV colormap name.", callback=_checked(_check_colormap))
]
InputSize = Annotated[Optional[int], typer.Option(help="Run the model at this square input size.")]
Precision = Annotated[
    str,
    typer.Option(
        help="float32, mixed_bfloat16, mixed_float16, or int8 (--runtime openvino: "
        "quantized on --calibration frames).",
        callback=_checked(check_precision),
    ),
]
Runtime = Annotated[
    str,
    typer.Option(
        help="Where the layers up to the CAM layer run: tensorflow, openvino "
        "(livecam[openvino]: the same maps, faster on CPU), or auto (the faster one "
        "here, measured once and cached).",
        callback=_checked(check_runtime),
    ),
]
Smooth = Annotated[
    float,
    typer.Option(
        help="Average maps over frames: 0 (off) to 0.95 (heavy).", callback=_checked(_check_smooth)
    ),
]
Follow = Annotated[
    bool,
    typer.Option(
        "--follow",
        help="Warp the latest map to each frame with optical flow, so it keeps up with motion.",
    ),
]
Codec = Annotated[Optional[str], typer.Option(help="FourCC to force, e.g. mp4v or MJPG.")]
Overwrite = Annotated[
    bool, typer.Option("--overwrite", help="Replace existing outputs (never an input).")
]
Log = Annotated[Optional[Path], typer.Option(help="Write one JSON object per frame here.")]

# The live commands' options (webcam, serve)
FpsTarget = Annotated[
    Optional[float],
    typer.Option(
        help="Lower the quality as needed to hold this many maps per second.",
        callback=positive("--fps-target"),
    ),
]
Record = Annotated[Optional[Path], typer.Option(help="Record the overlay video here.")]
Duration = Annotated[
    Optional[float],
    typer.Option(help="Stop after this many seconds.", callback=positive("--duration")),
]
Reconnect = Annotated[
    int,
    typer.Option(
        help="Reopen a lost camera/stream this often.", callback=at_least("--reconnect", 0)
    ),
]
Timeout = Annotated[
    float,
    typer.Option(help="Seconds without a frame = source lost.", callback=positive("--timeout")),
]


Grid = Annotated[
    Optional[str],
    typer.Option(help="Transformers: the token layer's patch grid HxW (default: guessed)."),
]
SkipTokens = Annotated[
    Optional[int],
    typer.Option(
        help="Transformers: leading tokens that are not patches (class, distillation, registers).",
        callback=at_least("--skip-tokens", 0),
    ),
]
Threshold = Annotated[
    Optional[float],
    typer.Option(help="Multi-label models: explain every label with at least this probability."),
]
Region = Annotated[
    Optional[str],
    typer.Option(
        help="Segmentation models: explain the class over x0,y0,x1,y1 (fractions of the "
        "frame) instead of over its predicted mask."
    ),
]
SimilarTo = Annotated[
    Optional[Path],
    typer.Option(
        help="Embedding models: explain the similarity of each frame to this reference image."
    ),
]


def method_options(eigen_smooth: bool, aug_smooth: bool, max_channels: int | None, method: str):
    """The engine options, checked against the method."""
    from livecam.explain import MethodOptions

    if max_channels is not None and method.lower() != "scorecam":
        raise LivecamError(f"--max-channels applies to scorecam, not {method!r}")
    return MethodOptions(eigen_smooth, aug_smooth, max_channels)


def check_outputs(paths: list[Path | None], inputs: list[Path], overwrite: bool) -> None:
    """Before any work: no two outputs on one path, output folders writable,
    no output onto an input, and no existing output unless --overwrite."""
    from livecam.outputs import check_writable_dir, is_same_file

    seen: dict[Path, Path] = {}
    for path in filter(None, paths):
        if path.resolve() in seen:
            raise LivecamError(
                f"two outputs would be written to {path} (also {seen[path.resolve()]}): "
                "give each its own name"
            )
        seen[path.resolve()] = path
    for path in filter(None, paths):
        if any(
            path.resolve() == source.resolve() or is_same_file(path, source) for source in inputs
        ):
            raise LivecamError(f"refusing to write {path}: it is an input")
        if path.exists() and not overwrite:
            raise LivecamError(f"{path} exists; pass --overwrite to replace it")
        check_writable_dir(path.parent)


def check_plots() -> None:
    """Before any work: the reports' plotting library (livecam[report]) is installed."""
    from livecam.plots import pyplot

    pyplot()


def values(raw: list[str] | None, default: list[str]) -> list[str]:
    """Repeated options and comma-separated values alike: ``--x 1 --x 2`` or ``--x 1,2``."""
    return [v.strip() for item in (raw or default) for v in item.split(",") if v.strip()]


def method_names(raw: list[str] | None, default: list[str]) -> list[str]:
    """``--method`` values; ``all`` stands for every method, in the order
    ``livecam models`` lists them."""
    from livecam.cam import METHODS

    names = values(raw, default)
    return list(METHODS) if "all" in names else names
