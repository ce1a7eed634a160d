//! speedscope's JSON file format (<https://www.speedscope.app/file-format-schema.json>): one
//! `"sampled"` profile, each distinct stack a sample weighted by its count.
//!
//! A streaming writer: stacks are read once and written as they come. Since a one-pass reader
//! only knows the frames it used and the total once every stack is seen, `shared.frames` and
//! `endValue` are written after the samples (JSON objects are unordered; speedscope and every
//! JSON reader take the keys in any order). Only the weights (8 bytes a stack), the frame
//! numbering (4 bytes an interned frame) and the frames used (4 bytes each) are kept in memory,
//! never the document.
//!
//! The structure follows speedscope's `src/lib/file-format-spec.ts` (`FileFormat.File`,
//! `SampledProfile`); see `tests/data/speedscope/SOURCES.md` for the schema copy.

use crate::intern::{FrameId, Interner};
use std::io::{self, BufWriter, Write};

/// The `$schema` every speedscope file names (speedscope recognises its format by it).
pub const SCHEMA_URL: &str = "https://www.speedscope.app/file-format-schema.json";

/// The units speedscope knows (`FileFormat.ValueUnit`).
pub const UNITS: [&str; 6] = ["none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"];

/// What the document says besides the stacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpeedscopeOptions {
    /// The profile's (and the file's) name, e.g. the input file name.
    pub name: String,
    /// The unit of the weights: `"none"` for sample counts, else one of [`UNITS`].
    pub unit: String,
    /// Who wrote the file, e.g. `"flamefold 0.1.0"`.
    pub exporter: String,
}

impl Default for SpeedscopeOptions {
    fn default() -> Self {
        SpeedscopeOptions { name: String::new(), unit: "none".into(), exporter: concat!("flamefold ", env!("CARGO_PKG_VERSION")).into() }
    }
}

/// Writes `stacks` (frame ids root first, and the weight of each) as a speedscope document.
///
/// Frames are numbered densely in order of first use; only those a stack uses are written.
/// Frame names are bytes: invalid UTF-8 becomes U+FFFD per invalid sequence (as
/// `String::from_utf8_lossy` does). A `unit` speedscope does not know is an `InvalidInput`
/// error, before anything is written. `w` is buffered here; it is flushed at the end.
pub fn write_speedscope<'a, W: Write>(w: W, frames: &Interner, stacks: impl Iterator<Item = (&'a [FrameId], u64)>, opts: &SpeedscopeOptions) -> io::Result<()> {
    if !UNITS.contains(&opts.unit.as_str()) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("speedscope has no unit {:?} (one of {:?})", opts.unit, UNITS)));
    }
    let mut w = BufWriter::with_capacity(1 << 16, w);
    let mut num = itoa::Buffer::new();
    w.write_all(b"{\"$schema\":")?;
    write_json_string(&mut w, SCHEMA_URL.as_bytes())?;
    w.write_all(b",\"name\":")?;
    write_json_string(&mut w, opts.name.as_bytes())?;
    w.write_all(b",\"activeProfileIndex\":0,\"exporter\":")?;
    write_json_string(&mut w, opts.exporter.as_bytes())?;
    w.write_all(b",\"profiles\":[{\"type\":\"sampled\",\"name\":")?;
    write_json_string(&mut w, opts.name.as_bytes())?;
    w.write_all(b",\"unit\":")?;
    write_json_string(&mut w, opts.unit.as_bytes())?;
    w.write_all(b",\"startValue\":0,\"samples\":[")?;

    // dense[id] is the index of frame `id` in shared.frames, u32::MAX while unused
    let mut dense: Vec<u32> = Vec::new();
    let mut used: Vec<FrameId> = Vec::new();
    let mut weights: Vec<u64> = Vec::new();
    let mut total: u128 = 0;
    for (stack, weight) in stacks {
        w.write_all(if weights.is_empty() { b"[" } else { b",[" })?;
        for (k, &f) in stack.iter().enumerate() {
            let i = f.0 as usize;
            if i >= dense.len() {
                dense.resize(frames.len().max(i + 1), u32::MAX);
            }
            if dense[i] == u32::MAX {
                dense[i] = u32::try_from(used.len()).expect("fewer than 2^32 frames");
                used.push(f);
            }
            if k > 0 {
                w.write_all(b",")?;
            }
            w.write_all(num.format(dense[i]).as_bytes())?;
        }
        w.write_all(b"]")?;
        weights.push(weight);
        total += u128::from(weight);
    }
    w.write_all(b"],\"weights\":[")?;
    for (k, &weight) in weights.iter().enumerate() {
        if k > 0 {
            w.write_all(b",")?;
        }
        w.write_all(num.format(weight).as_bytes())?;
    }
    drop(weights);
    w.write_all(b"],\"endValue\":")?;
    w.write_all(num.format(total).as_bytes())?;
    w.write_all(b"}],\"shared\":{\"frames\":[")?;
    for (k, &f) in used.iter().enumerate() {
        w.write_all(if k == 0 { b"{\"name\":" } else { b",{\"name\":" })?;
        write_json_string(&mut w, frames.get(f))?;
        w.write_all(b"}")?;
    }
    w.write_all(b"]}}\n")?;
    w.flush()
}

/// Writes `bytes` as a JSON string (quoted): `"` and `\` escaped, control characters as
/// `\u00XX`, each invalid UTF-8 sequence as U+FFFD; runs needing nothing are written whole.
pub fn write_json_string<W: Write>(w: &mut W, bytes: &[u8]) -> io::Result<()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    w.write_all(b"\"")?;
    for chunk in bytes.utf8_chunks() {
        let s = chunk.valid().as_bytes();
        let mut start = 0;
        for (i, &b) in s.iter().enumerate() {
            let esc: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                0..=0x1f => &[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]],
                _ => continue,
            };
            w.write_all(&s[start..i])?;
            w.write_all(esc)?;
            start = i + 1;
        }
        w.write_all(&s[start..])?;
        if !chunk.invalid().is_empty() {
            w.write_all("\u{FFFD}".as_bytes())?;
        }
    }
    w.write_all(b"\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn opts() -> SpeedscopeOptions {
        SpeedscopeOptions { name: "perf.data.txt".into(), unit: "none".into(), exporter: "flamefold 0.1.0".into() }
    }

    /// The document for `stacks` (`;`-separated text, so no `;` inside a name here) and its bytes.
    fn doc(frames: &mut Interner, stacks: &[(&[u8], u64)]) -> (Value, Vec<u8>) {
        let ids: Vec<(Vec<FrameId>, u64)> = stacks.iter().map(|&(s, n)| (s.split(|&b| b == b';').map(|f| frames.intern(f)).collect(), n)).collect();
        let mut out = Vec::new();
        write_speedscope(&mut out, frames, ids.iter().map(|(s, n)| (&s[..], *n)), &opts()).unwrap();
        (serde_json::from_slice(&out).expect("valid JSON"), out)
    }

    fn names(v: &Value) -> Vec<&str> {
        v["shared"]["frames"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect()
    }

    /// The stacks back as `;`-joined names with their weights (u64, exact).
    fn expand(v: &Value) -> Vec<(String, u64)> {
        let names = names(v);
        let p = &v["profiles"][0];
        let samples = p["samples"].as_array().unwrap();
        let weights = p["weights"].as_array().unwrap();
        assert_eq!(samples.len(), weights.len());
        samples.iter().zip(weights).map(|(s, w)| (s.as_array().unwrap().iter().map(|i| names[i.as_u64().unwrap() as usize]).collect::<Vec<_>>().join(";"), w.as_u64().unwrap())).collect()
    }

    #[test]
    fn structure() {
        let mut frames = Interner::new();
        let (v, out) = doc(&mut frames, &[(b"main;foo;bar", 3), (b"main;foo", 2), (b"main;baz", 5)]);
        assert_eq!(v["$schema"], SCHEMA_URL);
        assert_eq!(v["name"], "perf.data.txt");
        assert_eq!(v["activeProfileIndex"], 0);
        assert_eq!(v["exporter"], "flamefold 0.1.0");
        let obj = v.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(|k| k.as_str()).collect();
        keys.sort();
        assert_eq!(keys, ["$schema", "activeProfileIndex", "exporter", "name", "profiles", "shared"]);
        let profiles = v["profiles"].as_array().unwrap();
        assert_eq!(profiles.len(), 1);
        let p = &profiles[0];
        assert_eq!(p.as_object().unwrap().len(), 7);
        assert_eq!((&p["type"], &p["name"], &p["unit"]), (&Value::from("sampled"), &Value::from("perf.data.txt"), &Value::from("none")));
        assert_eq!((p["startValue"].as_u64(), p["endValue"].as_u64()), (Some(0), Some(10)));
        assert_eq!(p["samples"], serde_json::json!([[0, 1, 2], [0, 1], [0, 3]]));
        assert_eq!(p["weights"], serde_json::json!([3, 2, 5]));
        assert_eq!(v["shared"], serde_json::json!({"frames": [{"name": "main"}, {"name": "foo"}, {"name": "bar"}, {"name": "baz"}]}));
        assert_eq!(expand(&v), [("main;foo;bar".to_string(), 3), ("main;foo".to_string(), 2), ("main;baz".to_string(), 5)]);
        assert!(out.ends_with(b"}\n") && !out[..out.len() - 1].contains(&b'\n'));
    }

    #[test]
    fn dense_numbering_of_used_frames_only() {
        let mut frames = Interner::new();
        for name in [&b"unused0"[..], b"c", b"unused1", b"b", b"a"] {
            frames.intern(name);
        }
        let (v, _) = doc(&mut frames, &[(b"a;b", 1), (b"a;c;a", 1), (b"b", 1), (b"d", 1)]);
        assert_eq!(names(&v), ["a", "b", "c", "d"]);
        assert_eq!(v["profiles"][0]["samples"], serde_json::json!([[0, 1], [0, 2, 0], [1], [3]]));
        // the same input gives the same bytes
        let mut again = Interner::new();
        for name in [&b"unused0"[..], b"c", b"unused1", b"b", b"a"] {
            again.intern(name);
        }
        assert_eq!(doc(&mut frames, &[(b"a;b", 1), (b"a;c;a", 1), (b"b", 1), (b"d", 1)]).1, doc(&mut again, &[(b"a;b", 1), (b"a;c;a", 1), (b"b", 1), (b"d", 1)]).1);
    }

    #[test]
    fn escaping() {
        let mut frames = Interner::new();
        let weird: Vec<&[u8]> = vec![b"say \"hi\"", b"C:\\dir\\x", b"tab\there\nnl\r\x00\x1f\x7f", b"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa5", b"bad\xffbyte", b"trunc\xe2\x82", b"two\xc0\xafbad", b"\xed\xa0\x80surrogate", b"a;b inside", b"", b"\\u0041", b"</script>\xe2\x80\xa8"];
        let ids: Vec<FrameId> = weird.iter().map(|n| frames.intern(n)).collect();
        let mut out = Vec::new();
        write_speedscope(&mut out, &frames, std::iter::once((&ids[..], 7)), &opts()).unwrap();
        let v: Value = serde_json::from_slice(&out).expect("valid JSON");
        let expected: Vec<String> = weird.iter().map(|n| String::from_utf8_lossy(n).into_owned()).collect();
        assert_eq!(names(&v), expected);
        assert_eq!(expected[4], "bad\u{FFFD}byte");
        assert_eq!(expected[6], "two\u{FFFD}\u{FFFD}bad");
        assert_eq!(expected[7], "\u{FFFD}\u{FFFD}\u{FFFD}surrogate");
        // the frame with a `;` stays one frame
        assert_eq!(v["profiles"][0]["samples"][0].as_array().unwrap().len(), weird.len());
        let text = std::str::from_utf8(&out).expect("UTF-8 output");
        assert!(text.contains(r#""say \"hi\"""#) && text.contains(r#""C:\\dir\\x""#));
        assert!(text.contains(r#""tab\u0009here\u000anl\u000d\u0000\u001f"#));
        assert!(!out.iter().any(|&b| b < 0x20 && b != b'\n'));
    }

    #[test]
    fn json_string_alone() {
        let s = |b: &[u8]| {
            let mut out = Vec::new();
            write_json_string(&mut out, b).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(s(b""), r#""""#);
        assert_eq!(s(b"plain"), r#""plain""#);
        assert_eq!(s(b"\"\\\x08\x0c"), r#""\"\\\u0008\u000c""#);
        assert_eq!(s(b"\xff\xfe"), "\"\u{FFFD}\u{FFFD}\"");
        for b in 0..=255u8 {
            let text = s(&[b, b'x', b]);
            let back: String = serde_json::from_str(&text).unwrap();
            assert_eq!(back, String::from_utf8_lossy(&[b, b'x', b]));
        }
    }

    #[test]
    fn weights_exact_past_2_pow_53() {
        let mut frames = Interner::new();
        let big = (1u64 << 53) + 1;
        let (v, out) = doc(&mut frames, &[(b"a", big), (b"a;b", u64::MAX), (b"c", u64::MAX), (b"d", 0)]);
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.contains("\"weights\":[9007199254740993,18446744073709551615,18446744073709551615,0]"), "{text}");
        let total = u128::from(big) + 2 * u128::from(u64::MAX);
        assert_eq!(total.to_string(), "36902495346673844223");
        assert!(text.contains("\"endValue\":36902495346673844223}"), "{text}");
        assert_eq!(expand(&v), [("a".to_string(), big), ("a;b".to_string(), u64::MAX), ("c".to_string(), u64::MAX), ("d".to_string(), 0)]);
    }

    #[test]
    fn empty_profile() {
        let frames = Interner::new();
        let mut out = Vec::new();
        write_speedscope(&mut out, &frames, std::iter::empty(), &opts()).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["shared"]["frames"], serde_json::json!([]));
        let p = &v["profiles"][0];
        assert_eq!((&p["samples"], &p["weights"]), (&serde_json::json!([]), &serde_json::json!([])));
        assert_eq!((p["startValue"].as_u64(), p["endValue"].as_u64()), (Some(0), Some(0)));
        // a stack of no frames is an empty sample
        let mut out = Vec::new();
        write_speedscope(&mut out, &frames, std::iter::once((&[][..], 4)), &opts()).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["profiles"][0]["samples"], serde_json::json!([[]]));
        assert_eq!(v["profiles"][0]["endValue"], 4);
    }

    #[test]
    fn units_and_errors() {
        let frames = Interner::new();
        for unit in UNITS {
            let mut out = Vec::new();
            let o = SpeedscopeOptions { unit: unit.into(), ..opts() };
            write_speedscope(&mut out, &frames, std::iter::empty(), &o).unwrap();
            assert_eq!(serde_json::from_slice::<Value>(&out).unwrap()["profiles"][0]["unit"], unit);
        }
        let mut out = Vec::new();
        let err = write_speedscope(&mut out, &frames, std::iter::empty(), &SpeedscopeOptions { unit: "samples".into(), ..opts() }).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(out.is_empty());
        assert_eq!(SpeedscopeOptions::default().unit, "none");
        assert!(SpeedscopeOptions::default().exporter.starts_with("flamefold "));

        /// A writer that fails after `left` bytes.
        struct Full {
            left: usize,
        }
        impl Write for Full {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                if self.left == 0 {
                    return Err(io::Error::other("disk full"));
                }
                let n = b.len().min(self.left);
                self.left -= n;
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut frames = Interner::new();
        let a = [frames.intern(b"a")];
        let stacks = std::iter::repeat_n((&a[..], 1), 100_000);
        assert!(write_speedscope(Full { left: 1000 }, &frames, stacks, &opts()).is_err());
    }
}
