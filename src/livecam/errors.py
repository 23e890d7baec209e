"""Exceptions raised by the livecam library.

Every error a user can cause derives from :class:`LivecamError`, so the CLI can
turn each into one line and a non-zero exit code.
"""

from __future__ import annotations


class LivecamError(Exception):
    """Base class of every error livecam raises on purpose."""


class ModelError(LivecamError):
    """A model spec cannot be resolved or loaded."""


class UnknownModelError(ModelError):
    """The model name is neither a known model nor an existing file."""


class WeightsUnavailableError(ModelError):
    """Pretrained weights cannot be fetched (e.g. no internet)."""


class LayerError(ModelError):
    """The CAM layer is unknown or the model has no usable 4-D layer."""


class RuntimeChoiceError(LivecamError):
    """A runtime (``--runtime``) that is unknown, not installed, or cannot run this model."""


class MethodError(LivecamError):
    """Unknown CAM method, or a method the model's architecture cannot support."""


class TargetError(LivecamError):
    """A class target (name or index) does not exist in the label set."""


class InputSizeError(ModelError):
    """The model cannot run at the requested input size."""


class ImageReadError(LivecamError):
    """An image file is missing or cannot be decoded."""


class OutputError(LivecamError):
    """An output path cannot be written or would overwrite an input."""


class TorchCheckpointError(ModelError):
    """A legacy PyTorch checkpoint cannot be read."""


class SourceError(LivecamError):
    """A video source cannot be opened or stopped delivering frames."""


class SinkError(OutputError):
    """A video cannot be written (no codec, wrong frame size, disk full)."""


class RunAborted(LivecamError):
    """A video run stopped on an error; what was done so far is kept.

    Attributes:
        summary: The run's summary up to the error (frames written, outputs).
    """

    def __init__(self, message: str, summary) -> None:
        super().__init__(message)
        self.summary = summary

    def __reduce__(self):  # pickled whole, e.g. from a Ray worker to the driver
        return type(self), (str(self), self.summary)


class ServeError(LivecamError):
    """The web server cannot start as asked (e.g. a public bind without a token)."""


class ControlError(LivecamError):
    """A control request from the web page names an invalid value."""


def last_line(error: BaseException) -> str:
    """The last line of an error's message, or its type where it has none
    (``MemoryError()``): one line to report, whatever was raised."""
    lines = str(error).strip().splitlines()
    return lines[-1] if lines else type(error).__name__
