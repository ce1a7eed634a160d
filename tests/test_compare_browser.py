"""`flamefold diff --html`: the three linked graphs in headless chromium (see test_graph_browser
for the setup). Zooming, searching and hovering in one panel must do the same in the others."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import headless_chromium

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("FLAMEFOLD_REQUIRE_BROWSER") != "1":
    pytest.skip("chromium is not installed (apt-get install -y chromium chromium-driver)", allow_module_level=True)


BEFORE = "app;main;work;parse 10\napp;main;work;emit 5\napp;main;idle 3\n"
AFTER = "app;main;work;parse 4\napp;main;work;emit 9\napp;main;idle 3\napp;main;gc 2\n"
FULL = 1200 - 2 * 10  # image width minus the side paddings


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    d = tmp_path_factory.mktemp("compare")
    (d / "before.folded").write_text(BEFORE)
    (d / "after.folded").write_text(AFTER)
    out = d / "compare.html"
    exe = os.path.join(os.path.dirname(sys.executable), "flamefold")
    subprocess.run([exe, "diff", "--html", str(d / "before.folded"), str(d / "after.folded"), "-o", str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def driver(page):
    drv = headless_chromium(1300, 1600)
    drv.get(page.as_uri())
    yield drv
    drv.quit()


def in_panel(drv, panel, script, *args):
    drv.switch_to.default_content()
    drv.switch_to.frame(drv.find_element("id", panel))
    return drv.execute_script(script, *args)


FRAME = (
    "for (const g of document.querySelectorAll('#frames > g'))"
    "  if (g.querySelector('title').textContent.startsWith(arguments[0] + ' (')) return g;"
    "return null;"
)


def width(drv, panel, name):
    return in_panel(drv, panel, "const g = (function(){" + FRAME + "}).apply(null, arguments); return g && !g.classList.contains('hide') ? parseFloat(g.querySelector('rect').getAttribute('width')) : null;", name)


def eventually(check, timeout=5.0):
    end = time.time() + timeout
    while True:
        v = check()
        if v or time.time() > end:
            return v
        time.sleep(0.05)


def test_three_panels_load(driver):
    for panel in ("before", "after", "diff"):
        assert eventually(lambda: in_panel(driver, panel, "return typeof fg !== 'undefined' && fg.frames.length > 0"))
    # the diff panel is differential: "parse" shrank (blue), "emit" grew (red)
    fill = in_panel(driver, "diff", "const g = (function(){" + FRAME + "}).apply(null, arguments); return g.querySelector('rect').getAttribute('fill');", "parse")
    r, g, b = (int(v) for v in fill[4:-1].split(","))
    assert b > r
    fill = in_panel(driver, "diff", "const g = (function(){" + FRAME + "}).apply(null, arguments); return g.querySelector('rect').getAttribute('fill');", "emit")
    r, g, b = (int(v) for v in fill[4:-1].split(","))
    assert r > b


def test_zoom_in_one_panel_zooms_the_others(driver):
    assert width(driver, "after", "work") < FULL - 1
    in_panel(driver, "before", "const g = (function(){" + FRAME + "}).apply(null, arguments); g.querySelector('rect').dispatchEvent(new MouseEvent('click', {bubbles: true}));", "work")
    assert abs(width(driver, "before", "work") - FULL) < 0.2
    assert eventually(lambda: abs((width(driver, "after", "work") or 0) - FULL) < 0.2)
    assert eventually(lambda: abs((width(driver, "diff", "work") or 0) - FULL) < 0.2)
    # frames outside the zoomed one are hidden in the others too
    assert eventually(lambda: width(driver, "after", "idle") is None)
    # reset in another panel resets all
    in_panel(driver, "diff", "unzoom();")
    assert eventually(lambda: (width(driver, "before", "work") or FULL) < FULL - 1)
    assert eventually(lambda: (width(driver, "after", "work") or FULL) < FULL - 1)


def test_search_and_hover_follow(driver):
    in_panel(driver, "after", "search('^emit$');")
    text = lambda p: in_panel(driver, p, "return document.getElementById('matched').textContent;")
    assert eventually(lambda: text("before").startswith("Matched"))
    # before: emit is 5 of 18 samples; after and the diff (after's widths): 9 of 18
    assert text("before") == "Matched: 27.8%"
    assert eventually(lambda: text("diff") == "Matched: 50.0%")
    assert text("after") == "Matched: 50.0%"
    in_panel(driver, "diff", "const g = (function(){" + FRAME + "}).apply(null, arguments); g.querySelector('rect').dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));", "idle")
    assert eventually(lambda: in_panel(driver, "before", "const g = (function(){" + FRAME + "}).apply(null, arguments); return g.classList.contains('linked');", "idle"))
    assert in_panel(driver, "before", "return document.getElementById('details').textContent;").startswith("Function: idle")
    in_panel(driver, "before", "resetSearch();")
    assert eventually(lambda: text("after").strip() == "")
