"""The table of CAM methods: each method's module registers its class with
:func:`register_method`, so a new method is one file (and one import line in
:mod:`livecam.cam`), and every command and test that loops over
:data:`METHODS` sees it."""

from __future__ import annotations

from livecam.cam.base import CamMethod
from livecam.errors import MethodError

METHODS: dict[str, type[CamMethod]] = {}
SCORES = ("logit", "probability")


def register_method(method: type[CamMethod]) -> type[CamMethod]:
    """Class decorator: adds ``method`` to :data:`METHODS` under its ``name``.

    Raises:
        MethodError: Another class already has that name.
    """
    known = METHODS.get(method.name)
    if known is not None and known is not method:
        raise MethodError(
            f"method {method.name!r} is registered twice: {known.__qualname__} and "
            f"{method.__qualname__}"
        )
    METHODS[method.name] = method
    return method


def make_method(name: str, max_channels: int | None = None) -> CamMethod:
    """A CAM method by name (see :data:`METHODS`).

    Args:
        name: The method's name, e.g. ``gradcam`` or ``scorecam``.
        max_channels: For ``scorecam``: score only the channels with the
            highest mean activation.
    """
    try:
        method = METHODS[name.lower()]()
    except KeyError:
        raise MethodError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}") from None
    if max_channels is not None:
        if not hasattr(method, "max_channels"):
            raise MethodError(f"--max-channels applies to scorecam, not {method.name!r}")
        if max_channels < 1:
            raise MethodError(f"--max-channels must be at least 1, got {max_channels}")
        method.max_channels = max_channels
    return method
