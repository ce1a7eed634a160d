//! A callchain line of `perf script`: `ADDR SYMBOL+0xOFF (MODULE)`, read the way
//! stackcollapse-perf.pl reads it: the symbol ends at the last ` (` that has a `)` after it, and
//! the module runs to the last `)`.

use super::header::is_ws;

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct FrameLine<'a> {
    pub addr: &'a [u8],
    pub raw: &'a [u8],
    pub module: &'a [u8],
}

#[inline]
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The position of the last ` (` in `s` (a backward byte search: no searcher to build per line).
#[inline]
fn last_space_paren(s: &[u8]) -> Option<usize> {
    let mut end = s.len();
    while let Some(i) = memchr::memrchr(b'(', &s[..end]) {
        if i > 0 && s[i - 1] == b' ' {
            return Some(i - 1);
        }
        end = i;
    }
    None
}

#[inline]
pub fn parse_frame(line: &[u8]) -> Option<FrameLine<'_>> {
    let mut a = 0;
    while a < line.len() && is_ws(line[a]) {
        a += 1;
    }
    let addr_start = a;
    while a < line.len() && is_word(line[a]) {
        a += 1;
    }
    let addr_end = a;
    if addr_end == addr_start {
        return None;
    }
    let close = memchr::memrchr(b')', line)?;
    // last " (" whose '(' lies before the closing ')'
    let q = last_space_paren(&line[..close])?;
    let mut raw_start = addr_end;
    while raw_start < q && is_ws(line[raw_start]) {
        raw_start += 1;
    }
    let (addr, raw_start) = if raw_start < q {
        (&line[addr_start..addr_end], raw_start)
    } else if q > addr_end {
        // an empty symbol (`ADDR  (module)`): the regex gives RAW the last blank before ` (`
        (&line[addr_start..addr_end], q - 1)
    } else if q >= addr_start + 2 && q <= addr_end {
        // the regex backtracks into the address: ADDR gives its last character to RAW
        (&line[addr_start..q - 1], q - 1)
    } else {
        return None;
    };
    Some(FrameLine { addr, raw: &line[raw_start..q], module: &line[q + 2..close] })
}

/// 16 bytes classified at once (SSE2 is in every x86-64): the blanks and the lower-case hex
/// digits (perf and kallsyms print addresses in lower-case hex), one bit per byte.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn blanks_and_hex(field: &[u8; 16]) -> (u32, u32) {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of x86-64; the load reads the 16 bytes of `field`, unaligned.
    unsafe {
        let v = _mm_loadu_si128(field.as_ptr() as *const __m128i);
        let blank = _mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8));
        let d = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
        let digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
        let h = _mm_sub_epi8(v, _mm_set1_epi8(b'a' as i8));
        let lower = _mm_cmpeq_epi8(_mm_min_epu8(h, _mm_set1_epi8(5)), h);
        (_mm_movemask_epi8(blank) as u32, _mm_movemask_epi8(_mm_or_si128(digit, lower)) as u32)
    }
}

/// The start of the address in perf's 16-column address field (blanks, then word bytes), or
/// `None` when the field is all blanks or holds another byte.
#[inline(always)]
fn address_field(field: &[u8; 16]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        let (blanks, hex) = blanks_and_hex(field);
        let a = blanks.trailing_ones();
        if a < 16 && blanks == (1 << a) - 1 && blanks | hex == 0xffff {
            return Some(a as usize);
        }
    }
    let mut a = 0;
    while a < 16 && field[a] == b' ' {
        a += 1;
    }
    if a == 16 || !field[a..].iter().all(|&b| is_word(b)) {
        return None;
    }
    Some(a)
}

/// The frame line as perf prints it (`\t`, the address right-aligned in 16 columns, a blank, the
/// symbol, ` (`, the module, `)` ending the line), read in one pass without scanning the blanks
/// twice: the address's start, and [`parse_frame`]'s result for the line without its leading
/// blanks. `None` for any other shape (the general path reads it, with the same result).
#[inline]
pub fn parse_std(line: &[u8]) -> Option<(usize, FrameLine<'_>)> {
    let n = line.len();
    if n < 22 || line[0] != b'\t' || line[17] != b' ' || is_ws(line[18]) || line[n - 1] != b')' {
        return None;
    }
    let field: &[u8; 16] = line[1..17].try_into().unwrap();
    let a = address_field(field)?;
    // the last ` (` (its `(` before the closing `)`, the last byte) after the symbol's first byte
    let q = last_space_paren(&line[19..n - 1])? + 19;
    Some((a + 1, FrameLine { addr: &line[a + 1..17], raw: &line[18..q], module: &line[q + 2..n - 1] }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> (String, String, String) {
        let x = parse_frame(s.as_bytes()).unwrap();
        let t = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        (t(x.addr), t(x.raw), t(x.module))
    }

    #[test]
    fn shapes() {
        assert_eq!(f("\tffffffff821e7c57 xas_load+0x47 ([kernel.kallsyms])"), ("ffffffff821e7c57".into(), "xas_load+0x47".into(), "[kernel.kallsyms]".into()));
        assert_eq!(f("  7f7 JavaCalls::call_helper(JavaValue, Thread) (/x/libjvm.so)").1, "JavaCalls::call_helper(JavaValue, Thread)");
        assert_eq!(f("7f [unknown] (/usr/lib/libfoo.so (deleted))"), ("7f".into(), "[unknown] (/usr/lib/libfoo.so".into(), "deleted)".into()));
        assert_eq!(f("  1 a b (/my dir/lib.so)").2, "/my dir/lib.so");
        assert!(parse_frame(b"\tTHIS_IS_A_WEIRD_LINE").is_none());
        assert_eq!(f("\t    7f1e2215d058  (/lib/libc-2.15.so)").1, " ");
        assert!(parse_frame(b"\t[unknown] (x)").is_none());
    }

    /// The 16-byte classification of the address field agrees with the byte loop, on fields
    /// of blanks and bytes around the hex digits' ranges.
    #[test]
    fn address_field_agrees() {
        let alphabet = b" 09afgAFZ_/:`@\xff\t\x7f\x80";
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for n in 0..200_000u32 {
            let mut f = [b' '; 16];
            let lead = (n % 17) as usize;
            for b in f.iter_mut().skip(lead) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // mostly hex digits, sometimes any byte of the alphabet
                *b = if x % 5 == 0 { alphabet[(x >> 8) as usize % alphabet.len()] } else { b"0123456789abcdef"[(x >> 16) as usize % 16] };
            }
            let mut a = 0;
            while a < 16 && f[a] == b' ' {
                a += 1;
            }
            let want = (a < 16 && f[a..].iter().all(|&b| is_word(b))).then_some(a);
            assert_eq!(address_field(&f), want, "{:?}", String::from_utf8_lossy(&f));
        }
    }

    /// The one-pass reading of perf's usual frame line agrees with the general one, wherever
    /// it applies, on lines varied around perf's shape.
    #[test]
    fn std_shape_agrees() {
        let addrs = ["ffffffff821e7c57", "    7f1e2215d058", "               0", "   7f 1e2215d058", "          -12345", "  ", "                "];
        let syms = ["xas_load+0x47", "f", "a (b) c+0x1", "[unknown]", "x (", " y", "(", "s+0x", "T<fn() -> u8>::m"];
        let mods = ["[kernel.kallsyms]", "/lib/libc.so.6", "/a (deleted)", "", "m) (n"];
        let mut hits = 0;
        for a in addrs {
            for s in syms {
                for m in mods {
                    for end in [")", ") ", ")\r", ""] {
                        let line = format!("\t{a} {s} ({m}{end}");
                        let b = line.as_bytes();
                        if let Some((start, fl)) = parse_std(b) {
                            hits += 1;
                            let t = super::super::header::trim_start(b);
                            assert_eq!(start, b.len() - t.len(), "{line:?}");
                            assert_eq!(Some(fl), parse_frame(t), "{line:?}");
                        }
                    }
                }
            }
        }
        assert!(hits > 50, "{hits}");
    }
}
