"""livecam eval: the metrics on hand-computed cases, the annotation readers on
good and bad files, and the whole run on the composed labelled set."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from livecam.cli import app
from livecam.evaluate import AnnotationError, Box, load_annotations
from livecam.evaluate import metrics as m
from livecam.evaluate.annotations import map_categories
from livecam.models.labels import imagenet_labels

# A 8x8 image whose left half is the object (255), the right half black.
IMAGE = np.zeros((8, 8, 3), np.uint8)
IMAGE[:, :4] = 255
PERFECT = np.zeros((8, 8), np.float32)
PERFECT[:, :4] = 1.0


def object_intact(images: np.ndarray) -> np.ndarray:
    """A stand-in classifier: class 0's probability is the share of the
    object's pixels that are still exactly the original."""
    share = (images[:, :, :4] == 255).all(axis=-1).mean(axis=(1, 2))
    return np.stack([share, 1 - share], axis=1)


def test_pointing_game_hits_within_fifteen_pixels_of_a_box():
    heatmap = np.zeros((7, 7), np.float32)
    heatmap[5, 1] = 1.0  # peak near (14.5, 54.5) in a 70x70 image
    assert m.pointing_hit(heatmap, [Box(10, 50, 10, 10)], 70, 70)  # inside
    assert m.pointing_hit(heatmap, [Box(25, 50, 10, 10)], 70, 70)  # 10.5 px away
    assert not m.pointing_hit(heatmap, [Box(35, 50, 10, 10)], 70, 70)  # 20.5 px away
    assert not m.pointing_hit(heatmap, [Box(25, 50, 10, 10)], 70, 70, tolerance=5)


def test_energy_in_boxes_by_hand():
    # Same resolution: no resampling. The object's half holds all the energy.
    assert m.energy_in_boxes(PERFECT, [Box(0, 0, 4, 8)], 8, 8) == pytest.approx(1.0)
    assert m.energy_in_boxes(PERFECT, [Box(4, 0, 4, 8)], 8, 8) == pytest.approx(0.0)
    uniform = np.full((8, 8), 0.5, np.float32)
    assert m.energy_in_boxes(uniform, [Box(0, 0, 2, 2)], 8, 8) == pytest.approx(4 / 64)
    # Two overlapping boxes count their pixels once; an empty map has none inside.
    assert m.energy_in_boxes(uniform, [Box(0, 0, 2, 2), Box(1, 0, 2, 2)], 8, 8) == pytest.approx(
        6 / 64
    )
    assert m.energy_in_boxes(np.zeros((8, 8)), [Box(0, 0, 8, 8)], 8, 8) == 0.0


def test_average_drop_and_increase_in_confidence_by_hand():
    # The map keeps the object whole: the confidence neither drops nor rises.
    assert m.drop_and_increase(IMAGE, PERFECT, 0, object_intact) == (0.0, False)
    # The inverted map blacks the object out: all confidence is lost.
    assert m.drop_and_increase(IMAGE, 1 - PERFECT, 0, object_intact) == (1.0, False)
    # Half the object kept at full weight: half the confidence dropped.
    half = PERFECT.copy()
    half[4:, :] = 0.0
    drop, _ = m.drop_and_increase(IMAGE, half, 0, object_intact)
    assert drop == pytest.approx(0.5)
    # Class 1 (the share of the object missing) gains when the object is masked.
    assert m.drop_and_increase(IMAGE, 1 - PERFECT, 1, object_intact)[1] is True


def test_deletion_and_insertion_auc_by_hand():
    # Steps of a quarter: deletion keeps 1, 1/2, 0, 0, 0 of the object -> AUC 1/4;
    # insertion puts it back 0, 1/2, 1, 1, 1 -> AUC 3/4 (trapezoids of width 1/4).
    deletion, insertion = m.deletion_insertion(IMAGE, PERFECT, 0, object_intact, steps=4)
    assert deletion == pytest.approx(0.25)
    assert insertion == pytest.approx(0.75)
    worst_deletion, worst_insertion = m.deletion_insertion(IMAGE, 1 - PERFECT, 0, object_intact, 4)
    assert worst_deletion == pytest.approx(0.75) and worst_insertion == pytest.approx(0.25)


def test_the_noisy_linear_imputer_fills_from_the_neighbours():
    image = np.full((16, 16, 3), 100, np.uint8)
    removed = np.zeros((16, 16), bool)
    removed[6:10, 6:10] = True
    image[removed] = 0
    filled = m.impute(image, removed, np.random.default_rng(0))
    assert (filled[~removed] == 100).all(), "kept pixels are kept"
    assert abs(float(filled[removed].mean()) - 100) < 3 and filled[removed].std() > 0


def test_road_rewards_the_right_map_and_punishes_the_inverted_one():
    right = m.road(IMAGE, PERFECT, 0, object_intact)
    inverted = m.road(IMAGE, 1 - PERFECT, 0, object_intact)
    # MoRF removes the object first, LeRF last: (LeRF - MoRF) / 2 over 10..90 %.
    expected = np.mean([(min(1, 2 - 2 * p) - max(0, 1 - 2 * p)) / 2 for p in np.arange(1, 10) / 10])
    assert right == pytest.approx(expected, abs=0.03)
    # Inverted, the imputer's noise sometimes restores a pixel exactly: not symmetric.
    assert inverted < -expected + 0.03


def test_baselines_are_a_centred_bump_and_seeded_noise():
    centre = m.centre_map((7, 7))
    assert np.unravel_index(centre.argmax(), centre.shape) == (3, 3)
    a, b = (
        m.random_map((7, 7), np.random.default_rng(1)),
        m.random_map((7, 7), np.random.default_rng(1)),
    )
    np.testing.assert_array_equal(a, b)


# Annotations --------------------------------------------------------------------


def write_coco(path, images, annotations, categories):
    path.write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    return path


def test_coco_reports_missing_images_and_malformed_records(samples, tmp_path):
    coco = write_coco(
        tmp_path / "coco.json",
        [{"id": 1, "file_name": "orange.jpg"}, {"id": 2, "file_name": "gone.jpg"}],
        [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 30, 40]},
            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [0, 0, 5, 5]},
            {"id": 3, "image_id": 1, "category_id": 9, "bbox": [0, 0, 5, 5]},
        ],
        [{"id": 1, "name": "orange"}],
    )
    dataset = load_annotations(coco, samples)
    assert [image.path.name for image in dataset.images] == ["orange.jpg"]
    assert dataset.images[0].boxes == {"orange": [Box(10, 20, 30, 40)]}
    assert any("gone.jpg is missing" in p for p in dataset.problems)
    assert any("annotation 3 is malformed" in p for p in dataset.problems)
    with pytest.raises(AnnotationError, match="not COCO"):
        load_annotations(write_coco(tmp_path / "bad.json", 1, 2, 3), samples)


def test_voc_folder_reads_good_files_and_reports_a_broken_one(samples, tmp_path):
    (tmp_path / "a.xml").write_text(
        "<annotation><filename>butterfly.jpg</filename><object><name>monarch</name>"
        "<bndbox><xmin>10</xmin><ymin>20</ymin><xmax>110</xmax><ymax>220</ymax></bndbox>"
        "</object></annotation>"
    )
    (tmp_path / "b.xml").write_text("<annotation><filename>")
    dataset = load_annotations(tmp_path, samples)
    # 1-based and inclusive: pixels 10..110 are columns 9..109, 101 of them
    assert dataset.images[0].boxes == {"monarch": [Box(9, 19, 101, 201)]}
    assert dataset.categories == ["monarch"]
    assert len(dataset.problems) == 1 and "b.xml" in dataset.problems[0]


def test_categories_map_by_synonym_or_class_map_and_the_rest_is_reported():
    labels = imagenet_labels()
    mapping, problems = map_categories(
        ["Orange", "eastern fox squirrel", "apple", "dog"], labels, {"apple": "Granny Smith"}
    )
    assert mapping == {
        "Orange": labels.index(next(x for x in labels if x.startswith("orange"))),
        "eastern fox squirrel": 335,
        "apple": 948,
    }
    assert len(problems) == 1 and "'dog'" in problems[0]


def test_boxes_outside_the_image_are_clipped_or_skipped_with_a_line(samples, tmp_path, lite0):
    from livecam.evaluate import evaluate

    coco = write_coco(
        tmp_path / "coco.json",
        [{"id": 1, "file_name": "orange.jpg"}],
        [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [-50, -50, 5000, 5000]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [5000, 5000, 10, 10]},
        ],
        [{"id": 1, "name": "orange"}],
    )
    report = evaluate(load_annotations(coco, samples), lite0, ["gradcam"], ["pointing"])
    assert any("reaches outside the image; clipped" in p for p in report.problems)
    assert any("lies outside the image; skipped" in p for p in report.problems)
    assert report.methods["gradcam"]["pointing_per_class"] == {"orange": 1.0}


# The whole run on the composed set ----------------------------------------------


def test_gradcam_points_at_the_objects_far_better_than_the_centre(samples, lite0):
    from livecam.evaluate import evaluate

    dataset = load_annotations(samples / "eval" / "instances.json", samples / "eval")
    assert len(dataset.images) == 16 and not dataset.problems
    report = evaluate(dataset, lite0, ["gradcam"], ["pointing"], limit=8)
    gradcam, centre = report.methods["gradcam"], report.baselines["centre"]
    assert gradcam["pointing"] >= centre["pointing"] + 0.25, (gradcam, centre)
    assert gradcam["pointing"] > report.baselines["random"]["pointing"]


@pytest.mark.parametrize(
    ("method", "layers"),
    [
        ("fullgrad", None),
        ("smoothgradcam++", None),
        ("layercam", "block11_expand_activation,top_activation"),  # 14x14 and 7x7
    ],
)
def test_the_newer_methods_and_several_layers_point_at_the_objects(samples, lite0, method, layers):
    """On the real model and photos, not only the formula: each beats the centre
    baseline by a clear margin on the 21 labelled objects."""
    from livecam.evaluate import evaluate
    from livecam.models import load_model

    dataset = load_annotations(samples / "eval" / "instances.json", samples / "eval")
    model = load_model("lite0", layer=layers) if layers else lite0
    report = evaluate(dataset, model, [method], ["pointing"])
    pointing, centre = report.methods[method]["pointing"], report.baselines["centre"]["pointing"]
    assert pointing >= centre + 0.15, (method, layers, pointing, centre)


def test_randomcam_loses_to_the_centre_baseline_and_to_gradcam(samples, lite0):
    from livecam.evaluate import evaluate

    dataset = load_annotations(samples / "eval" / "instances.json", samples / "eval")
    chosen = ["pointing", "energy", "drop", "increase"]
    report = evaluate(dataset, lite0, ["randomcam", "gradcam"], chosen)
    random_weights, gradcam = report.methods["randomcam"], report.methods["gradcam"]
    assert random_weights["pointing"] < report.baselines["centre"]["pointing"], report.methods
    assert any("randomcam: pointing" in flag for flag in report.flagged)
    # Grad-CAM wins on every metric: more of its map on the object, and
    # keeping only what it shows keeps more of the class's confidence
    assert gradcam["pointing"] > random_weights["pointing"]
    assert gradcam["energy"] > random_weights["energy"]
    assert gradcam["drop"] < random_weights["drop"]
    assert gradcam["increase"] > random_weights["increase"]


def test_eval_cli_json_has_every_field(eval_run):
    report, _ = eval_run
    assert report["images"] == 2 and set(report["methods"]) == {"gradcam", "eigencam"}
    for scores in [*report["methods"].values(), *report["baselines"].values()]:
        assert set(scores) >= {
            "pointing",
            "pointing_per_class",
            "deletion_auc",
            "insertion_auc",
            "road",
            "energy",
            "drop",
            "increase",
            "ms_per_image",
        }
        assert 0 <= scores["energy"] <= 1 and 0 <= scores["drop"] <= 100
        assert 0 <= scores["pointing"] <= 1 and 0 <= scores["deletion_auc"] <= 1
    assert report["methods"]["gradcam"]["ms_per_image"] > 0
    curves = report["methods"]["gradcam"]
    assert len(curves["deletion_curve"]) == len(curves["insertion_curve"]) == 17  # 16 steps
    assert len(curves["road_morf"]) == len(curves["road_lerf"]) == 9  # percentiles
    # the AUC is the area under the mean curve (trapezoids), to the rounding
    assert curves["deletion_auc"] == pytest.approx(m.area_under(curves["deletion_curve"]), abs=1e-3)


def test_the_eval_report_shows_the_same_numbers_as_the_json(eval_run):
    """The page embeds the run's JSON and its table prints the same figures."""
    import html as html_module
    import re

    report, path = eval_run
    page = path.read_text()
    embedded = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    assert json.loads(embedded.group(1).replace("<\\/", "</")) == report
    rows = re.findall(r"<tr>(.*?)</tr>", page.split('id="scores"')[1].split("</table>")[0])
    cells = [
        [html_module.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row)] for row in rows[1:]
    ]
    by_name = {row[0]: row[1:] for row in cells}
    assert set(by_name) == {"gradcam", "eigencam", "(centre)", "(random)"}
    gradcam = report["methods"]["gradcam"]
    assert by_name["gradcam"] == [
        f"{gradcam['pointing']:.3f}",
        f"{gradcam['deletion_auc']:.4f}",
        f"{gradcam['insertion_auc']:.4f}",
        f"{gradcam['road']:.4f}",
        f"{gradcam['energy']:.3f}",
        f"{gradcam['drop']:.1f}",
        f"{gradcam['increase']:.1f}",
        f"{gradcam['sanity']:.2f}",
        f"{gradcam['ms_per_image']:.1f}",
    ]
    assert by_name["(random)"][-1] == "-"  # a baseline has no time
    for section in (
        "scores",
        "sanity-check",
        "deletion-and-insertion",
        "pointing-per-class",
        "road-per-threshold",
        "maps-by-method",
    ):
        assert f'<section id="{section}">' in page
    assert "http://" not in page and "https://" not in page  # self-contained: no CDN
    assert page.count("data:image/png;base64,") == 3 + 2  # three plots, a row of maps per target


def test_eval_cli_rejects_unknown_metrics_and_missing_annotations(samples, tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        app, ["eval", str(samples), "--annotations", str(tmp_path / "none.json")]
    )
    assert result.exit_code == 1 and "do not exist" in result.stderr
    result = runner.invoke(app, ["eval", str(tmp_path)])
    assert result.exit_code == 1
    assert f"no --annotations given and no {tmp_path / 'instances.json'}" in result.stderr
    result = runner.invoke(
        app,
        [
            "eval",
            str(samples),
            "--annotations",
            str(samples / "eval" / "instances.json"),
            "--metrics",
            "pointing,accuracy",
        ],
    )
    assert result.exit_code == 1 and "unknown metric ['accuracy']" in result.stderr


# The sanity check ---------------------------------------------------------------


def test_rank_correlation_and_ssim_by_hand():
    from livecam.evaluate import sanity

    ramp = np.arange(16, dtype=np.float32).reshape(4, 4) / 15
    assert sanity.spearman(ramp, ramp**2) == pytest.approx(1.0)  # same order
    assert sanity.spearman(ramp, 1 - ramp) == pytest.approx(-1.0)
    assert sanity.spearman(ramp, np.zeros((4, 4))) == 0.0  # no order to compare
    ties = np.array([0, 0, 1, 1], np.float32)
    # ranks 0.5 0.5 2.5 2.5 against 0.5 0.5 2 3: r = 4 / (2 * sqrt(4.5))
    assert sanity.spearman(ties, np.array([0, 0, 2, 3])) == pytest.approx(4 / (2 * np.sqrt(4.5)))
    assert sanity.ssim(ramp, ramp) == pytest.approx(1.0)
    assert sanity.ssim(ramp, 1 - ramp) < 0


def test_the_sanity_check_flags_a_map_that_ignores_the_model(samples, lite0, monkeypatch):
    """Cascading randomisation from the top (Adebayo et al.): Grad-CAM's maps
    change once the head is random; the input's edges, which ignore the
    model, do not, and are flagged. The copies are made once, not per image."""
    import keras
    import tensorflow as tf

    from livecam.cam import METHODS
    from livecam.cam.base import CamMethod, Needs
    from livecam.evaluate import evaluate

    class InputEdges(CamMethod):
        name = "input-edges"
        paper = "none: a model-free stand-in"
        needs = Needs(gradients=False)

        def weighted(self, inputs):
            grey = tf.reduce_mean(inputs.images, axis=-1, keepdims=True)
            magnitude = tf.norm(tf.image.sobel_edges(grey), axis=-1)
            return tf.image.resize(magnitude, tf.shape(inputs.activations)[1:3], "area")

    monkeypatch.setitem(METHODS, "input-edges", InputEdges)
    clones = []
    clone_model = keras.models.clone_model
    monkeypatch.setattr(keras.models, "clone_model", lambda m: clones.append(m) or clone_model(m))
    dataset = load_annotations(samples / "eval" / "instances.json", samples / "eval")
    report = evaluate(dataset, lite0, ["gradcam", "input-edges"], ["sanity"], limit=3)
    assert len(clones) == 3  # one copy per cascade step, for all the images
    assert report.sanity_layers[0] == ["predictions"]  # the head first
    assert [len(names) for names in report.sanity_layers] == [1, 2, 3]
    gradcam, edges = report.methods["gradcam"], report.methods["input-edges"]
    assert gradcam["sanity_spearman"][0] < 0.3 and gradcam["sanity_ssim"][0] < 0.5
    assert edges["sanity_spearman"] == [1.0, 1.0, 1.0]
    flagged = [flag.split(":")[0] for flag in report.flagged]
    assert "input-edges" in flagged and "gradcam" not in flagged


def test_randomised_batch_norm_variances_stay_variances():
    """A head of conv + batch norm + dense: the copies' maps stay finite."""
    import keras

    from conftest import bundle_of
    from livecam.cam import CamEngine
    from livecam.evaluate import sanity

    keras.utils.set_random_seed(2)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(x))
    spread = np.array([0.01] * 6 + [2.0, 2.0], np.float32)  # re-drawn as N(0.5, 0.86)
    model.get_layer("bn").moving_variance.assign(spread)
    bundle = bundle_of(model, layer="bn")
    copies = sanity.randomised_copies(bundle)
    assert [names for names, _ in copies] == [["head"], ["head", "bn"], ["head", "bn", "conv"]]
    variance = copies[1][1].model.get_layer("bn").moving_variance.numpy()
    assert (variance >= 0).all() and not np.allclose(variance, spread)  # re-drawn, still >= 0
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    for _, copy in copies:
        assert np.isfinite(CamEngine(copy)(images).maps).all()
