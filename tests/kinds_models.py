"""Tiny models of each kind, trained in seconds on the synthetic scenes.

Shared by the tests of every kind of model (module-level caches: each is
trained once per session, with fixed seeds).
"""

from __future__ import annotations

import functools

import numpy as np

from scenes import NAMES, label_scenes, rgb_batch, single_disc_scenes

SIZE = 32
PATCH = 4
TRAIN_SCENES = 3000


def _keras():
    import keras

    return keras


def _fit(model, x, y, loss, epochs: int, seed: int = 0) -> float:
    keras = _keras()
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss, metrics=["accuracy"])
    history = model.fit(x, y, batch_size=64, epochs=epochs, verbose=0, shuffle=True)
    return float(history.history["accuracy"][-1])


@functools.cache
def class_token_layer():
    """A layer prepending a learned class token and adding learned position
    embeddings, registered so the model saves and loads in safe mode."""
    keras = _keras()

    @keras.saving.register_keras_serializable(package="livecam_tests")
    class ClassTokenAndPositions(keras.layers.Layer):
        """Prepends a class token and ``registers`` register tokens (Darcet et
        al., 2023), all learned, and adds learned position embeddings."""

        def __init__(self, registers: int = 0, **kwargs):
            super().__init__(**kwargs)
            self.registers = registers

        def build(self, input_shape):
            tokens, dim = input_shape[1], input_shape[2]
            extra = 1 + self.registers
            self.token = self.add_weight(
                shape=(1, extra, dim), initializer="random_normal", name="token"
            )
            self.positions = self.add_weight(
                shape=(1, tokens + extra, dim), initializer="random_normal", name="positions"
            )

        def call(self, x):
            batch = keras.ops.shape(x)[0]
            token = keras.ops.tile(self.token, [batch, 1, 1])
            return keras.ops.concatenate([token, x], axis=1) + self.positions

        def get_config(self):
            return {**super().get_config(), "registers": self.registers}

    return ClassTokenAndPositions


@functools.cache
def layer_scale_layer():
    """LayerScale (Touvron et al., CaiT, 2021; in DeiT III and DINOv2 too): a
    learned per-channel factor on each residual branch, starting small."""
    keras = _keras()

    @keras.saving.register_keras_serializable(package="livecam_tests")
    class LayerScale(keras.layers.Layer):
        def __init__(self, initial: float = 0.1, **kwargs):
            super().__init__(**kwargs)
            self.initial = initial

        def build(self, input_shape):
            self.gamma = self.add_weight(
                shape=(input_shape[-1],),
                initializer=keras.initializers.Constant(self.initial),
                name="gamma",
            )

        def call(self, x):
            return x * self.gamma

        def get_config(self):
            return {**super().get_config(), "initial": self.initial}

    return LayerScale


def build_vit(
    dim: int = 32,
    blocks: int = 2,
    classes: int = len(NAMES),
    pooled: bool = False,
    registers: int = 0,
    size: int = SIZE,
    patch: int = PATCH,
    heads: int = 4,
    layer_scale: float | None = None,
):
    """patch embedding -> class token + positions -> pre-norm blocks -> the
    class token's features -> Dense, as ViT-B/16 does, in miniature; or,
    ``pooled``, the mean of the patch tokens instead of the class token; with
    ``layer_scale``, each residual branch scaled by LayerScale starting there."""
    keras = _keras()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(dim, patch, strides=patch, name="patch_embed")(inputs)
    grid = size // patch
    x = keras.layers.Reshape((grid * grid, dim), name="patches")(x)
    x = class_token_layer()(registers=registers, name="class_token")(x)

    def scaled(y, name: str):
        return y if layer_scale is None else layer_scale_layer()(layer_scale, name=name)(y)

    for block in range(blocks):
        y = keras.layers.LayerNormalization(name=f"block{block}_norm1")(x)
        y = keras.layers.MultiHeadAttention(heads, dim // heads, name=f"block{block}_attn")(y, y)
        x = keras.layers.Add(name=f"block{block}_add1")([x, scaled(y, f"block{block}_scale1")])
        y = keras.layers.LayerNormalization(name=f"block{block}_norm2")(x)
        y = keras.layers.Dense(dim * 2, activation="gelu", name=f"block{block}_mlp1")(y)
        y = keras.layers.Dense(dim, name=f"block{block}_mlp2")(y)
        x = keras.layers.Add(name=f"block{block}_add2")([x, scaled(y, f"block{block}_scale2")])
    x = keras.layers.LayerNormalization(name="final_norm")(x)
    if pooled:
        x = keras.layers.Cropping1D((1 + registers, 0), name="patch_features")(x)
        x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    else:
        x = keras.layers.Cropping1D((0, grid * grid + registers), name="class_features")(x)
        x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="tiny_vit")


@functools.cache
def trained_token_mixer_free():
    """Tokens without attention: patch embedding, a class token and position
    embeddings, then per-token MLPs and the mean of the patch tokens. Each
    token holds only its own patch, so a map of the tokens must point where
    the object is; if the tokens were put on the grid wrongly, it would not."""
    keras = _keras()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(32, PATCH, strides=PATCH, name="patch_embed")(inputs)
    grid = SIZE // PATCH
    x = keras.layers.Reshape((grid * grid, 32), name="patches")(x)
    x = class_token_layer()(name="class_token")(x)
    x = keras.layers.Dense(32, activation="gelu", name="mlp1")(x)
    x = keras.layers.Dense(32, activation="gelu", name="mlp2")(x)
    x = keras.layers.Cropping1D((1, 0), name="patch_features")(x)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    outputs = keras.layers.Dense(len(NAMES), activation="softmax", name="head")(x)
    model = keras.Model(inputs, outputs, name="token_mlp")
    scenes = single_disc_scenes(TRAIN_SCENES, seed=5)
    labels = np.array([s.discs[0].colour for s in scenes])
    accuracy = _fit(model, rgb_batch(scenes), labels, "sparse_categorical_crossentropy", 8)
    return model, accuracy


def _conv_trunk(inputs, width: int = 16):
    keras = _keras()
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    return keras.layers.Conv2D(2 * width, 3, padding="same", activation="relu", name="conv3")(x)


def fit_vit(scene_seed: int, fit_seed: int = 0, **options):
    """A ViT (``build_vit(**options)``) trained on the single-disc scenes of
    ``scene_seed``, shuffled by ``fit_seed``; and its training accuracy."""
    scenes = single_disc_scenes(TRAIN_SCENES, seed=scene_seed)
    model = build_vit(**options)
    labels = np.array([s.discs[0].colour for s in scenes])
    return model, _fit(
        model, rgb_batch(scenes), labels, "sparse_categorical_crossentropy", 25, fit_seed
    )


@functools.cache
def trained_vit(pooled: bool = False, registers: int = 0):
    return fit_vit(1, pooled=pooled, registers=registers)


@functools.cache
def trained_scaled_vit(seed: int = 1):
    """A class-token ViT with LayerScale from 0.1, trained on scenes of ``seed``
    (``benchmarks/vit_layers.py --every-method --layer-scale 0.1``'s run 1)."""
    return fit_vit(seed, seed, layer_scale=0.1)


@functools.cache
def trained_multilabel():
    keras = _keras()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.GlobalMaxPooling2D()(_conv_trunk(inputs))
    model = keras.Model(
        inputs,
        keras.layers.Dense(len(NAMES), activation="sigmoid", name="labels")(x),
        name="tiny_multilabel",
    )
    scenes = label_scenes(TRAIN_SCENES, seed=2)
    present = np.zeros((len(scenes), len(NAMES)), np.float32)
    for row, s in enumerate(scenes):
        for disc in s.discs:
            present[row, disc.colour] = 1.0
    accuracy = _fit(model, rgb_batch(scenes), present, "binary_crossentropy", 12)
    return model, accuracy


@functools.cache
def trained_segmenter():
    """An encoder-decoder with a skip connection: background + one class per colour."""
    keras = _keras()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 3))
    skip = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="enc1")(inputs)
    x = keras.layers.MaxPooling2D()(skip)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="enc2")(x)
    x = keras.layers.UpSampling2D(name="up")(x)
    x = keras.layers.Concatenate(name="merge")([x, skip])
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="dec1")(x)
    outputs = keras.layers.Conv2D(len(NAMES) + 1, 1, activation="softmax", name="classes")(x)
    model = keras.Model(inputs, outputs, name="tiny_segmenter")
    scenes = label_scenes(TRAIN_SCENES, seed=3)
    masks = np.stack([s.mask for s in scenes])
    accuracy = _fit(model, rgb_batch(scenes), masks, "sparse_categorical_crossentropy", 8)
    return model, accuracy


@functools.cache
def trained_embedder():
    """A 16-d embedding trained through a classifier on the disc's colour:
    scenes with a disc of the same colour embed close. Returns the embedding
    model alone (no classes)."""
    keras = _keras()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.GlobalAveragePooling2D()(_conv_trunk(inputs))
    embedding = keras.layers.Dense(16, name="embedding")(x)
    classes = keras.layers.Dense(len(NAMES), activation="softmax")(embedding)
    classifier = keras.Model(inputs, classes)
    scenes = single_disc_scenes(TRAIN_SCENES, seed=4)
    labels = np.array([s.discs[0].colour for s in scenes])
    accuracy = _fit(classifier, rgb_batch(scenes), labels, "sparse_categorical_crossentropy", 10)
    return keras.Model(inputs, embedding, name="tiny_embedder"), accuracy
