"""The sample media shipped with livecam (OpenCV's sample data, BSD/Apache licensed)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE_IMAGES = ("squirrel_cls.jpg", "butterfly.jpg", "orange.jpg")
SAMPLE_VIDEO = "moving_monarch.mp4"


def sample_dir() -> Path:
    """The installed samples, or the repository's ``samples/`` in a source checkout."""
    installed = Path(str(resources.files("livecam"))) / "samples"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "samples"


def sample_images() -> list[Path]:
    return [sample_dir() / name for name in SAMPLE_IMAGES]


def sample_video() -> Path:
    """A real photo (the monarch) sliding across a real background, 45 frames."""
    return sample_dir() / SAMPLE_VIDEO
