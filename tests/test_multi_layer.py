"""--layer A,B,C: maps of several layers, each resized to the largest grid, averaged."""

import cv2
import numpy as np
import pytest

from conftest import bundle_of, tiny_classifier
from livecam.cam import METHODS, CamEngine
from livecam.errors import LayerError


@pytest.fixture(scope="module")
def tiny():
    return tiny_classifier()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(12).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)


def test_the_layers_are_parsed_and_the_last_is_the_cam_layer(tiny):
    bundle = bundle_of(tiny, layer="conv1, conv2")
    assert bundle.cam_layers == ("conv1", "conv2") and bundle.cam_layer == "conv2"
    assert bundle_of(tiny).cam_layers == ("conv2",)
    with pytest.raises(LayerError, match="no layer 'nope'"):
        bundle_of(tiny, layer="conv1,nope")


@pytest.mark.parametrize("method", ["gradcam", "layercam", "ablationcam"])
def test_the_map_is_the_mean_of_each_layers_map_on_the_largest_grid(tiny, images, method):
    first = CamEngine(bundle_of(tiny, layer="conv1"), method)(images).maps[:, 0]
    second = CamEngine(bundle_of(tiny, layer="conv2"), method)(images).maps[:, 0]
    both = CamEngine(bundle_of(tiny, layer="conv1,conv2"), method)(images).maps[:, 0]
    assert first.shape[1:] == (32, 32) and second.shape[1:] == (16, 16)
    for i in range(len(images)):
        upsampled = cv2.resize(second[i], (32, 32), interpolation=cv2.INTER_LINEAR)
        expected = (first[i] + upsampled) / 2
        np.testing.assert_allclose(both[i], expected / expected.max(), atol=1e-5)
    assert not np.allclose(both, first, atol=1e-2) and both.max() == pytest.approx(1.0)


@pytest.mark.parametrize("method", [m for m in METHODS if m not in ("fullgrad", "cam")])
def test_every_method_takes_several_layers(tiny, images, method):
    engine = CamEngine(bundle_of(tiny, layer="conv1,conv2"), method)
    out = engine(images)
    out = engine(images[:1])
    assert out.maps.shape == (1, 1, 32, 32) and np.isfinite(out.maps).all()
    assert out.maps.min() >= 0 and out.maps.max() <= 1
    assert engine.trace_count == 1
