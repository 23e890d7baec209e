"""Which layer a map explains: the candidates, how deep each sits, and the
default, refused where it cannot mean much; and a token layer's patch grid.

Candidates are the layers with a spatial map ``[batch, h, w, channels]`` and
the token layers ``[batch, tokens, channels]`` of transformers (not the
model's output itself, e.g. a segmentation model's logits). The default is the
last candidate, except in a transformer: there it is the input of the last
attention layer (the last block's first normalisation, as pytorch-grad-cam
explains ViTs), because with a class-token head the last block's patch tokens
get no gradient at all. Where the default sits in the first half of the
model's weighted layers (a convolutional stem, a patch embedding), a map of it
shows edges and textures, not what decided: it is refused, naming the
candidates, and ``--layer`` chooses one deliberately.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from livecam.errors import LayerError
from livecam.models.graph import is_spatial, iter_layers, output_shape, spatial_layers
from livecam.models.tokens import TokenGrid

MAX_EXTRA_TOKENS = 8  # class, distillation and register tokens before the patches

MIN_DEFAULT_DEPTH = 0.5  # the default must sit in the second half of the weighted layers


@dataclass(frozen=True)
class CandidateLayer:
    """A layer a map can explain.

    Attributes:
        name: The layer's name (what ``--layer`` takes).
        shape: Its output shape, batch first (``None`` for unknown sizes).
        depth: How far into the model it sits: the share of the model's
            weighted layers (convolutions, dense, normalisation, attention)
            at or before it, from 0 (input) to 1 (output).
    """

    name: str
    shape: tuple
    depth: float

    @property
    def is_tokens(self) -> bool:
        return len(self.shape) == 3

    @property
    def shape_text(self) -> str:
        """``14x14x512``: the output shape without the batch, ``?`` for unknown sizes."""
        return "x".join("?" if size is None else str(size) for size in self.shape[1:])


def token_layers(model) -> list:
    """Layers whose output is ``[batch, tokens, channels]`` with several tokens."""
    found = []
    for layer in iter_layers(model):
        shape = output_shape(layer)
        if shape is not None and len(shape) == 3 and shape[1] is not None and shape[1] > 1:
            found.append(layer)
    return found


def candidate_layers(model) -> list[CandidateLayer]:
    """Every layer with a spatial map or tokens, in execution order, with its
    depth; the model's output layer is not one."""
    outputs = {id(tensor) for tensor in model.outputs}
    wanted = {
        id(layer)
        for layer in [*spatial_layers(model), *token_layers(model)]
        if id(layer.output) not in outputs
    }
    layers = list(iter_layers(model))
    weighted = [layer for layer in layers if layer.weights]
    total = max(1, len(weighted))
    found, seen = [], 0
    for layer in layers:
        seen += bool(layer.weights)
        if id(layer) in wanted:
            found.append(CandidateLayer(layer.name, output_shape(layer), seen / total))
    return found


def _attention_input(model) -> str | None:
    """The layer feeding the last attention layer's query, or None."""
    attention = [layer for layer in iter_layers(model) if "Attention" in type(layer).__name__]
    if not attention:
        return None
    nodes = getattr(attention[-1], "_inbound_nodes", None) or []
    if not nodes or not nodes[0].input_tensors:
        return None
    history = getattr(nodes[0].input_tensors[0], "_keras_history", None)
    return history[0].name if history is not None else None


def _default(model, candidates: list[CandidateLayer]) -> CandidateLayer:
    last = candidates[-1]
    if last.is_tokens:
        before_attention = _attention_input(model)
        for candidate in candidates:
            if candidate.name == before_attention:
                return candidate
    return last


def find_cam_layer(model, name: str | None = None) -> str:
    """The CAM layer's name: ``name`` if the model has it, else the default.

    Raises:
        LayerError: ``name`` is unknown, the model has no spatial layer, or
            the last one sits too early to be a sound default (the message
            lists the candidates with their depth).
    """
    candidates = candidate_layers(model)
    if name is not None:
        if name in {layer.name for layer in iter_layers(model)}:
            return name
        shown = ", ".join(c.name for c in candidates[-8:]) or "none"
        raise LayerError(
            f"model {model.name!r} has no layer {name!r}; last spatial layers: {shown}"
        )
    if not candidates:
        raise LayerError(
            f"model {model.name!r} has no layer with a spatial map or tokens to explain"
        )
    last = _default(model, candidates)
    if last.depth < MIN_DEFAULT_DEPTH:
        shown = ", ".join(f"{c.name} {c.shape_text} at {c.depth:.0%}" for c in candidates[-6:])
        raise LayerError(
            f"model {model.name!r}: its last spatial layer, {last.name!r}, sits "
            f"{last.depth:.0%} of the way into the model (a stem or a patch embedding?), "
            f"so a map of it would not explain the decision; pass --layer NAME to explain "
            f"one anyway (candidates: {shown}; see livecam layers)"
        )
    return last.name


def token_grid(
    model,
    layer_name: str,
    grid: tuple[int, int] | None = None,
    skip: int | None = None,
) -> TokenGrid | None:
    """The patch grid of a token layer (None for a spatial layer).

    Without ``grid``: the grid of the last spatial layer before it (the patch
    embedding) when at most :data:`MAX_EXTRA_TOKENS` tokens are left over,
    else the largest square that fits the token count. ``skip`` defaults to
    the tokens left over, taken from the front.

    Raises:
        LayerError: ``grid`` and ``skip`` do not add up to the layer's tokens.
    """
    layers = {layer.name: layer for layer in iter_layers(model)}
    shape = output_shape(layers[layer_name])
    if shape is None or len(shape) != 3:
        if grid is not None or skip is not None:
            raise LayerError(
                f"--grid and --skip-tokens apply to token layers [batch, tokens, channels]; "
                f"layer {layer_name!r} outputs {shape}"
            )
        return None
    tokens = int(shape[1])
    height, width = grid or _guessed_grid(model, layer_name, tokens, skip)
    extra = tokens - height * width if skip is None else skip
    if extra < 0 or extra + height * width != tokens:
        raise LayerError(
            f"layer {layer_name!r} has {tokens} tokens, which a {height}x{width} grid after "
            f"{extra} extra token(s) does not match: fix --grid HxW or --skip-tokens N"
        )
    return TokenGrid(height, width, extra)


def _guessed_grid(model, layer_name: str, tokens: int, skip: int | None) -> tuple[int, int]:
    patches = tokens - skip if skip is not None else None
    before = []
    for layer in iter_layers(model):
        if layer.name == layer_name:
            break
        before.append(layer)
    # pooling counts here: it sets the grid the tokens are cut from
    for layer in reversed([layer for layer in before if is_spatial(output_shape(layer))]):
        height, width = output_shape(layer)[1:3]
        if height and width:
            cells = height * width
            if patches == cells or (patches is None and 0 <= tokens - cells <= MAX_EXTRA_TOKENS):
                return int(height), int(width)
    side = math.isqrt(patches if patches is not None else tokens)
    if patches is not None and side * side != patches:
        raise LayerError(
            f"layer {layer_name!r}: {patches} patch tokens do not make a square grid; "
            f"pass --grid HxW"
        )
    if side < 2:
        raise LayerError(f"layer {layer_name!r} has too few tokens ({tokens}) for a grid")
    return side, side


def parse_grid(text: str) -> tuple[int, int]:
    """``"14x14"`` -> ``(14, 14)``.

    Raises:
        LayerError: Not two positive integers joined by ``x``.
    """
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise LayerError(f"--grid must be HxW, e.g. 14x14, got {text!r}") from None
    if height < 1 or width < 1:
        raise LayerError(f"--grid must be positive, got {text!r}")
    return height, width
