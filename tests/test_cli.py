import json
import os
import stat
import subprocess
import sys

import cv2
import pytest
from typer.testing import CliRunner

from livecam.cli import app
from test_video import count_frames

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_image_json_has_every_field_and_a_peak_on_the_subject(samples, tmp_path):
    result = invoke("image", samples / "butterfly.jpg", "--top", "3", "--json", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["predictions"][0]["label"].startswith("monarch")
    assert len(record["targets"]) == 3
    height, width = cv2.imread(str(samples / "butterfly.jpg")).shape[:2]
    for target in record["targets"]:
        x, y = target["peak"]
        assert 0 <= x < width and 0 <= y < height
        overlay = cv2.imread(target["overlay"])
        assert overlay.shape == (height, width, 3)
        assert cv2.imread(target["heatmap"]).shape == (height, width, 3)
    assert cv2.imread(record["comparison"]).shape[0] == height
    # The monarch fills the middle of the photo; its map must peak there.
    x, y = record["targets"][0]["peak"]
    assert width * 0.15 < x < width * 0.85 and height * 0.15 < y < height * 0.85


def test_image_defaults_to_writing_beside_the_input_without_touching_it(samples, tmp_path):
    photo = tmp_path / "orange.jpg"
    photo.write_bytes((samples / "orange.jpg").read_bytes())
    before = photo.read_bytes()
    result = invoke("image", photo)
    assert result.exit_code == 0, result.output
    assert "orange" in result.stdout
    assert photo.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "orange.gradcam.1-orange.heatmap.png",
        "orange.gradcam.1-orange.overlay.png",
        "orange.jpg",
    ]


def test_written_images_get_the_users_normal_mode(samples, tmp_path):
    previous = os.umask(0o027)
    try:
        result = invoke("image", samples / "orange.jpg", "-o", tmp_path)
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    written = sorted(tmp_path.iterdir())
    assert len(written) == 2
    for path in written:  # 0666 less the umask, not mkstemp's 0600
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path


def test_a_fixed_class_label_also_names_the_top_prediction(lite0, photos):
    from livecam.cam import classes
    from livecam.explain import Explainer

    explainer = Explainer(lite0, targets=classes(lite0.labels, ["monarch", "orange"]))
    explanation = explainer.explain_one(photos["orange.jpg"])
    monarch, orange = explanation.targets
    assert explanation.caption(orange) == f"orange {orange.probability:.1%}"
    top = explanation.predictions[0]
    assert explanation.caption(monarch) == (
        f"monarch {monarch.probability:.1%} | top: orange {top.probability:.0%}"
    )


def test_one_bad_input_is_reported_and_the_others_processed(samples, tmp_path):
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("hello")
    result = invoke(
        "image", tmp_path / "missing.png", not_image, samples / "orange.jpg", "-o", tmp_path
    )
    assert result.exit_code == 1
    assert "missing.png does not exist" in result.stderr
    assert "cannot decode" in result.stderr
    assert "Traceback" not in result.output
    assert (tmp_path / "orange.gradcam.1-orange.overlay.png").exists()


def test_class_option_by_name(samples, tmp_path):
    result = invoke("image", samples / "orange.jpg", "--class", "lemon", "--json", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["targets"][0]["index"] == 951


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "alexnet"], "unknown model 'alexnet'"),
        (["--layer", "nope"], "has no layer 'nope'"),
        (["--class", "unicorn"], "unknown class 'unicorn'"),
        (["--top", "0"], "--top must be at least 1"),
        (["--alpha", "2"], "alpha must be between 0 and 1"),
        (["--colormap", "plaid"], "unknown colormap 'plaid'"),
        (["--method", "magic"], "unknown method 'magic'"),
        (
            ["--model", "vgg16", "--method", "cam", "--weights", "none"],
            "needs GlobalAveragePooling2D",
        ),
    ],
)
def test_errors_are_one_line_and_exit_one(samples, tmp_path, args, message):
    result = invoke("image", samples / "orange.jpg", "-o", tmp_path, *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.output


def test_models_lists_each_model_with_its_layer():
    result = invoke("models")
    assert result.exit_code == 0, result.output
    assert "lite0" in result.stdout and "top_activation" in result.stdout
    assert "vgg16" in result.stdout and "block5_conv3" in result.stdout


def test_demo_explains_the_bundled_samples(tmp_path):
    result = invoke("demo", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    assert "fox squirrel" in result.stdout and "monarch" in result.stdout
    assert len(list(tmp_path.glob("*.top3.png"))) == 3


def test_python_dash_m_help_and_version():
    help_run = subprocess.run(
        [sys.executable, "-m", "livecam", "--help"], capture_output=True, text=True, timeout=120
    )
    assert help_run.returncode == 0
    for command in ("image", "models", "demo"):
        assert command in help_run.stdout
    version = subprocess.run(
        [sys.executable, "-m", "livecam", "--version"], capture_output=True, text=True, timeout=120
    )
    assert version.stdout.startswith("livecam ")


def test_annotate_several_inputs_into_a_folder_and_reports_a_bad_one(samples, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    out = tmp_path / "out"
    result = invoke(
        "annotate",
        samples / "vtest.avi",
        bad,
        samples / "megamind.mp4",
        "--out-dir",
        out,
        "--batch",
        "4",
    )
    assert result.exit_code == 1
    assert "broken.mp4" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["megamind.livecam.mp4", "vtest.livecam.mp4"]
    assert "annotated 30 frames" in result.stderr and "annotated 48 frames" in result.stderr


def test_annotate_single_output_and_option_checks(samples, tmp_path):
    result = invoke("annotate", samples / "vtest.avi", "-o", tmp_path / "v.avi", "--smooth", "0.5")
    assert result.exit_code == 0, result.output
    assert cv2.VideoCapture(str(tmp_path / "v.avi")).get(cv2.CAP_PROP_FRAME_COUNT) == 30
    result = invoke("annotate", samples / "vtest.avi", "--batch", "0")
    assert result.exit_code == 1 and "--batch must be at least 1" in result.stderr


def test_webcam_headless_from_an_mjpeg_stream(samples, tmp_path):
    from mjpeg_server import MjpegServer

    with MjpegServer(samples / "megamind.mp4", fps=30) as server:
        result = invoke(
            "webcam",
            "--source",
            server.url,
            "--no-display",
            "--duration",
            "3",
            "--record",
            tmp_path / "rec.mp4",
            "--log",
            tmp_path / "rec.jsonl",
        )
    assert result.exit_code == 0, result.output
    assert "showed" in result.stderr and "fps" in result.stderr
    assert cv2.VideoCapture(str(tmp_path / "rec.mp4")).get(cv2.CAP_PROP_FRAME_COUNT) > 10
    assert len((tmp_path / "rec.jsonl").read_text().splitlines()) > 5


def test_webcam_without_a_camera_is_one_line(tmp_path):
    result = invoke("webcam", "--camera", "7", "--no-display")
    assert result.exit_code == 1
    assert "no camera at index 7" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_webcam_rejects_a_negative_fps_target():
    result = invoke("webcam", "--fps-target", "-5", "--no-display")
    assert result.exit_code == 1 and "must be positive" in result.stderr


def test_two_outputs_on_one_path_are_refused_before_any_work(samples, tmp_path):
    out = tmp_path / "same.mp4"
    result = invoke("annotate", samples / "vtest.avi", "-o", out, "--heatmap-out", out)
    assert result.exit_code == 1
    assert "two outputs would be written to" in result.stderr
    # Two inputs with the same stem into one --out-dir collide too.
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "vtest.avi").write_bytes((samples / "vtest.avi").read_bytes())
    result = invoke("annotate", samples / "vtest.avi", other / "vtest.avi", "--out-dir", tmp_path)
    assert result.exit_code == 1
    assert "two outputs would be written to" in result.stderr
    assert list(tmp_path.glob("*.mp4")) == [] and list(tmp_path.glob(".*")) == []


# README behaviours, each through the CLI or as written ---------------------------


def test_an_h5_model_file_is_explained(tmp_path, samples):
    from conftest import tiny_classifier

    path = tmp_path / "tiny.h5"
    tiny_classifier(size=64).save(path)
    result = invoke("image", samples / "orange.jpg", "-m", path, "--json", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["predictions"][0]["label"].startswith("class ")
    assert (
        cv2.imread(record["targets"][0]["overlay"]).shape
        == cv2.imread(str(samples / "orange.jpg")).shape
    )


def test_codec_and_heatmap_out_through_the_cli(samples, tmp_path):
    # .mkv defaults to XVID (read back as FMP4): MJPG shows the option took effect.
    out, heat = tmp_path / "out.mkv", tmp_path / "heat.mkv"
    result = invoke(
        "annotate", samples / "vtest.avi", "-o", out, "--heatmap-out", heat, "--codec", "MJPG"
    )
    assert result.exit_code == 0, result.output
    for video in (out, heat):
        capture = cv2.VideoCapture(str(video))
        fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
        capture.release()
        assert fourcc == "MJPG", (video, fourcc)
        assert count_frames(video)[0] == 30


def test_an_image_output_that_is_a_hard_link_to_the_input_is_refused(samples, tmp_path):
    photo = tmp_path / "orange.jpg"
    photo.write_bytes((samples / "orange.jpg").read_bytes())
    before = photo.read_bytes()
    os.link(photo, tmp_path / "orange.gradcam.1-orange.overlay.png")
    result = invoke("image", photo, "--overwrite")
    assert result.exit_code == 1
    assert "refusing to overwrite input" in result.stderr
    assert photo.read_bytes() == before


def test_the_readme_library_example_runs_as_written(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    library = readme[readme.index("## Library") :]
    code = library[library.index("```python") + len("```python") : library.index("```\n", 10)]
    (tmp_path / "samples").symlink_to(root / "samples")
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "fox squirrel"
    assert (
        cv2.imread(str(tmp_path / "overlay.png")).shape
        == cv2.imread(str(root / "samples" / "squirrel_cls.jpg")).shape
    )
