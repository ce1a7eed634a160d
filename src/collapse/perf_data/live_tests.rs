//! Live checks against `perf script` (ignored by default: they need perf, gcc and the
//! permission to record): `cargo test --lib perf_data -- --ignored`.

use super::*;
use std::process::Command;

fn have(cmd: &str) -> bool {
    Command::new(cmd).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Records `cmd` into `out` with `args`; false when perf cannot record here.
fn record(out: &Path, args: &[&str], cmd: &[&str]) -> bool {
    Command::new("perf").args(["record", "-q"]).args(args).arg("-o").arg(out).arg("--").args(cmd).output().is_ok_and(|o| o.status.success())
}

/// The text path's folded output for `perf script -i data`.
fn via_script(data: &Path, opts: &Options) -> Vec<u8> {
    let text = Command::new("perf").arg("script").arg("-i").arg(data).output().expect("perf script").stdout;
    crate::output::folded::Folded::from_profile(&crate::profile::from_perf_slice(&text, opts, 1, &|_| Ok(())).expect("text collapse")).to_text()
}

#[test]
#[ignore]
fn hot_capture_matches_perf_script() {
    if !have("perf") || !have("gcc") {
        eprintln!("skipped: perf or gcc missing");
        return;
    }
    let dir = std::env::temp_dir().join(format!("flamefold-perf-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("hot");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/perf_data/hot.c");
    assert!(Command::new("gcc").args(["-O1", "-fno-omit-frame-pointer", "-o"]).arg(&exe).arg(&src).status().unwrap().success());
    let data = dir.join("hot.data");
    if !record(&data, &["-F", "999", "-g"], &[exe.to_str().unwrap(), "50"]) {
        eprintln!("skipped: perf record is not permitted here");
        return;
    }
    let all = [Options::default(), Options { pid: true, ..Default::default() }, Options { tid: true, kernel: true, ..Default::default() }, Options { addrs: true, ..Default::default() }];
    for opts in &all {
        let direct = collapse_perf_data(&data, opts).unwrap();
        let text = via_script(&data, opts);
        assert!(!text.is_empty());
        assert_eq!(String::from_utf8_lossy(&folded(&direct, None)), String::from_utf8_lossy(&text), "options {opts:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// ELF files are read, not mapped: a file cut short (here, this test binary's copy cut at
/// several lengths) or not an ELF file gives fewer symbols or none, never a crash, and a name
/// read after its file was cut is no name.
#[test]
fn truncated_elf_files() {
    use std::os::unix::ffi::OsStrExt;
    let exe = std::env::current_exe().unwrap();
    let full = std::fs::read(&exe).unwrap();
    let whole = elf::load(exe.as_os_str().as_bytes(), None, None).table;
    assert!(whole.len() > 100, "the test binary has symbols");
    let dir = std::env::temp_dir().join(format!("flamefold-elf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("copy");
    for cut in [0, 10, 64, 4096, full.len() / 3, full.len() - 1] {
        std::fs::write(&copy, &full[..cut]).unwrap();
        let l = elf::load(copy.as_os_str().as_bytes(), None, None);
        assert!(l.table.len() <= whole.len());
    }
    std::fs::write(&copy, &full).unwrap();
    let mut t = elf::load(copy.as_os_str().as_bytes(), None, None).table;
    let i = (0..t.len() as u32).find(|&i| t.get(i).end > t.get(i).start).unwrap();
    let start = t.get(i).start;
    let i = t.find(start).unwrap();
    assert!(t.name(i).is_some());
    std::fs::write(&copy, b"").unwrap();
    assert!(t.name(i).is_none(), "its file is empty now");
    let _ = std::fs::remove_dir_all(&dir);
}

/// C++ names cpp_demangle cannot read whole (an `sr` expression in the return type) name as
/// perf (libiberty) prints them, as `perf script` showed them for cc1 on this machine.
#[test]
fn demangles_names_with_expressions_in_the_return_type() {
    let cases = [
        ("_ZN2wi3addI16generic_wide_intI16wide_int_storageES3_EENS_13binary_traitsIT_T0_XsrNS_10int_traitsIS5_EE14precision_typeEXsrNS7_IS6_EE14precision_typeEE11result_typeERKS5_RKS6_6signopPNS_13overflow_typeE", "wi::add<generic_wide_int<wide_int_storage>, generic_wide_int<wide_int_storage> >"),
        ("_ZN2wi3maxI16generic_wide_intI16wide_int_storageES3_EENS_13binary_traitsIT_T0_XsrNS_10int_traitsIS5_EE14precision_typeEXsrNS7_IS6_EE14precision_typeEE11result_typeERKS5_RKS6_6signop", "wi::max<generic_wide_int<wide_int_storage>, generic_wide_int<wide_int_storage> >"),
        ("_ZN2wi6rshiftI16generic_wide_intI16wide_int_storageEiEENS_13binary_traitsIT_S5_XsrNS_10int_traitsIS5_EE14precision_typeEXsrS7_14precision_typeEE11result_typeERKS5_RKT0_6signop", "wi::rshift<generic_wide_int<wide_int_storage>, int>"),
    ];
    for (mangled, want) in cases {
        assert_eq!(String::from_utf8(demangle(mangled.as_bytes()).unwrap()).unwrap(), want);
    }
    // a standard abbreviation before a destructor, in a thunk too, as perf printed it for node
    assert_eq!(demangle(b"_ZTv0_n24_NSoD1Ev").unwrap(), b"virtual thunk to std::basic_ostream<char, std::char_traits<char> >::~basic_ostream");
    assert_eq!(demangle(b"_ZNSoD1Ev").unwrap(), b"std::basic_ostream<char, std::char_traits<char> >::~basic_ostream");
    assert_eq!(demangle(b"_ZNSo5flushEv").unwrap(), b"std::ostream::flush");
    // a function's address as a template argument, as perf printed it for node
    let js = b"_ZN4node10StreamBase8JSMethodIXadL_ZNS0_11WriteStringILNS_8encodingE1EEEiRKN2v820FunctionCallbackInfoINS4_5ValueEEEEEEEvS9_";
    assert_eq!(String::from_utf8(demangle(js).unwrap()).unwrap(), "node::StreamBase::JSMethod<&(int node::StreamBase::WriteString<(node::encoding)1>(v8::FunctionCallbackInfo<v8::Value> const&))>");
    // names that are no C++ at all stay as they are
    assert!(demangle(b"_Zfoo").is_none());
}

/// A function type inside a name gets libiberty's blank between its return type and its
/// parameters, also after a class type (cpp_demangle leaves that one out); a function's own
/// parameters in a local name (`f(int)::$_0`) and `operator()` get none. The expected texts
/// are `c++filt -p`'s (binutils 2.40, what perf links).
#[test]
fn demangles_function_types_as_libiberty() {
    let cases = [
        ("_ZNSt17_Function_handlerIFN4llvm5ErrorERNS0_18BinaryStreamWriterEEZNS0_3pdb16DbiStreamBuilder17finalizeMsfLayoutEvE3$_1E9_M_invokeERKSt9_Any_dataS3_", "std::_Function_handler<llvm::Error (llvm::BinaryStreamWriter&), llvm::pdb::DbiStreamBuilder::finalizeMsfLayout()::$_1>::_M_invoke"),
        ("_ZN4llvm12function_refIFNS_5AlignEPNS_5ValueES1_S1_EE11callback_fnIZ14inferAlignmentRNS_8FunctionERNS_15AssumptionCacheERNS_13DominatorTreeEE3$_3EES1_lS3_S1_S1_.cold", "llvm::function_ref<llvm::Align (llvm::Value*, llvm::Align, llvm::Align)>::callback_fn<inferAlignment(llvm::Function&, llvm::AssumptionCache&, llvm::DominatorTree&)::$_3>"),
        ("_ZNSt17_Function_handlerIFN4llvm9StringRefES1_RNS0_15SmallVectorImplIcEEEZNKS0_4yaml10ScalarNode20getDoubleQuotedValueES1_S4_E3$_0E9_M_invokeERKSt9_Any_dataOS1_S4_", "std::_Function_handler<llvm::StringRef (llvm::StringRef, llvm::SmallVectorImpl<char>&), llvm::yaml::ScalarNode::getDoubleQuotedValue(llvm::StringRef, llvm::SmallVectorImpl<char>&) const::$_0>::_M_invoke"),
        ("_ZNKSt4lessIN4llvm9StringRefEEclERKS1_S4_", "std::less<llvm::StringRef>::operator()"),
    ];
    for (mangled, want) in cases {
        assert_eq!(String::from_utf8(demangle(mangled.as_bytes()).unwrap()).unwrap(), want);
    }
}

/// C++ names of plain identifiers are read without cpp_demangle (see `demangle::plain_name`):
/// the same text as cpp_demangle's, on names made to probe the edges and on every such name in
/// the C++ libraries of this machine (libstdc++, and LLVM's where installed).
#[test]
fn plain_cpp_names_as_cpp_demangle_prints_them() {
    use super::demangle::{cpp_demangled, plain_name};
    let made = [
        "_ZN4llvm7GVNPass10ValueTable5eraseEPNS_5ValueE",
        "_ZNK4llvm5Value7getNameEv",
        "_ZNSt9exceptionD2Ev",
        "_ZNSt9exceptionD0Ev",
        "_ZN3foo3barC1Ev",
        "_ZN3foo3barC2ERKS0_",
        "_ZL21StrengthenNoWrapFlagsPN4llvm15ScalarEvolutionE",
        "_Z3foov",
        "_Z3fooi",
        "_ZN3fooE",
        "_ZNKR3foo3getEv",
        "_ZNO3foo4takeEv",
        "_ZN3foo3barEv.cold",
        "_Z3fooIiEvT_",
        "_ZN3fooIiE3barEv",
        "_ZN12_GLOBAL__N_13fooEv",
        "_ZN3foo3barB5cxx11Ev",
        "_ZNSs4swapERSs",
        "_ZN4llvmeqERKNS_5APIntES2_",
        "_ZZ4mainE1x",
        "_ZN3foo3barE",
        "_ZNSt6chrono3_V212steady_clock3nowEv",
        "_Z10",
        "_ZN0E",
    ];
    // whether the name is a plain one (then checked)
    let check = |name: &str| -> bool {
        let Some(fast) = plain_name(name) else { return false };
        let slow = cpp_demangled(name).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(Some(fast), slow, "{name}");
        true
    };
    let plain = made.iter().filter(|n| check(n)).count();
    assert!(plain >= 10, "the made names probe the plain path ({plain})");
    // the mangled names in these files' string tables
    let libs = ["/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1"];
    let mut swept = 0;
    for lib in libs {
        let Ok(bytes) = std::fs::read(lib) else {
            eprintln!("{lib} is not on this machine: not swept");
            continue;
        };
        for s in bytes.split(|&c| c == 0) {
            if s.starts_with(b"_Z") && s.len() < 4096 && s.iter().all(|c| c.is_ascii_graphic()) {
                swept += check(std::str::from_utf8(s).unwrap()) as usize;
            }
        }
    }
    eprintln!("plain names checked in the libraries: {swept}");
}
