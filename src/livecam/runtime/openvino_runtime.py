"""OpenVINO: the layers up to the CAM layer (and a dense head with its
gradient, where there is one) converted once, cached and run on the CPU
(:mod:`livecam.runtime.openvino`); the gradients of anything else stay in the
TensorFlow step."""

from __future__ import annotations

import importlib.util


class OpenVinoRuntime:
    """See :class:`livecam.runtime.Runtime`."""

    name = "openvino"
    in_step = False

    def installed(self) -> bool:
        return importlib.util.find_spec("openvino") is not None

    def unavailable(self, precision: str) -> str | None:
        if self.installed():
            return None
        return (
            f"--runtime openvino{' (int8)' if precision == 'int8' else ''} needs OpenVINO, "
            "which is not installed: pip install 'livecam[openvino]'"
        )

    def faster_precisions(self) -> list[str]:
        faster = ["mixed_bfloat16"] if self.has_bfloat16() else []
        if importlib.util.find_spec("nncf") is not None:
            faster.append("int8")
        return faster

    def has_bfloat16(self) -> bool:
        import openvino as ov

        return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")

    def refused(self, needs: dict[str, bool]) -> str | None:
        # the converted model gives activations, not the gradient at the input
        # nor copies of it; one CAM layer
        return next((what for what, needed in needs.items() if needed), None)

    def backbone(self, model, head: bool, mean: bool):
        key = ("backbone", model.cam_layers, head, head and mean)
        if key not in model.cache:
            from livecam.runtime.openvino import OpenVinoBackbone

            model.cache[key] = OpenVinoBackbone(model, head=head, mean=mean)
        return model.cache[key]

    def scorer(self, model, after: str | None):
        key = ("scorer", after)
        if key not in model.cache:
            from livecam.runtime.openvino import OpenVinoScorer

            model.cache[key] = OpenVinoScorer(model, after)
        return model.cache[key]

    def runs_head(self, model) -> bool:
        key = ("dense head", model.cam_layer)
        if key not in model.cache:
            from livecam.runtime import dense_head

            float32 = model.variant(precision="float32")  # what the runtime converts
            model.cache[key] = dense_head.head_layers(dense_head.head_model(float32)) is not None
        return model.cache[key]

    def version(self) -> str:
        import openvino as ov

        return f"openvino {ov.get_version()}"
