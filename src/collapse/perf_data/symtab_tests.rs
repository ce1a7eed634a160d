use super::*;

fn table(syms: &[(u64, u64, u8, &str)]) -> SymbolTable {
    let mut b = Symbols::default();
    for &(start, size, bind, name) in syms {
        b.push(start, start + size, bind, name.as_bytes());
    }
    SymbolTable::new(b, false, None)
}

#[test]
fn aliases_and_ends() {
    let mut t = table(&[(0x10, 0, BIND_GLOBAL, "b"), (0x10, 8, BIND_WEAK, "__a"), (0x10, 8, BIND_GLOBAL, "__x"), (0x40, 0, BIND_LOCAL, "z")]);
    // zero-size aliases: the last one gets the size up to the next symbol, and wins
    let mut k = load_kallsyms(b"0000000000001000 T __ia32_sys_f\n0000000000001000 T __x64_sys_f\n0000000000001010 T g\n");
    let i = k.find(0x1004).unwrap();
    assert_eq!(k.raw_name(i), b"__x64_sys_f");
    let i = t.find(0x12).unwrap();
    assert_eq!(t.raw_name(i), b"__x");
    assert!(t.find(0x20).is_none());
    let i = t.find(0x40).unwrap();
    assert_eq!(t.raw_name(i), b"z");
    assert_eq!(t.get(i).end, 0x2000);
    let mut t = table(&[(0x10, 0, BIND_GLOBAL, "a"), (0x30, 4, BIND_GLOBAL, "b")]);
    let i = t.find(0x2f).unwrap();
    assert_eq!(t.raw_name(i), b"a");
}

/// Aliases told apart only by their names are chosen when first looked up, by the names
/// perf shows (demangled): fewer leading underscores, then the longer name.
#[test]
fn aliases_by_name_chosen_on_lookup() {
    fn demangle(n: &[u8]) -> Option<Vec<u8>> {
        n.strip_prefix(b"_M").map(|r| r.to_vec())
    }
    let mut b = Symbols::default();
    for (name, start) in [("__long_name", 0x10), ("_Mshort", 0x10), ("ab", 0x10), ("_Mlonger_one", 0x20), ("x", 0x20), ("only", 0x30)] {
        b.push(start, start + 8, BIND_GLOBAL, name.as_bytes());
    }
    let mut t = SymbolTable::new(b, false, Some(demangle));
    assert_eq!(t.groups.len(), 2, "two addresses need names to choose");
    let i = t.find(0x12).unwrap();
    assert_eq!(t.name(i).unwrap(), b"short");
    let i = t.find(0x21).unwrap();
    assert_eq!(t.name(i).unwrap(), b"longer_one");
    let i = t.find(0x31).unwrap();
    assert_eq!(t.name(i).unwrap(), b"only");
}

/// A group of many aliases (identical code folded to one address) is chosen with each name
/// demangled once, and the chosen name is not demangled again to print it.
#[test]
fn aliases_demangled_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    fn demangle(n: &[u8]) -> Option<Vec<u8>> {
        CALLS.fetch_add(1, Ordering::Relaxed);
        n.strip_prefix(b"_M").map(|r| r.to_vec())
    }
    let mut b = Symbols::default();
    for k in 0..100 {
        // the 37th alias has the longest shown name
        let name = if k == 37 { "_Mdrop_in_place<the_longest_type>".to_string() } else { format!("_Mdrop_in_place<t{k:02}>") };
        b.push(0x100, 0x140, BIND_GLOBAL, name.as_bytes());
    }
    let mut t = SymbolTable::new(b, false, Some(demangle));
    let i = t.find(0x120).unwrap();
    assert_eq!(t.name(i).unwrap(), b"drop_in_place<the_longest_type>");
    assert_eq!(CALLS.load(Ordering::Relaxed), 100);
}

#[test]
fn overlaps() {
    // a label inside a function: the function
    let mut t = table(&[(0x100, 0x40, BIND_LOCAL, "f"), (0x110, 0, BIND_LOCAL, "label"), (0x200, 0x10, BIND_LOCAL, "g")]);
    let i = t.find(0x120).unwrap();
    assert_eq!(t.raw_name(i), b"f");
    // past the function, the label's extended range
    let i = t.find(0x150).unwrap();
    assert_eq!(t.raw_name(i), b"label");
    // a zero-size PLT entry added last hides the extended symbol below it
    let mut t = table(&[(0x100, 0, BIND_LOCAL, "_fini"), (0x2000, 0x10, BIND_LOCAL, "g")]);
    let mut plt = Symbols::default();
    plt.push(0x110, 0x110, BIND_GLOBAL, b"a@plt");
    t.add_unfixed(plt);
    assert!(t.find(0x120).is_none());
    let i = t.find(0x110).unwrap();
    assert_eq!(t.raw_name(i), b"a@plt");
}

#[test]
fn kallsyms() {
    let mut t = load_kallsyms(b"ffffffff81000000 T _text\nffffffff81000010 t foo\nffffffff81000020 r rodata\nffffffffc0000000 t m\t[mod]\nzz T bad\nffffffff81000030 T\n");
    assert_eq!(t.len(), 2);
    let i = t.find(0xffffffff81000015).unwrap();
    assert_eq!(t.raw_name(i), b"foo");
}

/// perf's end fix-up for kallsyms: a zero-size symbol ends where the next starts, unless one
/// of the two is a module's (its name holds a `[`): it then ends at the next page.
/// 32-bit kernels print 8 hex digits: read by the general path.
#[test]
fn kallsyms_short_addresses() {
    let mut t = load_kallsyms(b"c1000000 T _text\nc1000010 t foo\nc1000020 T bar\n");
    assert_eq!(t.len(), 3);
    assert_eq!(t.find(0xc1000015).map(|i| t.raw_name(i)), Some(b"foo".to_vec()));
}

#[test]
fn kallsyms_bracket_names_end_at_the_page() {
    let mut t = load_kallsyms(b"ffffffff81000000 T a\nffffffff81000010 T b[x]\nffffffff81005000 T c\n");
    assert_eq!(t.find(0xffffffff81000008).map(|i| t.raw_name(i)), Some(b"a".to_vec()));
    assert_eq!(t.find(0xffffffff81001ff0).map(|i| t.raw_name(i)), Some(b"b[x]".to_vec()));
    // `b[x]` ends at the page after the next one (0xffffffff81002000), not at `c`
    assert_eq!(t.find(0xffffffff81003000), None);
    let mut plain = load_kallsyms(b"ffffffff81000000 T a\nffffffff81000010 T b\nffffffff81005000 T c\n");
    assert_eq!(plain.find(0xffffffff81003000).map(|i| plain.raw_name(i)), Some(b"b".to_vec()));
}

/// Names read from a string table in a file: up to their NUL, none past the table's end
/// or from a file cut short.
#[test]
fn names_in_a_file() {
    let path = std::env::temp_dir().join(format!("flamefold-strtab-{}", std::process::id()));
    let long = "n".repeat(1000);
    std::fs::write(&path, format!("junk\0first\0{long}\0last")).unwrap();
    let tab = StrTab { file: File::open(&path).unwrap(), offset: 5, size: 6 + 1001 + 4 };
    assert_eq!(tab.read(0).unwrap(), b"first");
    assert_eq!(tab.read(6).unwrap(), long.as_bytes());
    assert!(tab.read(1007).is_none(), "no NUL before the table's end");
    assert!(tab.read(5000).is_none());
    std::fs::write(&path, b"junk").unwrap();
    assert!(tab.read(0).is_none(), "a file cut short gives no name");
    let _ = std::fs::remove_file(&path);
}

/// The radix sort is stable and agrees with a comparison sort, short and long, any span.
#[test]
fn sort_by_start_is_stable() {
    for (n, span) in [(10u64, 100u64), (1000, 50), (5000, 1 << 40), (3000, u64::MAX)] {
        let mut b = Symbols::default();
        let mut x = 0x9e3779b97f4a7c15u64;
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let start = if span == u64::MAX { x } else { x % span };
            b.push(start, start, BIND_GLOBAL, format!("{i}").as_bytes());
        }
        let mut want = b.syms.clone();
        want.sort_by_key(|s| s.start);
        let got = sort_by_start(b.syms);
        assert_eq!(got.iter().map(|s| (s.start, s.name)).collect::<Vec<_>>(), want.iter().map(|s| (s.start, s.name)).collect::<Vec<_>>());
    }
}
