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
