"""Shared fixtures: real sample photos, the real Lite0 model, tiny Keras models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
# sample photo -> the ImageNet class its subject belongs to
PHOTO_CLASSES = {
    "squirrel_cls.jpg": "fox squirrel",
    "butterfly.jpg": "monarch",
    "orange.jpg": "orange",
}


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory) -> Path:
    """Convert Lite0 into a fresh cache once per run, as a new user would."""
    cache = tmp_path_factory.mktemp("livecam-cache")
    os.environ["LIVECAM_CACHE_DIR"] = str(cache)
    return cache


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def photos():
    import cv2

    return {name: cv2.imread(str(SAMPLES / name)) for name in PHOTO_CLASSES}


@pytest.fixture(scope="session")
def lite0(isolated_cache):
    from livecam.models import load_model

    return load_model("lite0")


@pytest.fixture(scope="session")
def lite0_gradcam(lite0):
    from livecam.cam import CamEngine

    return CamEngine(lite0, "gradcam")


@pytest.fixture(scope="session")
def eval_run(samples, tmp_path_factory) -> tuple[dict, Path]:
    """``livecam eval`` on 2 composed images with --json and --report, once:
    the JSON it printed and the report it wrote."""
    import json

    from typer.testing import CliRunner

    from livecam.cli import app

    report = tmp_path_factory.mktemp("eval") / "report.html"
    arguments = ["eval", str(samples / "eval")]  # the annotations: eval/instances.json
    options = ["--method", "gradcam,eigencam", "--limit", "2", "--json", "--report", str(report)]
    result = CliRunner().invoke(app, arguments + options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), report


def tiny_classifier(size: int = 32, classes: int = 4, seed: int = 0, softmax: bool = True):
    """conv -> conv -> GAP -> Dense: small enough to build in milliseconds."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(
        classes, activation="softmax" if softmax else None, name="predictions"
    )(x)
    return keras.Model(inputs, outputs, name="tiny")


def bundle_of(model, labels=None, layer=None, **options):
    """A LoadedModel around an in-memory Keras model (inputs scaled to [0, 1])."""
    from livecam.loading import from_keras

    return from_keras(model, preprocess=scaled, labels=labels, layer=layer, **options)


def scaled(x):
    return x / 255.0
