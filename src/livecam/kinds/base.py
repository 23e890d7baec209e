"""What a map explains, by kind of model output, and the table of kinds.

A kind is one module that registers one :class:`Objective` subclass with
:func:`register_kind`: how it is recognised from the model's output
(:meth:`Objective.recognise`), the score a map explains and the probabilities
it ranks and shows (:meth:`~Objective.scores`, :meth:`~Objective.probabilities`,
both ``[batch, classes]``, so every CAM method works the same on every kind),
the text of a value (:meth:`~Objective.value_text`) and what it adds to an
overlay (:meth:`~Objective.decorate`). Recognition asks the kinds in the order
of their ``priority``: the first that claims the output explains it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import tensorflow as tf

from livecam.errors import ModelError

Region = tuple[float, float, float, float]


@dataclass(frozen=True)
class KindOptions:
    """The load options that select or shape a kind (``--region``, ``--similar-to``)."""

    region: Region | None = None
    similar_to: str | Path | np.ndarray | None = None


class Objective:
    """The explained score and the shown probabilities of a model's output.

    Attributes:
        kind: The kind's name (``class``, ``label``, ``segment``, ``similarity``...).
        independent: The probabilities do not sum to one (sigmoid outputs).
        has_masks: :meth:`masks` gives each explained class's pixels.
        runs_on_dense_head: A runtime that runs a dense head may run this
            kind's (its logits are the head's output, one score per class).
        takes_region: ``--region`` applies to it.
        explains: What the kind's outputs are, for the error of an unknown output.
        priority: Lower is asked first in :func:`recognise`.
    """

    kind: ClassVar[str]
    independent: ClassVar[bool] = False
    has_masks: ClassVar[bool] = False
    runs_on_dense_head: ClassVar[bool] = False
    takes_region: ClassVar[bool] = False
    explains: ClassVar[str] = ""
    priority: ClassVar[int] = 100

    @classmethod
    def recognise(
        cls, output_shape: tuple, normalisation: str, options: KindOptions
    ) -> Objective | None:
        """This kind's objective for a model with that output, or None: not this kind."""
        return None

    def probabilities(self, outputs: tf.Tensor) -> tf.Tensor:
        """``[batch, classes]``: what ranks the classes and is shown."""
        raise NotImplementedError

    def scores(self, outputs: tf.Tensor, score: str) -> tf.Tensor:
        """``[batch, classes]``: what a map explains (``score``: logit or probability)."""
        raise NotImplementedError

    def masks(self, outputs: tf.Tensor, class_ids: tf.Tensor) -> tf.Tensor:
        """``[batch, targets, H, W]`` uint8: each explained class's predicted mask."""
        raise NotImplementedError

    @staticmethod
    def value_text(probability: float) -> str:
        """How a value of this kind reads on screen: ``91.2%``."""
        return f"{probability:.1%}"

    @staticmethod
    def decorate(overlay: np.ndarray, mask: np.ndarray | None) -> None:
        """Draw what the kind adds to an overlay (BGR, in place): nothing by default."""

    def class_names(self) -> list[str] | None:
        """The kind's own class names (a similarity's one), or None: the model's labels."""
        return None

    def for_variant(self, bundle: Any) -> Objective:
        """The objective of ``bundle``, another size or precision of the model
        (a similarity re-embeds its reference there); by default this one."""
        return self


KINDS: dict[str, type[Objective]] = {}


def register_kind(kind: type[Objective]) -> type[Objective]:
    """Class decorator: adds ``kind`` to :data:`KINDS` (a kind's one registration)."""
    KINDS[kind.kind] = kind
    return kind


def kind_named(name: str) -> type[Objective]:
    """The registered kind called ``name``.

    Raises:
        ModelError: No kind of that name.
    """
    try:
        return KINDS[name]
    except KeyError:
        raise ModelError(f"unknown model kind {name!r}; known: {', '.join(KINDS)}") from None


def recognise(
    output_shape: tuple, normalisation: str, options: KindOptions, model_name: str
) -> Objective:
    """What a map of a model with ``output_shape`` explains: the first kind
    (by priority) that claims it.

    Raises:
        ModelError: No kind claims the output, or ``--region`` where the kind takes none.
    """
    for kind in sorted(KINDS.values(), key=lambda k: k.priority):
        objective = kind.recognise(tuple(output_shape), normalisation, options)
        if objective is None:
            continue
        if options.region is not None and not kind.takes_region:
            raise ModelError(
                f"--region applies to segmentation models (output [batch, H, W, classes]); "
                f"model {model_name!r} is a {kind.kind} model "
                f"(output {tuple(output_shape)})"
            )
        return objective
    explained = ", ".join(k.explains for k in KINDS.values() if k.explains)
    raise ModelError(
        f"model {model_name!r} outputs {tuple(output_shape)}: livecam explains {explained}"
    )
