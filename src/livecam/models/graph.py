"""Keras graph surgery: find the CAM layer, expose it as an output, rebuild models.

Nested models (a ``keras.applications`` base inside a wrapper) are the usual
source of "Graph disconnected" errors: the inner layer's output tensor belongs
to the inner graph. We instead re-call the outer model's layers on new inputs
and swap the nested model for a two-output copy of itself.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

from livecam.errors import InputSizeError, LayerError
from livecam.models.flatten_heads import adapt_flatten_heads, folded_kernels

_POOLING_OR_SHAPE = (
    "MaxPooling2D",
    "AveragePooling2D",
    "Dropout",
    "SpatialDropout2D",
    "ZeroPadding2D",
    "Cropping2D",
    "InputLayer",
)
_CAM_HEAD_PASSTHROUGH = ("Dropout", "Flatten")


def is_model(layer: Any) -> bool:
    import keras

    return isinstance(layer, keras.Model)


def iter_layers(model) -> Iterator[Any]:
    """Every layer in execution order, descending into nested models."""
    for layer in model.layers:
        if is_model(layer):
            yield from iter_layers(layer)
        else:
            yield layer


def output_shape(layer) -> tuple | None:
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return None  # layer called more than once, or never


def is_spatial(shape: tuple | None) -> bool:
    """Whether an output shape is a 4-D map with height and width above 1 (or unknown)."""
    if shape is None or len(shape) != 4:
        return False
    height, width = shape[1], shape[2]
    return (height is None or height > 1) and (width is None or width > 1)


def spatial_layers(model) -> list[Any]:
    """Layers whose output is a 4-D map with height and width above 1, not
    counting pooling and reshaping layers."""
    return [
        layer
        for layer in iter_layers(model)
        if type(layer).__name__ not in _POOLING_OR_SHAPE and is_spatial(output_shape(layer))
    ]


def _owner_path(model, layer_name: str) -> list[Any] | None:
    """The chain of models from ``model`` down to the one owning the layer."""
    for layer in model.layers:
        if layer.name == layer_name and not is_model(layer):
            return [model]
        if is_model(layer):
            path = _owner_path(layer, layer_name)
            if path is not None:
                return [model, *path]
    return None


def features_and_output_model(model, layer_names: Sequence[str]):
    """A model ``image -> [activations of each named layer..., model output]``,
    the layers found in nested models too."""
    import keras

    owners: dict[str, Any] = {}  # layer name -> the nested model holding it (None: this one)
    for name in layer_names:
        path = _owner_path(model, name)
        if path is None:
            raise LayerError(f"model {model.name!r} has no layer {name!r}")
        owners[name] = path[1] if len(path) > 1 else None
    if all(owner is None for owner in owners.values()):
        features = [model.get_layer(name).output for name in layer_names]
        return keras.Model(model.inputs, [*features, model.outputs[0]])
    inner = {}  # id(nested model) -> (its names, its features-and-output model)
    for owner in {id(o): o for o in owners.values() if o is not None}.values():
        names = [name for name in layer_names if owners[name] is owner]
        inner[id(owner)] = (names, features_and_output_model(owner, names))
    captured: dict[str, Any] = {}

    def call(layer, *args, **kwargs):
        if id(layer) in inner:
            names, nested = inner[id(layer)]
            *features, out = nested(*args, **kwargs)
            captured.update(zip(names, features, strict=True))
            return out
        out = layer(*args, **kwargs)
        if owners.get(layer.name, False) is None:
            captured[layer.name] = out
        return out

    sequential = isinstance(model, keras.Sequential)
    reference = model.inputs[0] if sequential else model.input  # Sequential has no .input
    inputs = keras.tree.map_structure(
        lambda t: keras.Input(batch_shape=tuple(t.shape), dtype=t.dtype), reference
    )
    if sequential:
        outputs = inputs
        for layer in model.layers:
            outputs = call(layer, outputs)
    else:
        rebuilt = keras.models.clone_model(
            model, input_tensors=inputs, clone_function=lambda layer: layer, call_function=call
        )
        outputs = rebuilt.outputs[0]
    return keras.Model(inputs, [*(captured[name] for name in layer_names), outputs])


def head_after(model, layer_name: str) -> list[Any]:
    """The layers executed after ``layer_name`` in flattened order."""
    layers = list(iter_layers(model))
    names = [layer.name for layer in layers]
    return layers[names.index(layer_name) + 1 :]


def gap_dense_head(model, layer_name: str):
    """The Dense layer of a ``GlobalAveragePooling2D -> [Dropout] -> Dense`` head.

    Returns None when the layers after ``layer_name`` are not such a head.
    """
    head = [
        layer
        for layer in head_after(model, layer_name)
        if type(layer).__name__ not in _CAM_HEAD_PASSTHROUGH
    ]
    kinds = [type(layer).__name__ for layer in head]
    if kinds[:2] == ["GlobalAveragePooling2D", "Dense"] and kinds[2:] in ([], ["Activation"]):
        return head[1]
    return None


ZEROS_INITIALIZER = {
    "module": "keras.initializers",
    "class_name": "Zeros",
    "config": {},
    "registered_name": None,
}


def stored_policy(policy: str, layer_class: str | None) -> str:
    """The policy a layer of ``layer_class`` gets under ``policy``.

    The models only ever run inference, so under a mixed policy the weights are
    stored in the low precision once (``bfloat16``) instead of being cast from
    float32 on every step, which for VGG16 reads and writes its 0.5 GB of
    weights per map. Normalisation layers keep the mixed policy: their
    statistics stay float32.
    """
    if policy.startswith("mixed_") and "Normalization" not in (layer_class or ""):
        return policy.removeprefix("mixed_")
    return policy


def _patch(
    config: Any, input_size: int | None, policy: str | None, layer_class: str | None = None
) -> None:
    if isinstance(config, list):
        for item in config:
            _patch(item, input_size, policy, layer_class)
        return
    if not isinstance(config, dict):
        return
    config.pop("build_config", None)
    if input_size is not None and isinstance(config.get("batch_shape"), (list, tuple)):
        shape = config["batch_shape"]
        if len(shape) == 4 and shape[3] == 3:
            config["batch_shape"] = [shape[0], input_size, input_size, shape[3]]
        elif len(shape) == 4:  # a nested model's input inside the network (ConvNeXt's stages)
            config["batch_shape"] = [shape[0], None, None, shape[3]]
    for key, value in config.items():
        if key.endswith("_initializer") and isinstance(value, dict):
            # Every weight is overwritten by set_weights: skip drawing random
            # ones (about a second for VGG16's 138M parameters).
            config[key] = dict(ZEROS_INITIALIZER)
    dtype = config.get("dtype")
    if policy is not None and isinstance(dtype, dict) and dtype.get("class_name") == "DTypePolicy":
        dtype["config"]["name"] = stored_policy(policy, layer_class)
    if isinstance(config.get("class_name"), str) and isinstance(config.get("config"), dict):
        layer_class = config["class_name"]
    for value in config.values():
        _patch(value, input_size, policy, layer_class)


def _output_layer_config(class_name: str, config: dict) -> dict:
    layers = config["layers"]
    if class_name == "Sequential":
        last = layers[-1]
    else:
        out_name = (
            config["output_layers"][0][0]
            if isinstance(config["output_layers"][0], list)
            else config["output_layers"][0]
        )
        last = next(layer for layer in layers if layer["config"]["name"] == out_name)
    if last["class_name"] in ("Functional", "Sequential"):
        return _output_layer_config(last["class_name"], last["config"])
    return last


NORMALISATIONS = ("softmax", "sigmoid")


def _flatten_grids(model) -> dict[str, tuple[int, int]]:
    """Each ``Flatten`` fed by a spatial map: the map's trained grid (7x7 for VGG)."""
    grids = {}
    for layer in iter_layers(model):
        if type(layer).__name__ != "Flatten":
            continue
        shape = tuple(layer.input.shape)
        # a 1x1 map comes after global pooling (MobileNetV3's head): any input size gives it
        if len(shape) == 4 and shape[1] and shape[2] and (shape[1], shape[2]) != (1, 1):
            grids[layer.name] = (int(shape[1]), int(shape[2]))
    return grids


def _strip_normalisation(layer: dict) -> str | None:
    """Make the output layer's config output logits; returns what it removed.

    A softmax or sigmoid can be the layer's ``activation`` (a ``Dense`` or an
    ``Activation`` layer) or a layer of its own (``Softmax``)."""
    config = layer["config"]
    if layer["class_name"] == "Softmax":
        layer.update(class_name="Activation", module="keras.layers", registered_name=None)
        layer["config"] = {
            key: config[key] for key in ("name", "trainable", "dtype") if key in config
        }
        layer["config"]["activation"] = "linear"
        for node in layer.get("inbound_nodes", []):
            if isinstance(node, dict):
                node.get("kwargs", {}).pop("mask", None)  # Activation takes no mask
        return "softmax"
    activation = config.get("activation")
    if isinstance(activation, dict):  # a serialized activation function
        activation = activation.get("config")
    if activation in NORMALISATIONS:
        config["activation"] = "linear"
        return activation
    return None


def _copy_weights(source, target, replaced: dict | None = None) -> None:
    """``target.set_weights(source.get_weights())`` without the round trip
    through numpy (two copies of every weight), casting where the dtypes differ.
    ``replaced`` gives some target variables (by ``id``) other values."""
    from keras import ops

    replaced = replaced or {}
    if len(source.weights) != len(target.weights):
        raise ValueError(f"{len(target.weights)} weights to fill from {len(source.weights)}")
    for old, new in zip(source.weights, target.weights, strict=True):
        value = replaced.get(id(new), old.value)
        if tuple(value.shape) != tuple(new.shape):
            raise ValueError(f"weight {new.path} has shape {new.shape}, not {old.shape}")
        new.assign(value if value.dtype == new.dtype else ops.cast(value, new.dtype))


def rebuild(model, input_size: int | None = None, policy: str | None = None):
    """A copy of ``model`` with the same weights, optionally at a new square
    input size, under a dtype policy, and always outputting logits: a final
    softmax or sigmoid, in whatever form, is removed.

    Returns:
        ``(new_model, normalisation)``: ``"softmax"`` or ``"sigmoid"``, what
        turns the copy's logits into the original model's probabilities
        (``"softmax"`` when the model had none: its scores are taken as logits).

    Raises:
        InputSizeError: The architecture cannot take ``input_size`` (e.g. a
            Flatten + Dense head fixed to the native size).
    """
    config = copy.deepcopy(model.get_config())
    _patch(config, input_size, policy)
    folds = {}
    if input_size is not None:
        shrinking = input_size < (model.input_shape[1] or input_size)
        folds = adapt_flatten_heads(config, _flatten_grids(model), shrinking)
    removed = _strip_normalisation(_output_layer_config(type(model).__name__, config))
    try:
        new_model = type(model).from_config(config)
        by_name = [{layer.name: layer for layer in iter_layers(m)} for m in (model, new_model)]
        _copy_weights(model, new_model, folded_kernels(*by_name, folds))
    except ValueError as exc:
        if input_size is None:
            raise
        native = "x".join(str(d) for d in model.input_shape[1:3])
        raise InputSizeError(
            f"model {model.name!r} cannot run at input size {input_size}: its head is fixed "
            f"to the native {native} input (only convolutional models with global pooling "
            f"take other sizes)"
        ) from exc
    return new_model, removed or "softmax"


def architecture(model) -> str:
    """The model's whole configuration (layers, their options, their wiring,
    nested models) as canonical JSON, with every layer and model name replaced
    by its order of appearance: two builds of one architecture agree whatever
    Keras named their layers, and anything else that differs (an activation, a
    ``Rescaling``, an epsilon, strides) tells them apart."""
    import json

    config = json.loads(model.to_json())
    names: dict[str, str] = {}

    def collect(node) -> None:
        """Every model's and layer's name: the entries of each ``layers`` list."""
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "layers" and isinstance(value, list):
                    for layer in value:
                        name = (
                            layer.get("config", {}).get("name") if isinstance(layer, dict) else None
                        )
                        if isinstance(name, str) and name not in names:
                            names[name] = f"\x00layer{len(names)}"
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    def renamed(node):
        if isinstance(node, dict):
            return {key: renamed(value) for key, value in node.items()}
        if isinstance(node, list):
            return [renamed(value) for value in node]
        return names.get(node, node) if isinstance(node, str) else node

    names[config.get("config", {}).get("name")] = "\x00model"
    collect(config)
    return json.dumps(renamed(config), sort_keys=True)


def output_shapes_at(model, input_size: tuple[int, int]) -> list[tuple]:
    """Each output's shape for a batch of images of ``input_size`` (the batch
    left free): a model with free input sizes has no fixed shape of its own."""
    shapes = [tuple(output.shape) for output in model.outputs]
    if all(None not in shape[1:] for shape in shapes):
        return shapes
    computed = model.compute_output_shape((1, *input_size, model.inputs[0].shape[-1]))
    computed = (
        computed
        if isinstance(computed, (list, tuple)) and isinstance(computed[0], (list, tuple))
        else [computed]
    )
    return [(None, *shape[1:]) for shape in computed]
