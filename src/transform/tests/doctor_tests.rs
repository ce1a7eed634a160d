//! doctor: constructed stacks with one problem each, and a real capture.

use super::super::doctor::{is_root, Finding};
use super::*;

fn sample(comm: &str, frames: &[&str]) -> String {
    let mut s = format!("{comm} 7 [000] 1.000000: 1 cycles: \n");
    for f in frames {
        s.push_str(&format!("\t{f}\n"));
    }
    s.push('\n');
    s
}

fn kinds(f: &[Finding]) -> Vec<&'static str> {
    f.iter().map(|x| x.kind).collect()
}

#[test]
fn each_problem_is_found_with_its_fix() {
    let mut s = String::new();
    // fine: reaches start_thread / __libc_start_call_main / ret_from_fork_asm
    s += &sample("ok", &["1 f+0x1 (/usr/bin/ok)", "2 start_thread+0x9 (/usr/lib/libc.so.6)"]);
    s += &sample("ok", &["1 f (/usr/bin/ok)", "2 main (/usr/bin/ok)", "3 __libc_start_call_main+0x7a (/usr/lib/libc.so.6)"]);
    s += &sample("kw", &["ffff schedule ([kernel.kallsyms])", "ffff ret_from_fork_asm+0x1a ([kernel.kallsyms])"]);
    s += &sample("sys", &["ffff do_syscall_64 ([kernel.kallsyms])", "ffff entry_SYSCALL_64_after_hwframe+0x76 ([kernel.kallsyms])"]);
    // stripped DSO, and a stack broken at main
    s += &sample("perf", &["146f7c [unknown] (/usr/bin/perf)", "147bca [unknown] (/usr/bin/perf)", "2 main (/usr/bin/perf)"]);
    // garbage frame-pointer frames
    s += &sample("c", &["1 f (/usr/bin/c)", "557df287e2b0 [unknown] ([unknown])"]);
    // JIT without a map: java and node
    s += &sample("java", &["7f01 [unknown] ([unknown])", "7f02 [unknown] (//anon)", "3 thread_native_entry (/usr/lib/jvm/lib/server/libjvm.so)", "4 start_thread (/usr/lib/libc.so.6)"]);
    s += &sample("worker", &["7f01 [unknown] (/memfd:doublemapper (deleted))", "1 x (/usr/bin/node)", "4 start_thread (/usr/lib/libc.so.6)"]);
    // a mapped JIT frame is fine; one the map lacks is not
    s += &sample("java", &["7f01 Lfoo/Bar;::baz (/tmp/perf-12.map)", "4 start_thread (/usr/lib/libc.so.6)"]);
    s += &sample("app", &["7f01 [unknown] (/tmp/perf-13.map)", "4 start_thread (/usr/lib/libc.so.6)"]);
    // no frames
    s += "x 7 [000] 1.000000: 1 cycles: \n\n";
    // 127 frames
    let deep: Vec<String> = (0..127).map(|i| format!("{i:x} f{i} (/m)")).collect();
    s += &sample("deep", &deep.iter().map(String::as_str).collect::<Vec<_>>());
    let r = doctor(s.as_bytes(), &DoctorOptions::default()).unwrap();
    assert_eq!(r.samples, 12);
    assert_eq!(r.no_stack, 1);
    assert_eq!(r.with_unknown, 5);
    assert_eq!(r.missing_symbols, vec![(b"/usr/bin/perf".to_vec(), 2, 1)]);
    assert_eq!(r.with_missing_symbols, 1);
    assert_eq!(r.jit_unmapped, 3);
    assert_eq!(r.jit_by_process, vec![(b"java".to_vec(), 2, 1), (b"app".to_vec(), 1, 1), (b"worker".to_vec(), 1, 1)]);
    assert_eq!(r.garbage, 1);
    // broken: perf (main), c ([unknown] ([unknown])), worker? no: start_thread; deep (f126)
    assert_eq!(r.broken, 3);
    assert_eq!(r.broken_by_outermost, vec![(b"[unknown] ([unknown])".to_vec(), 1), (b"f126".to_vec(), 1), (b"main".to_vec(), 1)]);
    assert_eq!(r.kernel_entry_roots, 1);
    assert_eq!(r.at_limit, 1);
    assert_eq!(kinds(&r.findings), vec!["no_stacks", "missing_symbols", "jit_without_map", "garbage_frames", "broken_stacks", "truncated_stacks"]);
    let text = r.render(10);
    for fix in ["-dbgsym", "-XX:+PreserveFramePointer", "perf-map-agent", "--perf-basic-prof", "-fno-omit-frame-pointer", "kernel.perf_event_max_stack"] {
        assert!(text.contains(fix), "{fix} missing in\n{text}");
    }
    // only one event
    let r = doctor(s.as_bytes(), &DoctorOptions { event: Some(b"instructions".to_vec()), ..Default::default() }).unwrap();
    assert_eq!((r.samples, r.findings.len()), (0, 0));
    assert!(r.render(3).contains("no problem found"));
}

#[test]
fn roots_are_exact_names() {
    for r in ["_start", "__libc_start_call_main", "start_thread", "clone3", "ret_from_fork_asm", "entry_SYSCALL_64_after_hwframe", "runtime.goexit.abi0", "secondary_startup_64_no_verify"] {
        assert!(is_root(r.as_bytes()), "{r}");
    }
    for r in ["main", "std::rt::lang_start", "start_thread2", "kthread", "[unknown]", "__libc_start"] {
        assert!(!is_root(r.as_bytes()), "{r}");
    }
}

#[test]
fn real_capture() {
    let d = data("hotcold.txt.gz");
    let r = doctor(&d[..], &DoctorOptions::default()).unwrap();
    let raws = raw_samples(&text(&d));
    assert_eq!(r.samples as usize, raws.len());
    // independent: stacks with 127 frame lines, samples with an [unknown] symbol
    let deep = raws.iter().filter(|x| x.block.lines().filter(|l| l.starts_with('\t')).count() >= 127).count();
    assert_eq!(r.at_limit as usize, deep);
    assert!(deep >= 1);
    let unknown = raws.iter().filter(|x| x.block.lines().any(|l| l.starts_with('\t') && l.contains(" [unknown] ("))).count();
    assert_eq!(r.with_unknown as usize, unknown);
    // broken stacks, independently: the last frame line's symbol is no root
    let roots = ["_start", "__libc_start_call_main", "start_thread", "clone3", "ret_from_fork_asm", "_dl_start_user", "common_startup_64"];
    let broken = raws
        .iter()
        .filter(|x| {
            let last = x.block.trim_end().lines().last().unwrap().trim();
            let sym = last.split_once(' ').unwrap().1.split(" (").next().unwrap();
            let sym = sym.split("+0x").next().unwrap();
            x.block.trim_end().lines().count() > 1 && !roots.contains(&sym) && !sym.starts_with("entry_SYSCALL_64") && !sym.starts_with("asm_") && !sym.starts_with("secondary_startup_64")
        })
        .count();
    assert_eq!(r.broken as usize, broken);
    assert_eq!(r.broken_by_outermost.iter().map(|x| x.1).sum::<u64>(), r.broken);
    assert_eq!(r.broken_by_outermost[0].0, b"[unknown] ([unknown])");
    assert!(!r.missing_symbols.is_empty() && r.with_missing_symbols >= r.missing_symbols[0].2);
    let text = r.render(5);
    assert!(text.contains("truncated_stacks") && text.contains("broken_stacks"), "{text}");
    println!("{text}");
}
