"""Saving by suffix, valid images, and what happens without the Graphviz `dot` program."""

import os
import pathlib
import struct
import subprocess
import sys

import pytest

import graphc as gc
import visual
from graphc.demo import lecture_network


def png_size(path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


@pytest.fixture
def picture():
    loss, _ = lecture_network(n_in=6, n_classes=4)
    return visual.render(loss, title="the lecture's network")


def test_png_is_a_valid_image_of_plausible_size(picture, tmp_path):
    path = visual.save(picture, tmp_path / "out" / "lecture.png")
    width, height = png_size(path)
    # 21 nodes in about 13 ranks at 96 dpi: a few hundred to a couple of thousand pixels
    assert 400 < width < 3000 and 600 < height < 4000
    assert os.path.getsize(path) > 10_000


def test_svg_pdf_and_dot_are_chosen_by_suffix(picture, tmp_path):
    def written(name):
        return pathlib.Path(visual.save(picture, tmp_path / name)).read_bytes()

    assert written("g.svg").lstrip().startswith(b"<?xml")
    assert written("g.pdf")[:5] == b"%PDF-"
    for suffix in ("dot", "gv"):
        assert written(f"g.{suffix}").decode() == picture.source
    with pytest.raises(gc.GraphError, match="use one of the suffixes .svg, .png"):
        visual.save(picture, tmp_path / "g.jpeg")
    with pytest.raises(gc.GraphError, match="takes a rendering"):
        visual.save("not a picture", tmp_path / "g.svg")


def test_jupyter_gets_svg(picture):
    bundle = picture._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    """A PATH on which there is no `dot` program."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))


def test_without_dot_saving_fails_with_how_to_install_graphviz(picture, tmp_path, no_dot):
    with pytest.raises(visual.GraphvizNotFoundError, match="apt-get install graphviz") as error:
        visual.save(picture, tmp_path / "g.svg")
    assert isinstance(error.value, gc.GraphError)
    assert "graph.source" in str(error.value)
    # the DOT source is still there, and still saves
    assert visual.save(picture, tmp_path / "g.dot")
    assert "digraph" in (tmp_path / "g.dot").read_text()


def test_without_dot_rendering_works_and_jupyter_shows_the_source(no_dot):
    loss, _ = lecture_network(n_in=3, n_classes=2)
    picture = visual.render(loss)
    bundle = picture._repr_mimebundle_()
    assert "apt-get install graphviz" in bundle["text/plain"]
    assert picture.source in bundle["text/plain"]


def test_importing_visual_needs_no_dot(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))
    code = (
        "import visual, graphc as gc; x = gc.param('x', (2,)); print(len(visual.render(x).source))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 100


def test_a_layout_failure_of_dot_is_a_graph_error_with_its_message(tmp_path):
    broken = visual.Picture()
    broken.body.append("\ta [label=<<B>unclosed>]\n")
    with pytest.raises(gc.GraphError, match="Graphviz failed to lay out the graph as svg"):
        visual.save(broken, tmp_path / "broken.svg")


def test_a_node_shows_as_its_graph_in_jupyter_and_as_one_line_without_dot(monkeypatch, tmp_path):
    x = gc.param("x", (3,))
    y = gc.sum(gc.exp(x))
    bundle = y._repr_mimebundle_()
    assert bundle["text/plain"] == repr(y) and "\n" not in repr(y)
    assert (
        bundle["image/svg+xml"].lstrip().startswith("<?xml") and ">exp<" in bundle["image/svg+xml"]
    )
    grads = gc.grad(y, [x])
    assert isinstance(grads, list) and grads == [grads[0]]
    assert ">exp<" in grads._repr_mimebundle_()["image/svg+xml"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert y._repr_mimebundle_() == {"text/plain": repr(y)}
    assert grads._repr_mimebundle_() == {"text/plain": repr(grads)}


def test_side_by_side_is_also_one_svg_for_viewers_without_html():
    import xml.etree.ElementTree as ET

    x = gc.input("x", (2,))
    bundle = visual.side_by_side(visual.render(gc.sum(x * x)), visual.render(gc.exp(x)))
    bundle = bundle._repr_mimebundle_()
    assert bundle["text/html"].count("<svg") == 2
    root = ET.fromstring(bundle["image/svg+xml"])  # well-formed: the two pictures in a row
    inner = root.findall("{http://www.w3.org/2000/svg}svg")
    assert [float(s.get("x")) for s in inner][0] == 0 and float(inner[1].get("x")) > 100
    assert float(root.get("width")[:-2]) > sum(float(s.get("width")[:-2]) for s in inner)
