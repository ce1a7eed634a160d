//! cpi: constructed two-event text (no hardware counters in these VMs).

use super::*;

const TWO: &str = "\
app 5/6 [000] 10.000001: 3000 cycles:u: \n\t1 spin (/app)\n\t2 main (/app)\n\n\
app 5/6 [000] 10.000002: 1000 instructions:u: \n\t1 spin (/app)\n\t2 main (/app)\n\n\
app 5/6 [001] 10.000003: 500 cycles:u: \n\t3 copy+0x10 (/app)\n\t2 main (/app)\n\n\
app 5/6 [001] 10.000004: 2000 instructions:u: \n\t3 copy+0x10 (/app)\n\t2 main (/app)\n\n\
app 5/6 [001] 10.000005: 1500 cycles:u: \n\t1 spin (/app)\n\t2 main (/app)\n\n\
app 5/7 [001] 10.000006: 700 instructions:u: \n\t4 only_instr (/app)\n\n\
app 5/6 [000] 10.000007: 1 cpu-clock: \n\t1 spin (/app)\n\n\
app 5/6 [000] 10.000008: cycles: \n\t9 noperiod (/app)\n\n";

#[test]
fn cycles_and_instructions_per_stack() {
    let r = cpi(TWO.as_bytes(), &CpiOptions::default()).unwrap();
    assert_eq!(text(&r.folded), "app;main;copy 500 2000\napp;main;spin 4500 1000\napp;noperiod 1 0\napp;only_instr 0 700\n");
    assert_eq!((r.get("cycles_samples"), r.get("instructions_samples"), r.get("cycles"), r.get("instructions"), r.get("other_events")), (Some(4), Some(3), Some(5001), Some(3700), Some(1)));
    assert_eq!(r.total(), 3700);
    assert_eq!(r.warnings.len(), 1);
    assert_eq!(r.warnings[0].line, 27);
    let r = cpi(TWO.as_bytes(), &CpiOptions { columns: CpiColumns::InstructionsCycles, stacks: StackOptions { tid: true, ..Default::default() }, ..Default::default() }).unwrap();
    assert_eq!(text(&r.folded), "app-5/6;main;copy 2000 500\napp-5/6;main;spin 1000 4500\napp-5/6;noperiod 0 1\napp-5/7;only_instr 700 0\n");
    assert_eq!(r.total(), 5001);
}

#[test]
fn cpu_cycles_name_and_missing_event() {
    let s = "a 1 1.0: 10 cpu-cycles: \n\t1 f (/m)\n\n";
    let r = cpi(s.as_bytes(), &CpiOptions::default()).unwrap();
    assert_eq!(text(&r.folded), "a;f 10 0\n");
    assert!(r.warnings.iter().any(|w| w.line == 0 && w.msg.contains("no instructions samples")));
    let r = cpi(s.as_bytes(), &CpiOptions { cycles_event: b"ref-cycles".to_vec(), ..Default::default() }).unwrap();
    assert_eq!(r.folded, b"");
}

#[test]
fn to_folded_only_for_one_count() {
    let r = cpi(TWO.as_bytes(), &CpiOptions::default()).unwrap();
    assert!(r.two_counts && r.to_folded().is_none());
    let r = offcpu(&data("offcpu-ns.txt")[..], &OffcpuOptions::default()).unwrap();
    let f = r.to_folded().unwrap();
    assert_eq!(f.to_text(), r.folded);
    assert_eq!(f.total(), r.total());
}
