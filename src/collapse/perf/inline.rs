//! `--inline`: un-inlining with binutils' `addr2line`, as stackcollapse-perf.pl does, with every
//! lookup cached per (address, module) and `nm` symbol tables cached per module.

use std::collections::HashMap;
use std::process::Command;

#[derive(Default)]
pub struct Inliner {
    context: bool,
    cache: HashMap<(Vec<u8>, Vec<u8>), Option<Vec<Vec<u8>>>>,
    nm: HashMap<Vec<u8>, HashMap<Vec<u8>, u64>>,
    pub warnings: Vec<String>,
}

fn os(b: &[u8]) -> std::ffi::OsString {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        std::ffi::OsString::from_vec(b.to_vec())
    }
    #[cfg(not(unix))]
    {
        String::from_utf8_lossy(b).into_owned().into()
    }
}

/// A module path from the input as an operand of `nm` or `addr2line`: a path that begins with
/// `-` would be read as an option (`--plugin=./evil.so` loads code), so it gets a `./` in
/// front, which names the same file. Options are also ended with `--` before operands.
fn path_arg(module: &[u8]) -> std::ffi::OsString {
    if module.first() == Some(&b'-') {
        let mut p = b"./".to_vec();
        p.extend_from_slice(module);
        os(&p)
    } else {
        os(module)
    }
}

impl Inliner {
    pub fn new(context: bool) -> Self {
        Inliner { context, ..Default::default() }
    }

    /// Whether perl would try to un-inline frames of this module.
    pub fn applies(module: &[u8]) -> bool {
        let perf_map = memchr::memmem::find_iter(module, b"perf-").any(|i| {
            let rest = &module[i + 5..];
            let d = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            d > 0 && rest.len() >= d + 4 && &rest[d + 1..d + 4] == b"map"
        });
        let bracket = memchr::memchr(b'[', module).is_some_and(|i| memchr::memchr(b']', &module[i..]).is_some());
        !(perf_map || super::tidy::contains(module, b"kernel.") || bracket)
    }

    /// The un-inlined functions, outermost first; `None` when addr2line gives nothing usable.
    pub fn resolve(&mut self, addr: &[u8], raw: &[u8], module: &[u8]) -> Option<Vec<Vec<u8>>> {
        let key = (addr.to_vec(), module.to_vec());
        if let Some(v) = self.cache.get(&key) {
            return v.clone();
        }
        let mut out = self.addr2line(addr, module);
        if let Some(text) = &out {
            if super::tidy::contains(text, b"??\n??:0") {
                if let Some(addr2) = self.nm_address(raw, module) {
                    out = self.addr2line(format!("0x{addr2:x}").as_bytes(), module);
                }
            }
        }
        let result = out.and_then(|t| self.parse(&t));
        self.cache.insert(key, result.clone());
        result
    }

    fn addr2line(&mut self, addr: &[u8], module: &[u8]) -> Option<Vec<u8>> {
        // every option first, then `--`, then the address: nothing from the input is an option
        let res = Command::new("addr2line").args(["-a", "-i", "-f", "-s", "-C", "-e"]).arg(path_arg(module)).arg("--").arg(os(addr)).output();
        match res {
            Ok(o) => {
                if !o.stderr.is_empty() && self.warnings.len() < 20 {
                    self.warnings.push(format!("addr2line: {}", String::from_utf8_lossy(&o.stderr).trim()));
                }
                Some(o.stdout)
            }
            Err(e) => {
                if self.warnings.is_empty() {
                    self.warnings.push(format!("--inline needs addr2line (binutils): {e}"));
                }
                None
            }
        }
    }

    /// `name+0xOFF`: the symbol's address from `nm` plus the offset.
    fn nm_address(&mut self, raw: &[u8], module: &[u8]) -> Option<u64> {
        let plus = memchr::memmem::rfind(raw, b"+0x")?;
        let name = &raw[..plus];
        let off = u64::from_str_radix(std::str::from_utf8(&raw[plus + 3..]).ok()?, 16).ok()?;
        if !self.nm.contains_key(module) {
            let mut table = HashMap::new();
            if let Ok(o) = Command::new("nm").arg("--").arg(path_arg(module)).output() {
                for line in o.stdout.split(|&b| b == b'\n') {
                    let mut parts = line.splitn(3, |&b| b == b' ');
                    if let (Some(a), Some(_t), Some(n)) = (parts.next(), parts.next(), parts.next()) {
                        if let Some(v) = std::str::from_utf8(a).ok().and_then(|a| u64::from_str_radix(a, 16).ok()) {
                            table.entry(n.to_vec()).or_insert(v);
                        }
                    }
                }
            }
            self.nm.insert(module.to_vec(), table);
        }
        self.nm.get(module)?.get(name).and_then(|base| base.checked_add(off))
    }

    fn parse(&self, text: &[u8]) -> Option<Vec<Vec<u8>>> {
        let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        if lines.is_empty() {
            return None;
        }
        lines.remove(0); // the address echo
        let mut funcs: Vec<Vec<u8>> = Vec::new();
        for pair in lines.chunks(2) {
            let func = pair[0];
            let mut f = func.to_vec();
            if self.context {
                let mut loc = pair.get(1).copied().unwrap_or(b"").to_vec();
                if let Some(i) = memchr::memmem::find(&loc, b" (discriminator ") {
                    loc.truncate(i);
                }
                f.push(b':');
                f.extend_from_slice(&loc);
            }
            funcs.push(f);
        }
        funcs.reverse();
        let joined = funcs.join(&b';');
        if joined.is_empty() || joined == b"??" || joined == b"??:??:0" {
            return None;
        }
        Some(funcs)
    }
}
