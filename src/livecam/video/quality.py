"""The quality of the live maps: which level (input size, precision) the CAM
thread runs at, chosen by the governor from measured costs, levels built in the
background, the fidelity gate's verdicts, and what failed beside the loop."""

from __future__ import annotations

from collections.abc import Callable

from livecam.runtime import faster_precisions
from livecam.tuning import fidelity
from livecam.tuning.governor import CostCache, Governor, QualityLevel, ladder
from livecam.video.cam_worker import LiveMap, VariantBuilder
from livecam.video.explainers import ExplainerCache


class QualityController:
    """Owns the governor, its costs, the level builder and the gate's verdicts.

    Args:
        cache: The explainers (model, targets) of the live run.
        fps_target: Maps per second to sustain (None: the native level, always).
        cost_cache: Where measured costs persist (default: the cache root's).
        announce: Told before the fidelity gate measures (seconds).
        on_problem: Told, in one line, of anything that failed beside the loop.
    """

    def __init__(
        self,
        cache: ExplainerCache,
        fps_target: float | None,
        cost_cache: CostCache | None = None,
        announce: Callable[[str], None] | None = None,
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self.cache = cache
        self.fps_target = fps_target
        self.announce = announce
        self.on_problem = on_problem
        model = cache.model
        # float32 first; bfloat16 (and int8 on OpenVINO) are tried (once) when float32
        # is too slow, kept where faster, and only where the fidelity gate admits
        # their maps for this method
        self.refused: dict[str, str] = {}  # precision -> why the gate refused it
        precisions = (model.precision, *self._faster_precisions(cache.method))
        # a transformer's position embeddings hold it to its native size
        levels = ladder(model.input_size[0], precisions, resizable=model.token_grid is None)
        self.level = levels[0]
        self.governor: Governor | None = None
        self.costs: CostCache | None = None
        self.levels = levels
        self.profile = cache.profile(cache.method, len(cache.targets))
        if fps_target is not None:
            self.costs = cost_cache or CostCache()
            known = self.costs.costs(model.name, self.profile, levels)
            self.governor = Governor(fps_target, levels, known_costs=known)
            self.level = self.governor.level
        self.builder = VariantBuilder(cache)
        self.problems: list[str] = []  # what went wrong beside the loop, which carried on

    def _faster_precisions(self, method: str) -> list[str]:
        """bfloat16 and int8 for the governor where they run here and keep the maps true."""
        model = self.cache.model
        if self.fps_target is None or model.precision != "float32":
            return []
        admitted = []
        for precision in faster_precisions(model.runtime):
            verdict = fidelity.check(model, method, precision, announce=self.announce)
            if verdict.admitted:
                admitted.append(precision)
            else:
                self.refused[precision] = verdict.reason
        return admitted

    def current(self) -> QualityLevel:
        """The level the next map runs at: a level built in the background meanwhile
        takes over."""
        ready = self.builder.take_ready()
        if ready is not None:
            self.level = ready
            if self.governor is not None:
                self.governor.switched(ready)
        return self.level

    def measured(self, live_map: LiveMap, targets) -> None:
        """A map was computed: judge its step's cost, and ask for another level if due."""
        if self.governor is None:
            return
        for level, reason in self.builder.unusable().items():
            if level not in self.governor.rejected:
                self.governor.reject(level)
                self.problem(f"level {level.describe()} cannot be built ({reason})")
        profile = self.cache.profile(live_map.method, len(live_map.explanation.targets))
        if profile != self.profile:
            self._new_profile(profile)
            self._gate(live_map.method, targets)
        if self.builder.busy:  # steps slowed by a build in the background are not the level's cost
            return
        wanted = self.governor.record(live_map.step_s, live_map.level)
        if wanted is not None:
            self.builder.request(wanted, live_map.method, targets)

    def _new_profile(self, profile: str) -> None:
        """Another method or number of targets costs differently: the costs
        measured so far are kept under the old one, and the governor goes on
        from the current level with what is known of the new one."""
        governor, model = self.governor, self.cache.model.name
        self.costs.update(model, self.profile, governor.best_costs)
        known = self.costs.costs(model, profile, self.levels)
        self.governor = Governor(self.fps_target, self.levels, known_costs=known)
        self.governor.rejected |= governor.rejected
        self.governor.switched(self.level)
        self.profile = profile

    def _gate(self, method: str, targets) -> None:
        """After a switch of method: levels in a precision the fidelity gate
        refuses for it are never chosen, and the current one is left at once."""
        model = self.cache.model
        for precision in {level.precision for level in self.levels} - {model.precision}:
            verdict = fidelity.check(model, method, precision, announce=self.announce)
            if verdict.admitted:
                continue
            self.refused[precision] = verdict.reason
            for level in self.levels:
                if level.precision == precision:
                    self.governor.reject(level)
            if self.level.precision == precision:
                fallback = QualityLevel(self.level.input_size, model.precision)
                self.builder.request(fallback, method, targets)

    def problem(self, text: str) -> None:
        """Something beside the loop failed: kept, and told to ``on_problem``."""
        self.problems.append(text)
        if self.on_problem is not None:
            self.on_problem(text)

    def remember_costs(self) -> None:
        """Keep what the governor measured for the next start, each cost under
        the profile (method, options, targets) it was measured with."""
        if self.governor is None or self.costs is None:
            return
        self.costs.update(self.cache.model.name, self.profile, self.governor.best_costs)
        self.costs.save()
