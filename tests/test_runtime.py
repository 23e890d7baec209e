"""--runtime openvino: the layers up to the CAM layer on OpenVINO, and the head
with its gradients there too where the head is a dense chain, else in the
compiled TensorFlow step; the same maps as TensorFlow's."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from conftest import bundle_of
from livecam.cam import METHODS, CamEngine, top
from livecam.errors import RuntimeChoiceError
from livecam.frames import model_input

HAS_OPENVINO = importlib.util.find_spec("openvino") is not None
needs_openvino = pytest.mark.skipif(not HAS_OPENVINO, reason="livecam[openvino] not installed")
# what needs more than the CAM layer's activations: the input's gradient, noisy copies
TENSORFLOW_ONLY = {"fullgrad", "smoothgradcam++"}
ON_OPENVINO = [name for name in METHODS if name not in TENSORFLOW_ONLY]


def vgg_style(seed: int = 3):
    """Convolutions after the CAM layer, then a dense head: the head's gradients
    vary over space, so the methods differ (as on VGG16)."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((48, 48, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="cam")(x)
    x = keras.layers.Conv2D(12, 3, padding="same", activation="relu", name="after")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(5)(x), name="vgg_style")


@pytest.fixture(scope="module")
def vgg_pair():
    model = vgg_style()
    return bundle_of(model, layer="cam"), bundle_of(model, layer="cam", runtime="openvino")


@needs_openvino
@pytest.mark.parametrize("method", [name for name in ON_OPENVINO if name != "cam"])
def test_every_method_gives_tensorflows_maps_on_a_vgg_style_model(vgg_pair, method):
    """(cam needs global average pooling then one dense layer: lite0's test has it.)"""
    on_tf, on_ov = vgg_pair
    images = np.random.default_rng(4).integers(0, 256, (3, 48, 48, 3), dtype=np.uint8)
    expected = CamEngine(on_tf, method)(images, top(2))
    engine = CamEngine(on_ov, method)
    got = engine(images, top(2))
    np.testing.assert_array_equal(got.class_ids, expected.class_ids)
    np.testing.assert_allclose(got.probabilities, expected.probabilities, atol=1e-5)
    np.testing.assert_allclose(got.maps, expected.maps, atol=1e-4)
    assert expected.maps.max() > 0.5  # non-trivial maps were compared
    engine(images[:1], top(2))
    assert engine.trace_count == 1


def dense_headed(seed: int = 5, activation: str = "relu", pooling: str = "max"):
    """The CAM layer, then a dense chain as VGG16's (2x2 max pooling of an odd
    7x7 grid, Flatten, Dense+ReLU, Dropout, Dense) or a global pooling."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((28, 28, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="cam")(x)
    if pooling == "max":
        x = keras.layers.Flatten()(keras.layers.MaxPooling2D()(x))
    elif pooling == "average":
        x = keras.layers.GlobalAveragePooling2D()(x)
    else:
        x = keras.layers.GlobalMaxPooling2D()(x)
    x = keras.layers.Dense(24, activation=activation)(x)
    x = keras.layers.Dropout(0.3)(x)
    return keras.Model(inputs, keras.layers.Dense(6)(x), name=f"dense_{pooling}")


@pytest.mark.parametrize("pooling", ["max", "average", "global_max"])
def test_a_dense_heads_gradient_written_forward_is_tensorflows(pooling):
    """What OpenVINO runs for the head: its logits and d(logit)/d(activations),
    with forward operations only, equal TensorFlow's tape for several targets."""
    import keras
    import tensorflow as tf

    from livecam.runtime import dense_head

    model = dense_headed(pooling=pooling)
    head = keras.Model(model.get_layer("cam").output, model.output)
    layers = dense_head.head_layers(head)
    assert layers is not None
    activations = tf.nn.relu(tf.random.stateless_normal([3, 7, 7, 16], seed=(4, 2)))
    class_ids = tf.constant([[0, 5], [3, 3], [2, 1]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(activations)
        logits = head(activations, training=False)
        chosen = tf.gather(logits, class_ids, axis=1, batch_dims=1)
        per_target = [chosen[:, k] for k in range(2)]
    expected = tf.stack([tape.gradient(score, activations) for score in per_target], axis=1)
    got_logits, got = dense_head.logits_and_gradients(layers, activations, class_ids)
    np.testing.assert_allclose(got_logits, logits, atol=1e-6)
    np.testing.assert_allclose(got, expected, atol=1e-7)
    assert np.abs(expected).max() > 1e-3  # a gradient that is not zero was compared
    # Grad-CAM's: only the mean over the grid, through the kernel summed over it
    mean_logits, mean_of = dense_head.run_head_for_mean(layers, activations)
    np.testing.assert_allclose(mean_logits, logits, atol=1e-6)
    expected_mean = tf.reduce_mean(expected, axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(mean_of(class_ids), expected_mean, atol=1e-7)
    assert np.abs(expected_mean).max() > 1e-4


def test_a_head_with_other_layers_is_not_written_forward():
    import keras

    from livecam.runtime import dense_head

    for model, layer in ((dense_headed(activation="gelu"), "cam"), (vgg_style(), "cam")):
        head = keras.Model(model.get_layer(layer).output, model.output)
        assert dense_head.head_layers(head) is None


@needs_openvino
@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "layercam", "xgradcam", "eigencam"])
def test_a_dense_head_runs_on_openvino_with_its_gradients_and_gives_tensorflows_maps(method):
    """The whole forward and backward pass in one OpenVINO call (Grad-CAM's maps
    too): the maps, the classes and the probabilities are TensorFlow's, for
    ranked and fixed targets."""
    from livecam import runtime
    from livecam.cam import ClassTarget

    model = dense_headed()
    on_tf, on_ov = bundle_of(model, layer="cam"), bundle_of(model, layer="cam", runtime="openvino")
    images = np.random.default_rng(6).integers(0, 256, (4, 28, 28, 3), dtype=np.uint8)
    targets = [*top(2), ClassTarget(4)]
    expected = CamEngine(on_tf, method)(images, targets)
    engine = CamEngine(on_ov, method)
    got = engine(images, targets)
    assert runtime.backbone(on_ov, head=True).head and engine._backbone.head
    assert engine._backbone.mean == (method == "gradcam")  # its mean gradient is enough
    np.testing.assert_array_equal(got.class_ids, expected.class_ids)
    np.testing.assert_allclose(got.probabilities, expected.probabilities, atol=1e-5)
    np.testing.assert_allclose(got.maps, expected.maps, atol=1e-4)
    assert expected.maps.max() > 0.5


@needs_openvino
@pytest.mark.parametrize(
    ("model", "method", "score"),
    [
        (lambda: dense_headed(activation="gelu"), "gradcam", "logit"),  # not a chain it writes
        (dense_headed, "gradcam", "probability"),  # the softmax's gradient
        (dense_headed, "ablationcam", "logit"),  # runs the head on ablated activations
        (dense_headed, "shapleycam", "logit"),  # a second derivative
        (dense_headed, "finercam", "logit"),  # contrasts the logit with its rivals'
    ],
)
def test_what_the_runtime_cannot_differentiate_runs_its_head_in_tensorflow(model, method, score):
    network = model()
    on_ov = bundle_of(network, layer="cam", runtime="openvino")
    images = np.random.default_rng(7).integers(0, 256, (2, 28, 28, 3), dtype=np.uint8)
    engine = CamEngine(on_ov, method, score)
    assert not engine._backbone.head
    expected = CamEngine(bundle_of(network, layer="cam"), method, score)(images, top(2))
    np.testing.assert_allclose(engine(images, top(2)).maps, expected.maps, atol=1e-4)


@needs_openvino
@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "cam", "layercam", "ablationcam"])
def test_lite0_on_openvino_gives_tensorflows_maps_on_real_photos(lite0, photos, method):
    from livecam.loading import load_model

    images = model_input(list(photos.values()), lite0.input_size)
    on_ov = load_model("lite0", runtime="openvino")
    expected = CamEngine(lite0, method)(images, top(3))
    got = CamEngine(on_ov, method)(images, top(3))
    np.testing.assert_array_equal(got.class_ids, expected.class_ids)
    np.testing.assert_allclose(got.probabilities, expected.probabilities, atol=1e-5)
    np.testing.assert_allclose(got.maps, expected.maps, atol=1e-4)


@needs_openvino
def test_the_conversion_is_cached_and_a_second_load_reads_it(isolated_cache):
    from livecam import runtime

    model = vgg_style(seed=9)
    first = runtime.backbone(bundle_of(model, layer="cam", runtime="openvino"))
    again = runtime.backbone(bundle_of(model, layer="cam", runtime="openvino"))
    assert not first.cached and again.cached and again.path == first.path
    assert first.path.is_file() and first.path.with_suffix(".bin").is_file()
    assert str(first.path).startswith(str(isolated_cache))
    other = vgg_style(seed=10)  # other weights: another conversion
    assert runtime.backbone(bundle_of(other, layer="cam", runtime="openvino")).path != first.path
    from livecam.loading import from_keras  # the same weights, another preprocessing

    centred = from_keras(model, layer="cam", runtime="openvino", preprocess=lambda x: x - 127.5)
    assert runtime.backbone(centred).path != first.path
    images = np.random.default_rng(1).integers(0, 256, (2, 48, 48, 3), dtype=np.uint8)
    np.testing.assert_array_equal(first(images)["layer_0"], again(images)["layer_0"])


def rescaled(scale: float, offset: float):
    """A Rescaling inside the model, then one set of weights (seeded): two
    scalings are two models with the same weights' bytes."""
    import keras

    keras.utils.set_random_seed(21)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(scale, offset)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="cam")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3)(x))


@needs_openvino
def test_a_cached_conversion_is_never_reused_for_another_architecture():
    """Review finding 1: the key hashed the weights and the external
    preprocessing only, so a model with the same weights and another Rescaling
    inside ran the first one's conversion."""
    from dataclasses import replace

    from livecam import runtime
    from livecam.loading import from_keras

    images = np.random.default_rng(2).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    unit = from_keras(rescaled(1 / 255, 0.0), layer="cam", runtime="openvino")
    centred = from_keras(rescaled(1 / 127.5, -1.0), layer="cam", runtime="openvino")
    assert [w.tobytes() for w in unit.model.get_weights()] == [
        w.tobytes() for w in centred.model.get_weights()
    ]
    CamEngine(unit)(images)  # converted and cached first
    assert runtime.backbone(centred).path != runtime.backbone(unit).path
    for bundle in (unit, centred):
        on_tf = CamEngine(replace(bundle, runtime="tensorflow"))(images)
        on_ov = CamEngine(bundle)(images)
        np.testing.assert_allclose(on_ov.probabilities, on_tf.probabilities, atol=1e-4)
        np.testing.assert_allclose(on_ov.maps, on_tf.maps, atol=1e-3)
    again = from_keras(rescaled(1 / 255, 0.0), layer="cam", runtime="openvino")  # other names
    assert (
        runtime.backbone(again).path == runtime.backbone(unit).path
        and runtime.backbone(again).cached
    )


@needs_openvino
@pytest.mark.parametrize("method", ["ablationcam", "gradcam", "scorecam"])
def test_a_model_with_free_input_sizes_runs_every_pass_on_openvino(method):
    """Review finding 11: Ablation-CAM on OpenVINO multiplied the free (None)
    dimensions of the CAM layer's output: a TypeError, not a map."""
    from dataclasses import replace

    import keras

    from livecam.loading import from_keras

    keras.utils.set_random_seed(4)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="cam")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    free = keras.Model(inputs, keras.layers.Dense(3)(x))
    bundle = from_keras(free, layer="cam", runtime="openvino", preprocess=lambda v: v / 255.0)
    images = np.random.default_rng(5).integers(0, 256, (2, *bundle.input_size, 3), np.uint8)
    on_ov = CamEngine(bundle, method)(images)
    on_tf = CamEngine(replace(bundle, runtime="tensorflow"), method)(images)
    assert on_ov.maps.shape == on_tf.maps.shape == (2, 1, 111, 111)
    np.testing.assert_allclose(on_ov.maps, on_tf.maps, atol=1e-4)


@needs_openvino
@pytest.mark.parametrize(
    ("method", "options", "layer", "needs"),
    [
        ("fullgrad", {}, "cam", "the gradient at the input"),
        ("smoothgradcam++", {}, "cam", "noisy copies"),
        ("gradcam", {"aug_smooth": True}, "cam", "--aug-smooth"),
        ("gradcam", {}, "cam,after", "several layers"),
    ],
)
def test_what_needs_more_than_the_cam_layer_stays_on_tensorflow(method, options, layer, needs):
    bundle = bundle_of(vgg_style(), layer=layer, runtime="openvino")
    with pytest.raises(RuntimeChoiceError, match=f"{needs}.* runs on --runtime tensorflow only"):
        CamEngine(bundle, method, **options)


def test_unknown_runtime_is_one_clear_error():
    with pytest.raises(RuntimeChoiceError, match="unknown runtime 'onnx'"):
        bundle_of(vgg_style(), runtime="onnx")


@pytest.mark.skipif(HAS_OPENVINO, reason="runs where livecam[openvino] is not installed")
def test_openvino_without_the_extra_says_what_to_install():
    """CI's floors step installs livecam without the extra: the real refusal."""
    from typer.testing import CliRunner

    from livecam.cli import app

    result = CliRunner().invoke(app, ["image", "x.jpg", "--runtime", "openvino"])
    assert result.exit_code != 0
    assert "pip install 'livecam[openvino]'" in result.output + result.stderr


@needs_openvino
def test_livecam_image_on_openvino_says_what_tensorflow_says(samples, tmp_path):
    import json

    from typer.testing import CliRunner

    from livecam.cli import app

    def run(*runtime: str) -> dict:
        out = tmp_path / (runtime[-1] if runtime else "tensorflow")
        arguments = ["image", str(samples / "orange.jpg"), "--json", "--out", str(out)]
        result = CliRunner().invoke(app, [*arguments, *runtime])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    on_tf, on_ov = run(), run("--runtime", "openvino")
    for ours, theirs in zip(on_ov["predictions"], on_tf["predictions"], strict=True):
        assert ours["label"] == theirs["label"]
        assert ours["probability"] == pytest.approx(theirs["probability"], abs=1e-5)
    assert on_ov["targets"][0]["peak"] == on_tf["targets"][0]["peak"]
    assert on_tf["predictions"][0]["label"] == "orange"


@needs_openvino
def test_bfloat16_on_openvino_keeps_lite0s_maps_or_is_refused_where_the_cpu_lacks_it(lite0, photos):
    """One float32 conversion, run with OpenVINO's bfloat16 hint where the CPU has it:
    the maps stay within the fidelity gate (correlation >= 0.98, same top-1)."""
    from dataclasses import replace

    from livecam import runtime

    on_bf16 = replace(lite0, runtime="openvino").variant(precision="mixed_bfloat16")
    if not runtime.has_bfloat16("openvino"):
        with pytest.raises(RuntimeChoiceError, match="no bfloat16"):
            CamEngine(on_bf16)
        return
    images = model_input(list(photos.values()), lite0.input_size)
    expected = CamEngine(lite0)(images)
    got = CamEngine(on_bf16)(images)
    np.testing.assert_array_equal(got.class_ids, expected.class_ids)
    for ours, theirs in zip(got.maps, expected.maps, strict=True):
        assert np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] >= 0.98
    assert (
        runtime.backbone(on_bf16).path == runtime.backbone(replace(lite0, runtime="openvino")).path
    )


@needs_openvino
def test_auto_measures_both_runtimes_once_and_takes_the_faster(tmp_path):
    """The choice follows the measured costs, which persist: a second load
    measures nothing, and recorded costs that favour TensorFlow choose it."""
    from livecam.tuning.governor import CostCache, QualityLevel
    from livecam.tuning.runtime_choice import choose

    costs = CostCache(tmp_path / "governor.json")
    model = bundle_of(dense_headed(), layer="cam")
    choice = choose(model, costs)
    assert set(choice.ms_per_map) == {"tensorflow", "openvino"} and not choice.reason
    assert choice.runtime == min(choice.ms_per_map, key=choice.ms_per_map.get)
    again = CostCache(tmp_path / "governor.json")  # read back from the file
    assert choose(model, again).ms_per_map == choice.ms_per_map
    level, profile = QualityLevel(28, "float32"), "runtime-choice|cam"
    again.update(f"{model.name}@tensorflow", profile, {level: 0.001})
    again.update(f"{model.name}@openvino", profile, {level: 0.002})
    assert choose(model, again).runtime == "tensorflow"
    again.update(f"{model.name}@openvino", profile, {level: 0.0005})
    assert choose(model, again).runtime == "openvino"


@needs_openvino
def test_auto_through_load_model_records_its_choice(monkeypatch, tmp_path):
    from livecam import from_keras

    monkeypatch.setenv("LIVECAM_CACHE_DIR", str(tmp_path))
    bundle = from_keras(dense_headed(), layer="cam", runtime="auto")
    choice = bundle.cache["runtime choice"]
    assert bundle.runtime == choice.runtime in ("tensorflow", "openvino")
    assert (tmp_path / "governor.json").is_file()


@pytest.mark.skipif(HAS_OPENVINO, reason="runs where livecam[openvino] is not installed")
def test_auto_without_openvino_is_tensorflow_and_says_why():
    from livecam import from_keras, runtime

    bundle = from_keras(dense_headed(), layer="cam", runtime="auto")
    assert bundle.runtime == "tensorflow"
    assert bundle.cache["runtime choice"].reason == runtime.get("openvino").unavailable("float32")


@needs_openvino
@pytest.mark.parametrize("method", [name for name in ON_OPENVINO if name != "cam"])
def test_every_method_on_a_dense_head_gives_tensorflows_maps(method, monkeypatch):
    """Whichever part runs where (the head on OpenVINO or in TensorFlow, Score-CAM's
    masked images through the whole model on OpenVINO, Ablation-CAM's ablated
    activations through the head on OpenVINO, here taken as heavy), every
    method's maps are TensorFlow's on a VGG-like dense head."""
    from livecam import runtime

    monkeypatch.setattr(runtime, "HEAVY_HEAD", 0)
    model = dense_headed(seed=8)
    images = np.random.default_rng(9).integers(0, 256, (2, 28, 28, 3), dtype=np.uint8)
    expected = CamEngine(bundle_of(model, layer="cam"), method)(images, top(2))
    engine = CamEngine(bundle_of(model, layer="cam", runtime="openvino"), method)
    scored, headed = [], []  # rows the runtime's whole model and head scored
    for attribute, rows in (("_scorer", scored), ("_head_scorer", headed)):
        runtime_scorer = getattr(engine, attribute)
        if runtime_scorer is not None:  # counted before the step is traced
            setattr(engine, attribute, counting(runtime_scorer, rows))
    got = engine(images, top(2))
    np.testing.assert_array_equal(got.class_ids, expected.class_ids)
    np.testing.assert_allclose(got.maps, expected.maps, atol=1e-4)
    # Score-CAM's masked images: 2 images x 16 channels x 2 targets, all on OpenVINO
    assert sum(scored) == (2 * 16 * 2 if method == "scorecam" else 0)
    # Ablation-CAM's activations: the 2 x 2 unablated, then each of the 16 channels zeroed
    assert sum(headed) == (2 * 2 + 2 * 2 * 16 if method == "ablationcam" else 0)


@needs_openvino
def test_ablation_cam_runs_a_heavy_head_on_openvino_and_a_light_one_in_tensorflow():
    """A flattened grid into a wide dense layer (128 weights per activation
    value, as VGG16's 4,900) runs on OpenVINO; pooling and one dense layer
    (lite0's kind) stays in the step."""
    import keras

    from livecam.runtime import head_scorer

    inputs = keras.Input((28, 28, 3))
    grid = keras.layers.Conv2D(16, 3, strides=4, padding="same", name="cam")(inputs)  # 7x7x16
    wide = keras.layers.Dense(128, activation="relu")(keras.layers.Flatten()(grid))
    heavy = keras.Model(inputs, keras.layers.Dense(6)(wide))
    light = dense_headed(pooling="average")

    def scorer_of(model, runtime: str = "openvino"):
        head = keras.Model(model.get_layer("cam").output, model.output)
        return head_scorer(bundle_of(model, layer="cam", runtime=runtime), head)

    assert scorer_of(heavy) is not None
    assert scorer_of(light) is None
    assert scorer_of(heavy, "tensorflow") is None  # TensorFlow runs it all


def counting(scorer, rows: list):
    """``scorer``, appending how many rows each call scores to ``rows``."""

    def scored(inputs):
        rows.append(len(inputs))
        return scorer(inputs)

    return scored


@needs_openvino
def test_a_cached_conversion_that_is_broken_or_lacks_an_output_is_converted_again(isolated_cache):
    """A cache written by an older livecam (here: the model without the head
    put where the one with the head belongs) or a truncated file is replaced."""
    import shutil

    from livecam.runtime.openvino import OpenVinoBackbone

    bundle = bundle_of(dense_headed(seed=21), layer="cam", runtime="openvino")
    plain = OpenVinoBackbone(bundle)
    with_head = OpenVinoBackbone(bundle, head=True, mean=True)
    shutil.copy(plain.path, with_head.path)
    shutil.copy(plain.path.with_suffix(".bin"), with_head.path.with_suffix(".bin"))
    images = np.random.default_rng(2).integers(0, 256, (2, 28, 28, 3), dtype=np.uint8)
    again = OpenVinoBackbone(bundle, head=True, mean=True)
    expected = again(images, np.array([-1], np.int32))["maps"]
    assert not again.cached
    weights = again.path.with_suffix(".bin")
    del again  # it maps the weights file: a new file takes the old one's name
    weights.unlink()
    weights.write_bytes(b"truncated")
    rebuilt = OpenVinoBackbone(bundle, head=True, mean=True)
    assert not rebuilt.cached
    np.testing.assert_allclose(rebuilt(images, np.array([-1], np.int32))["maps"], expected)
    assert OpenVinoBackbone(bundle, head=True, mean=True).cached  # and read next time
    from livecam.runtime.openvino import OpenVinoScorer  # Score-CAM's whole model: the same

    inputs = images.astype(np.float32) / 255.0
    scored = OpenVinoScorer(bundle)(inputs)
    scorer_weights = OpenVinoScorer(bundle).path.with_suffix(".bin")
    scorer_weights.unlink()
    scorer_weights.write_bytes(b"truncated")
    np.testing.assert_allclose(OpenVinoScorer(bundle)(inputs), scored)


@needs_openvino
def test_bench_times_the_forward_pass_on_the_runtime_it_benchmarks(monkeypatch):
    """livecam bench's `fwd` column on an OpenVINO row is OpenVINO's forward pass."""
    from livecam import runtime
    from livecam.bench.runner import _time_forward

    bundle = bundle_of(dense_headed(seed=30), layer="cam", runtime="openvino")
    whole, calls = runtime.scorer(bundle), []
    monkeypatch.setattr(runtime, "scorer", lambda model, after=None: counting(whole, calls))
    images = np.random.default_rng(3).integers(0, 256, (3, 28, 28, 3), dtype=np.uint8)
    times = _time_forward(bundle, [images[:2], images[2:]])
    assert len(times) == 3 and min(times) > 0
    assert calls == [2, 2, 1]  # the warm-up, then each batch, all on OpenVINO
