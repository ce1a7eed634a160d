"""The graph in a real browser: Debian's headless chromium, driven by Selenium with chromedriver.

Setup (as root): ``apt-get install -y chromium chromium-driver`` and ``pip install selenium``.
When chromium is installed these tests run; a missing driver or Selenium is then a failure, not
a skip. Set FLAMEFOLD_REQUIRE_BROWSER=1 (CI does) to fail when chromium itself is missing.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

import flamefold
from conftest import headless_chromium

DATA = Path(__file__).parent / "data" / "flamegraph" / "inputs"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("FLAMEFOLD_REQUIRE_BROWSER") != "1":
    pytest.skip("chromium is not installed (apt-get install -y chromium chromium-driver)", allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402  (a failure here is a failure: chromium is present)

SEARCH = "rgb(230,0,230)"


@pytest.fixture(scope="module")
def browser():
    driver = headless_chromium(1250, 1400)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    path = tmp_path_factory.mktemp("browser") / "example.svg"
    flamefold.flamegraph(str(DATA / "example-perf.folded"), path)
    return path


def frame(driver, name):
    """The <g> of the first frame whose tooltip names `name`."""
    g = driver.execute_script(
        "for (const g of document.querySelectorAll('#frames > g'))"
        "  if (g.querySelector('title').textContent.startsWith(arguments[0] + ' (')) return g;"
        "return null;", name)
    assert g is not None, f"no frame {name}"
    return g


def fills(driver, prefix=""):
    """The fill of every frame whose tooltip starts with `prefix`."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#frames > g')]"
        ".filter(g => g.querySelector('title').textContent.startsWith(arguments[0]))"
        ".map(g => g.querySelector('rect').getAttribute('fill'));", prefix)


def rect_attr(g, attr):
    return g.find_element(By.TAG_NAME, "rect").get_attribute(attr)


def expected_match_percent(svg_text, pattern):
    """What "Matched" must say: the drawn frames matching, nested matches counted once."""
    rx = re.compile(pattern)
    frames = re.findall(r'<title>(.*?) \([0-9,.]+ samples, [^<]*</title><rect x="([0-9.]+)" y="[0-9.]+" width="([0-9.]+)"', svg_text)
    total = max(float(w) for _, _, w in frames)
    hits = sorted(((float(x), float(w)) for n, x, w in frames if rx.search(n)), key=lambda t: (t[0], -t[1]))
    end, s = -1.0, 0.0
    for x, w in hits:
        if x >= end - 1e-4:
            s += w
            end = x + w
    return 100 * s / total, len(hits)


def test_click_zoom_search_and_reset(browser, graph):
    d = browser
    d.get(graph.as_uri())
    width = float(d.find_element(By.TAG_NAME, "svg").get_attribute("width"))
    full = f"{width - 20:.1f}"
    java = frame(d, "java")
    wrk = frame(d, "wrk")
    before = rect_attr(java, "width")
    assert before != full

    # click: the frame spans the full width, its ancestor (all) is greyed, its sibling hidden
    java.find_element(By.TAG_NAME, "rect").click()
    assert rect_attr(java, "width") == full
    assert rect_attr(java, "x") == "10.0"
    assert "parent" in frame(d, "all").get_attribute("class")
    assert "hide" in wrk.get_attribute("class")
    assert "hide" not in d.find_element(By.ID, "unzoom").get_attribute("class")
    assert re.search(r"[?&]x=[0-9.]+&y=[0-9.]+", d.current_url)
    # hovering shows the details line
    details = d.find_element(By.ID, "details").get_attribute("textContent")
    assert details.startswith("Function: java (995 samples, 75.67%)")

    # search (the button opens a prompt): matching frames turn magenta, Matched shows their share
    d.find_element(By.ID, "search").click()
    prompt = d.switch_to.alert
    assert "search term" in prompt.text
    prompt.send_keys("^tcp_")
    prompt.accept()
    pct, nhits = expected_match_percent(graph.read_text(), "^tcp_")
    assert nhits > 5
    tcp = fills(d, "tcp_")
    assert len(tcp) == nhits and set(tcp) == {SEARCH}
    assert fills(d).count(SEARCH) == nhits
    assert rect_attr(frame(d, "java"), "fill") != SEARCH
    matched = d.find_element(By.ID, "matched").get_attribute("textContent")
    assert matched == f"Matched: {pct:.1f}%", (matched, pct)
    assert "s=%5Etcp_" in d.current_url

    # reset the zoom, then the search
    d.find_element(By.ID, "unzoom").click()
    assert rect_attr(java, "width") == before
    assert "hide" not in wrk.get_attribute("class")
    assert "parent" not in frame(d, "all").get_attribute("class")
    assert "hide" in d.find_element(By.ID, "unzoom").get_attribute("class")
    d.find_element(By.ID, "search").click()
    assert d.find_element(By.ID, "search").get_attribute("textContent") == "Search"
    assert SEARCH not in fills(d)
    assert d.find_element(By.ID, "matched").get_attribute("textContent").strip() == ""
    assert "x=" not in d.current_url and "s=" not in d.current_url


def test_url_reopens_the_view(browser, graph):
    d = browser
    d.get(graph.as_uri())
    java = frame(d, "java")
    x, y = rect_attr(java, "x"), rect_attr(java, "y")
    d.get(f"{graph.as_uri()}?x={x}&y={y}&s=%5Etcp_")
    java = frame(d, "java")
    assert rect_attr(java, "width") == "1180.0"
    pct, _ = expected_match_percent(graph.read_text(), "^tcp_")
    assert d.find_element(By.ID, "matched").get_attribute("textContent") == f"Matched: {pct:.1f}%"


def test_ignorecase_toggle_and_bad_regex(browser, graph):
    d = browser
    d.get(f"{graph.as_uri()}?s=%5ETCP_")
    assert d.find_element(By.ID, "matched").get_attribute("textContent") == "Matched: 0.0%"
    d.find_element(By.ID, "ignorecase").click()  # case-insensitive: the search reruns
    pct, _ = expected_match_percent(graph.read_text(), "(?i)^tcp_")
    assert d.find_element(By.ID, "matched").get_attribute("textContent") == f"Matched: {pct:.1f}%"
    d.get(f"{graph.as_uri()}?s=%5B")  # "[": not a regex; no exception, nothing highlighted
    assert "Invalid regex" in d.find_element(By.ID, "matched").get_attribute("textContent")
    assert not [e for e in d.get_log("browser") if e.get("level") == "SEVERE"]


def test_escaped_names_stay_text(browser, tmp_path):
    path = tmp_path / "evil.svg"
    text = 'main;<script>alert(1)</script>;x"y&z]]> 50\nmain;ok 50\n'
    flamefold.flamegraph(text, path, title="<b>T</b> & ]]>")
    d = browser
    d.get(path.as_uri())
    assert d.find_element(By.ID, "title").get_attribute("textContent") == "<b>T</b> & ]]>"
    assert frame(d, "<script>alert(1)</script>")
    assert len(d.find_elements(By.CSS_SELECTOR, "script")) == 1  # only our own


def test_ctrl_f_searches_and_icicle_zoom(browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    path = tmp_path / "icicle.svg"
    flamefold.flamegraph("main;a;x 30\nmain;a;y 10\nmain;b 60\n", path, inverted=True)
    d = browser
    d.get(path.as_uri())
    ActionChains(d).key_down(Keys.CONTROL).send_keys("f").key_up(Keys.CONTROL).perform()
    prompt = d.switch_to.alert
    prompt.send_keys("^[xy]$")
    prompt.accept()
    assert d.find_element(By.ID, "matched").get_attribute("textContent") == "Matched: 40.0%"
    assert sorted(fills(d)).count(SEARCH) == 2
    # icicle: the root is on top, so the ancestors of a zoomed frame are above it
    a = frame(d, "a")
    a.find_element(By.TAG_NAME, "rect").click()
    assert rect_attr(a, "width") == "1180.0"
    assert "parent" in frame(d, "main").get_attribute("class")
    assert "hide" in frame(d, "b").get_attribute("class")
    x = frame(d, "x")
    assert rect_attr(x, "width") == f"{1180 * 30 / 40:.1f}"
    assert float(rect_attr(x, "y")) > float(rect_attr(a, "y"))
    # clicking a greyed ancestor zooms out to it
    frame(d, "main").find_element(By.TAG_NAME, "rect").click()
    assert "hide" not in frame(d, "b").get_attribute("class")
    assert "parent" not in frame(d, "main").get_attribute("class")
