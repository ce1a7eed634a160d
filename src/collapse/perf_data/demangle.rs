//! Symbol names demangled as perf prints them: Rust (v0 and legacy) without the hash, C++ as
//! libiberty prints it without parameters (cpp_demangle's text respelled where the two differ).

/// Symbol names as perf 6.1 prints them: Rust (v0 and legacy) without the hash, C++ without
/// parameters or template return types (perf demangles without `DMGL_PARAMS` unless verbose).
pub fn demangle(name: &[u8]) -> Option<Vec<u8>> {
    let s = std::str::from_utf8(name).ok()?;
    if let Some(v0) = s.strip_prefix("_R") {
        // libiberty (perf's demangler) drops a v0 symbol's `.suffix` (`.llvm.N`, `.warm`, `.cold`)
        let end = v0.find('.').map_or(s.len(), |i| i + 2);
        if let Ok(r) = rustc_demangle::try_demangle(&s[..end]) {
            return Some(format!("{r:#}").into_bytes());
        }
    }
    if s.starts_with("_ZN") && rust_legacy(s) {
        if let Ok(r) = rustc_demangle::try_demangle(s) {
            return Some(format!("{r:#}").into_bytes());
        }
    }
    if !s.starts_with("_Z") {
        return None;
    }
    // thunks, spelled as libiberty spells them
    for (tag, offsets, what) in [("_ZTh", 1, "non-virtual thunk to "), ("_ZTv", 2, "virtual thunk to "), ("_ZTc", 2, "covariant return thunk to ")] {
        if let Some(rest) = s.strip_prefix(tag) {
            let mut r = rest;
            for _ in 0..offsets {
                r = &r[r.find('_')? + 1..];
            }
            if tag == "_ZTc" {
                // two call offsets, each `h N _` or `v N _ N _`
                let skip = |r: &str| -> Option<usize> {
                    let n = if r.starts_with('v') { 2 } else { 1 };
                    let mut i = 0;
                    for _ in 0..n {
                        i += r[i..].find('_')? + 1;
                    }
                    Some(i)
                };
                r = rest;
                let a = skip(r)?;
                r = &r[a..];
                let b = skip(r)?;
                r = &r[b..];
            }
            let inner = demangle(format!("_Z{r}").as_bytes())?;
            let mut out = what.as_bytes().to_vec();
            out.extend_from_slice(&inner);
            return Some(out);
        }
    }
    match plain_name(s) {
        Some(d) => Some(d.into_bytes()),
        None => cpp_demangled(s),
    }
}

/// A C++ name (`_Z...`, not a thunk) demangled by cpp_demangle, in libiberty's spelling.
pub(super) fn cpp_demangled(s: &str) -> Option<Vec<u8>> {
    let opts = cpp_demangle::DemangleOptions::new().no_params().no_return_type();
    let whole = |s: &str| cpp_demangle::Symbol::new(s).ok().and_then(|sym| sym.demangle_with_options(&opts).ok());
    // libiberty spells a standard abbreviation out in full before a constructor or destructor
    // (`std::basic_ostream<char, std::char_traits<char> >::~basic_ostream`, not
    // `std::ostream::~ostream`)
    let spelled = ["Ss", "Si", "So", "Sd"].iter().zip(STD_STREAMS).find_map(|(abbr, full)| {
        let rest = s.strip_prefix("_ZN")?.strip_prefix(abbr)?;
        matches!(rest.as_bytes().first(), Some(b'C' | b'D')).then(|| format!("_ZN{full}{rest}"))
    });
    let mut d = spelled.as_deref().and_then(whole).or_else(|| whole(s)).or_else(|| {
        // cpp_demangle cannot read some return types libiberty reads (expressions such as
        // `sr` in a template's): the name alone, cut after one of its `E`s and given an empty
        // parameter list (`v`, or `vv` for a template's return type), prints the same
        (3..s.len()).filter(|&k| s.as_bytes()[k - 1] == b'E').find_map(|k| ["v", "vv"].iter().find_map(|t| whole(&format!("{}{t}", &s[..k]))))
    })?;
    if s.contains("XadL_Z") {
        // the address of a function as a template argument: libiberty prints its return type
        // and parentheses, `<&(int f<1>(char))>`
        let with_ret = cpp_demangle::Symbol::new(s).ok().and_then(|sym| sym.demangle_with_options(&cpp_demangle::DemangleOptions::new().no_params()).ok());
        if let Some(fixed) = with_ret.and_then(|w| address_of_functions(&d, &w)) {
            d = fixed;
        }
    }
    // without parameters, libiberty prints no method qualifiers either
    while let Some(rest) = [" const", " volatile", " &&", " &"].iter().find_map(|q| d.strip_suffix(q)) {
        d.truncate(rest.len());
    }
    Some(libiberty_style(&d).into_bytes())
}

/// `with_ret` (the name printed with return types) without its own return type (the text
/// before `plain`'s start), each `&` template argument that is a function printed as libiberty
/// prints it: a template function whole in parentheses, another one by its name.
fn address_of_functions(plain: &str, with_ret: &str) -> Option<String> {
    let head = &plain[..plain.find('<')?];
    let body = &with_ret[with_ret.find(head)?..];
    let b = body.as_bytes();
    let (mut out, mut i, mut changed) = (String::with_capacity(body.len() + 8), 0, false);
    while i < b.len() {
        if b[i] == b'&' && i > 0 && (b[i - 1] == b'<' || body[..i].ends_with(", ")) {
            let mut depth = 0i32;
            let mut j = i + 1;
            while j < b.len() && !(depth == 0 && matches!(b[j], b',' | b'>')) {
                match b[j] {
                    b'<' | b'(' => depth += 1,
                    b'>' | b')' => depth -= 1,
                    _ => {}
                }
                j += 1;
            }
            let arg = &body[i + 1..j];
            // where a function's parameters start (the first `(` outside `<>`)
            let mut d = 0i32;
            let params = arg.bytes().enumerate().position(|(k, c)| {
                match c {
                    b'<' => d += 1,
                    b'>' => d -= 1,
                    _ => {}
                }
                c == b'(' && d == 0 && !arg[k..].starts_with("(anonymous namespace)")
            });
            if let Some(p) = params {
                // a template function with its return type and signature, in parentheses;
                // another function by its name alone
                let name = &arg[..p];
                out.push('&');
                if name.ends_with('>') {
                    out.push('(');
                    out.push_str(arg);
                    out.push(')');
                } else {
                    out.push_str(name);
                }
                changed = true;
                i = j;
                continue;
            }
        }
        let c = body[i..].chars().next()?;
        out.push(c);
        i += c.len_utf8();
    }
    changed.then_some(out)
}

/// A C++ name of plain identifiers only, printed without parameters as libiberty prints it
/// (`_ZN4llvm7GVNPass10ValueTable5eraseEPNS_5ValueE`: `llvm::GVNPass::ValueTable::erase`,
/// constructors and destructors too), read here without cpp_demangle: two thirds of a real
/// capture's C++ names (LLVM, GCC) are such, and cpp_demangle took 3-10 us for each. `None` for
/// anything else (templates, operators, substitutions other than `St`, ABI tags, local and
/// anonymous-namespace names, clones): cpp_demangle reads those. (The `XadL_Z` respelling in
/// [`cpp_demangled`] touches template arguments only, which these names have none of.)
pub(super) fn plain_name(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if s.contains('.') {
        return None;
    }
    // a <source-name>: its length, then that many identifier bytes
    let source = |i: usize| -> Option<(&str, usize)> {
        let digits = b.get(i..)?.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || b[i] == b'0' {
            return None;
        }
        let n: usize = s[i..i + digits].parse().ok()?;
        let name = s.get(i + digits..i + digits + n)?;
        let ok = name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') && !name.starts_with("_GLOBAL_");
        ok.then_some((name, i + digits + n))
    };
    let mut i = 2 + s[2..].starts_with('L') as usize;
    if b.get(i) != Some(&b'N') {
        // an unscoped name, not a template's and without an ABI tag
        let (name, end) = source(i)?;
        return (!matches!(b.get(end), Some(b'I' | b'B'))).then(|| name.to_string());
    }
    i += 1;
    while matches!(b.get(i), Some(b'K' | b'R' | b'O')) {
        i += 1;
    }
    let mut parts: Vec<&str> = Vec::new();
    if s[i..].starts_with("St") {
        parts.push("std");
        i += 2;
    }
    let std = parts.len();
    while let Some((name, end)) = source(i) {
        parts.push(name);
        i = end;
    }
    let last = *parts.get(std..)?.last()?;
    let mut out = parts.join("::");
    match b.get(i..i + 2) {
        Some([b'C', b'1' | b'2' | b'3']) => {
            out.push_str("::");
            out.push_str(last);
            i += 2;
        }
        Some([b'D', b'0' | b'1' | b'2']) => {
            out.push_str("::~");
            out.push_str(last);
            i += 2;
        }
        _ => {}
    }
    (b.get(i) == Some(&b'E')).then_some(out)
}

/// What `Ss`, `Si`, `So` and `Sd` abbreviate, mangled.
const STD_STREAMS: [&str; 4] = ["St12basic_stringIcSt11char_traitsIcESaIcEE", "St13basic_istreamIcSt11char_traitsIcEE", "St13basic_ostreamIcSt11char_traitsIcEE", "St14basic_iostreamIcSt11char_traitsIcEE"];

/// cpp_demangle's text in libiberty's spelling (see the two steps).
fn libiberty_style(d: &str) -> String {
    function_type_spaces(&literals_and_commas(d))
}

/// A function type inside a name (`std::function<int (int)>`, `function_ref<llvm::Error
/// (llvm::Value*)>`) as libiberty prints it: a blank between the return type and the
/// parameters, which cpp_demangle leaves out after a class type. A parameter list is one of a
/// function type when it ends a template argument or a parameter (`>`, `,` or `)` after it,
/// or ` const`, `&`, `&&` then one of those); a function's own (`f(int)::$_0`, `{lambda(int)#1}`,
/// `&(int f(char))`) and `operator()`, `decltype(...)`, `sizeof(...)` are left as they are.
fn function_type_spaces(d: &str) -> String {
    if !d.contains('(') {
        return d.to_string();
    }
    let b = d.as_bytes();
    // where each `(` closes, and whether it is directly inside `&(...)` (a function's address
    // with its signature, printed whole: `&(int f<1>(char))`)
    let mut close = vec![usize::MAX; b.len()];
    let mut in_address = vec![false; b.len()];
    let mut open: Vec<usize> = Vec::new();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'(' => {
                in_address[i] = open.last().is_some_and(|&o| o > 0 && b[o - 1] == b'&');
                open.push(i);
            }
            b')' => {
                if let Some(o) = open.pop() {
                    close[o] = i;
                }
            }
            _ => {}
        }
    }
    let mut out = String::with_capacity(d.len() + 8);
    let mut from = 0;
    for i in 1..b.len() {
        if b[i] != b'(' || close[i] == usize::MAX || in_address[i] {
            continue;
        }
        let prev = b[i - 1];
        if !(prev.is_ascii_alphanumeric() || prev == b'_' || prev == b'>') {
            continue;
        }
        let head = &d[..i];
        if ["operator", "decltype", "sizeof", "alignof", "noexcept", "typeid", "lambda"].iter().any(|w| head.ends_with(w)) {
            continue;
        }
        let mut after = &d[close[i] + 1..];
        for q in [" const", " volatile", "&&", "&"] {
            if let Some(r) = after.strip_prefix(q) {
                after = r;
                break;
            }
        }
        if after.starts_with('>') || after.starts_with(',') || after.starts_with(')') {
            out.push_str(&d[from..i]);
            out.push(' ');
            from = i;
        }
    }
    out.push_str(&d[from..]);
    out
}

/// Integer literals as `8u`, `4l` (not `(unsigned int)8`), and no `, ` before the `>` or `)`
/// of an empty trailing pack.
fn literals_and_commas(d: &str) -> String {
    const LITERALS: [(&str, &str); 6] = [("(unsigned int)", "u"), ("(long)", "l"), ("(unsigned long)", "ul"), ("(long long)", "ll"), ("(unsigned long long)", "ull"), ("(int)", "")];
    let mut out = String::with_capacity(d.len());
    let mut rest = d;
    'outer: while !rest.is_empty() {
        if rest.starts_with('(') {
            for (ty, suffix) in LITERALS {
                if let Some(after) = rest.strip_prefix(ty) {
                    let neg = after.starts_with('-') as usize;
                    let digits = after[neg..].bytes().take_while(u8::is_ascii_digit).count();
                    if digits > 0 {
                        out.push_str(&after[..neg + digits]);
                        out.push_str(suffix);
                        rest = &after[neg + digits..];
                        continue 'outer;
                    }
                }
            }
        }
        if let Some(after) = rest.strip_prefix(", >").or_else(|| rest.strip_prefix(", )")) {
            out.push(rest.as_bytes()[2] as char);
            rest = after;
            continue;
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A legacy Rust symbol: `_ZN...17h<16 hex>E`.
fn rust_legacy(s: &str) -> bool {
    let b = s.as_bytes();
    let core = s.split(".llvm.").next().unwrap_or(s).as_bytes();
    b.len() > 20 && core.ends_with(b"E") && core.len() > 21 && &core[core.len() - 20..core.len() - 17] == b"17h" && core[core.len() - 17..core.len() - 1].iter().all(|c| c.is_ascii_hexdigit())
}

