"""Every keras.applications classifier by name, with random weights: it
builds, its default CAM layer sits in the last third of the graph, one
compiled step runs at the native size and at 160 px, and the step is traced
once. Slow (every architecture, up to ConvNeXt-XLarge and EfficientNet-B7):
marked ``applications`` and run as a CI step of its own (``pytest -m applications``)."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from livecam.cam import CamEngine
from livecam.models import load_model, zoo
from livecam.models.layers import candidate_layers

REDUCED = 160


@pytest.mark.applications
@pytest.mark.slow
@pytest.mark.parametrize("name", list(zoo.KERAS_APPLICATIONS))
def test_every_keras_application_is_explained_at_a_late_layer_at_two_sizes(name):
    bundle = load_model(name, weights="none")
    depths = {layer.name: layer.depth for layer in candidate_layers(bundle.model)}
    assert depths[bundle.cam_layer] >= 2 / 3, (bundle.cam_layer, depths[bundle.cam_layer])
    height, width = bundle.input_size
    rng = np.random.default_rng(0)
    engine = CamEngine(bundle)
    images = rng.integers(0, 256, (1, height, width, 3), dtype=np.uint8)
    first = engine(images)
    second = engine(images)
    assert engine.trace_count == 1  # the traced step is reused
    np.testing.assert_allclose(first.maps, second.maps, atol=1e-5)
    assert first.maps.shape[:2] == (1, 1) and np.isfinite(first.maps).all()
    assert first.probabilities.shape == (1, 1000)
    small = CamEngine(bundle.variant(REDUCED))
    reduced = small(rng.integers(0, 256, (1, REDUCED, REDUCED, 3), dtype=np.uint8))
    assert np.isfinite(reduced.maps).all() and reduced.maps.shape[-1] <= first.maps.shape[-1]
    del bundle, engine, small
    gc.collect()
