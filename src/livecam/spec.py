"""Everything that selects and prepares a model, in one value: what every
command builds once from its options and hands on (to the loader, the live
runner, a Ray job, a benchmark). Light: the CLI imports it before TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from livecam.errors import ModelError

DEFAULT_MODEL = "lite0"  # bundled: works offline


@dataclass(frozen=True)
class ModelSpec:
    """What :func:`livecam.load_model` loads.

    Attributes:
        model: ``lite0``, a ``keras.applications`` name, or a ``.keras``/``.h5`` file.
        weights: ``"imagenet"`` (bundled for ``lite0``, downloaded otherwise),
            ``None``/``"none"`` for random weights, or a local weights file.
        layer: CAM layer name(s), comma-separated; default: the last spatial layer.
        labels: A labels file or list; by default ImageNet for 1000 classes.
        output: Which output of a multi-output model to explain.
        input_size: Run at this square size instead of the native one.
        precision: ``float32``, ``mixed_bfloat16``, ``mixed_float16`` or ``int8``.
        grid: A token layer's patch grid ``(h, w)`` (default: guessed).
        skip_tokens: How many leading tokens are not patches (default: guessed).
        region: Segmentation: explain the class over ``(x0, y0, x1, y1)``.
        similar_to: An embedding model's reference: an image file or a BGR array.
        runtime: ``tensorflow``, ``openvino``, ... or ``auto`` (see :mod:`livecam.runtime`).
        calibration: ``int8``: a video or a folder of images to calibrate on.
    """

    model: str = DEFAULT_MODEL
    weights: str | None = "imagenet"
    layer: str | None = None
    labels: str | Path | tuple[str, ...] | None = None
    output: int | str | None = None
    input_size: int | None = None
    precision: str = "float32"
    grid: tuple[int, int] | None = None
    skip_tokens: int | None = None
    region: tuple[float, float, float, float] | None = None
    similar_to: str | Path | Any | None = None  # a file, or a BGR array
    runtime: str = "tensorflow"
    calibration: str | Path | None = None

    def but(self, **overrides: Any) -> ModelSpec:
        """This spec with some fields replaced.

        Raises:
            ModelError: A name that is no field of a spec.
        """
        unknown = set(overrides) - {f.name for f in fields(self)}
        if unknown:
            raise ModelError(
                f"unknown model option(s) {', '.join(sorted(unknown))}; a model spec has "
                f"{', '.join(f.name for f in fields(self))}"
            )
        if isinstance(overrides.get("labels"), list):
            overrides["labels"] = tuple(overrides["labels"])
        return replace(self, **overrides)

    def portable(self) -> dict[str, Any]:
        """The fields as plain values (paths as text), for a job sent to other processes."""
        plain = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("labels", "similar_to", "calibration"):
            if isinstance(plain[name], Path):
                plain[name] = str(plain[name])
        return plain


def as_spec(spec: str | ModelSpec | None, overrides: dict[str, Any]) -> ModelSpec:
    """``spec`` (a model name or a spec; None: the default model) with ``overrides``."""
    if spec is None:
        base = ModelSpec()
    elif isinstance(spec, ModelSpec):
        base = spec
    else:
        base = ModelSpec(model=str(spec))
    return base.but(**overrides) if overrides else base
