"""The step-through page in a real browser: Debian's headless Chromium driven by Selenium
through the system's chromedriver (`make test` installs both). Without them these tests
fail, naming what is missing; they never skip."""

import os
import re
import shutil
import time

import numpy as np
import pytest

import graphc as gc
import visual
from graphc.demo import lecture_network
from visual.gates import gate_numbers, matrix
from visual.page import frames

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,900",
)


@pytest.fixture(scope="module")
def lecture():
    loss, _ = lecture_network(n_in=4, n_classes=3, l2=1e-3)
    rng = np.random.default_rng(0)
    values = gc.init_params(loss) | {"x": rng.normal(size=(2, 4)), "y": np.array([0, 2])}
    return loss, values


@pytest.fixture(scope="module")
def page(lecture, tmp_path_factory):
    loss, values = lecture
    path = tmp_path_factory.mktemp("page") / "backprop.html"
    visual.step_through(loss, values, path)
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(
            f"the browser tests need {', '.join(missing)}: run `make test` (it installs "
            "Debian's chromium and chromium-driver) or `apt-get install chromium chromium-driver`"
        )
    try:
        from selenium import webdriver
    except ImportError:
        pytest.fail("the browser tests need Selenium: run `make test` (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    yield driver
    driver.quit()


def visible(driver):
    """The frame on screen: its counter text, panel text and SVG."""
    frame = driver.find_element("css selector", ".frame:not([hidden])")
    svg = frame.find_element("css selector", "svg").get_attribute("outerHTML")
    panel = frame.find_element("css selector", ".panel").text
    return driver.find_element("id", "counter").text, panel, svg


def highlighted(svg: str) -> set[str]:
    """The DOT names of the nodes drawn with the highlight colour."""
    groups = re.findall(r'<g id="node\d+" class="node"><title>(\w+)</title>(.*?)</g>', svg)
    return {name for name, body in groups if "#db2777" in body}


def test_the_page_is_one_file_that_works_offline(page):
    text = page.read_text(encoding="utf-8")
    assert "http://" not in text.replace("http://www.w3.org", "")
    assert "https://" not in text and "<link" not in text and " src=" not in text
    assert text.count("<svg") == len(frames(gate_numbers(*_lecture_args(page))))
    assert page.stat().st_size < 600_000


def _lecture_args(page):
    loss, _ = lecture_network(n_in=4, n_classes=3, l2=1e-3)
    rng = np.random.default_rng(0)
    return loss, gc.init_params(loss) | {"x": rng.normal(size=(2, 4)), "y": np.array([0, 2])}


def test_arrow_keys_step_and_the_url_opens_a_frame_with_its_nodes_numbers(
    browser, page, lecture, tmp_path
):
    loss, values = lecture
    numbers = gate_numbers(loss, values)
    steps = frames(numbers)
    browser.get(page.as_uri())
    counter, panel, first = visible(browser)
    assert counter == f"frame 1 / {len(steps)}" and "inputs and params" in panel
    browser.find_element("tag name", "body").send_keys("\ue014")  # →
    counter, panel, second = visible(browser)
    assert counter == f"frame 2 / {len(steps)}" and second != first
    assert browser.current_url.endswith("#frame=2")
    browser.find_element("tag name", "body").send_keys("\ue012")  # ←
    assert visible(browser)[0] == f"frame 1 / {len(steps)}"
    gates = {g.node.id: g for g in numbers.gates}
    for n in (3, len(numbers.gates) + 3, len(steps) - 1):  # a forward and two backward frames
        browser.get(f"{page.as_uri()}#frame={n}")
        browser.refresh()
        counter, panel, svg = visible(browser)
        node = steps[n - 1][2]
        gate = gates[node]
        assert counter == f"frame {n} / {len(steps)}"
        assert gate.title in panel
        assert highlighted(svg) == {f"n{node}"}
        panel = " ".join(panel.split())
        if n <= len(numbers.gates) + 1:
            assert " ".join(matrix(numbers.values[node]).split()) in panel
        else:
            up = " ".join(matrix(numbers.upstream[node], numbers.floor).split())
            assert f"upstream ∂L/∂out = {up}" in panel
    browser.get(f"{page.as_uri()}#frame={len(steps)}")
    browser.refresh()
    panel = visible(browser)[1]
    for w in gc.params(loss):
        assert f"∂L/∂{w.name}" in panel
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    shot = tmp_path / "last-frame.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_buttons_step_too_and_stop_at_the_ends(browser, page):
    browser.get(f"{page.as_uri()}#frame=1")
    browser.refresh()
    browser.find_element("id", "prev").click()
    assert visible(browser)[0].startswith("frame 1 /")
    browser.find_element("id", "next").click()
    time.sleep(0.05)
    assert visible(browser)[0].startswith("frame 2 /")


SMALLEST_TEXT = """
var frame = document.querySelector('.frame:not([hidden])'), svg = frame.querySelector('svg');
var scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width, smallest = 1e9;
svg.querySelectorAll('text').forEach(function (t) {
  smallest = Math.min(smallest, parseFloat(t.getAttribute('font-size')) * scale); });
var panel = frame.querySelector('.panel'), least = 1e9;
panel.querySelectorAll('*').forEach(function (e) {
  if (e.childNodes.length && e.textContent.trim())
    least = Math.min(least, parseFloat(getComputedStyle(e).fontSize)); });
return [smallest, least];
"""

IN_VIEW = """
var frame = document.querySelector('.frame:not([hidden])'), view = frame.querySelector('.picture');
var box = view.getBoundingClientRect(), out = {};
frame.querySelectorAll('g.node').forEach(function (g) {
  var r = g.getBoundingClientRect(), name = g.querySelector('title').textContent;
  out[name] = [r.left < box.right && r.right > box.left && r.top < box.bottom && r.bottom > box.top,
               g.classList.contains('dim')]; });
return out;
"""


def viewport(driver, width, height, scale=1):
    """Make the page's viewport this many CSS pixels, each `scale` device pixels (a browser
    zoom of scale x 100 % on a screen of width x scale pixels)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": False},
    )


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720), (1024, 768)], ids=str)
def test_presentation_mode_is_readable_from_the_back_of_the_room(browser, page, lecture, size):
    loss, values = lecture
    numbers = gate_numbers(loss, values)
    steps = frames(numbers)
    prelu = next(g.node.id for g in numbers.gates if g.node.op == "prelu")
    n = max(k for k, step in enumerate(steps, 1) if step[2] == prelu)  # its backward frame
    node = f"n{prelu}"
    try:
        viewport(browser, *size)
        browser.get(f"{page.as_uri()}#frame={n}&present")
        browser.refresh()
        graph, panel = browser.execute_script(SMALLEST_TEXT)
        assert graph >= 18 and panel >= 18, (graph, panel)
        seen = browser.execute_script(IN_VIEW)
        assert seen[node] == [True, False]  # the current node, in view and not dimmed
        assert any(dim for _, dim in seen.values())  # the rest of the graph steps back
        neighbours = {
            end
            for g in re.findall(r"<title>(\w+)(?:&#45;|-)&gt;(\w+)</title>", visible(browser)[2])
            for end in g
            if node in g
        }
        assert neighbours and all(not seen[m][1] for m in neighbours)
        body = browser.find_element("tag name", "body")
        body.send_keys("+")
        assert browser.execute_script(SMALLEST_TEXT)[0] > 1.2 * graph  # zoom enlarges
        body.send_keys("0")
        for key, frame in (("\ue00f", n + 1), ("\ue00e", n), ("\ue011", 1), ("\ue010", len(steps))):
            body.send_keys(key)  # PageDown, PageUp, Home, End: what clickers send
            assert visible(browser)[0] == f"frame {frame} / {len(steps)}"
        assert browser.current_url.endswith("&present")  # the mode survives in the URL
        shot = f"/tmp/graphc-present-{size[0]}x{size[1]}.png"
        browser.get(f"{page.as_uri()}#frame={n}&present")
        browser.refresh()
        assert browser.save_screenshot(shot)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_the_browsers_zoom_enlarges_the_presented_graph(browser, page):
    try:
        sizes = []
        for scale in (1, 2):  # 1920x1080 at 100 %, then at 200 %
            viewport(browser, 1920 // scale, 1080 // scale, scale)
            browser.get(f"{page.as_uri()}#frame=12&present")
            browser.refresh()
            sizes.append(browser.execute_script(SMALLEST_TEXT)[0] * scale)  # device pixels
        assert sizes[1] >= 1.9 * sizes[0], sizes
        viewport(browser, 1280, 720)
        browser.get(f"{page.as_uri()}#frame=12")  # at a desk: fitted to the window
        browser.refresh()
        fitted = browser.execute_script(SMALLEST_TEXT)[0]
        browser.find_element("id", "larger").click()
        assert browser.execute_script(SMALLEST_TEXT)[0] > 1.2 * fitted
        browser.find_element("id", "present").click()
        assert browser.current_url.endswith("#frame=12&present")
        assert browser.execute_script(SMALLEST_TEXT)[0] >= 18
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


IN_FULL = """
var frame = document.querySelector('.frame:not([hidden])'), view = frame.querySelector('.picture');
var box = view.getBoundingClientRect(), nodes = Array.from(frame.querySelectorAll('g.node'));
var g = nodes.find(function (n) {
    return n.querySelector("title").textContent === frame.dataset.node; })
  || nodes.find(function (n) { return n.querySelector('[stroke="#db2777"]'); });  // a box
var r = g.getBoundingClientRect();
return [r.left >= box.left - 1 && r.right <= box.right + 1, r.width, box.width];
"""


def test_a_cnns_convolution_and_pooling_frames_fit_a_small_projector(browser, tmp_path):
    x, y = gc.input("x", (None, 1, 6, 6)), gc.input("y", (None,), "int64")
    h = gc.flatten(gc.max_pool2d(gc.conv(x, 2, 3, activation="relu"), 2))
    h = gc.layer_norm(
        h, gc.param("features.gamma", (18,), init=1.0), gc.param("features.beta", (18,))
    )
    loss = gc.softmax_cross_entropy(gc.dense(h, 3, name="logits"), y)
    rng = np.random.default_rng(0)
    values = gc.init_params(loss) | {"x": rng.normal(size=(2, 1, 6, 6)), "y": np.array([0, 2])}
    path = tmp_path / "cnn.html"
    visual.step_through(loss, values, path)
    numbers = gate_numbers(loss, values)
    steps = frames(numbers)
    try:
        viewport(browser, 1024, 768)
        for op in ("conv2d", "layer_norm", "max_pool2d"):  # a box's board: wrapped to fit
            node = next(g.node.id for g in numbers.gates if op in (g.node.op, g.composite))
            n = max(k for k, step in enumerate(steps, 1) if step[2] == node)  # backward
            browser.get(f"{path.as_uri()}#frame={n}&present")
            browser.refresh()
            assert browser.execute_script(SMALLEST_TEXT)[0] >= 18
            inside, width, room = browser.execute_script(IN_FULL)
            assert inside, (op, width, room)  # the gate's rule is not cut off
            panel = " ".join(visible(browser)[1].split())
            assert "by this rule" in panel or "by the rule above" in panel
        assert "wins and gets the upstream" in panel  # max pooling's first window, by hand
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
