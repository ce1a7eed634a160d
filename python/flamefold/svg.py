"""Writing a flame graph as an interactive SVG, laid out as flamegraph.pl lays it out.

The core hands over only the frames that will be drawn (see ``GraphFrames``) and writes their
boxes, labels, tooltips and colours itself (``GraphFrames.svg_frames``, src/tree/svg.rs, with
the palettes of palettes.py ported to src/tree/colors.rs); this module writes the document
around them and hands the core what it computes per graph (the y of each depth, palette.map's
or random colours, ``--nameattr``'s attributes). Everything that comes from the input or the
options is escaped: a name or a title holding ``<script>``, quotes, ``&`` or ``]]>`` stays text.
"""

from __future__ import annotations

import os
import re

from . import palettes
from .options import XPAD, GraphOptions
from .palettes import PaletteMap

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time: only the type checker needs it
    from typing import Dict, List, Mapping, Optional, Tuple

    from ._flamefold import GraphFrames
FRAMEPAD = 1

# characters XML 1.0 does not allow, even escaped
_NOT_XML = {c: "\ufffd" for c in list(range(0, 9)) + [11, 12] + list(range(14, 32)) + [0xFFFE, 0xFFFF]}


def xml_text(s: str) -> str:
    """Escapes text content (also safe inside an attribute delimited by double quotes)."""
    return s.translate(_NOT_XML).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def num(v: float) -> str:
    """A number the way Perl prints one (``85``, ``85.5``)."""
    return "%.15g" % v


def count(v: float) -> str:
    """Samples with thousands separators; fractions kept (to three places) when there are any."""
    if v == int(v):
        return f"{v:,.0f}"
    return f"{v:,.3f}".rstrip("0").rstrip(".")


_ASSETS: "Dict[str, str]" = {}


def asset(name: str) -> str:
    """A file of ``flamefold/assets`` (the viewer's JavaScript and CSS)."""
    text = _ASSETS.get(name)
    if text is None:
        with open(os.path.join(os.path.dirname(__file__), "assets", name), encoding="utf-8") as f:
            text = _ASSETS[name] = f.read()
    return text


_GENERIC = {"serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui", "ui-monospace", "ui-sans-serif", "ui-serif"}
_CSS_IDENT = re.compile(r"-?[A-Za-z_][A-Za-z0-9_ -]*")


def css_font(font: str) -> str:
    """A font-family value: plain names as they are, anything else as an escaped CSS string."""
    out = []
    for fam in font.split(","):
        fam = fam.strip()
        if not fam:
            continue
        if _CSS_IDENT.fullmatch(fam):
            out.append(fam)
        else:
            out.append('"' + "".join(c if c.isalnum() or c in " ._-" else "\\%x " % ord(c) for c in fam) + '"')
    if not any(f in _GENERIC for f in out):
        out.append("sans-serif")  # what shows when the named font is not installed
    return ", ".join(out)


def _js_string(s: str) -> str:
    """``s`` as ``json.dumps(s, ensure_ascii=True)`` writes it (without importing json, which
    costs start-up time)."""
    out = ['"']
    for c in s:
        o = ord(c)
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif 0x20 <= o < 0x7F:
            out.append(c)
        elif c in _JSON_SHORT:
            out.append(_JSON_SHORT[c])
        elif o > 0xFFFF:
            o -= 0x10000
            out.append("\\u%04x\\u%04x" % (0xD800 | (o >> 10), 0xDC00 | (o & 0x3FF)))
        else:
            out.append("\\u%04x" % o)
    out.append('"')
    return "".join(out)


_JSON_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _js_value(v: object) -> str:
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, str):
        return _js_string(v)
    if isinstance(v, (int, float)) and v == v and v not in (float("inf"), float("-inf")):
        return int.__repr__(v) if isinstance(v, int) else float.__repr__(v)
    import json  # anything else (never in a graph's options): json's own way

    return json.dumps(v, ensure_ascii=True, sort_keys=True)


def _js_config(config: "Mapping[str, object]") -> str:
    """The viewer's settings as JSON (sorted keys, ASCII), inert inside CDATA and XML."""
    text = "{" + ", ".join(f"{_js_string(k)}: {_js_value(config[k])}" for k in sorted(config)) + "}"
    # keep it inert inside CDATA and XML: no `<`, `>` or `&`
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _comment(text: str) -> str:
    text = xml_text(text)
    while "--" in text:
        text = text.replace("--", "- -")
    return text + " " if text.endswith("-") else text


def _head(o: GraphOptions, width: float, height: float, bg: str) -> List[str]:
    enc = f' encoding="{xml_text(o.encoding)}"' if o.encoding else ""
    w, h = num(width), num(height)
    out = [
        f'<?xml version="1.0"{enc} standalone="no"?>\n'
        '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
        f'<svg version="1.1" width="{w}" height="{h}" onload="init(evt)" viewBox="0 0 {w} {h}" '
        'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">\n'
        "<!-- Flame graph drawn by flamefold; its format is flamegraph.pl's: "
        "https://github.com/brendangregg/FlameGraph -->\n"
        f"<!-- NOTES: {_comment(o.notes or '')} -->\n"
    ]
    if bg in palettes.BACKGROUNDS:
        c1, c2 = palettes.BACKGROUNDS[bg]
        out.append(
            '<defs><linearGradient id="background" y1="0" y2="1" x1="0" x2="0">'
            f'<stop stop-color="{c1}" offset="5%"/><stop stop-color="{c2}" offset="95%"/>'
            "</linearGradient></defs>\n"
        )
    return out


def error_svg(o: GraphOptions, message: str) -> str:
    """What flamegraph.pl writes for an input with no samples: a small SVG saying so."""
    out = _head(o, o.width, o.fontsize * 5, "")
    out.append(f'<text x="{o.width / 2:.2f}" y="{num(o.fontsize * 2)}" text-anchor="middle" '
               f'style="font-family:{css_font(o.fonttype)};font-size:{num(o.fontsize)}px">{xml_text(message)}</text>\n</svg>\n')
    return "".join(out)


def render(
    fr: "GraphFrames",
    o: GraphOptions,
    cp: Optional[PaletteMap] = None,
    attrs: Optional[Mapping[str, Mapping[str, str]]] = None,
) -> str:
    """The whole SVG document for the frames ``fr`` (parents before children)."""
    fontsize, fontwidth, fh = o.fontsize, o.fontwidth, o.height
    ypad1 = fontsize * 3
    ypad2 = fontsize * 2 + 10
    ypad3 = fontsize * 2 if o.subtitle else 0
    depthmax = fr.depthmax
    width = o.width
    height = (depthmax + 1) * fh + ypad1 + ypad2 + ypad3
    timemax = fr.timemax
    wpt = (width - 2 * XPAD) / timemax
    bg = o.bgcolors or palettes.default_background(o.colors)

    out = _head(o, width, height, bg)
    font = css_font(o.fonttype)
    stroke = f"#frames rect {{ stroke: {o.stroke_color}; stroke-width: 0.5; }}\n" if o.stroke_color else ""
    out.append(
        '<style type="text/css">\n'
        f"text {{ font-family: {font}; font-size: {num(fontsize)}px; fill: rgb(0,0,0); }}\n"
        f"#title {{ font-size: {num(fontsize + 5)}px; }}\n"
        f"{stroke}{asset('flamegraph.css')}</style>\n"
    )
    config = {
        "nametype": o.nametype,
        "fontsize": fontsize,
        "fontwidth": fontwidth,
        "xpad": XPAD,
        "inverted": bool(o.inverted),
        "searchcolor": o.search_color,
        "truncateLeft": o.truncate == "left",
    }
    out.append(f'<script type="text/ecmascript"><![CDATA[\nvar fg_config = {_js_config(config)};\n{asset("flamegraph.js")}]]></script>\n')
    fill = "url(#background)" if bg in palettes.BACKGROUNDS else bg
    out.append(f'<rect x="0" y="0" width="{num(width)}" height="{num(height)}" fill="{fill}"/>\n')
    mid = f"{width / 2:.2f}"
    top = num(fontsize * 2)
    bottom = num(height - ypad2 / 2)
    out.append(f'<text id="title" x="{mid}" y="{top}">{xml_text(o.title or "")}</text>\n')
    if o.subtitle:
        out.append(f'<text id="subtitle" x="{mid}" y="{num(fontsize * 4)}">{xml_text(o.subtitle)}</text>\n')
    out.append(
        f'<text id="details" x="{XPAD:.2f}" y="{bottom}"> </text>\n'
        f'<text id="unzoom" class="hide" x="{XPAD:.2f}" y="{top}">Reset Zoom</text>\n'
        f'<text id="search" x="{width - 110:.2f}" y="{top}">Search</text>\n'
        f'<text id="ignorecase" x="{width - 26:.2f}" y="{top}">ic</text>\n'
        f'<text id="matched" x="{width - 110:.2f}" y="{bottom}"> </text>\n'
        '<g id="frames">\n'
    )

    # the frames themselves are written by the core (tree/svg.rs), byte for byte as flamegraph.pl
    hs = "%.1f" % (fh - FRAMEPAD)
    base_y = ypad1 + ypad3 if o.inverted else height - ypad2 - fh + FRAMEPAD
    # per depth: the rect's y and the label's y
    ys = [num(base_y + d * fh if o.inverted else base_y - d * fh) for d in range(depthmax + 1)]
    tys = [num(3 + float(y) + (fh - FRAMEPAD) / 2) for y in ys]
    colors: Optional[List[str]] = None
    per_frame = False
    if o.random or cp is not None:
        names = fr.names
        seps = palettes.SEPARATOR_COLORS
        if o.random:  # a colour drawn for every frame not in a differential colour, in order
            per_frame = True
            colors = ["" if df and names[k] not in seps else "rgb(%d,%d,%d)" % palettes.frame_color(o.colors, names[k], o.hash, True, cp)
                      for k, df in zip(fr.name, fr.diff)]
        else:
            need = {k for k, df in zip(fr.name, fr.diff) if not df or names[k] in seps}
            colors = ["rgb(%d,%d,%d)" % palettes.frame_color(o.colors, nm, o.hash, False, cp) if k in need else ""
                      for k, nm in enumerate(names)]
    out.append(fr.svg_frames(
        xpad=float(XPAD), wpt=wpt, factor=float(o.factor), charw=float(fontsize * fontwidth),
        truncate_left=o.truncate == "left", ys=ys, tys=tys, hs=hs, unit=xml_text(o.countname),
        pct=100 / (timemax * o.factor), total_given=o.total is not None, negate=bool(o.negate),
        palette=o.colors, hash=bool(o.hash), colors=colors, per_frame=per_frame,
        attrs=_attrs(fr.names, attrs) if attrs else None,
    ))
    out.append("</g>\n</svg>\n")
    return "".join(out)


def _attrs(names: "List[str]", attrs: Mapping[str, Mapping[str, str]]) -> "List[Optional[Tuple[str, Optional[str], Optional[str]]]]":
    """``--nameattr`` attributes per name: the opening ``<g ...>``, a title replacing the
    tooltip, and the opening of a link (``<a ...``, without its ``>``); all escaped."""
    out: "List[Optional[Tuple[str, Optional[str], Optional[str]]]]" = []
    for name in names:
        a = attrs.get(name)
        if not a:
            out.append(None)
            continue
        g = "<g"
        for key in ("id", "class"):
            if key in a:
                g += f' {key}="{xml_text(a[key])}"'
        if a.get("g_extra"):
            g += " " + a["g_extra"]
        g += ">"
        link = None
        if "href" in a:
            link = f'<a xlink:href="{xml_text(a["href"])}" target="{xml_text(a.get("target", "_top"))}"'
            if a.get("a_extra"):
                link += " " + a["a_extra"]
        out.append((g, xml_text(a["title"]) if "title" in a else None, link))
    return out
