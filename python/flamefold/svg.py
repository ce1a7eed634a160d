"""Writing a flame graph as an interactive SVG, laid out as flamegraph.pl lays it out.

The core hands over only the frames that will be drawn (see ``GraphFrames``); this module turns
them into boxes, labels, tooltips and colours. Everything that comes from the input or the
options is escaped: a name or a title holding ``<script>``, quotes, ``&`` or ``]]>`` stays text.
"""

from __future__ import annotations

import os
import re

from . import palettes
from .options import XPAD, GraphOptions
from .palettes import PaletteMap, deannotate

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time: only the type checker needs it
    from typing import Dict, List, Mapping, Optional

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


def _js_config(config: "Mapping[str, object]") -> str:
    import json  # only here: json costs start-up time

    text = json.dumps(config, ensure_ascii=True, sort_keys=True)
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


def _count(v: float) -> str:
    return f"{int(v):,}" if v == int(v) else count(v)


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
    depth = fr.depth
    n = len(depth)
    depthmax = max(depth) if n else 0
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

    names = fr.names
    shown = [deannotate(nm) for nm in names]  # names as tooltips and labels show them
    esc = [xml_text(s) for s in shown]
    colors: Dict[int, str] = {}
    unit = xml_text(o.countname)
    factor = o.factor
    scale = timemax * factor
    charw = fontsize * fontwidth
    left = o.truncate == "left"
    hs = "%.1f" % (fh - FRAMEPAD)
    attrs = attrs or {}
    base_y = ypad1 + ypad3 if o.inverted else height - ypad2 - fh + FRAMEPAD
    starts, widths, ids, deltas, diffs, befores = fr.start, fr.width, fr.name, fr.delta, fr.diff, fr.before
    maxdelta = fr.maxdelta
    # per depth: the rect's y and the label's y
    ys = [num(base_y + d * fh if o.inverted else base_y - d * fh) for d in range(depthmax + 1)]
    tys = [num(3 + float(y) + (fh - FRAMEPAD) / 2) for y in ys]
    pct = 100 / scale
    # exact ints for the labels when the counts are whole (floats lose units past 2^53)
    exact = fr.counts if factor == 1 else None
    exact_before = fr.before_counts if factor == 1 else None
    for i in range(n):
        d = depth[i]
        k = ids[i]
        s = starts[i]
        w = widths[i]
        x1 = XPAD + s * wpt
        x2 = XPAD + (s + w) * wpt
        samples = w * factor
        if exact is not None and (d > 0 or o.total is None):  # --total widens the root only
            shown_count = f"{exact[i]:,}"
        else:
            shown_count = f"{int(samples):,}" if samples == int(samples) else count(samples)
        if d == 0:
            info = f"all ({shown_count} {unit}, 100%)"
            text = "all"
        else:
            if diffs[i]:
                # both counts and the change under this frame; with --negate the widths are the
                # BEFORE view (difffolded AFTER BEFORE | graph --negate): the other count is "after"
                other = befores[i] * factor
                change = (other - samples) if o.negate else (samples - other)
                if exact is not None and exact_before is not None:
                    other = exact_before[i]
                    change = (other - exact[i]) if o.negate else (exact[i] - other)
                dps = "%.2f" % (change * pct)
                if dps == "-0.00":
                    dps = "0.00"
                amount = ("+" if change > 0 else "-" if change < 0 else "") + _count(abs(change))
                info = (f"{esc[k]} ({shown_count} {unit}, {samples * pct:.2f}%; "
                        f"{'after' if o.negate else 'before'} {_count(other)}: {amount}, {'+' if float(dps) > 0 else ''}{dps}%)")
            else:
                info = f"{esc[k]} ({shown_count} {unit}, {samples * pct:.2f}%)"
            text = shown[k]
        # colour
        if diffs[i] and names[k] not in palettes.SEPARATOR_COLORS:
            r, g, b = palettes.diff_color(deltas[i], maxdelta, o.negate)
            color = f"rgb({r},{g},{b})"
        elif k in colors:
            color = colors[k]
        else:
            r, g, b = palettes.frame_color(o.colors, names[k], o.hash, o.random, cp)
            color = f"rgb({r},{g},{b})"
            if not o.random:
                colors[k] = color
        # label: flamegraph.pl's fit by an average glyph width
        chars = int((x2 - x1) / charw)
        # x and width as flamegraph.pl rounds them: the width is the difference of rounded ends
        rx1 = round(x1, 1)
        body = f'<title>{info}</title><rect x="{rx1:.1f}" y="{ys[d]}" width="{round(x2, 1) - rx1:.1f}" height="{hs}" fill="{color}"/>'
        if chars >= 3:
            if len(text) <= chars:
                label = esc[k] if d else text
            elif left:
                label = xml_text(".." + text[len(text) - chars + 2:])
            else:
                label = xml_text(text[: chars - 2] + "..")
            body += f'<text x="{x1 + 3:.2f}" y="{tys[d]}">{label}</text>'
        extra = attrs.get(names[k]) if attrs else None
        out.append(_with_attrs(body, info, extra) if extra else f"<g>{body}</g>\n")
    out.append("</g>\n</svg>\n")
    return "".join(out)


def _with_attrs(body: str, info: str, a: Mapping[str, str]) -> str:
    """A frame with ``--nameattr`` attributes: title, id, class, g_extra, href, target, a_extra."""
    if "title" in a:
        body = body.replace(f"<title>{info}</title>", f"<title>{xml_text(a['title'])}</title>", 1)
    g = "<g"
    for key in ("id", "class"):
        if key in a:
            g += f' {key}="{xml_text(a[key])}"'
    if a.get("g_extra"):
        g += " " + a["g_extra"]
    g += ">"
    if "href" in a:
        link = f'<a xlink:href="{xml_text(a["href"])}" target="{xml_text(a.get("target", "_top"))}"'
        if a.get("a_extra"):
            link += " " + a["a_extra"]
        body = f"{link}>{body}</a>"
    return f"{g}{body}</g>\n"
