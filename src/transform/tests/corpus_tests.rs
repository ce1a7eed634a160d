//! The event reader and the naming against the collapser over its own corpus: the samples of
//! the event the collapser keeps, named by [`naming::Namer`] and weighed by their period, fold
//! to the collapser's bytes.

use super::*;
use std::io::Read;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/collapse/inputs");
    let mut names: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    names
        .into_iter()
        .map(|p| {
            let mut v = Vec::new();
            crate::input::source::decoding(std::fs::File::open(&p).unwrap()).unwrap().read_to_end(&mut v).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect()
}

/// What the transforms' reading gives for `collapse` with options `o`.
fn fold_like_collapse(d: &[u8], o: &crate::collapse::perf::Options, kept: Option<&[u8]>) -> Vec<u8> {
    let mut namer = naming::Namer::new(StackOptions::from(o));
    let mut table = std::collections::HashMap::<Vec<u32>, u64>::new();
    let mut rd = EventReader::new(d);
    while let Some(e) = rd.next().unwrap() {
        if kept.is_some_and(|k| events::event_base(k) != e.event_base()) {
            continue;
        }
        let mut ids = Vec::new();
        namer.stack(e, &mut ids);
        *table.entry(ids).or_default() += e.period.filter(|&p| p > 0).unwrap_or(1);
    }
    folded_lines(namer.render_all(table.iter().map(|(k, &c)| (&k[..], c))))
}

#[test]
fn reader_and_naming_fold_as_collapse_does() {
    let opts = [crate::collapse::perf::Options::default(), crate::collapse::perf::Options { tid: true, kernel: true, jit: true, addrs: true, ..Default::default() }];
    let (mut differ, mut compared) = (Vec::new(), 0);
    for (name, d) in corpus() {
        for o in &opts {
            let c = crate::profile::from_perf_slice(&d, o, 1, &|_| Ok(())).unwrap();
            compared += !c.is_empty() as usize;
            let got = fold_like_collapse(&d, o, c.kept_event.as_deref());
            if got != crate::output::folded::Folded::from_profile(&c).to_text() {
                differ.push(name.clone());
            }
        }
    }
    differ.dedup();
    assert!(differ.is_empty(), "{differ:?}");
    assert!(compared > 40);
}

/// A real two-event capture (FlameGraph's perf-cycles-instructions-01): CPI's columns are the
/// collapser's folds of each event alone.
#[test]
fn cpi_columns_are_collapse_per_event() {
    let d = corpus().into_iter().find(|(n, _)| n == "perf-cycles-instructions-01.txt").unwrap().1;
    let o = crate::collapse::perf::Options { pid: true, ..Default::default() };
    let per = |e: &str| {
        let c = crate::profile::from_perf_slice(&d, &crate::collapse::perf::Options { event_filter: Some(e.as_bytes().to_vec()), ..o.clone() }, 1, &|_| Ok(())).unwrap();
        parse_folded(&crate::output::folded::Folded::from_profile(&c).to_text())
    };
    let (cycles, instr) = (per("cycles"), per("instructions"));
    let r = cpi(&d[..], &CpiOptions { stacks: StackOptions::from(&o), ..Default::default() }).unwrap();
    let mut n = 0;
    for l in text(&r.folded).lines() {
        let mut it = l.rsplitn(3, ' ');
        let (i, c, stack) = (it.next().unwrap().parse::<u64>().unwrap(), it.next().unwrap().parse::<u64>().unwrap(), it.next().unwrap());
        assert_eq!(c, cycles.get(stack).copied().unwrap_or(0), "{stack}");
        assert_eq!(i, instr.get(stack).copied().unwrap_or(0), "{stack}");
        n += 1;
    }
    let keys: std::collections::BTreeSet<&String> = cycles.keys().chain(instr.keys()).collect();
    assert_eq!(n, keys.len());
    assert_eq!((r.get("cycles_samples"), r.get("instructions_samples")), (Some(111), Some(333)));
}
