//! `/proc/kallsyms` (or perf's copy of it in the build-id cache) read into a symbol table:
//! about 120k lines, read in one pass each.

use super::symtab::{Symbols, SymbolTable, BIND_GLOBAL, BIND_LOCAL, BIND_WEAK};

/// `/proc/kallsyms` as perf reads it (`map__process_kallsym_symbol`): text, weak, data and bss
/// symbols, module symbols (`name\t[module]`) left out. No UTF-8 check.
pub fn load_kallsyms(text: &[u8]) -> SymbolTable {
    // room for the most lines the text can have, and all its names: only what is written is
    // touched, and nothing is copied as the lists grow
    let mut syms = Symbols::with_room(text.len() / 21, text.len());
    let mut from = 0;
    while from < text.len() {
        // one pass finds the line's end and whether it holds a tab or a `[` (rare: a call
        // into memchr per 40-byte line costs more than the search)
        let (end, special) = line_end(text, from);
        let line = &text[from..end];
        from = end + 1;
        // "ffffffff81000000 T name": 16 hex digits on 64-bit kernels (read at once), any count
        // accepted
        let fast = line.get(..16).and_then(|a| hex16(a.try_into().ok()?)).filter(|_| line.get(16) == Some(&b' '));
        let (start, rest) = match fast {
            Some(start) => (start, &line[17..]),
            None => {
                let Some(sp) = memchr::memchr(b' ', line) else { continue };
                let Some(start) = hex_u64(&line[..sp]) else { continue };
                (start, &line[sp + 1..])
            }
        };
        if rest.len() < 3 || rest[1] != b' ' {
            continue;
        }
        let (t, name) = (rest[0], &rest[2..]);
        if !matches!(t.to_ascii_uppercase(), b'T' | b'W' | b'D' | b'B') {
            continue;
        }
        if (special && memchr::memchr(b'\t', name).is_some()) || name.first() == Some(&b'$') {
            continue; // a module's symbol
        }
        let bind = if t == b'W' || t == b'w' {
            BIND_WEAK
        } else if t.is_ascii_uppercase() {
            BIND_GLOBAL
        } else {
            BIND_LOCAL
        };
        syms.push_kallsyms(start, bind, name, special && memchr::memchr(b'[', name).is_some());
    }
    SymbolTable::new(syms, true, None)
}

/// The end of the line starting at `from` (its `\n`, or the end of `text`), and whether the
/// line holds a tab or a `[`.
#[inline]
fn line_end(text: &[u8], from: usize) -> (usize, bool) {
    let mut i = from;
    let mut special = false;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        while i + 16 <= text.len() {
            // SAFETY: SSE2 is part of x86-64; the 16 bytes at `i` are inside `text` (checked
            // above), read unaligned.
            let (nl, sp) = unsafe {
                let v = _mm_loadu_si128(text.as_ptr().add(i) as *const __m128i);
                let nl = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8));
                let sp = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\t' as i8)), _mm_cmpeq_epi8(v, _mm_set1_epi8(b'[' as i8)));
                (_mm_movemask_epi8(nl) as u32, _mm_movemask_epi8(sp) as u32)
            };
            if nl != 0 {
                let k = nl.trailing_zeros();
                return (i + k as usize, special || sp & ((1 << k) - 1) != 0);
            }
            special |= sp != 0;
            i += 16;
        }
    }
    while i < text.len() && text[i] != b'\n' {
        special |= matches!(text[i], b'\t' | b'[');
        i += 1;
    }
    (i, special)
}

/// Exactly 16 lower-case hex digits (how kallsyms prints addresses), read all at once; `None`
/// for any other byte (then [`hex_u64`] reads them).
#[inline]
fn hex16(b: &[u8; 16]) -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::collapse::perf::frame::blanks_and_hex(b).1 != 0xffff {
            return None;
        }
        // each byte to its nibble (a digit's low 4 bits; a letter's plus 9), then pairs,
        // quads and octets of nibbles joined, first digit most significant
        let half = |x: [u8; 8]| {
            let v = u64::from_le_bytes(x);
            let v = (v & 0x0f0f_0f0f_0f0f_0f0f) + (v >> 6 & 0x0101_0101_0101_0101) * 9;
            let v = (v << 4 | v >> 8) & 0x00ff_00ff_00ff_00ff;
            let v = (v << 8 | v >> 16) & 0x0000_ffff_0000_ffff;
            (v << 16 | v >> 32) & 0xffff_ffff
        };
        Some(half(b[..8].try_into().unwrap()) << 32 | half(b[8..].try_into().unwrap()))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        hex_u64(b)
    }
}

/// A hex number of 1 to 16 digits.
fn hex_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 16 {
        return None;
    }
    let mut v = 0u64;
    for &c in b {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = v << 4 | d as u64;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    /// The line scan finds each line's end and whether it holds a tab or a `[`, at every length
    /// and position (the 16-byte steps and the byte tail alike).
    #[test]
    fn line_end_matches_a_byte_loop() {
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = (next() % 70) as usize;
            let text: Vec<u8> = (0..len).map(|_| match next() % 24 { 0 => b'\n', 1 => b'\t', 2 => b'[', _ => b'a' }).collect();
            let from = if len == 0 { 0 } else { (next() % len as u64) as usize };
            let end = text[from..].iter().position(|&c| c == b'\n').map_or(len, |p| from + p);
            let special = text[from..end].iter().any(|&c| c == b'\t' || c == b'[');
            assert_eq!(super::line_end(&text, from), (end, special), "{:?} from {from}", String::from_utf8_lossy(&text));
        }
    }

    /// The 16-digit fast path reads what the digit loop reads, and leaves it anything else.
    #[test]
    fn hex16_matches_the_digit_loop() {
        let mut seed = 0x2545f4914f6cdd1du64;
        for i in 0..50_000u64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut b: [u8; 16] = format!("{seed:016x}").into_bytes().try_into().unwrap();
            if i % 3 == 0 {
                // a byte that is not lower-case hex somewhere
                let at = (seed % 16) as usize;
                b[at] = [b'g', b'G', b'A', b'F', b' ', b'/', b':', b'`', 0xff][(seed >> 8) as usize % 9];
            }
            let fast = super::hex16(&b);
            match fast {
                Some(v) => assert_eq!(Some(v), super::hex_u64(&b), "{:?}", String::from_utf8_lossy(&b)),
                None => assert!(b.iter().any(|c| !matches!(c, b'0'..=b'9' | b'a'..=b'f')), "{:?}", String::from_utf8_lossy(&b)),
            }
        }
        assert_eq!(super::hex16(b"ffffffff81000000"), Some(0xffffffff81000000));
        assert_eq!(super::hex16(b"0123456789abcdef"), Some(0x0123456789abcdef));
    }
}
