"""Load a model on a runtime: :func:`livecam.models.load_model`, with the
runtime checked and ``--runtime auto`` resolved by measuring
(:mod:`livecam.tuning.runtime_choice`). What every command and the public
``livecam.load_model`` call."""

from __future__ import annotations

from typing import Any

from livecam import models
from livecam import runtime as runtimes
from livecam.models import LoadedModel, ModelSpec, as_spec
from livecam.tuning.runtime_choice import choose


def load_model(spec: str | ModelSpec | None = None, **overrides: Any) -> LoadedModel:
    """Load and prepare a model (a name or a :class:`~livecam.models.ModelSpec`,
    with any of its fields as ``overrides``) on the runtime it names. With
    ``runtime="auto"`` the runtime whose Grad-CAM step measures faster here
    (the choice is in ``cache["runtime choice"]``).

    Raises:
        UnknownModelError, WeightsUnavailableError, LayerError, InputSizeError,
        ModelError, RuntimeChoiceError.

    Example:
        >>> bundle = load_model("lite0", input_size=160)
        >>> bundle.input_size
        (160, 160)
    """
    spec = as_spec(spec, overrides)
    runtimes.check_runtime(spec.runtime, spec.precision)
    if not runtimes.is_auto(spec.runtime):
        return models.load_model(spec)
    native = models.load_model(spec.but(runtime=runtimes.REFERENCE, input_size=None))
    _choose_runtime(native)
    return native.variant(spec.input_size) if spec.input_size else native


def from_keras(model, *, runtime: str = runtimes.REFERENCE, **options: Any) -> LoadedModel:
    """:func:`livecam.models.from_keras` (an in-memory Keras model) on a checked
    runtime, ``auto`` resolved as in :func:`load_model`."""
    runtimes.check_runtime(runtime, options.get("precision", "float32"))
    if not runtimes.is_auto(runtime):
        return models.from_keras(model, runtime=runtime, **options)
    bundle = models.from_keras(model, runtime=runtimes.REFERENCE, **options)
    _choose_runtime(bundle)
    return bundle


def _choose_runtime(bundle: LoadedModel) -> None:
    """Measure, then run ``bundle`` (at its native size, before any variant) there."""
    choice = choose(bundle)
    bundle.runtime = choice.runtime
    bundle.cache["runtime choice"] = choice
