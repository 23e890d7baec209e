"""The structure holds: no import cycle, short modules, runtimes named only in
``livecam.runtime``, one cache with a locked store, one model spec that every
command takes, and a method, a runtime and a model kind that each join as one
module plus a registration, seen by every command."""

from __future__ import annotations

import ast
import importlib.util
import json
import multiprocessing
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from livecam.cli import app

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "livecam"
MAX_MODULE_LINES = 400
SIZE = 32
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def _import_graph():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts/import_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The code map ------------------------------------------------------------------


def test_the_counter_finds_a_cycle_and_the_units_have_none():
    graph = _import_graph()
    assert graph.cycles({"a", "b", "c"}, {("a", "b"), ("b", "c"), ("c", "a")}) == [["a", "b", "c"]]
    assert graph.cycles({"a", "b"}, {("a", "b")}) == []
    units, arrows = graph.graph()
    assert {"cam", "models", "runtime", "tuning", "kinds", "media", "cache"} <= units
    assert graph.cycles(units, set(arrows)) == []


def test_the_counter_sees_imports_inside_functions_but_not_type_checking(tmp_path, monkeypatch):
    graph = _import_graph()
    package = tmp_path / "livecam"
    (package / "low").mkdir(parents=True)
    (package / "low" / "__init__.py").write_text("")
    (package / "high.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from livecam import typed\n"
        "def later():\n"
        "    from .low import thing\n"
    )
    (package / "typed.py").write_text("import livecam.high\n")
    monkeypatch.setattr(graph, "ROOT", package)
    units, arrows = graph.graph()
    assert units == {"high", "low", "typed"}
    assert set(arrows) == {("high", "low"), ("typed", "high")}
    assert arrows[("high", "low")] == ["high.py:5"]
    assert graph.cycles(units, set(arrows)) == []  # the TYPE_CHECKING arrow would close one


def test_no_module_is_longer_than_the_limit():
    long = {
        str(path.relative_to(SOURCE)): lines
        for path in SOURCE.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long


def _runtime_names() -> set[str]:
    from livecam import runtime

    return set(runtime.names())


def test_no_runtime_name_is_compared_as_a_string_outside_the_runtime_package():
    names = _runtime_names()
    found = []
    for path in SOURCE.rglob("*.py"):
        if path.is_relative_to(SOURCE / "runtime"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            operands = [node.left, *node.comparators]
            if any(ast.unparse(c) == "sys.modules" for c in operands):
                continue  # "tensorflow" in sys.modules: the module, not the runtime
            literals = [
                c.value for c in operands if isinstance(c, ast.Constant) and c.value in names
            ]
            literals += [
                e.value
                for c in operands
                if isinstance(c, (ast.Tuple, ast.List, ast.Set))
                for e in c.elts
                if isinstance(e, ast.Constant) and e.value in names
            ]
            if literals:
                found.append(f"{path.relative_to(SOURCE)}:{node.lineno} {literals}")
    assert not found, found


# One cache -----------------------------------------------------------------------


def _fill_store(path: str, worker: int, count: int) -> None:
    from livecam.cache import JsonStore

    store = JsonStore(Path(path), 1, "entries")
    for i in range(count):
        assert store.update({f"{worker}-{i}": i})


def test_two_processes_updating_one_store_keep_both_runs_entries(tmp_path):
    from livecam.cache import JsonStore

    path = tmp_path / "store.json"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_fill_store, args=(str(path), w, 60)) for w in (0, 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    entries = JsonStore(path, 1, "entries").read()
    assert set(entries) == {f"{w}-{i}" for w in (0, 1) for i in range(60)}


def test_a_store_of_another_version_reads_as_empty_and_is_replaced(tmp_path):
    from livecam.cache import JsonStore

    path = tmp_path / "store.json"
    path.write_text(json.dumps({"version": 1, "entries": {"old": 1}}))
    newer = JsonStore(path, 2, "entries")
    assert newer.read() == {}
    newer.update({"new": 2})
    assert json.loads(path.read_text()) == {"version": 2, "entries": {"new": 2}}
    path.write_text("{ not json")
    assert newer.read() == {}


def test_every_cache_lives_under_the_one_root(monkeypatch, tmp_path):
    from livecam.cache import cache_root
    from livecam.models import lite0
    from livecam.tuning import fidelity
    from livecam.tuning.governor import CostCache

    monkeypatch.setenv("LIVECAM_CACHE_DIR", str(tmp_path / "here"))
    assert cache_root() == tmp_path / "here"
    assert CostCache().path == tmp_path / "here" / "governor.json"
    assert fidelity._store().path == tmp_path / "here" / "fidelity.json"
    assert lite0._cache_file(lite0.checkpoint_path()).parent == tmp_path / "here"
    monkeypatch.delenv("LIVECAM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert CostCache().path == tmp_path / "xdg" / "livecam" / "governor.json"


# One model spec: bench takes the model options of image ------------------------------


@pytest.fixture(scope="module")
def vit_file(tmp_path_factory) -> Path:
    import kinds_models  # registers its custom layers, as a user's script would

    path = tmp_path_factory.mktemp("vit") / "vit.keras"
    kinds_models.build_vit(registers=2).save(path)
    return path


def _bench(model: Path, *options):
    return invoke("bench", "-m", model, "--source", f"synthetic:{SIZE}x{SIZE}", "--frames", 2,
                  "--json", *options)  # fmt: skip


def test_bench_takes_a_token_models_options_and_a_labels_file(vit_file, tmp_path):
    from scenes import NAMES

    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"colour {name}" for name in NAMES))
    result = _bench(vit_file, "--skip-tokens", 3, "--labels", labels)
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)["results"]
    assert row["config"]["base"]["skip_tokens"] == 3
    assert row["config"]["base"]["labels"] == str(labels)
    assert row["traces"] == 1 and row["cam_fps"] > 0
    # the options reach the model: the wrong ones fail as image fails with them
    wrong_tokens = _bench(vit_file, "--skip-tokens", 1)
    assert wrong_tokens.exit_code == 1 and "token" in wrong_tokens.stderr, wrong_tokens.output
    few = tmp_path / "few.txt"
    few.write_text("one\ntwo\n")
    short = _bench(vit_file, "--skip-tokens", 3, "--labels", few)
    assert short.exit_code == 1 and "labels has 2 entries" in short.stderr, short.output


# A method, a runtime and a kind, each one module plus a registration -------------


Disc = tuple[float, float, float]  # x, y, radius


def bright_disc_scenes(count: int, seed: int) -> list[tuple[np.ndarray, Disc]]:
    """Dark noise with one bright disc: (BGR image, (x, y, radius))."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    scenes = []
    for _ in range(count):
        image = rng.integers(20, 70, (SIZE, SIZE, 3)).astype(np.uint8)
        radius = rng.uniform(3.5, 5.0)
        x, y = rng.uniform(radius + 1, SIZE - radius - 1, 2)
        image[(cols - x) ** 2 + (rows - y) ** 2 <= radius**2] = 245
        scenes.append((image, (float(x), float(y), float(radius))))
    return scenes


def brightness_regressor():
    """Output [batch, 1], the image's mean brightness, by construction: its map
    must light up the bright disc."""
    import keras

    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="early")(x)
    x = keras.layers.Conv2D(1, 1, activation="relu", name="cam")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, name="value")(x), name="brightness")
    early = model.get_layer("early")
    kernel = np.zeros(early.kernel.shape, np.float32)
    kernel[1, 1, :, :] = 1 / 3  # each filter: the pixel's grey level
    early.set_weights([kernel, np.zeros(4, np.float32)])
    model.get_layer("cam").set_weights([np.full((1, 1, 4, 1), 0.25, np.float32), np.zeros(1)])
    model.get_layer("value").set_weights([np.ones((1, 1), np.float32), np.zeros(1, np.float32)])
    return model


@pytest.fixture
def plugins(monkeypatch):
    """Registers the three test-only modules, as a plug-in's import would."""
    from livecam import runtime
    from livecam.cam import METHODS
    from livecam.kinds import KINDS
    from plugin_kind import RegressionScores
    from plugin_method import AbsGradCam
    from plugin_runtime import EagerKerasRuntime

    monkeypatch.setitem(METHODS, AbsGradCam.name, AbsGradCam)
    monkeypatch.setitem(runtime.RUNTIMES, EagerKerasRuntime.name, EagerKerasRuntime())
    monkeypatch.setitem(KINDS, RegressionScores.kind, RegressionScores)
    EagerKerasRuntime.calls = 0
    return EagerKerasRuntime


@pytest.fixture(scope="module")
def regressor_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("regressor") / "brightness.keras"
    brightness_regressor().save(path)
    return path


def _peak_on_disc(heatmap: np.ndarray, disc: Disc) -> bool:
    upsampled = cv2.resize(heatmap.astype(np.float32), (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
    y, x = np.unravel_index(int(np.argmax(upsampled)), upsampled.shape)
    cx, cy, radius = disc
    return (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= (radius + 1) ** 2


def test_the_plugged_kind_runtime_and_method_give_meaningful_maps(plugins):
    from livecam import Explainer, load_model
    from livecam.cam.reference import EagerGradCam
    from livecam.frames import model_input

    scenes = bright_disc_scenes(12, seed=3)
    images = [image for image, _ in scenes]
    model = load_model(ModelFile.of(brightness_regressor()))
    assert model.kind == "regression" and model.labels == ["brightness"]
    on_tf = Explainer(model).explain(images)
    batch = model_input(images, model.input_size)
    reference = EagerGradCam(model)
    for explanation, rgb, (image, disc) in zip(on_tf, batch, scenes, strict=True):
        target = explanation.targets[0]
        assert target.value_text == f"= {target.probability:.3f}"
        assert target.probability == pytest.approx(image.mean() / 255, abs=1e-3)
        assert _peak_on_disc(target.heatmap, disc)
        np.testing.assert_allclose(target.heatmap, reference.heatmap(rgb, 0), atol=1e-4)
    on_plugin = Explainer(load_model(ModelFile.of(brightness_regressor()), runtime="eager-keras"))
    assert plugins.calls == 1, "the plugged runtime computed the activations"
    for ours, theirs in zip(on_plugin.explain(images), on_tf, strict=True):
        np.testing.assert_allclose(ours.targets[0].heatmap, theirs.targets[0].heatmap, atol=1e-5)
    absolute = Explainer(model, method="absgradcam").explain(images)
    assert all(
        _peak_on_disc(e.targets[0].heatmap, disc)
        for e, (_, disc) in zip(absolute, scenes, strict=True)
    )


class ModelFile:
    """An in-memory model as the spec of a saved one (what the CLI loads)."""

    folder: Path | None = None

    @classmethod
    def of(cls, model) -> str:
        import tempfile

        cls.folder = cls.folder or Path(tempfile.mkdtemp(prefix="livecam-plugin-"))
        path = cls.folder / f"{model.name}.keras"
        if not path.exists():
            model.save(path)
        return str(path)


def test_every_command_sees_the_plugged_method_runtime_and_kind(plugins, regressor_file, tmp_path):
    from livecam.media import write_video

    scenes = bright_disc_scenes(6, seed=5)
    photo = tmp_path / "disc.png"
    cv2.imwrite(str(photo), scenes[0][0])
    shown = invoke("image", photo, "-m", regressor_file, "--method", "absgradcam",
                   "--runtime", "eager-keras", "--json", "-o", tmp_path / "image")  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert plugins.calls == 1, "the plugged runtime computed the activations"
    record = json.loads(shown.stdout.strip().splitlines()[-1])
    assert record["predictions"][0]["label"] == "brightness"
    x, y = record["targets"][0]["peak"]
    cx, cy, radius = scenes[0][1]
    assert (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= (radius + 1) ** 2
    overlay = cv2.imread(record["targets"][0]["overlay"])
    assert (overlay[0, :] == (0, 255, 0)).all() and (overlay[:, -1] == (0, 255, 0)).all()
    listed = invoke("models")
    assert listed.exit_code == 0 and "absgradcam" in listed.stdout, listed.output

    clip = write_video(tmp_path / "discs.avi", [image for image, _ in scenes], fps=10)
    annotated = invoke("annotate", clip, "-m", regressor_file, "--method", "absgradcam",
                       "--runtime", "eager-keras", "-o", tmp_path / "out.mp4",
                       "--log", tmp_path / "out.jsonl")  # fmt: skip
    assert annotated.exit_code == 0, annotated.output
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(records) == len(scenes)
    for logged, (_, (cx, cy, radius)) in zip(records, scenes, strict=True):
        x, y = logged["peak"]
        assert (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= (radius + 1.5) ** 2, logged

    from livecam.cli.options import method_names

    assert "absgradcam" in method_names(["all"], [])  # bench --method all runs it too
    benched = invoke("bench", "-m", regressor_file, "--method", "gradcam,absgradcam", "--runtime",
                     "tensorflow,eager-keras", "--source", f"synthetic:{SIZE}x{SIZE}",
                     "--frames", 2, "--json")  # fmt: skip
    assert benched.exit_code == 0, benched.output
    rows = json.loads(benched.stdout)["results"]
    assert {(r["config"]["method"], r["config"]["runtime"]) for r in rows} >= {
        ("absgradcam", "tensorflow"),
        ("absgradcam", "eager-keras"),
    }
    refused = invoke("image", photo, "-m", regressor_file, "--runtime", "eager-keras",
                     "--aug-smooth", "-o", tmp_path / "refused")  # fmt: skip
    assert refused.exit_code == 1 and "--aug-smooth runs on --runtime tensorflow" in refused.stderr


@pytest.mark.parametrize(
    ("runtime", "message"),
    [("onnx", "unknown runtime 'onnx'"), ("auto", "chosen by measuring when the model loads")],
)
def test_a_runtime_the_unchecked_loader_carried_fails_clearly_at_the_engine(runtime, message):
    from conftest import scaled, tiny_classifier
    from livecam import CamEngine, from_keras
    from livecam.errors import RuntimeChoiceError
    from livecam.models import from_keras as unchecked

    carried = unchecked(tiny_classifier(), preprocess=scaled, runtime=runtime)
    assert carried.runtime == runtime  # livecam.models only carries the name
    with pytest.raises(RuntimeChoiceError, match=message):
        CamEngine(carried)
    if runtime != "auto":
        with pytest.raises(RuntimeChoiceError, match=message):
            from_keras(tiny_classifier(), preprocess=scaled, runtime=runtime)
