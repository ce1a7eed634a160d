//! The frames of a flame graph as SVG elements, byte for byte as `python/flamefold/svg.py`
//! lays them out (flamegraph.pl's layout): one `<g>` per frame with its tooltip, box and
//! label. The document around them (head, style, script, titles) is written by svg.py. All
//! text from the input is escaped here.

use super::colors;
use super::Frames;
use crate::input::folded::SCALE;
use std::fmt::Write;

/// How the frames are drawn: what svg.py computes from the options once per graph.
pub struct Style {
    pub xpad: f64,
    /// Pixels per sample.
    pub wpt: f64,
    pub factor: f64,
    /// The average glyph width (fontsize × fontwidth).
    pub charw: f64,
    pub truncate_left: bool,
    /// Per depth, the box's y and the label's y, as svg.py prints them.
    pub ys: Vec<String>,
    pub tys: Vec<String>,
    /// The box height, printed.
    pub hs: String,
    /// The count name, escaped.
    pub unit: String,
    /// 100 / (timemax × factor).
    pub pct: f64,
    /// `--total` was given (it widens the root only).
    pub total_given: bool,
    pub negate: bool,
}

/// Where the frames' colours come from.
pub enum Colors {
    /// The palette's, computed here per name (`--hash` or drand48).
    Palette { palette: String, hash: bool },
    /// One per name (from palette.map), `""` for names that need none.
    PerName(Vec<String>),
    /// One per frame (`--random`), `""` for the frames drawn in a differential colour.
    PerFrame(Vec<String>),
}

/// `--nameattr` attributes of a name: the opening `<g ...>`, a title replacing the tooltip
/// (escaped), and the opening of a link (`<a xlink:href=...`, without its `>`).
pub struct Attrs {
    pub g: String,
    pub title: Option<String>,
    pub link: Option<String>,
}

/// XML-escapes `s` onto `out`: characters XML 1.0 does not allow become U+FFFD; `& < > "` are
/// escaped (svg.xml_text).
pub fn xml_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            '\0'..='\x1f' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// A name as tooltips and labels show it: without a trailing `_[k]`, `_[w]`, `_[i]` or `_[j]`,
/// nor the `_[o]` of an off-CPU frame after one (palettes.deannotate).
pub fn deannotate(name: &str) -> &str {
    let kwij = |s: &str| -> Option<usize> {
        let b = s.as_bytes();
        (b.len() >= 4 && b[b.len() - 4] == b'_' && b[b.len() - 3] == b'[' && matches!(b[b.len() - 2], b'k' | b'w' | b'i' | b'j') && b[b.len() - 1] == b']').then(|| b.len() - 4)
    };
    if let Some(rest) = name.strip_suffix("_[o]") {
        return kwij(rest).map_or(rest, |n| &rest[..n]);
    }
    kwij(name).map_or(name, |n| &name[..n])
}

/// Digits with thousands separators (`1234567` -> `1,234,567`), a sign kept in front.
fn commas(out: &mut String, digits: &str) {
    let (sign, d) = match digits.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", digits),
    };
    out.push_str(sign);
    for (k, c) in d.chars().enumerate() {
        if k > 0 && (d.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
}

/// svg.count: a number of samples, whole as `1,234`, else with up to three decimals.
fn count(out: &mut String, v: f64) {
    if v == v.trunc() {
        commas(out, &format!("{v:.0}"));
        return;
    }
    let s = format!("{v:.3}");
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    commas(out, int);
    let frac = frac.trim_end_matches('0');
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
}

/// A whole count (fixed point) with separators.
fn whole(out: &mut String, v: u128) {
    commas(out, itoa::Buffer::new().format(v / SCALE));
}

/// A signed whole number with separators.
fn whole_i(out: &mut String, v: i128) {
    commas(out, itoa::Buffer::new().format(v / SCALE as i128));
}

/// Python's round(x, 1) (the double nearest the correctly rounded decimal).
fn round1(x: f64) -> f64 {
    format!("{x:.1}").parse().unwrap_or(x)
}

struct Name {
    raw: String,
    shown: String,
    esc: String,
    chars: usize,
    sep: bool,
}

/// Writes the `<g>` of every frame, in order.
pub fn write_frames(f: &Frames, st: &Style, colors: &Colors, attrs: &[Option<Attrs>], out: &mut String) {
    let names: Vec<Name> = f
        .names
        .iter()
        .map(|n| {
            let raw = String::from_utf8_lossy(n).into_owned();
            let shown = deannotate(&raw).to_string();
            let mut esc = String::new();
            xml_text(&mut esc, &shown);
            Name { chars: shown.chars().count(), sep: colors::separator_color(&raw).is_some(), raw, shown, esc }
        })
        .collect();
    let mut palette_cache: Vec<Option<String>> = vec![None; names.len()];
    let exact = st.factor == 1.0 && f.count.iter().all(|c| c % SCALE == 0);
    let exact_before = exact && f.before_count.iter().all(|c| c % SCALE == 0);
    let (mut info, mut body, mut tmp) = (String::new(), String::new(), String::new());
    for i in 0..f.depth.len() {
        let d = f.depth[i] as usize;
        let k = f.name[i] as usize;
        let nm = &names[k];
        let (s, w) = (f.start[i], f.width[i]);
        let x1 = st.xpad + s * st.wpt;
        let x2 = st.xpad + (s + w) * st.wpt;
        let samples = w * st.factor;
        tmp.clear();
        if exact && (d > 0 || !st.total_given) {
            whole(&mut tmp, f.count[i]);
        } else {
            count(&mut tmp, samples);
        }
        info.clear();
        if d == 0 {
            let _ = write!(info, "all ({tmp} {}, 100%)", st.unit);
        } else if f.diff[i] {
            // both counts and the change under this frame; with --negate the widths are the
            // BEFORE view: the other count is "after"
            let other_f = f.before[i] * st.factor;
            let (mut other_s, mut amount) = (String::new(), String::new());
            let change_f = if exact_before {
                let (c, o) = (f.count[i] as i128, f.before_count[i] as i128);
                let change = if st.negate { o - c } else { c - o };
                whole(&mut other_s, f.before_count[i]);
                amount.push_str(if change > 0 { "+" } else if change < 0 { "-" } else { "" });
                whole_i(&mut amount, change.abs());
                (change / SCALE as i128) as f64
            } else {
                let change = if st.negate { other_f - samples } else { samples - other_f };
                count(&mut other_s, other_f);
                amount.push_str(if change > 0.0 { "+" } else if change < 0.0 { "-" } else { "" });
                count(&mut amount, change.abs());
                change
            };
            let mut dps = format!("{:.2}", change_f * st.pct);
            if dps == "-0.00" {
                dps = "0.00".into();
            }
            let plus = if dps.parse::<f64>().is_ok_and(|v| v > 0.0) { "+" } else { "" };
            let side = if st.negate { "after" } else { "before" };
            let _ = write!(info, "{} ({tmp} {}, {:.2}%; {side} {other_s}: {amount}, {plus}{dps}%)", nm.esc, st.unit, samples * st.pct);
        } else {
            let _ = write!(info, "{} ({tmp} {}, {:.2}%)", nm.esc, st.unit, samples * st.pct);
        }
        // colour
        let color: &str = if f.diff[i] && !nm.sep {
            let (r, g, b) = colors::diff_color(f.delta[i], f.maxdelta, st.negate);
            tmp.clear();
            let _ = write!(tmp, "rgb({r},{g},{b})");
            &tmp
        } else {
            match colors {
                Colors::PerFrame(v) => v.get(i).map_or("", |s| s.as_str()),
                Colors::PerName(v) => v.get(k).map_or("", |s| s.as_str()),
                Colors::Palette { palette, hash } => palette_cache[k].get_or_insert_with(|| {
                    let (r, g, b) = colors::frame_color(palette, &nm.raw, *hash).unwrap_or((0, 0, 0));
                    format!("rgb({r},{g},{b})")
                }),
            }
        };
        // label: flamegraph.pl's fit by an average glyph width
        let chars = ((x2 - x1) / st.charw) as i64;
        let rx1 = round1(x1);
        let title = match attrs.get(k) {
            Some(Some(Attrs { title: Some(t), .. })) => t.as_str(),
            _ => info.as_str(),
        };
        body.clear();
        let (y, ty) = (st.ys.get(d).map_or("", |s| s.as_str()), st.tys.get(d).map_or("", |s| s.as_str()));
        let _ = write!(body, "<title>{title}</title><rect x=\"{rx1:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"{}\" fill=\"{color}\"/>", round1(x2) - rx1, st.hs);
        if chars >= 3 {
            let _ = write!(body, "<text x=\"{:.2}\" y=\"{ty}\">", x1 + 3.0);
            let text: &str = if d == 0 { "all" } else { &nm.shown };
            let len = if d == 0 { 3 } else { nm.chars };
            if len as i64 <= chars {
                if d == 0 {
                    body.push_str(text);
                } else {
                    body.push_str(&nm.esc);
                }
            } else {
                let keep = chars as usize - 2;
                if st.truncate_left {
                    let cut: String = text.chars().skip(len - keep).collect();
                    xml_text(&mut body, "..");
                    xml_text(&mut body, &cut);
                } else {
                    let cut: String = text.chars().take(keep).collect();
                    xml_text(&mut body, &cut);
                    body.push_str("..");
                }
            }
            body.push_str("</text>");
        }
        match attrs.get(k) {
            Some(Some(a)) => {
                out.push_str(&a.g);
                if let Some(link) = &a.link {
                    out.push_str(link);
                    out.push('>');
                    out.push_str(&body);
                    out.push_str("</a>");
                } else {
                    out.push_str(&body);
                }
                out.push_str("</g>\n");
            }
            _ => {
                out.push_str("<g>");
                out.push_str(&body);
                out.push_str("</g>\n");
            }
        }
    }
}
