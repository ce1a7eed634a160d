"""The advanced graphs in a real browser (headless chromium, as test_graph_browser.py): each
opens, its frames are there, its title and units are right, its colours mean what they say."""

import os
import re
import shutil
from pathlib import Path

import pytest

import flamefold
from conftest import headless_chromium

T = Path(__file__).parent / "data" / "transform"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("FLAMEFOLD_REQUIRE_BROWSER") != "1":
    pytest.skip("chromium is not installed (apt-get install -y chromium chromium-driver)", allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402

from test_transforms import CPI, quiet  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    driver = headless_chromium(1250, 1400)
    yield driver
    driver.quit()


def frames(driver):
    """(tooltip, fill) of every drawn frame."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#frames > g')]"
        ".map(g => [g.querySelector('title').textContent, g.querySelector('rect').getAttribute('fill')]);")


def rgb(fill):
    return tuple(int(x) for x in re.fullmatch(r"rgb\((\d+),(\d+),(\d+)\)", fill).groups())


def open_graph(driver, tmp_path, name, t, **options):
    path = tmp_path / f"{name}.svg"
    flamefold.transforms.flamegraph(t, path, **options)
    driver.get(path.as_uri())
    assert driver.find_element(By.ID, "title").text
    return driver.find_element(By.ID, "title").text, frames(driver)


def test_offcpu_graph(browser, tmp_path):
    t = quiet(flamefold.transform, "offcpu", T / "offcpu-ns.txt")
    title, fr = open_graph(browser, tmp_path, "offcpu", t)
    assert title == "Off-CPU Time Flame Graph"
    assert fr[0][0] == f"all ({t.summary['total_us']:,} us, 100%)"
    names = [f[0] for f in fr]
    assert any(n.startswith("clock_nanosleep@GLIBC_2.2.5 (") and " us, " in n for n in names)
    assert any(n.startswith("fsync (") for n in names)
    for _, fill in fr[1:]:  # the io palette: blue-grey
        r, g, b = rgb(fill)
        assert r == g and b > r


def test_hotcold_graph(browser, tmp_path):
    t = quiet(flamefold.transform, "hotcold", T / "hotcold.txt.gz")
    title, fr = open_graph(browser, tmp_path, "hotcold", t)
    assert title == "Hot/Cold Flame Graph"
    assert fr[0][0].startswith(f"all ({t.summary['total_us']:,} us, 100%)")
    off = {n for n, _ in t.profile().items() if n.endswith("_[o]")}
    assert off
    cold = [f for f in fr if rgb(f[1])[2] > 200 and rgb(f[1])[0] < 150]  # the blue palette
    hot = [f for f in fr[1:] if rgb(f[1])[0] >= 205 and rgb(f[1])[2] <= 55]  # the hot palette
    assert cold and hot
    assert any(n.startswith("clock_nanosleep@GLIBC_2.2.5 (") for n, _ in cold)  # shown without _[o]
    assert not any("_[o]" in n for n, _ in fr)
    assert any(n.startswith("burn (") for n, _ in hot)


def test_wakeup_and_chain_graphs(browser, tmp_path):
    t = quiet(flamefold.transform, "wakeup", T / "wakeup.txt")
    title, fr = open_graph(browser, tmp_path, "wakeup", t)
    assert title == "Off-Wake Time Flame Graph"
    seps = [f for f in fr if f[0].startswith("-- (")]
    assert seps and all(f[1] == "rgb(160,160,160)" for f in seps)
    assert any(n.startswith("anon_pipe_write (") and " us, " in n for n, _ in fr)  # the waker, without _[w]
    t = quiet(flamefold.transform, "wakeup", T / "wakeup.txt", depth=3)
    title, fr = open_graph(browser, tmp_path, "chain", t)
    assert title == "Chain Graph"
    assert not any("_[w]" in n for n, _ in fr)
    blocked = next(f for f in fr if f[0].startswith("reader_thread ("))
    waker = next(f for f in fr if f[0].startswith("anon_pipe_write ("))
    assert rgb(blocked[1])[2] > 200 and rgb(blocked[1])[0] < 150  # blocked: blue
    r, g, b = rgb(waker[1])
    assert g == b and g > r  # wakers: aqua


def test_cpi_graph(browser, tmp_path):
    t = quiet(flamefold.transform, "cpi", CPI.encode(), columns="instructions-cycles")
    title, fr = open_graph(browser, tmp_path, "cpi", t)
    assert title == "CPI Flame Graph"
    fills = {n.split(" (")[0]: f for n, f in fr}
    assert rgb(fills["spin"])[0] == 255 and rgb(fills["spin"])[2] < 255
    assert rgb(fills["stall"])[2] == 255 and rgb(fills["stall"])[0] < 255
    assert any(n.startswith("spin (3,000 cycles, ") for n, _ in fr)
    assert "more instructions than cycles" in browser.find_element(By.ID, "subtitle").text
