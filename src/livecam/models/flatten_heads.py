"""A Flatten head at another input size: the grid before the Flatten is
resized back to the native one (a layer inserted before it), and where a Dense
layer reads it, the resize is folded into the Dense kernel (so a smaller input
costs no extra layer). Part of :func:`livecam.models.graph.rebuild`."""

from __future__ import annotations

import copy
from typing import Any


def _grid_layer(name: str, grid: tuple[int, int], dtype: Any, shrinking: bool) -> dict:
    """A smaller input gives a smaller map: resize it up (bilinear, which has a
    gradient, unlike area). A larger one: pool it down adaptively."""
    config: dict[str, Any] = {"name": name, "dtype": copy.deepcopy(dtype)}
    if shrinking:
        class_name = "Resizing"
        config.update(height=grid[0], width=grid[1], interpolation="bilinear")
    else:
        class_name = "AdaptiveAveragePooling2D"
        config.update(output_size=list(grid))
    return {"module": "keras.layers", "class_name": class_name, "config": config}


def _layer_name(layer: dict) -> str | None:
    return layer.get("name") or layer.get("config", {}).get("name")


def _inbound_names(node: Any) -> set[str]:
    """Names of the layers whose outputs a functional layer config consumes."""
    if isinstance(node, dict):
        history = node.get("keras_history")
        found = {history[0]} if isinstance(history, list) and history else set()
        for value in node.values():
            found |= _inbound_names(value)
        return found
    if isinstance(node, (list, tuple)):
        return set().union(*(_inbound_names(item) for item in node))
    return set()


def _consumers(layers: list, index: int, sequential: bool) -> list[dict]:
    if sequential:
        return layers[index + 1 : index + 2]
    name = _layer_name(layers[index])
    return [layer for layer in layers if name in _inbound_names(layer.get("inbound_nodes"))]


def _output_names(config: dict) -> set[str]:
    """The layers whose outputs a functional config returns."""
    outputs = config.get("output_layers") or []
    entries = outputs if outputs and isinstance(outputs[0], list) else [outputs]
    return {entry[0] for entry in entries if entry}


def _dense_after(config: dict, index: int, sequential: bool) -> str | None:
    """The ``Dense`` that alone consumes a channels-last ``Flatten`` (through
    dropouts, which do nothing at inference) and nothing else, or None: only
    then can the resize before the Flatten become part of its kernel."""
    import keras

    layers = config["layers"]
    data_format = layers[index]["config"].get("data_format") or keras.config.image_data_format()
    if data_format != "channels_last":
        return None
    returned = _output_names(config)
    while True:
        consumers = _consumers(layers, index, sequential)
        if len(consumers) != 1 or _layer_name(layers[index]) in returned:
            return None
        kind = consumers[0].get("class_name")
        if kind == "Dense":
            called_once = len(consumers[0].get("inbound_nodes") or [None]) == 1
            return _layer_name(consumers[0]) if called_once else None
        if kind != "Dropout":
            return None
        index = layers.index(consumers[0])


def _insert_grid_layer(layers: list, index: int, grid: tuple[int, int], shrinking: bool) -> None:
    layer = layers[index]
    name = f"{_layer_name(layer)}_grid"
    pool = _grid_layer(name, grid, layer["config"].get("dtype"), shrinking)
    pool["registered_name"] = None
    if "inbound_nodes" in layer:  # functional: rewire the Flatten to the new layer
        pool.update(name=name, inbound_nodes=copy.deepcopy(layer["inbound_nodes"]))
        layer["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = [name, 0, 0]
    layers.insert(index, pool)


def adapt_flatten_heads(
    config: Any, grids: dict[str, tuple[int, int]], shrinking: bool
) -> dict[str, tuple[str, tuple[int, int]]]:
    """Make each spatial ``Flatten`` head take the new input size.

    A Flatten + Dense head needs the map it was trained on (7x7 for VGG), so
    torchvision's VGG pools the map to it adaptively. A larger input gets that
    pool. A smaller one is resized up (bilinear), but where the Flatten feeds
    a Dense alone the resize is linear and folded into the Dense kernel
    instead: the same function, and the Dense shrinks with the map (VGG16's
    fc1, 103M weights read twice per Grad-CAM step, is most of its cost).
    Nothing changes at the native size.

    Returns:
        The Dense layers to fold: name -> (their Flatten's name, trained grid).
    """
    folds: dict[str, tuple[str, tuple[int, int]]] = {}
    if isinstance(config, list):
        for item in config:
            folds.update(adapt_flatten_heads(item, grids, shrinking))
        return folds
    if not isinstance(config, dict):
        return folds
    layers = config.get("layers")
    if isinstance(layers, list):
        configs = [layer for layer in layers if isinstance(layer, dict)]
        sequential = not any("inbound_nodes" in layer for layer in configs)
        names = [_layer_name(layer) if isinstance(layer, dict) else None for layer in layers]
        for index in reversed(range(len(layers))):
            name = names[index]
            if name not in grids:
                continue
            grid = grids[name]
            dense = _dense_after(config, index, sequential) if shrinking else None
            if dense is not None:
                folds[dense] = (name, grid)
            else:
                _insert_grid_layer(layers, index, grid, shrinking)
    for value in config.values():
        folds.update(adapt_flatten_heads(value, grids, shrinking))
    return folds


def _resize_matrix(size: tuple[int, int], grid: tuple[int, int]):
    """The bilinear resize of a ``size`` map to ``grid`` as a matrix
    ``[h*w, grid_h*grid_w]``: the same ``Resizing`` layer an unfolded head
    would run, applied to each one-hot map."""
    import keras
    import numpy as np

    cells = size[0] * size[1]
    basis = np.eye(cells, dtype="float32").reshape(cells, size[0], size[1], 1)
    resized = keras.layers.Resizing(grid[0], grid[1], interpolation="bilinear")(basis)
    return keras.ops.reshape(resized, (cells, grid[0] * grid[1]))


def folded_kernels(
    source_layers: dict, target_layers: dict, folds: dict[str, tuple[str, tuple[int, int]]]
) -> dict:
    """The kernel of each folded Dense, keyed by the target's variable:
    resize-then-Dense as one matrix, ``K'[(i, c), k] = sum_p U[i, p] K[(p, c), k]``
    (``*_layers``: every layer of the source and target models by name)."""
    from keras import ops

    kernels = {}
    for dense, (flatten, grid) in folds.items():
        _, height, width, channels = target_layers[flatten].input.shape
        matrix = _resize_matrix((height, width), grid)
        kernel = ops.cast(source_layers[dense].kernel.value, "float32")
        kernel = ops.reshape(kernel, (grid[0] * grid[1], channels, -1))
        folded = ops.einsum("ip,pck->ick", matrix, kernel)
        kernels[id(target_layers[dense].kernel)] = ops.reshape(
            folded, (height * width * channels, -1)
        )
    return kernels
