import numpy as np
import pytest

from conftest import PHOTO_CLASSES, SAMPLES, bundle_of, tiny_classifier
from livecam.errors import (
    LayerError,
    ModelError,
    UnknownModelError,
    WeightsUnavailableError,
)
from livecam.explain import Explainer
from livecam.models import lite0 as lite0_module
from livecam.models import load_model
from livecam.models.labels import short_label


@pytest.mark.parametrize("photo", list(PHOTO_CLASSES))
def test_lite0_recognises_the_sample_photos(lite0, photos, photo):
    explanation = Explainer(lite0).explain_one(photos[photo])
    assert explanation.predictions[0].name == PHOTO_CLASSES[photo]
    assert explanation.predictions[0].probability > 0.5


def test_folding_the_batch_norms_keeps_the_network_s_function(lite0, photos):
    """The bundled model folds each batch norm into its convolution; the
    checkpoint's own layout (batch norms as layers) must give the same logits
    and the same CAM-layer activations on real photos."""
    import keras

    from livecam.frames import prepare

    reference = lite0_module.convert(lite0_module.checkpoint_path(), fold=False)
    folded = lite0.model
    assert not any("BatchNormalization" in type(layer).__name__ for layer in folded.layers)
    assert any("BatchNormalization" in type(layer).__name__ for layer in reference.layers)
    batch = lite0.preprocess(
        np.stack([prepare(image, (224, 224)) for image in photos.values()]).astype("float32")
    )

    def outputs(model):
        cam = model.get_layer(lite0_module.CAM_LAYER).output
        return [t.numpy() for t in keras.Model(model.input, [cam, model.output])(batch)]

    (cam_ref, logits_ref), (cam_folded, logits_folded) = outputs(reference), outputs(folded)
    assert np.abs(logits_ref - logits_folded).max() < 1e-3 * np.abs(logits_ref).max()
    assert np.abs(cam_ref - cam_folded).max() < 1e-3 * np.abs(cam_ref).max()
    assert (logits_ref.argmax(1) == logits_folded.argmax(1)).all()


def test_lite0_is_cached_and_a_corrupt_cache_is_rebuilt(lite0, isolated_cache):
    cached = list(isolated_cache.glob("efficientnet_lite0-*.keras"))
    assert len(cached) == 1, "the first load must leave exactly one cache file"
    assert not list(isolated_cache.glob(".tmp-*")), "no temp file may be left behind"
    cached[0].write_bytes(b"garbage")
    rebuilt = lite0_module.load()
    assert rebuilt.count_params() == lite0.model.count_params()
    assert cached[0].stat().st_size > 1_000_000


def test_lite0_runs_at_a_smaller_input_size_with_the_same_weights(photos):
    small = load_model("lite0", input_size=160)
    assert small.input_size == (160, 160)
    assert small.model.input_shape == (None, 160, 160, 3)
    top1 = Explainer(small).explain_one(photos["squirrel_cls.jpg"]).predictions[0]
    assert top1.name == "fox squirrel"


def test_vgg16_detects_the_tutorial_layer():
    vgg = load_model("vgg16", weights="none")
    assert vgg.cam_layer == "block5_conv3"
    assert vgg.normalisation == "softmax"
    assert vgg.model.layers[-1].get_config()["activation"] == "linear", (
        "the softmax must be removed so the logit can be explained"
    )


@pytest.fixture(scope="module")
def vgg16():
    return load_model("vgg16", weights="none")


@pytest.mark.parametrize("size", [224, 192, 160, 128, 112, 96, 32])
def test_vgg16_runs_at_every_input_size(vgg16, photos, size):
    # The Flatten head gets its 7x7 grid back whatever the input size.
    from livecam.cam import CamEngine
    from livecam.frames import model_input

    variant = vgg16.variant(size)
    out = CamEngine(variant)(model_input([photos["orange.jpg"]], variant.input_size))
    grid = size // 16  # block5_conv3 is 1/16 of the input
    assert out.maps.shape == (1, 1, grid, grid)
    assert np.isfinite(out.maps).all() and 0.0 <= out.maps.min() <= out.maps.max() <= 1.0
    np.testing.assert_allclose(out.probabilities.sum(), 1.0, atol=1e-4)


def test_vgg16_is_unchanged_at_its_native_size_even_after_a_smaller_one(vgg16, photos):
    from livecam.cam import CamEngine
    from livecam.frames import model_input

    batch = model_input([photos["orange.jpg"], photos["butterfly.jpg"]], (224, 224))
    native = CamEngine(vgg16)(batch)
    assert not [layer for layer in vgg16.model.layers if layer.name.endswith("_grid")]
    back = vgg16.variant(160).variant(224)
    again = CamEngine(back)(batch)
    np.testing.assert_array_equal(again.probabilities, native.probabilities)
    np.testing.assert_array_equal(again.maps, native.maps)


def _unfolded(monkeypatch, bundle, size):
    """The variant as a Resizing layer before the Flatten (the fold turned off)."""
    from livecam.models import flatten_heads

    with monkeypatch.context() as patch:
        patch.setattr(flatten_heads, "_dense_after", lambda *args: None)
        return bundle.variant(size)


@pytest.mark.parametrize("size", [192, 128, 96])
def test_a_smaller_vgg16_folds_the_resize_into_fc1_and_computes_the_same(
    vgg16, photos, monkeypatch, size
):
    from livecam.cam import CamEngine
    from livecam.frames import model_input

    folded = vgg16.variant(size)
    unfolded = _unfolded(monkeypatch, vgg16, size)
    grid = size // 32  # the map block5_pool hands to the Flatten
    assert folded.model.get_layer("fc1").kernel.shape == (grid * grid * 512, 4096)
    assert not [layer for layer in folded.model.layers if layer.name.endswith("_grid")]
    assert [layer.name for layer in unfolded.model.layers if layer.name.endswith("_grid")]
    batch = model_input([photos["orange.jpg"], photos["butterfly.jpg"]], (size, size))
    logits = [bundle.model(batch).numpy() for bundle in (folded, unfolded)]
    np.testing.assert_allclose(logits[0], logits[1], rtol=1e-4, atol=1e-4 * np.abs(logits[1]).max())
    maps = [CamEngine(bundle)(batch).maps for bundle in (folded, unfolded)]
    np.testing.assert_allclose(maps[0], maps[1], atol=1e-4)


def test_a_sequential_flatten_head_folds_too(monkeypatch):
    import keras

    model = keras.Sequential(
        [
            keras.Input((64, 64, 3)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv"),
            keras.layers.MaxPooling2D(4),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(5, name="head"),
        ]
    )
    bundle = bundle_of(model)
    small = bundle.variant(40)  # 16x16 -> 10x10 map before the Flatten
    assert small.model.get_layer("head").kernel.shape == (10 * 10 * 8, 5)
    reference = _unfolded(monkeypatch, bundle, 40)
    batch = np.random.default_rng(0).uniform(0, 255, (3, 40, 40, 3)).astype("float32")
    expected = reference.model(batch).numpy()
    np.testing.assert_allclose(small.model(batch), expected, atol=1e-5 * np.abs(expected).max())


def test_no_fold_where_the_flattened_map_is_used_elsewhere():
    """A model that also returns its flattened features keeps them whole: the
    resize stays a layer, and the Dense its kernel."""
    import keras

    from livecam.models import graph

    inputs = keras.Input((64, 64, 3))
    features = keras.layers.MaxPooling2D(4)(keras.layers.Conv2D(8, 3, padding="same")(inputs))
    flat = keras.layers.Flatten(name="flat")(features)
    model = keras.Model(inputs, [keras.layers.Dense(5, name="head")(flat), flat])
    rebuilt, _ = graph.rebuild(model, 40)
    assert rebuilt.get_layer("head").kernel.shape == (16 * 16 * 8, 5)
    assert tuple(rebuilt.outputs[1].shape) == (None, 16 * 16 * 8)
    assert rebuilt.get_layer("flat_grid")


def test_variants_are_built_from_the_native_model(vgg16, photos):
    from livecam.frames import model_input

    batch = model_input([photos["orange.jpg"]], (160, 160))
    direct = vgg16.variant(160)
    via_smaller = vgg16.variant(96).variant(160)
    assert via_smaller.origin is vgg16 and vgg16.origin is None
    np.testing.assert_array_equal(via_smaller.model(batch), direct.model(batch))
    loaded = load_model("vgg16", weights="none", input_size=128)
    assert loaded.input_size == (128, 128) and loaded.origin.input_size == (224, 224)


@pytest.mark.parametrize(
    ("name", "layer"),
    [
        ("vgg19", "block5_conv4"),
        ("resnet50", "conv5_block3_out"),
        ("mobilenet_v2", "out_relu"),
        ("efficientnet_b0", "top_activation"),
    ],
)
def test_keras_applications_auto_detect_their_last_conv_block(name, layer):
    assert load_model(name, weights=None).cam_layer == layer


def test_offline_imagenet_download_is_one_clear_error(tmp_path, monkeypatch):
    # The download fails as it does offline, whether or not this machine is online.
    import urllib.error

    from keras.src.utils import file_utils

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError(f"[Errno -3] Temporary failure in name resolution: {url}")

    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no cached weights
    with pytest.raises(WeightsUnavailableError) as raised:
        load_model("mobilenet_v2")
    assert "--weights PATH" in str(raised.value)
    assert "lite0" in str(raised.value)


def test_weights_file_is_loaded(tmp_path):
    model = tiny_classifier()
    path = tmp_path / "tiny.weights.h5"
    model.save_weights(path)
    saved = tmp_path / "tiny.keras"
    model.save(saved)
    loaded = load_model(str(saved))
    x = np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 3)).astype("float32")
    expected = model.predict(x, verbose=0)
    logits = loaded.model.predict(x, verbose=0)
    np.testing.assert_allclose(_softmax(logits), expected, rtol=1e-4, atol=1e-6)


def test_lite0_weights_none_and_weights_file_round_trip(tmp_path, lite0):
    path = tmp_path / "lite0.weights.h5"
    lite0.model.save_weights(path)
    again = load_model("lite0", weights=str(path))
    for a, b in zip(again.model.get_weights(), lite0.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    random = load_model("lite0", weights="none")
    assert not np.array_equal(random.model.get_weights()[0], lite0.model.get_weights()[0])


def test_unknown_model_and_missing_files():
    with pytest.raises(UnknownModelError, match="lite0"):
        load_model("alexnet")
    with pytest.raises(UnknownModelError, match="does not exist"):
        load_model("nope.keras")
    with pytest.raises(ModelError, match="does not exist"):
        load_model("lite0", weights="missing.weights.h5")


def test_corrupt_model_file_is_a_model_error(tmp_path):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="cannot load model file"):
        load_model(str(bad))


def test_unknown_layer_lists_candidates(tmp_path):
    saved = tmp_path / "tiny.keras"
    tiny_classifier().save(saved)
    with pytest.raises(LayerError, match="conv2"):
        load_model(str(saved), layer="nope")


def test_model_without_spatial_layer_is_a_layer_error():
    import keras

    inputs = keras.Input((8,))
    flat = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    with pytest.raises(LayerError, match="no layer with a spatial map or tokens"):
        bundle_of(flat)


def test_multi_output_model_needs_and_takes_a_choice(tmp_path):
    import keras

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    first = keras.layers.Dense(5, activation="softmax", name="species")(x)
    second = keras.layers.Dense(2, name="box")(x)
    path = tmp_path / "two.keras"
    keras.Model(inputs, [first, second]).save(path)
    with pytest.raises(ModelError, match="2 outputs"):
        load_model(str(path))
    chosen = load_model(str(path), output="species")
    assert chosen.num_classes == 5
    assert load_model(str(path), output=1).num_classes == 2


def test_labels_file_and_count_check(tmp_path):
    saved = tmp_path / "tiny.keras"
    tiny_classifier(classes=3).save(saved)
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\nbird\n")
    assert load_model(str(saved), labels=labels).labels == ["cat", "dog", "bird"]
    labels.write_text("cat\ndog\n")
    with pytest.raises(ModelError, match="2 entries"):
        load_model(str(saved), labels=labels)


def test_precision_is_validated():
    with pytest.raises(ModelError, match="mixed_bfloat16"):
        load_model("lite0", precision="float8")


def test_short_label_is_the_first_synonym(lite0):
    assert short_label(lite0.labels[335]) == "fox squirrel"


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_the_lite0_cache_is_keyed_by_the_checkpoint_content(tmp_path):
    original = lite0_module.checkpoint_path().read_bytes()
    same = tmp_path / "a" / "model.pth"
    other = tmp_path / "b" / "model.pth"
    for path, data in ((same, original), (other, original[:-1] + bytes([original[-1] ^ 1]))):
        path.parent.mkdir()
        path.write_bytes(data)
    assert lite0_module._cache_file(same) == lite0_module._cache_file(
        lite0_module.checkpoint_path()
    )
    # Same name, same size, one byte different: another cache entry.
    assert lite0_module._cache_file(other) != lite0_module._cache_file(same)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_model_files_with_code_in_them_are_refused(tmp_path, suffix):
    import keras

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.Lambda(lambda t: t * 2.0, name="code")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    path = tmp_path / f"lambda{suffix}"
    keras.Model(inputs, keras.layers.Dense(3)(x)).save(path)
    with pytest.raises(ModelError, match="cannot load model file"):
        load_model(str(path))


# The default layer must be able to mean something (issue 20, item 2) -------------


def tiny_vit(size: int = 32, patch: int = 4, dim: int = 16, classes: int = 4):
    """A small vision transformer: its only 4-D layer is the patch embedding."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(dim, patch, strides=patch, name="patch_embed")(inputs)
    x = keras.layers.Reshape(((size // patch) ** 2, dim), name="tokens")(x)
    for block in range(2):
        y = keras.layers.LayerNormalization(name=f"block{block}_norm1")(x)
        y = keras.layers.MultiHeadAttention(2, dim // 2, name=f"block{block}_attn")(y, y)
        x = keras.layers.Add(name=f"block{block}_add1")([x, y])
        y = keras.layers.LayerNormalization(name=f"block{block}_norm2")(x)
        y = keras.layers.Dense(dim * 2, activation="gelu", name=f"block{block}_mlp1")(y)
        y = keras.layers.Dense(dim, name=f"block{block}_mlp2")(y)
        x = keras.layers.Add(name=f"block{block}_add2")([x, y])
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.LayerNormalization()(x))
    return keras.Model(inputs, keras.layers.Dense(classes, name="head")(x), name="tiny_vit")


def stem_only_cnn(size: int = 32, classes: int = 4):
    import keras

    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="stem")(inputs)
    x = keras.layers.Flatten()(x)
    for units in (64, 32, 16):
        x = keras.layers.Dense(units, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(classes)(x), name="stem_only")


def test_an_early_only_spatial_layer_is_refused_as_the_default(tmp_path):
    from livecam.errors import LayerError

    early = "stem"
    path = tmp_path / f"{early}.keras"
    stem_only_cnn().save(path)
    with pytest.raises(LayerError) as refused:
        load_model(str(path))
    message = str(refused.value)
    assert f"{early!r}" in message and "--layer NAME" in message and "livecam layers" in message
    assert f"{early} " in message.split("candidates:")[1], "the candidates are named"
    from livecam.cam import CamEngine

    chosen = load_model(str(path), layer=early)  # asked for by name, it is explained
    assert chosen.cam_layer == early
    maps = CamEngine(chosen)(np.zeros((1, 32, 32, 3), np.uint8)).maps
    grid = tuple(chosen.model.get_layer(early).output.shape[1:3])
    assert maps.shape[-2:] == grid and np.isfinite(maps).all()


def test_layers_lists_the_candidates_their_depth_and_the_default(tmp_path):
    from typer.testing import CliRunner

    from livecam.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["layers", "lite0"])
    assert listed.exit_code == 0, listed.output
    rows = [line.split() for line in listed.stdout.splitlines()[1:] if line.strip()]
    default = [row for row in rows if "*" in row]
    assert default and default[0][0] == "top_activation" and default[0][-1].endswith("%")
    depths = [int(row[-1].rstrip("%")) for row in rows if row[-1].endswith("%")]
    assert depths == sorted(depths) and depths[-1] >= 90 and len(depths) > 10
    path = tmp_path / "vit.keras"
    tiny_vit().save(path)
    vit = runner.invoke(app, ["layers", str(path)])
    assert vit.exit_code == 0, vit.output
    default = [line.split() for line in vit.stdout.splitlines() if "*" in line.split()]
    assert default and default[0][0] == "block1_norm1" and "64x16" in default[0], vit.stdout
    assert "patch_embed" in vit.stdout and "8x8x16" in vit.stdout
    path = tmp_path / "stem.keras"
    stem_only_cnn().save(path)
    stem = runner.invoke(app, ["layers", str(path)])
    assert stem.exit_code == 0 and "no default layer" in stem.stdout, stem.output
    explained = runner.invoke(app, ["image", str(SAMPLES / "orange.jpg"), "-m", str(path)])
    assert explained.exit_code == 1
    assert "sits" in explained.stderr and "Traceback" not in explained.output


def test_a_transformer_is_explained_at_its_last_attention_input_on_the_patch_grid(tmp_path):
    from livecam.cam import CamEngine
    from livecam.models.tokens import TokenGrid

    path = tmp_path / "vit.keras"
    tiny_vit().save(path)
    vit = load_model(str(path))
    assert vit.cam_layer == "block1_norm1"  # the last block's first normalisation
    assert vit.token_grid == TokenGrid(8, 8, 0)  # the patch embedding's 8x8, no extra token
    images = np.random.default_rng(0).integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    engine = CamEngine(vit)
    maps = engine(images).maps
    assert maps.shape == (2, 1, 8, 8) and np.isfinite(maps).all() and maps.max() == 1.0
    assert engine.trace_count == 1
    wide = load_model(str(path), grid=(4, 16))  # the user's grid wins where it adds up
    assert CamEngine(wide)(images).maps.shape == (2, 1, 4, 16)


def test_a_wrong_grid_or_skip_count_is_refused_with_the_token_count(tmp_path):
    path = tmp_path / "vit.keras"
    tiny_vit().save(path)
    with pytest.raises(LayerError, match=r"64 tokens.*7x7 grid after 0"):
        load_model(str(path), grid=(7, 7), skip_tokens=0)
    with pytest.raises(LayerError, match="60 patch tokens do not make a square"):
        load_model(str(path), skip_tokens=4)
    with pytest.raises(LayerError, match="apply to token layers"):
        load_model(str(path), layer="patch_embed", grid=(8, 8))


def test_a_transformer_refuses_other_input_sizes_naming_its_position_embeddings(tmp_path):
    from livecam.errors import InputSizeError

    path = tmp_path / "vit.keras"
    tiny_vit().save(path)
    with pytest.raises(InputSizeError, match=r"position embeddings.*32x32.*not 48"):
        load_model(str(path), input_size=48)
    assert load_model(str(path), input_size=32).input_size == (32, 32)  # its own size is fine


def test_tokens_to_a_grid_and_back_is_the_identity_with_the_extra_tokens_kept():
    import tensorflow as tf

    from livecam.models.tokens import TokenGrid

    grid = TokenGrid(2, 3, skip=1)
    tokens = tf.reshape(tf.range(2 * 7 * 4, dtype=tf.float32), [2, 7, 4])
    maps = grid.to_map(tokens)
    assert maps.shape == (2, 2, 3, 4)
    assert maps[1, 1, 0].numpy().tolist() == tokens[1, 4].numpy().tolist()  # row-major patches
    np.testing.assert_array_equal(grid.to_tokens(maps, tokens), tokens)
    copies = tf.repeat(maps, 3, axis=0)  # Ablation-CAM's copies of each row, consecutive
    np.testing.assert_array_equal(grid.to_tokens(copies, tokens), tf.repeat(tokens, 3, axis=0))


def test_ablation_cam_runs_on_tokens_where_the_model_splits_there(tmp_path):
    from livecam.cam import CamEngine

    path = tmp_path / "vit.keras"
    tiny_vit().save(path)
    vit = load_model(str(path), layer="block1_add2")  # then: norm, pooling, dense
    images = np.random.default_rng(1).integers(0, 255, (1, 32, 32, 3), dtype=np.uint8)
    maps = CamEngine(vit, "ablationcam")(images).maps
    assert maps.shape == (1, 1, 8, 8) and np.isfinite(maps).all()


def test_cam_on_tokens_says_it_needs_a_pooled_map_head(tmp_path):
    from livecam.cam import CamEngine
    from livecam.errors import MethodError

    path = tmp_path / "vit.keras"
    tiny_vit().save(path)
    with pytest.raises(MethodError, match="GlobalAveragePooling2D -> Dense"):
        CamEngine(load_model(str(path), layer="block1_add2"), "cam")
