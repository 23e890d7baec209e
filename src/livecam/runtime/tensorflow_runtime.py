"""TensorFlow: the engine's own compiled step runs the whole model (no
backbone object), with every method and option; the reference runtime."""

from __future__ import annotations


class TensorFlowRuntime:
    """See :class:`livecam.runtime.Runtime`."""

    name = "tensorflow"
    in_step = True

    def unavailable(self, precision: str) -> str | None:
        if precision == "int8":
            return (
                "--precision int8 runs on --runtime openvino (quantized with NNCF), not tensorflow"
            )
        return None

    def faster_precisions(self) -> list[str]:
        return ["mixed_bfloat16"]

    def has_bfloat16(self) -> bool:
        return True  # slowly without the instructions

    def refused(self, needs: dict[str, bool]) -> str | None:
        return None

    def backbone(self, model, head: bool, mean: bool) -> None:
        return None

    def scorer(self, model, after: str | None) -> None:
        return None

    def runs_head(self, model) -> bool:
        return False

    def version(self) -> str:
        import tensorflow as tf

        return f"tensorflow {tf.__version__}"
