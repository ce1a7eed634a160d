//! Frame colours, as `python/flamefold/palettes.py` computes them (flamegraph.pl's): a colour
//! depends only on the name and the palette. The values come from Perl's `drand48` seeded with
//! the sum of the name's code points, or (`--hash`) from flamegraph.pl's name hash. Random
//! colours and `palette.map` stay in Python; tests check this port against palettes.py.

/// `--` and `-` (the chain palette's separators): grey, whatever the palette.
pub fn separator_color(name: &str) -> Option<(u32, u32, u32)> {
    match name {
        "--" => Some((160, 160, 160)),
        "-" => Some((200, 200, 200)),
        _ => None,
    }
}

/// The first number Perl's `rand()` gives after `srand(seed)`.
pub fn drand48_first(seed: u64) -> f64 {
    const MASK: u64 = (1 << 48) - 1;
    let state = (0x330E + ((seed & 0xFFFF_FFFF) << 16)) & MASK;
    let state = state.wrapping_mul(0x5DEE_CE66D).wrapping_add(0xB) & MASK;
    state as f64 / (1u64 << 48) as f64
}

/// flamegraph.pl's name hash over the first three characters (after a DTrace "module`").
fn namehash(chars: &[char]) -> f64 {
    let rest = chars.iter().position(|&c| c == '`').map_or(chars, |t| &chars[t + 1..]);
    let (mut vector, mut weight, mut top, mut m) = (0.0f64, 1.0f64, 1.0f64, 10u32);
    for &c in rest.iter().take(3) {
        vector += ((c as u32 % m) as f64 / (m - 1) as f64) * weight;
        top += weight;
        weight *= 0.7;
        m += 1;
    }
    1.0 - vector / top
}

fn java(name: &str) -> &'static str {
    if name.ends_with("_[j]") {
        return "green";
    }
    if name.ends_with("_[i]") {
        return "aqua";
    }
    let s = name.strip_prefix('L').unwrap_or(name);
    if ["java/", "javax/", "jdk/", "net/", "org/", "com/", "io/", "sun/"].iter().any(|p| s.starts_with(p) || name.starts_with(p)) {
        return "green";
    }
    if name.contains(":::") {
        return "green";
    }
    if name.contains("::") {
        return "yellow";
    }
    if name.ends_with("_[k]") {
        return "orange";
    }
    "red"
}

fn js(name: &str) -> &'static str {
    if name.ends_with("_[j]") {
        return if name.contains('/') { "green" } else { "aqua" };
    }
    if name.contains("::") {
        return "yellow";
    }
    // re.search(r"/.*\.js"): a slash, then ".js" somewhere after it on the line
    if let Some(p) = name.find('/') {
        if name[p + 1..].contains(".js") {
            return "green";
        }
    }
    if name.contains(':') {
        return "aqua";
    }
    if name == " " {
        return "green";
    }
    if name.contains("_[k]") {
        return "orange";
    }
    "red"
}

fn perl(name: &str) -> &'static str {
    if name.contains("::") {
        "yellow"
    } else if name.contains("Perl") || name.contains(".pl") {
        "green"
    } else if name.ends_with("_[k]") {
        "orange"
    } else {
        "red"
    }
}

fn python(name: &str) -> &'static str {
    let parts: Vec<&str> = name.split(['/', '\\']).collect();
    if parts.iter().any(|p| *p == "site-packages" || *p == "dist-packages") {
        return "aqua";
    }
    // [Pp]ython[0-9.]* as a whole directory name
    let stdlib = |p: &&str| {
        let rest = p.strip_prefix("Python").or_else(|| p.strip_prefix("python"));
        rest.is_some_and(|r| r.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
    };
    if parts[..parts.len() - 1].iter().any(stdlib) || ["<built-in", "<method", "<frozen"].iter().any(|p| name.starts_with(p)) {
        return "yellow";
    }
    "red"
}

fn rust(name: &str) -> &'static str {
    let name = name.find('`').map_or(name, |t| &name[t + 1..]);
    if name.starts_with("<core::future::from_generator::GenFuture<") {
        return "aqua";
    }
    const SYSTEM: [&str; 6] = ["core::", "std::", "alloc::", "<core::", "<std::", "<alloc::"];
    if SYSTEM.iter().any(|p| name.starts_with(p)) || SYSTEM[..3].iter().any(|p| name.contains(&format!(" as {p}"))) {
        return "orange";
    }
    if name.contains("::") {
        "aqua"
    } else {
        "yellow"
    }
}

fn flat(palette: &str, v1: f64, v2: f64, v3: f64) -> Option<(u32, u32, u32)> {
    let i = |x: f64| x as u32;
    Some(match palette {
        "hot" => (205 + i(50.0 * v3), i(230.0 * v1), i(55.0 * v2)),
        "mem" => (0, 190 + i(50.0 * v2), i(210.0 * v1)),
        "io" => {
            let x = 80 + i(60.0 * v1);
            (x, x, 190 + i(55.0 * v2))
        }
        "red" => {
            let x = 50 + i(80.0 * v1);
            (200 + i(55.0 * v1), x, x)
        }
        "green" => {
            let x = 50 + i(60.0 * v1);
            (x, 200 + i(55.0 * v1), x)
        }
        "blue" => {
            let x = 80 + i(60.0 * v1);
            (x, x, 205 + i(50.0 * v1))
        }
        "yellow" => {
            let x = 175 + i(55.0 * v1);
            (x, x, 50 + i(20.0 * v1))
        }
        "purple" => {
            let x = 190 + i(65.0 * v1);
            (x, 80 + i(60.0 * v1), x)
        }
        "aqua" => {
            let x = 165 + i(55.0 * v1);
            (50 + i(60.0 * v1), x, x)
        }
        "orange" => (190 + i(65.0 * v1), 90 + i(65.0 * v1), 0),
        _ => return None,
    })
}

/// palettes.palette_color without `rand`: the colour of a frame named `name` (annotation
/// included), or None for an unknown palette.
pub fn palette_color(palette: &str, name: &str, hash: bool) -> Option<(u32, u32, u32)> {
    let (v1, v2, v3) = if hash {
        let mut chars: Vec<char> = name.chars().collect();
        let a = namehash(&chars);
        chars.reverse();
        let b = namehash(&chars);
        (a, b, b)
    } else {
        let v = drand48_first(name.chars().map(|c| c as u64).sum());
        (v, v, v)
    };
    let resolved = match palette {
        "java" => java(name),
        "js" => js(name),
        "perl" => perl(name),
        "python" => python(name),
        "rust" => rust(name),
        "wakeup" => "aqua",
        "chain" => {
            if name.contains("_[w]") {
                "aqua"
            } else {
                "blue"
            }
        }
        "hotcold" => {
            if name.ends_with("_[o]") {
                "blue"
            } else {
                "hot"
            }
        }
        p => p,
    };
    flat(resolved, v1, v2, v3)
}

/// palettes.frame_color without palette.map or `rand`: separators grey, else the palette's.
pub fn frame_color(palette: &str, name: &str, hash: bool) -> Option<(u32, u32, u32)> {
    separator_color(name).or_else(|| palette_color(palette, name, hash))
}

/// palettes.diff_color: red for growth, blue for shrinkage, stronger as |delta| nears the
/// largest one.
pub fn diff_color(delta: f64, maxdelta: f64, negate: bool) -> (u32, u32, u32) {
    let value = if negate { -delta } else { delta };
    let v = |x: f64| (x as i64).max(0) as u32;
    if value > 0.0 {
        let g = v(210.0 * (maxdelta - value) / maxdelta);
        (255, g, g)
    } else if value < 0.0 {
        let b = v(210.0 * (maxdelta + value) / maxdelta);
        (b, b, 255)
    } else {
        (255, 255, 255)
    }
}
