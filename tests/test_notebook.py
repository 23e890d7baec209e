"""The quickstart notebook runs offline from top to bottom (nbclient, a real
kernel), and explanations display themselves."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "notebooks" / "quickstart.ipynb"


def outputs_of(cell) -> str:
    """Every text and HTML output of a cell, joined."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        data = output.get("data", {})
        parts += [data.get("text/plain", ""), data.get("text/html", "")]
    return "\n".join(parts)


def embedded_images(text: str) -> list[np.ndarray]:
    found = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    return [
        cv2.imdecode(np.frombuffer(base64.b64decode(b), np.uint8), cv2.IMREAD_COLOR) for b in found
    ]


@pytest.mark.slow
def test_the_quickstart_notebook_runs_offline():
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()  # raises CellExecutionError on the first failing cell
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    shown = outputs_of(code[0])
    assert "fox squirrel" in shown
    strip = embedded_images(shown)
    assert len(strip) == 1 and strip[0].shape[1] > 4 * 100  # 3 overlays and the heatmap
    compared = outputs_of(code[1])
    for method in ("gradcam", "gradcam++", "layercam", "scorecam"):
        assert f"{method} -> " in compared
    assert len(embedded_images(compared)) == 4
    epochs = re.findall(
        r"epoch (\d): pointing ([\d.]+), energy_in_box ([\d.]+)", outputs_of(code[2])
    )
    assert [int(e[0]) for e in epochs] == [0, 1, 2, 3]
    assert float(epochs[-1][2]) > float(epochs[0][2])  # the model turned to the disc


def test_an_explanation_without_its_image_displays_as_text(lite0, samples):
    from livecam import Explainer

    explainer = Explainer(lite0)
    with_image = explainer.explain_one(cv2.imread(str(samples / "orange.jpg")))
    assert with_image._repr_png_().startswith(b"\x89PNG")
    assert "orange" in with_image._repr_html_()
    batch = np.zeros((1, *lite0.input_size, 3), np.uint8)
    bare = explainer.explain_batch(batch)[0]  # no frame kept: plain repr
    assert bare._repr_png_() is None and bare._repr_html_() is None


def test_a_video_run_displays_its_figures_and_its_video(tmp_path):
    from livecam.video.pipeline import RunSummary

    summary = RunSummary(
        source="clip <1>.mp4",
        frames_out=60,
        frames_written=60,
        elapsed_s=2.0,
        maps=15,
        outputs=[tmp_path / "out.mp4", tmp_path / "frames.jsonl"],
        warnings=["2 frames were unreadable"],
    )
    page = summary._repr_html_()
    assert "clip &lt;1&gt;.mp4" in page  # escaped
    assert "<td>60</td>" in page and "<td>15</td>" in page and "<td>30.0</td>" in page
    assert page.count("<video") == 1 and "out.mp4" in page  # the log is no video
    assert "<li>2 frames were unreadable</li>" in page
