//! stackcollapse-perf.pl's symbol rules, applied once per distinct frame line.

/// Removes one trailing `+0x<lowercase hex>` (perf >= 4.8 prints symbol offsets).
pub fn strip_offset(raw: &[u8]) -> &[u8] {
    let hex = raw.iter().rev().take_while(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)).count();
    if hex > 0 && raw.len() >= hex + 3 && &raw[raw.len() - hex - 3..raw.len() - hex] == b"+0x" {
        &raw[..raw.len() - hex - 3]
    } else {
        raw
    }
}

fn basename(m: &[u8]) -> &[u8] {
    match memchr::memrchr(b'/', m) {
        Some(i) => &m[i + 1..],
        None => m,
    }
}

/// `[unknown]` becomes `[module basename]` (or `[unknown]`), with ` <ADDR>` under `--addrs`.
/// Returns whether the module was unknown too.
pub fn unknown_name(module: &[u8], addr: &[u8], addrs: bool, out: &mut Vec<u8>) -> bool {
    let (name, unknown): (&[u8], bool) = if module != b"[unknown]" { (basename(module), false) } else { (b"unknown", true) };
    out.push(b'[');
    out.extend_from_slice(name);
    if addrs {
        out.extend_from_slice(b" <");
        out.extend_from_slice(addr);
        out.push(b'>');
    }
    out.push(b']');
    unknown
}

/// Go method names (`net/http.(*Client).Do`) keep their parentheses.
fn is_go_method(name: &[u8]) -> bool {
    match memchr::memmem::find(name, b".(") {
        Some(i) => memchr::memmem::find(&name[i + 2..], b").").is_some(),
        None => false,
    }
}

/// Whether `operator` (a C++ operator's name) starts at `i`, not inside a longer identifier.
pub fn operator_at(name: &[u8], i: usize) -> bool {
    name[i..].starts_with(b"operator") && (i == 0 || !(name[i - 1].is_ascii_alphanumeric() || name[i - 1] == b'_'))
}

/// Skips `operator` at `i` and the operator's symbol characters after it: `operator<`,
/// `operator<<=`, `operator->`, `operator->*`, `operator>=` hold no brackets and no arrow.
pub fn skip_operator(name: &[u8], mut i: usize) -> usize {
    i += 8;
    while i < name.len() && matches!(name[i], b'<' | b'>' | b'=' | b'-' | b'!' | b'*') {
        i += 1;
    }
    i
}

/// Where the argument list starts: the first `(` outside `<...>` and `{...}` that does not open
/// `(anonymous namespace)`. Template arguments and lambda names keep their parentheses
/// (`std::function<int (int)>::operator()` gives `std::function<int (int)>::operator`).
fn args_start(name: &[u8]) -> Option<usize> {
    let (mut angle, mut brace) = (0usize, 0usize);
    let mut i = 0;
    while i < name.len() {
        match name[i] {
            b'o' if name[i..].starts_with(b"operator") => {
                i = skip_operator(name, i);
                continue;
            }
            // the `>` of `->` (a return type: `Foo<fn() -> i32, fn(u8)>::f`) closes nothing
            b'-' if name.get(i + 1) == Some(&b'>') => {
                i += 2;
                continue;
            }
            b'<' => angle += 1,
            b'>' => angle = angle.saturating_sub(1),
            b'{' => brace += 1,
            b'}' => brace = brace.saturating_sub(1),
            b'(' if angle == 0 && brace == 0 && !name[i..].starts_with(b"(anonymous namespace)") => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The always-on generic tidy: `;` to `:`, argument list removed, quotes deleted. Appends to `out`.
pub fn tidy_generic(name: &[u8], out: &mut Vec<u8>) {
    let end = if is_go_method(name) { name.len() } else { args_start(name).unwrap_or(name.len()) };
    for &b in &name[..end] {
        match b {
            b';' => out.push(b':'),
            b'"' | b'\'' => {}
            _ => out.push(b),
        }
    }
}

/// Java: `Ljava/lang/Thread;::run` loses its leading `L` (in a process named java*).
pub fn tidy_java(name: &mut Vec<u8>, from: usize) {
    if name.len() > from && name[from] == b'L' && memchr::memchr(b'/', &name[from..]).is_some() {
        name.remove(from);
    }
}

fn is_versioned_vmlinux(base: &[u8]) -> bool {
    base.len() > 8
        && base.starts_with(b"vmlinux")
        && matches!(base[7], b'-' | b'_' | b'.')
        && base[8..].iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Kernel code: `[kernel.kallsyms]`, `[vdso]`, any `vmlinux` (also versioned), `.ko` modules.
pub fn is_kernel(module: &[u8]) -> bool {
    (module.starts_with(b"[") || module.ends_with(b"vmlinux") || module.ends_with(b".ko") || is_versioned_vmlinux(basename(module)))
        && memchr::memmem::find(module, b"unknown").is_none()
}

/// JIT code: a `/tmp/perf-PID.map` symbol map or a jitdump `jitted-PID-N.so`.
pub fn is_jit(module: &[u8]) -> bool {
    if let Some(i) = memchr::memmem::find(module, b"/tmp/perf-") {
        let rest = &module[i + 10..];
        let d = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if d > 0 && rest[d..].starts_with(b".map") {
            return true;
        }
    }
    let base = basename(module);
    if let Some(rest) = base.strip_prefix(b"jitted-") {
        let d1 = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if d1 > 0 && rest.get(d1) == Some(&b'-') {
            let r2 = &rest[d1 + 1..];
            let d2 = r2.iter().take_while(|c| c.is_ascii_digit()).count();
            return d2 > 0 && &r2[d2..] == b".so";
        }
    }
    false
}

pub fn contains(h: &[u8], n: &[u8]) -> bool {
    memchr::memmem::find(h, n).is_some()
}

/// `s/\[.*?\]//g` and trim: the source location printed by `perf script -F+srcline`.
pub fn srcline_text(line: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    let mut i = 0;
    while i < line.len() {
        if line[i] == b'[' {
            if let Some(j) = memchr::memchr(b']', &line[i + 1..]) {
                i += j + 2;
                continue;
            }
        }
        out.push(line[i]);
        i += 1;
    }
    let t = super::header::trim_end(super::header::trim_start(&out[start..])).to_vec();
    out.truncate(start);
    out.extend_from_slice(&t);
}

/// Legacy Rust symbols that perf left half-demangled (`GcBox$LT$T$GT$::new::h0123456789abcdef`):
/// the `::h<hash>` suffix goes and `$LT$`-style escapes and `..` are decoded. `None` when `name`
/// has no such hash suffix.
pub fn fix_rust_legacy(name: &[u8]) -> Option<Vec<u8>> {
    if !has_rust_hash(name) {
        return None;
    }
    let body = &name[..name.len() - 19];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'$' {
            if let Some(j) = memchr::memchr(b'$', &body[i + 1..]) {
                let esc = &body[i + 1..i + 1 + j];
                let rep: Option<u8> = match esc {
                    b"LT" => Some(b'<'),
                    b"GT" => Some(b'>'),
                    b"RF" => Some(b'&'),
                    b"BP" => Some(b'*'),
                    b"C" => Some(b','),
                    b"SP" => Some(b'@'),
                    _ if esc.len() == 3 && esc[0] == b'u' => std::str::from_utf8(&esc[1..]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()).filter(|c| c.is_ascii()),
                    _ => None,
                };
                if let Some(c) = rep {
                    out.push(c);
                    i += j + 2;
                    continue;
                }
            }
        }
        if body[i] == b'.' && body.get(i + 1) == Some(&b'.') {
            out.extend_from_slice(b"::");
            i += 2;
            continue;
        }
        out.push(body[i]);
        i += 1;
    }
    Some(out)
}

pub fn has_rust_hash(name: &[u8]) -> bool {
    name.len() > 19 && &name[name.len() - 19..name.len() - 16] == b"::h" && name[name.len() - 16..].iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

/// Splits a symbol at the `->` of an inline chain (perf-map-agent's `a->b->c`): only at a `->`
/// outside brackets, so a `->` inside a type (`OnceLock<fn() -> Box<T>>`, `FnOnce::call_once<fn()
/// -> i32>`, `std::function<int () -> int>`) and `operator->` stay part of the name. The Perl
/// splits at every `->`.
pub fn split_arrow(raw: &[u8]) -> Vec<&[u8]> {
    if memchr::memmem::find(raw, b"->").is_none() {
        return vec![raw];
    }
    let mut parts = Vec::new();
    let (mut depth, mut start, mut i) = (0usize, 0, 0);
    while i < raw.len() {
        match raw[i] {
            b'o' if operator_at(raw, i) => {
                i = skip_operator(raw, i);
                continue;
            }
            b'-' if raw.get(i + 1) == Some(&b'>') => {
                if depth == 0 {
                    parts.push(&raw[start..i]);
                    start = i + 2;
                }
                i += 2; // the `>` of a `->` closes nothing
                continue;
            }
            b'<' | b'(' | b'[' | b'{' => depth += 1,
            b'>' | b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    parts.push(&raw[start..]);
    parts
}

/// The naming switches of [`frame_names`] (the collapser's `--kernel --jit --addrs`, and whether
/// the sample's process is named `java*`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NameRules {
    pub java: bool,
    pub kernel: bool,
    pub jit: bool,
    pub addrs: bool,
}

/// The names one frame line gives under stackcollapse-perf's rules, without `--inline`: the
/// symbol's `+0x..` offset removed, nothing for a symbol that starts with `(`, one name per
/// part of an inline chain `a->b` (root to leaf; parts after the first get `_[i]`), `[unknown]`
/// named by its module, the generic (and Java) tidying, `_[k]` / `_[j]` as asked. `emit` gets
/// each name in turn (`name` is the scratch buffer it is built in). Returns whether a part was
/// `[unknown]` in an unknown module. The collapser, the perf.data reader and the transforms all
/// name frames through it.
pub fn frame_names(raw: &[u8], module: &[u8], addr: &[u8], rules: NameRules, name: &mut Vec<u8>, mut emit: impl FnMut(&[u8])) -> bool {
    let raw = strip_offset(raw);
    if raw.starts_with(b"(") {
        return false;
    }
    let mut parts = split_arrow(raw);
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    let mut unknown = false;
    let mut tmp = Vec::new();
    for (k, part) in parts.into_iter().enumerate() {
        name.clear();
        let src: &[u8] = if part == b"[unknown]" {
            tmp.clear();
            unknown |= unknown_name(module, addr, rules.addrs, &mut tmp);
            &tmp
        } else {
            part
        };
        tidy_generic(src, name);
        if rules.java {
            tidy_java(name, 0);
        }
        if k > 0 {
            if !contains(name, b"_[i]") {
                name.extend_from_slice(b"_[i]");
            }
        } else if rules.kernel && is_kernel(module) {
            name.extend_from_slice(b"_[k]");
        } else if rules.jit && is_jit(module) && !contains(name, b"_[j]") {
            name.extend_from_slice(b"_[j]");
        }
        emit(name);
    }
    unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tidy(s: &str) -> String {
        let mut v = Vec::new();
        tidy_generic(s.as_bytes(), &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn generic() {
        assert_eq!(tidy("ns::(anonymous namespace)::fn(int) const"), "ns::(anonymous namespace)::fn");
        assert_eq!(tidy("net/http.(*Client).Do"), "net/http.(*Client).Do");
        assert_eq!(tidy("a;b\"c'd"), "a:bcd");
        assert_eq!(tidy("std::function<int (int, int)>::operator()(int, int) const"), "std::function<int (int, int)>::operator");
        assert_eq!(tidy("std::_Function_handler<int (int, int), main::{lambda(int, int)#1}>::_M_invoke"), "std::_Function_handler<int (int, int), main::{lambda(int, int)#1}>::_M_invoke");
        assert_eq!(tidy("std::operator<< <char>(std::ostream&, char const*)"), "std::operator<< <char>");
        assert_eq!(tidy("RegExp:[&<>\\\"\\']"), "RegExp:[&<>\\\\]");
        assert_eq!(tidy("foo<Vec<usize>>(x)"), "foo<Vec<usize>>");
        // the `>` of a return type's `->` closes no template
        assert_eq!(tidy("Foo<fn() -> i32, fn(u8)>::f(int)"), "Foo<fn() -> i32, fn(u8)>::f");
        assert_eq!(tidy("std::unique_ptr<Foo>::operator->() const"), "std::unique_ptr<Foo>::operator->");
    }

    #[test]
    fn offsets_and_modules() {
        assert_eq!(strip_offset(b"f+0x1a"), b"f");
        assert_eq!(strip_offset(b"f+0xABC"), b"f+0xABC");
        assert!(is_kernel(b"[kernel.kallsyms]") && is_kernel(b"[vdso]") && is_kernel(b"/boot/vmlinux"));
        assert!(is_kernel(b"/usr/lib/debug/boot/vmlinux-5.4.14-cloudflare-2020.1.11"));
        assert!(is_kernel(b"/lib/modules/x/mlx5_core.ko") && !is_kernel(b"[unknown]") && !is_kernel(b"bpf_prog_1"));
        assert!(is_jit(b"/tmp/perf-123.map") && is_jit(b"/tmp/jitted-31714-4145673320.so") && !is_jit(b"/tmp/perf-.map"));
    }

    #[test]
    fn rust_legacy() {
        assert_eq!(fix_rust_legacy(b"gc::gc::GcBox$LT$T$GT$::new::_$u7b$$u7b$closure$u7d$$u7d$::ha2ed0674a1c3dc9f").unwrap(), b"gc::gc::GcBox<T>::new::_{{closure}}");
        assert!(fix_rust_legacy(b"main").is_none());
    }

    #[test]
    fn arrows_and_frame_names() {
        assert_eq!(split_arrow(b"a->b->c"), vec![&b"a"[..], b"b", b"c"]);
        assert_eq!(split_arrow(b"OnceLock<fn() -> Box<T>>::get"), vec![&b"OnceLock<fn() -> Box<T>>::get"[..]]);
        assert_eq!(split_arrow(b"std::unique_ptr<Foo>::operator->"), vec![&b"std::unique_ptr<Foo>::operator->"[..]]);
        let names = |raw: &str, module: &str, rules: NameRules| {
            let (mut out, mut buf) = (Vec::new(), Vec::new());
            let unknown = frame_names(raw.as_bytes(), module.as_bytes(), b"ff", rules, &mut buf, |n| out.push(String::from_utf8(n.to_vec()).unwrap()));
            (out, unknown)
        };
        let k = NameRules { kernel: true, ..Default::default() };
        assert_eq!(names("schedule+0x1a", "[kernel.kallsyms]", k), (vec!["schedule_[k]".to_string()], false));
        assert_eq!(names("a->b(int)->", "/m", k), (vec!["a".to_string(), "b_[i]".to_string()], false));
        assert_eq!(names("(anonymous)", "/m", k), (vec![], false));
        assert_eq!(names("[unknown]", "[unknown]", NameRules { addrs: true, ..k }), (vec!["[unknown <ff>]".to_string()], true));
        assert_eq!(names("Ljava/lang/Thread;::run", "/tmp/perf-1.map", NameRules { java: true, jit: true, ..k }), (vec!["java/lang/Thread:::run_[j]".to_string()], false));
    }

    #[test]
    fn srcline() {
        let mut v = Vec::new();
        srcline_text(b"  libkmod.so.2.3.6[6750]", &mut v);
        assert_eq!(v, b"libkmod.so.2.3.6");
    }
}
