"""``flamefold diff --html``: one offline page with the BEFORE, AFTER and differential flame
graphs, linked: zooming, searching or hovering a frame in one does the same in the others."""

from __future__ import annotations

import base64
import html
import re
import warnings
from typing import Any, Optional, Tuple

from ._api import diff_sides
from ._flamefold import Diff
from .graph import flamegraph
from .options import CollapseOptions, clean

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 12px; background: #fff; color: #222; }}
h1 {{ font-size: 20px; margin: 0 0 4px 0; }}
h2 {{ font-size: 15px; margin: 14px 0 4px 0; }}
p.note {{ font-size: 13px; color: #555; margin: 0 0 8px 0; }}
iframe {{ width: 100%; max-width: {maxw}px; border: 1px solid #ddd; display: block; }}
</style></head>
<body>
<h1>{title}</h1>
<p class="note">{note}</p>
{panels}
<script>
// Pass every zoom, search and hover of one graph to the other two.
window.addEventListener("message", function (e) {{
  var m = e.data;
  if (!m || typeof m.fg !== "string" || m.fg === "ready") return;
  var frames = Array.prototype.slice.call(document.querySelectorAll("iframe.fg"));
  frames.forEach(function (f) {{ if (f.contentWindow !== e.source) f.contentWindow.postMessage(m, "*"); }});
}});
</script>
</body></html>
"""

_PANEL = """<section><h2>{heading}</h2>
<iframe class="fg" id="{id}" title="{heading}" style="height:{height}px" src="data:image/svg+xml;base64,{data}"></iframe></section>
"""


def _height(svg: str) -> float:
    m = re.search(r'<svg[^>]*\sheight="([0-9.]+)"', svg)
    return float(m.group(1)) if m else 400.0


def compare_html(
    before: Any,
    after: Any,
    *,
    normalize: bool = False,
    strip_hex: bool = False,
    names: Tuple[str, str] = ("before", "after"),
    title: Optional[str] = None,
    collapse: Optional[CollapseOptions] = None,
    **graph_options: Any,
) -> str:
    """The three-panel page as HTML text. ``before``/``after``: Profiles, or paths/bytes/files of
    folded stacks or ``perf script`` output (collapsed with ``collapse``). ``graph_options`` are
    :func:`flamegraph`'s graph options (:class:`flamefold.options.GraphOptions`)."""
    # names and title may hold undecodable bytes of a file name (surrogate escapes)
    names = (clean(str(names[0])), clean(str(names[1])))
    title = clean(title) if title is not None else None
    # One table of both sides' stacks (read and checked as load_profile reads them) serves the
    # three graphs: each side drawn as its Profile would be, the diff made from it after them.
    sides: Diff = diff_sides(before, after, collapse or CollapseOptions(), lambda side, line, msg: None, _whole=True)
    totals = sides.totals
    # flamegraph() takes a side as it takes a Profile (an internal source, not in its Source type)
    side: Tuple[Any, Any] = (sides._side(0), sides._side(1))
    graph_options.pop("title", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        svgs = [
            ("before", f"Before: {names[0]} ({totals[0]:,} samples)", flamegraph(side[0], title=f"Before: {names[0]}", **graph_options)),
            ("after", f"After: {names[1]} ({totals[1]:,} samples)", flamegraph(side[1], title=f"After: {names[1]}", **graph_options)),
        ]
        del side
        d = sides._rediff(normalize=normalize, strip_hex=strip_hex)
        del sides
        svgs.append(("diff", "Difference: widths from after; red grew, blue shrank", flamegraph(d, title="Differential: after vs before", **graph_options)))
        del d
    panels = "".join(
        _PANEL.format(
            id=pid,
            heading=html.escape(heading),
            height=int(_height(text)) + 4,
            data=base64.b64encode(text.encode("utf-8")).decode("ascii"),
        )
        for pid, heading, text in svgs
    )
    width = int(graph_options.get("width", 1200)) + 4
    return _PAGE.format(
        title=html.escape(title or f"flamefold: {names[0]} vs {names[1]}"),
        note=html.escape(
            "Click a frame to zoom, Ctrl-F (or Search) to highlight a regular expression, hover for "
            "details: the other two graphs follow. Frames are matched by their call path."
        ),
        panels=panels,
        maxw=width,
    )
