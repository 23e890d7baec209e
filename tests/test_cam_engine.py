import numpy as np
import pytest

from conftest import PHOTO_CLASSES, bundle_of, tiny_classifier
from livecam.cam import METHODS, CamEngine
from livecam.cam.reference import EagerGradCam
from livecam.cam.targets import ClassTarget, Rank, top
from livecam.errors import MethodError, TargetError
from livecam.frames import model_input
from livecam.models import load_model


def corr(a, b) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.fixture(scope="module")
def tiny():
    return bundle_of(tiny_classifier())


@pytest.fixture(scope="module")
def noise_batch():
    return np.random.default_rng(1).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_gives_maps_in_range_without_nan(tiny, noise_batch, method):
    out = CamEngine(tiny, method)(noise_batch, top(2))
    grid = 32 if METHODS[method].uses_input_gradients else 16  # FullGrad: the input's size
    assert out.maps.shape == (3, 2, grid, grid)
    assert out.maps.dtype == np.float32
    assert not np.isnan(out.maps).any()
    assert out.maps.min() >= 0.0 and out.maps.max() <= 1.0
    np.testing.assert_allclose(out.probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_step_is_traced_once_for_a_hundred_frames(tiny):
    engine = CamEngine(tiny)
    rng = np.random.default_rng(2)
    for i in range(100):
        batch = rng.integers(0, 256, (1 + i % 3, 32, 32, 3), dtype=np.uint8)
        engine(batch, [Rank(i % 4)])
    assert engine.trace_count == 1


def test_targets_rank_and_fixed_class(tiny, noise_batch):
    out = CamEngine(tiny)(noise_batch, [Rank(0), Rank(1), ClassTarget(2)])
    order = np.argsort(-out.probabilities, axis=1)
    np.testing.assert_array_equal(out.class_ids[:, 0], order[:, 0])
    np.testing.assert_array_equal(out.class_ids[:, 1], order[:, 1])
    assert (out.class_ids[:, 2] == 2).all()


def test_bad_targets_and_methods_are_errors(tiny, noise_batch):
    with pytest.raises(TargetError):
        CamEngine(tiny)(noise_batch, [ClassTarget(99)])
    with pytest.raises(MethodError, match="gradcam"):
        CamEngine(tiny, "nosuchcam")
    with pytest.raises(MethodError, match="score"):
        CamEngine(tiny, score="loss")


def test_dead_activations_give_zeros_not_nan():
    import keras

    model = tiny_classifier()
    conv2 = model.get_layer("conv2")
    kernel, bias = conv2.get_weights()
    conv2.set_weights([np.zeros_like(kernel), np.full_like(bias, -1.0)])  # ReLU -> all zero
    out = CamEngine(bundle_of(model))(np.full((1, 32, 32, 3), 128, np.uint8))
    assert not np.isnan(out.maps).any()
    assert (out.maps == 0).all()
    assert keras.backend.backend() == "tensorflow"


def test_logit_and_probability_scores_differ_but_agree_on_class(tiny, noise_batch):
    logit = CamEngine(tiny, score="logit")(noise_batch)
    prob = CamEngine(tiny, score="probability")(noise_batch)
    np.testing.assert_array_equal(logit.class_ids, prob.class_ids)
    assert not np.allclose(logit.maps, prob.maps)


def test_keras_file_round_trip_gives_the_same_maps(tmp_path, noise_batch):
    model = tiny_classifier(seed=3)
    path = tmp_path / "tiny.keras"
    model.save(path)
    loaded = load_model(str(path))
    loaded.preprocess = lambda x: x / 255.0
    in_memory = CamEngine(bundle_of(model))(noise_batch)
    from_file = CamEngine(loaded)(noise_batch)
    np.testing.assert_allclose(from_file.maps, in_memory.maps, atol=1e-5)


def _nested_and_flat():
    """The same layers (shared weights) as a nested and as a flat model."""
    import keras

    keras.utils.set_random_seed(4)
    conv1 = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")
    conv2 = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="c2")
    gap = keras.layers.GlobalAveragePooling2D()
    dense = keras.layers.Dense(4, activation="softmax")
    base_in = keras.Input((32, 32, 3))
    base = keras.Model(base_in, conv2(conv1(base_in)), name="backbone")
    sequential = keras.Sequential([keras.Input((32, 32, 3)), base, gap, dense], name="seq")
    wrap_in = keras.Input((32, 32, 3))
    functional = keras.Model(wrap_in, dense(gap(base(wrap_in))), name="wrapped")
    flat_in = keras.Input((32, 32, 3))
    flat = keras.Model(flat_in, dense(gap(conv2(conv1(flat_in)))), name="flat")
    return sequential, functional, flat


@pytest.mark.parametrize("method", list(METHODS))
def test_nested_models_work_and_match_the_flat_model(noise_batch, method):
    sequential, functional, flat = _nested_and_flat()
    expected = CamEngine(bundle_of(flat), method)(noise_batch).maps
    for nested in (sequential, functional):
        bundle = bundle_of(nested)
        assert bundle.cam_layer == "c2", "auto-detection must look inside the nested model"
        if METHODS[method].needs_head:  # the head cannot run alone inside a nested model
            with pytest.raises(MethodError, match="runs the layers after 'c2' alone"):
                CamEngine(bundle, method)
            continue
        maps = CamEngine(bundle, method)(noise_batch).maps
        np.testing.assert_allclose(maps, expected, atol=1e-5)


def test_nested_keras_application_base():
    import keras

    base = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(96, 96, 3), alpha=0.35
    )
    model = keras.Sequential(
        [
            keras.Input((96, 96, 3)),
            base,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ]
    )
    bundle = bundle_of(model)
    assert bundle.cam_layer == "out_relu"
    out = CamEngine(bundle, "cam")(np.full((2, 96, 96, 3), 90, np.uint8))
    assert out.maps.shape == (2, 1, 3, 3)


def test_cam_needs_a_gap_dense_head():
    vgg = load_model("vgg16", weights=None)
    with pytest.raises(MethodError, match="GlobalAveragePooling2D"):
        CamEngine(vgg, "cam")


def _lite0_batch(lite0, photos):
    return model_input([photos[name] for name in PHOTO_CLASSES], lite0.input_size)


def test_gradcam_matches_the_eager_tutorial_on_lite0(lite0, lite0_gradcam, photos):
    batch = _lite0_batch(lite0, photos)
    compiled = lite0_gradcam(batch)
    eager = EagerGradCam(lite0)
    for i, image in enumerate(batch):
        reference = eager.heatmap(image, int(compiled.class_ids[i, 0]))
        assert corr(compiled.maps[i, 0], reference) >= 0.999


def stable_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def untouched_gradcam(user_model, layer: str, logits_of, inputs, class_index: int):
    """The tutorial's Grad-CAM computed on the user's own model, with none of
    livecam's graph surgery: ``logits_of(outputs)`` maps the model's tensors
    (CAM layer, layer before the normalisation, output) to the logits."""
    import keras
    import tensorflow as tf

    probe = keras.Model(
        user_model.inputs,
        [user_model.get_layer(layer).output, user_model.layers[-1].input, user_model.output],
    )
    with tf.GradientTape() as tape:
        activations, before, probabilities = probe(tf.constant(inputs, tf.float32))
        score = logits_of(before)[:, class_index]
    grads = tape.gradient(score, activations)[0].numpy()
    heatmap = np.maximum((activations[0].numpy() * grads.mean(axis=(0, 1))).mean(axis=-1), 0)
    return heatmap / heatmap.max(), probabilities.numpy()


def test_gradcam_matches_the_tutorial_on_the_untouched_vgg16(photos, tmp_path):
    import keras

    # The user's VGG16 (softmax inside its last Dense), given to livecam as a weights file.
    keras.utils.set_random_seed(4)
    user = keras.applications.VGG16(weights=None)
    weights = tmp_path / "vgg16.weights.h5"
    user.save_weights(weights)
    vgg = load_model("vgg16", weights=str(weights))
    batch = model_input([photos["squirrel_cls.jpg"], photos["orange.jpg"]], vgg.input_size)
    compiled = CamEngine(vgg)(batch)
    kernel, bias = user.get_layer("predictions").get_weights()
    for i, image in enumerate(batch):
        inputs = keras.applications.vgg16.preprocess_input(image[None].astype(np.float32))
        reference, probabilities = untouched_gradcam(
            user, "block5_conv3", lambda fc2: fc2 @ kernel + bias, inputs, compiled.class_ids[i, 0]
        )
        assert reference.max() > 0, "random VGG16 still has a non-trivial map"
        assert corr(compiled.maps[i, 0], reference) >= 0.999
        np.testing.assert_allclose(compiled.probabilities[i], probabilities[0], atol=1e-6)


@pytest.mark.parametrize(
    ("head", "normalise"),
    [
        ("softmax layer", lambda z: stable_softmax(z)),
        ("softmax activation layer", lambda z: stable_softmax(z)),
        ("sigmoid", lambda z: 0.5 * (1 + np.tanh(z / 2))),
    ],
)
def test_the_output_normalisation_is_stripped_whatever_its_form(
    tmp_path, noise_batch, head, normalise
):
    import keras

    keras.utils.set_random_seed(5)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    if head == "sigmoid":
        outputs = keras.layers.Dense(4, activation="sigmoid", name="logits")(x)
    else:
        x = keras.layers.Dense(4, name="logits")(x)
        last = (
            keras.layers.Softmax()
            if head == "softmax layer"
            else keras.layers.Activation("softmax")
        )
        outputs = last(x)
    path = tmp_path / "user.keras"
    keras.Model(inputs, outputs).save(path)
    user = keras.saving.load_model(path)
    bundle = load_model(str(path))
    out = CamEngine(bundle)(noise_batch)  # differentiates the logit
    dense = user.get_layer("logits")
    kernel, bias = dense.get_weights()
    features = keras.Model(user.inputs, dense.input)(noise_batch.astype(np.float32)).numpy()
    logits = features @ kernel + bias
    # Probabilities are the user's model's own outputs: no double softmax.
    np.testing.assert_allclose(out.probabilities, user.predict(noise_batch, verbose=0), atol=1e-5)
    np.testing.assert_allclose(out.probabilities, normalise(logits), atol=1e-5)
    for i in range(len(noise_batch)):
        reference, _ = untouched_gradcam(
            user,
            "conv",
            (lambda z: z @ kernel + bias) if head == "sigmoid" else (lambda z: z),
            noise_batch[i : i + 1].astype(np.float32),
            int(out.class_ids[i, 0]),
        )
        assert corr(out.maps[i, 0], reference) >= 0.999


def test_cam_equals_gradcam_on_a_gap_dense_head(lite0, lite0_gradcam, photos):
    # With a linear GAP -> Dense head, d logit_k / dA = W[:, k] / (h * w): the
    # Grad-CAM weights are the CAM weights up to a constant.
    batch = _lite0_batch(lite0, photos)
    cam = CamEngine(lite0, "cam")(batch, top(2)).maps
    gradcam = lite0_gradcam(batch, top(2)).maps
    for a, b in zip(cam.reshape(-1, 49), gradcam.reshape(-1, 49), strict=True):
        assert corr(a, b) >= 0.999


def test_gradcam_plus_plus_matches_the_papers_derivatives(noise_batch):
    """Chattopadhyay et al., eq. 19 with S = exp(Y_c): alpha = d2S / (2 d2S + sum(A) d3S),
    w = sum(alpha * relu(dS)), the d2/d3 being the diagonal higher derivatives of S,
    taken here by nested tapes on the untouched model (no closed form)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(7)
    inputs = keras.Input((8, 8, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="cam")(inputs)
    x = keras.layers.Conv2D(4, 1, activation="relu", name="after")(a)  # spatially varying dS
    x = keras.layers.GlobalAveragePooling2D()(x)
    user = keras.Model(inputs, keras.layers.Dense(3, name="logits")(x))
    image = noise_batch[:1, :8, :8]
    out = CamEngine(bundle_of(user, layer="cam"), "gradcam++")(image)
    class_index = int(out.class_ids[0, 0])

    cam = keras.Model(user.inputs, user.get_layer("cam").output)
    head = keras.Sequential([user.get_layer("after"), *user.layers[-2:]])
    activations = tf.Variable(tf.cast(cam(image / 255.0), tf.float64))
    head_64 = lambda t: tf.cast(head(tf.cast(t, tf.float32)), tf.float64)  # noqa: E731
    with tf.GradientTape(persistent=True) as outer:
        with tf.GradientTape(persistent=True) as middle:
            with tf.GradientTape() as inner:
                score = tf.exp(head_64(activations)[0, class_index])
            first = tf.reshape(inner.gradient(score, activations), [-1])
        second = tf.linalg.diag_part(tf.reshape(middle.jacobian(first, activations), [256, 256]))
    third = tf.linalg.diag_part(tf.reshape(outer.jacobian(second, activations), [256, 256]))
    a_np = activations.numpy()[0]
    d1, d2, d3 = (t.numpy().reshape(a_np.shape) for t in (first, second, third))
    denominator = 2 * d2 + a_np.sum(axis=(0, 1)) * d3
    alpha = np.where(denominator != 0, d2 / np.where(denominator != 0, denominator, 1), 0)
    weights = (alpha * np.maximum(d1, 0)).sum(axis=(0, 1))
    expected = np.maximum((a_np * weights).sum(axis=-1), 0)
    assert expected.max() > 0
    assert corr(out.maps[0, 0], expected / expected.max()) >= 0.999


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_maps_match_float32(lite0, lite0_gradcam, photos, precision):
    mixed = load_model("lite0", precision=precision)
    batch = _lite0_batch(lite0, photos)
    reference = lite0_gradcam(batch)
    out = CamEngine(mixed)(batch)
    assert out.maps.dtype == np.float32 and out.probabilities.dtype == np.float32
    np.testing.assert_array_equal(out.class_ids, reference.class_ids)
    for i in range(len(batch)):
        assert corr(out.maps[i, 0], reference.maps[i, 0]) >= 0.98


def test_mixed_precision_stores_the_weights_in_low_precision_once():
    """Inference only: the weights are cast once when the variant is built, not
    on every step; normalisation statistics stay float32."""
    import keras

    from livecam.models import graph

    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(x))
    model = keras.Model(inputs, keras.layers.Dense(4, name="logits")(x))
    for policy, stored in (("mixed_bfloat16", "bfloat16"), ("mixed_float16", "float16")):
        variant, _ = graph.rebuild(model, None, policy)
        assert {v.dtype for v in variant.get_layer("conv").weights} == {stored}
        assert {v.dtype for v in variant.get_layer("logits").weights} == {stored}
        assert {v.dtype for v in variant.get_layer("bn").weights} == {"float32"}
        assert variant.get_layer("bn").dtype_policy.name == policy
    images = np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 3)).astype("float32")
    low = graph.rebuild(model, None, "mixed_bfloat16")[0](images)
    assert np.allclose(np.asarray(low, dtype=np.float32), model(images).numpy(), atol=0.05)


def test_gradcam_plus_plus_refuses_the_probability_score(tiny):
    with pytest.raises(MethodError, match="needs score 'logit'"):
        CamEngine(tiny, "gradcam++", score="probability")
    CamEngine(tiny, "gradcam", score="probability")  # the other methods take either


# Every method against a plain numpy version of its formula ------------------------


@pytest.fixture(scope="module")
def probe():
    """A tiny model whose gradients vary over space (a ReLU conv after the CAM
    layer), its numpy head, and what the untouched model computes on a batch."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(11)
    inputs = keras.Input((32, 32, 3))
    a = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="cam")(inputs)
    x = keras.layers.Conv2D(6, 1, activation="relu", name="after")(a)
    x = keras.layers.GlobalAveragePooling2D()(x)
    user = keras.Model(inputs, keras.layers.Dense(4, name="logits")(x))
    images = np.random.default_rng(3).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    x = images / 255.0
    bundle = bundle_of(user, layer="cam")
    classes = CamEngine(bundle)(images).class_ids[:, 0]
    cam = keras.Model(user.inputs, user.get_layer("cam").output)
    w1, b1 = (v.astype(np.float64) for v in user.get_layer("after").get_weights())
    w2, b2 = (v.astype(np.float64) for v in user.get_layer("logits").get_weights())

    def head(acts):  # numpy: the layers after the CAM layer
        hidden = np.maximum(np.einsum("...c,cd->...d", acts, w1[0, 0]) + b1, 0)
        return hidden.mean(axis=(-3, -2)) @ w2 + b2

    activations = tf.Variable(cam(x))
    with tf.GradientTape(persistent=True) as tape:
        scores = keras.Sequential(user.layers[2:])(activations)
        chosen = [scores[i, int(c)] for i, c in enumerate(classes)]
    grads = np.stack([tape.gradient(s, activations)[i].numpy() for i, s in enumerate(chosen)])
    return {
        "bundle": bundle,
        "user": user,
        "images": images,
        "x": x,
        "classes": classes,
        "A": activations.numpy().astype(np.float64),
        "G": grads.astype(np.float64),
        "head": head,
    }


def projection(weighted):
    flat = weighted.reshape(-1, weighted.shape[-1])
    centred = flat - flat.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    proj = centred @ vt[0]
    mass = flat.sum(axis=1)
    if (proj * (mass - mass.mean())).sum() < 0:
        proj = -proj
    return proj.reshape(weighted.shape[:2])


def numpy_map(method, probe, i):
    A, G, c = probe["A"][i], probe["G"][i], int(probe["classes"][i])
    if method == "gradcam":
        return (A * G.mean(axis=(0, 1))).sum(-1)
    if method == "hirescam":
        return (G * A).sum(-1)
    if method == "gradcam-elementwise":
        return np.maximum(G * A, 0).sum(-1)
    if method == "xgradcam":
        return (A * ((G * A).sum((0, 1)) / (A.sum((0, 1)) + 1e-7))).sum(-1)
    if method == "layercam":
        return (np.maximum(G, 0) * A).sum(-1)
    if method == "eigencam":
        return projection(A)
    if method == "fem":
        mean, std = A.mean(axis=(0, 1)), A.std(axis=(0, 1))
        threshold = mean + 2 * std
        return ((threshold < A) * mean).sum(-1)
    if method == "kpcacam":
        return kernel_pca(A)
    if method == "eigengradcam":
        return projection(G * A)
    if method == "ablationcam":
        y = probe["head"](A)[c]
        dropped = []
        for k in range(A.shape[-1]):
            ablated = A.copy()
            ablated[..., k] = 0
            dropped.append(probe["head"](ablated)[c])
        return (A * ((y - np.array(dropped)) / y)).sum(-1)
    if method == "scorecam":
        import cv2

        scores = []
        for k in range(A.shape[-1]):
            mask = cv2.resize(
                A[..., k].astype(np.float32), (32, 32), interpolation=cv2.INTER_LINEAR
            )
            span = mask.max() - mask.min()
            mask = (mask - mask.min()) / (span if span > 0 else 1)
            masked = probe["x"][i] * mask[..., None]
            scores.append(probe["user"](masked[None].astype(np.float32)).numpy()[0, c])
        weights = np.exp(scores - np.max(scores))
        return (A * weights / weights.sum()).sum(-1)
    raise AssertionError(method)


def kernel_pca(A):
    """scikit-learn's KernelPCA(n_components=1, kernel="sigmoid") on the centred
    positions, in numpy; the sign set by the activations' mass."""
    flat = A.reshape(-1, A.shape[-1])
    flat = flat - flat.mean(axis=0)
    kernel = np.tanh(flat @ flat.T / A.shape[-1] + 1.0)
    n = len(kernel)
    ones = np.full((n, n), 1.0 / n)
    centred = kernel - ones @ kernel - kernel @ ones + ones @ kernel @ ones
    values, vectors = np.linalg.eigh(centred)
    component = vectors[:, -1] * np.sqrt(max(values[-1], 0.0))
    mass = A.reshape(-1, A.shape[-1]).sum(axis=1)
    if (component * (mass - mass.mean())).sum() < 0:
        component = -component
    return component.reshape(A.shape[:2])


FORMULAS = [
    "fem",
    "kpcacam",
    "gradcam",
    "hirescam",
    "gradcam-elementwise",
    "xgradcam",
    "layercam",
    "eigencam",
    "eigengradcam",
    "scorecam",
    "ablationcam",
]


@pytest.mark.parametrize("method", FORMULAS)
def test_every_method_matches_its_formula_in_numpy(probe, method):
    out = CamEngine(probe["bundle"], method)(probe["images"])
    np.testing.assert_array_equal(out.class_ids[:, 0], probe["classes"])
    for i in range(len(probe["images"])):
        expected = np.maximum(numpy_map(method, probe, i), 0)
        assert expected.max() > 0, "a non-trivial map"
        assert corr(out.maps[i, 0], expected / expected.max()) >= 0.999, method


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_is_traced_once_for_a_whole_video(tiny, method):
    engine = CamEngine(tiny, method)
    rng = np.random.default_rng(0)
    for size in (1, 3, 1, 2, 4, 1):
        out = engine(rng.integers(0, 256, (size, 32, 32, 3), dtype=np.uint8))
        assert out.maps.shape[0] == size and np.isfinite(out.maps).all()
    assert engine.trace_count == 1


@pytest.mark.parametrize("method", list(METHODS))
def test_a_batch_of_eight_gives_the_maps_of_eight_single_calls(tiny, method):
    engine = CamEngine(tiny, method)
    images = np.random.default_rng(5).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    batched = engine(images, [ClassTarget(1)]).maps
    single = np.concatenate([engine(images[i : i + 1], [ClassTarget(1)]).maps for i in range(8)])
    np.testing.assert_allclose(batched, single, atol=1e-4)


def test_finercam_is_gradcam_of_the_class_contrasted_with_its_nearest_rivals(probe):
    """pytorch-grad-cam's FinerWeightedTarget, in eager TensorFlow on the probe:
    sum_k p_k (y_c - y_k) / sum_k p_k over the 3 classes nearest in logit."""
    import keras
    import tensorflow as tf

    user, classes = probe["user"], probe["classes"]
    cam = keras.Model(user.inputs, user.get_layer("cam").output)
    out = CamEngine(probe["bundle"], "finercam")(probe["images"])
    for i in range(len(probe["images"])):
        activations = tf.Variable(cam(probe["x"][i : i + 1]))
        with tf.GradientTape() as tape:
            logits = keras.Sequential(user.layers[2:])(activations)[0]
            c = int(classes[i])
            others = [k for k in np.argsort(np.abs(logits.numpy() - logits.numpy()[c])) if k != c]
            p = tf.nn.softmax(logits)
            rivals = others[:3]
            score = sum(p[k] * (logits[c] - logits[k]) for k in rivals) / sum(p[k] for k in rivals)
        gradients = tape.gradient(score, activations)[0].numpy().astype(np.float64)
        A = probe["A"][i]
        expected = np.maximum((A * gradients.mean(axis=(0, 1))).sum(-1), 0)
        assert expected.max() > 0
        assert corr(out.maps[i, 0], expected / expected.max()) >= 0.999
    gradcam = CamEngine(probe["bundle"], "gradcam")(probe["images"]).maps
    assert not np.allclose(gradcam, out.maps, atol=1e-3)  # the contrast changes the map
    with pytest.raises(MethodError, match="contrasts logits"):
        CamEngine(probe["bundle"], "finercam", score="probability")


def test_shapleycam_subtracts_half_the_hessian_times_the_activations(probe):
    """mean_hw(G - H.A / 2) in eager TensorFlow with nested tapes, on the
    probability (the logit's Hessian through ReLU layers is zero)."""
    import keras
    import tensorflow as tf

    user, bundle = probe["user"], probe["bundle"]
    cam = keras.Model(user.inputs, user.get_layer("cam").output)
    out = CamEngine(bundle, "shapleycam", score="probability")(probe["images"])
    head = keras.Sequential(user.layers[2:])
    for i in range(len(probe["images"])):
        activations = tf.Variable(cam(probe["x"][i : i + 1]))
        c = int(out.class_ids[i, 0])
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                score = tf.nn.softmax(head(activations))[0, c]
            gradients = inner.gradient(score, activations)
        hvp = outer.gradient(gradients, activations, output_gradients=activations.value())
        assert np.abs(hvp.numpy()).max() > 0  # the test must see the second-order term
        weights = (gradients - 0.5 * hvp).numpy().astype(np.float64)[0].mean(axis=(0, 1))
        expected = np.maximum((probe["A"][i] * weights).sum(-1), 0)
        assert corr(out.maps[i, 0], expected / expected.max()) >= 0.999
        gradcam_weights = gradients.numpy().astype(np.float64)[0].mean(axis=(0, 1))
        assert not np.allclose(weights, gradcam_weights, rtol=1e-2)
    logit = CamEngine(bundle, "shapleycam")(probe["images"]).maps
    np.testing.assert_allclose(logit, CamEngine(bundle, "gradcam")(probe["images"]).maps, atol=1e-5)


def test_randomcam_weights_channels_at_random_and_the_same_every_time(probe):
    import tensorflow as tf

    engine = CamEngine(probe["bundle"], "randomcam")
    first = engine(probe["images"], [ClassTarget(0)]).maps
    again = engine(probe["images"][::-1].copy(), [ClassTarget(3)]).maps[::-1]
    np.testing.assert_allclose(first, again, atol=1e-6)  # no class, no batch, no call effect
    weights = tf.random.stateless_uniform([8], (20, 19), minval=-1.0, maxval=1.0).numpy()
    assert np.abs(weights).max() <= 1 and (weights < 0).any() and (weights > 0).any()
    for i in range(len(probe["images"])):
        expected = np.maximum((probe["A"][i] * weights).sum(-1), 0)
        assert corr(first[i, 0], expected / expected.max()) >= 0.999


def test_eigencam_is_never_inverted(probe):
    # The SVD's sign is arbitrary: the map must follow where the activations are.
    out = CamEngine(probe["bundle"], "eigencam")(probe["images"])
    for i in range(len(probe["images"])):
        assert corr(out.maps[i, 0], probe["A"][i].sum(-1)) > 0


def test_eigen_smooth_projects_the_weighted_activations(probe):
    out = CamEngine(probe["bundle"], "gradcam", eigen_smooth=True)(probe["images"])
    for i in range(len(probe["images"])):
        A, G = probe["A"][i], probe["G"][i]
        expected = np.maximum(projection(A * G.mean(axis=(0, 1))), 0)
        assert corr(out.maps[i, 0], expected / expected.max()) >= 0.999


def test_aug_smooth_averages_flips_and_intensities(probe):
    fixed = [ClassTarget(1)]
    engine = CamEngine(probe["bundle"], "gradcam", aug_smooth=True)
    plain = CamEngine(probe["bundle"], "gradcam")(probe["images"], fixed).maps
    smooth = engine(probe["images"], fixed).maps
    mirrored = engine(probe["images"][:, :, ::-1].copy(), fixed).maps
    # The augmented set of a mirrored image is the same set: its map is the mirror.
    np.testing.assert_allclose(mirrored[:, 0, :, ::-1], smooth[:, 0], atol=1e-5)
    assert not np.allclose(plain, smooth, atol=1e-3), "smoothing changes the map"
    assert smooth.max() == pytest.approx(1.0) and smooth.min() >= 0


def test_max_channels_keeps_the_strongest_channels(probe):
    # given: the activations, and the 3 channels of each image with the highest mean
    activations = probe["A"]
    strongest = np.argsort(activations.mean(axis=(1, 2)), axis=1)[:, -3:]
    full = CamEngine(probe["bundle"], "scorecam")(probe["images"]).maps
    few = CamEngine(probe["bundle"], "scorecam", max_channels=3)(probe["images"]).maps
    # then: the map lies in the span of those channels, and of no other three
    for i in range(len(few)):
        kept = activations[i][..., strongest[i]].reshape(-1, 3)
        weights = np.linalg.lstsq(kept, few[i].ravel(), rcond=None)[0]
        residual = few[i].ravel() - kept @ weights
        assert np.abs(residual).max() < 1e-3 * max(1.0, few[i].max()), i
        weakest = np.argsort(activations[i].mean(axis=(0, 1)))[:3]
        other = activations[i][..., weakest].reshape(-1, 3)
        residual = few[i].ravel() - other @ np.linalg.lstsq(other, few[i].ravel(), rcond=None)[0]
        assert np.abs(residual).max() > 1e-2
    assert few.shape == full.shape and not np.allclose(few, full)
    with pytest.raises(MethodError, match="applies to scorecam"):
        CamEngine(probe["bundle"], "gradcam", max_channels=3)


def fullgrad_probe():
    """Conv (no bias) -> batch norm -> ReLU -> conv -> conv -> GAP -> dense, the
    batch norm with moving statistics far from the identity."""
    import keras

    keras.utils.set_random_seed(21)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", use_bias=False, name="c1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.Conv2D(6, 1, activation="relu", name="after")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    user = keras.Model(inputs, keras.layers.Dense(4, name="logits")(x))
    rng = np.random.default_rng(8)
    bn = user.get_layer("bn1")
    gamma, beta = rng.uniform(0.5, 2.0, 6), rng.normal(0, 0.5, 6)
    bn.set_weights([gamma, beta, rng.normal(0, 0.3, 6), rng.uniform(0.2, 3.0, 6)])
    for name in ("c2", "after"):
        kernel, bias = user.get_layer(name).get_weights()
        user.get_layer(name).set_weights([kernel, rng.normal(0, 0.2, bias.shape)])
    return user


def test_fullgrad_sums_the_input_and_every_bias_gradient_as_its_authors_do():
    """fullgrad-saliency's saliency(): |grad * x| and |grad_layer * bias| per
    layer, each min-max scaled per image, summed over channels, resized (cv2
    bilinear) to the input and summed; in eager TensorFlow and numpy."""
    import cv2
    import keras
    import tensorflow as tf

    user = fullgrad_probe()
    images = np.random.default_rng(9).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    out = CamEngine(bundle_of(user, layer="c2"), "fullgrad")(images)
    assert out.maps.shape == (2, 1, 32, 32)
    bn = user.get_layer("bn1")
    gamma, beta, mean, var = (w.astype(np.float64) for w in bn.get_weights())
    biases = {
        "bn1": beta - mean * gamma / np.sqrt(var + bn.epsilon),
        "c2": user.get_layer("c2").get_weights()[1].astype(np.float64),
        "after": user.get_layer("after").get_weights()[1].astype(np.float64),
    }
    taps = keras.Model(user.inputs, [user.get_layer(n).output for n in biases] + [user.output])

    def post(term):
        term = np.abs(term)
        term = term - term.min()
        summed = (term / (term.max() + 1e-6)).sum(-1).astype(np.float32)
        return cv2.resize(summed, (32, 32), interpolation=cv2.INTER_LINEAR).astype(np.float64)

    for i in range(len(images)):
        x = tf.Variable(images[i : i + 1] / 255.0, dtype=tf.float32)
        with tf.GradientTape() as tape:
            *layers, logits = taps(x)
            score = logits[0, int(out.class_ids[i, 0])]
        grads = tape.gradient(score, [x, *layers])
        expected = post((grads[0] * x).numpy()[0])
        for name, grad in zip(biases, grads[1:], strict=True):
            expected += post(grad.numpy()[0].astype(np.float64) * biases[name])
        assert corr(out.maps[i, 0], expected / expected.max()) >= 0.999
    with pytest.raises(MethodError, match="chooses its own layers"):
        CamEngine(bundle_of(user, layer="c2,after"), "fullgrad")


def test_smooth_gradcam_plus_plus_averages_the_derivatives_over_noisy_copies(probe):
    """Omeiza et al.: D1, D2, D3 = mean over noisy inputs of G, G^2, G^3; Grad-CAM++'s
    alphas from D2, D3 and the clean activations; weights sum(alpha * relu(D1)).
    The noise is the engine's (fixed and shared), the formula recomputed here."""
    import keras
    import tensorflow as tf

    from livecam.cam.base import noise_pattern
    from livecam.cam.smoothgradcampp import SmoothGradCamPlusPlus as Smooth

    user = probe["user"]
    cam = keras.Model(user.inputs, user.get_layer("cam").output)
    head = keras.Sequential(user.layers[2:])
    out = CamEngine(probe["bundle"], "smoothgradcam++")(probe["images"])
    noise = noise_pattern(Smooth.noise_samples, (32, 32, 3)).numpy()[:, 0]
    for i in range(len(probe["images"])):
        x = probe["x"][i]
        noisy = (x + noise * Smooth.noise_level * (x.max() - x.min())).astype(np.float32)
        activations = tf.Variable(cam(noisy))
        with tf.GradientTape() as tape:
            score = tf.reduce_sum(head(activations)[:, int(out.class_ids[i, 0])])
        G = tape.gradient(score, activations).numpy().astype(np.float64)  # one per copy
        d1, d2, d3 = G.mean(0), (G**2).mean(0), (G**3).mean(0)
        A = probe["A"][i]
        denominator = 2 * d2 + A.sum(axis=(0, 1)) * d3
        alphas = np.where(d2 != 0, d2 / np.where(denominator != 0, denominator, 1), 0)
        weights = (alphas * np.maximum(d1, 0)).sum(axis=(0, 1))
        expected = np.maximum((A * weights).sum(-1), 0)
        assert expected.max() > 0
        assert corr(out.maps[i, 0], expected / expected.max()) >= 0.999
    plain = CamEngine(probe["bundle"], "gradcam++")(probe["images"]).maps
    assert not np.allclose(plain, out.maps, atol=1e-3), "the noise changes the map"
