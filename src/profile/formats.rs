//! Every text format into a profile: the one place where a capture's format is chosen (sniffed
//! by `collapse::sniff`, or forced) and its collapse run through the generic driver.
//!
//! `perf script` text keeps its own entry ([`super::from_perf_read`]: events filtered, Rust
//! names fixed); DTrace and jstack have no events and keep their names as the Perl does.
//! perf.data files go to [`perf_data`], the one place where the perf.data reader plugs in.

use super::{from_perf_read_sized, from_perf_slice_sized, EventFilter, Profile};
use crate::collapse::dtrace::Dtrace;
use crate::collapse::jstack::Jstack;
use crate::collapse::perf::Options;
use crate::collapse::{collapse_read, collapse_slice, Collapsed, Format, Progress};
use crate::error::{Error, Result};
use crate::input::chunk::CHUNK;
use crate::input::sniff::Kind;
use std::io::Read;

/// The options of every format (each format reads its own).
#[derive(Clone, Debug, Default)]
pub struct FormatOptions {
    pub perf: Options,
    pub dtrace: Dtrace,
    pub jstack: Jstack,
}

impl FormatOptions {
    /// `perf`'s options, the other formats' defaults (graph and diff take only perf's).
    pub fn perf(perf: Options) -> Self {
        FormatOptions { perf, ..Default::default() }
    }
}

/// Formats without events: nothing filtered.
const NO_EVENTS: EventFilter<'static> = EventFilter { explicit: None, same: |a, b, _| a == b };

fn finish(c: Collapsed) -> Result<Profile> {
    // the Perl collapsers of these formats keep names as they are: no Rust-name fix-up
    Profile::from_collapsed(c, &NO_EVENTS, false)
}

/// A binary perf.data stream (a file's whole layout is read into memory first, as it needs
/// seeking; a pipe-mode stream from `perf record -o -` is read as it comes). Paths are read by
/// [`super::from_perf_data_path`], seeking in the file.
pub fn perf_data<R: Read + Send>(mut r: R, opts: &Options, threads: usize, progress: Progress<'_>) -> Result<Profile> {
    let mut head = Vec::with_capacity(16);
    (&mut r).take(16).read_to_end(&mut head)?;
    super::from_perf_data_read(&head, r, opts, threads, progress)
}

/// Collapses a stream (decompressed) of the format `kind` into a profile. Folded stacks are
/// not collapsed (`output::folded::read_folded` reads them): a usage error here, as binary data
/// of no known format is read as `perf script` text would be (and refused by its parser).
pub fn from_read<R: Read + Send>(kind: Kind, r: R, opts: &FormatOptions, threads: usize, progress: Progress<'_>) -> Result<Profile> {
    match kind {
        Kind::PerfScript | Kind::Binary => from_perf_read_sized(r, &opts.perf, threads, progress, CHUNK),
        Kind::PerfData => perf_data(r, &opts.perf, threads, progress),
        Kind::Dtrace => read_with(&opts.dtrace, r, threads, progress),
        Kind::Jstack => read_with(&opts.jstack, r, threads, progress),
        Kind::Folded => Err(Error::Usage("folded stacks are read, not collapsed (read_folded)".into())),
    }
}

/// [`from_read`] for bytes in memory (not compressed).
pub fn from_slice(kind: Kind, data: &[u8], opts: &FormatOptions, threads: usize, progress: Progress<'_>) -> Result<Profile> {
    match kind {
        Kind::PerfScript | Kind::Binary => from_perf_slice_sized(data, &opts.perf, threads, progress, CHUNK),
        Kind::PerfData => super::from_perf_data_slice(data, &opts.perf, threads),
        Kind::Dtrace => slice_with(&opts.dtrace, data, threads, progress),
        Kind::Jstack => slice_with(&opts.jstack, data, threads, progress),
        Kind::Folded => Err(Error::Usage("folded stacks are read, not collapsed (read_folded)".into())),
    }
}

fn read_with<F: Format, R: Read + Send>(format: &F, r: R, threads: usize, progress: Progress<'_>) -> Result<Profile> {
    finish(collapse_read(format, r, threads, progress, CHUNK)?)
}

fn slice_with<F: Format>(format: &F, data: &[u8], threads: usize, progress: Progress<'_>) -> Result<Profile> {
    finish(collapse_slice(format, data, threads, progress, CHUNK)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(rel: &str) -> Vec<u8> {
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(rel)).unwrap()
    }

    fn text(p: &mut Profile) -> Vec<u8> {
        crate::output::folded::Folded::take_from(p).to_text()
    }

    #[test]
    fn dtrace_and_jstack_profiles_are_the_perls() {
        let none = |_: u64| Ok(());
        let o = FormatOptions::default();
        for (kind, input, expected) in [
            (Kind::Dtrace, "dtrace/inputs/edge-cases.txt", "dtrace/expected/edge-cases.txt"),
            (Kind::Dtrace, "dtrace/inputs/inferno-java.txt", "dtrace/expected/inferno-java.txt"),
            (Kind::Jstack, "jstack/inputs/java17-5-dumps.txt", "jstack/expected/java17-5-dumps.txt"),
            (Kind::Jstack, "jstack/inputs/edge-cases.txt", "jstack/expected/edge-cases.txt"),
        ] {
            let input = data(input);
            assert_eq!(crate::collapse::sniff(&input[..input.len().min(crate::input::sniff::SNIFF)]), kind, "{expected}");
            for threads in [1, 2] {
                let mut p = from_slice(kind, &input, &o, threads, &none).unwrap();
                assert!(text(&mut p) == data(expected), "{expected} (slice, {threads} threads)");
                let mut p = from_read(kind, &input[..], &o, threads, &none).unwrap();
                assert!(text(&mut p) == data(expected), "{expected} (read, {threads} threads)");
                assert_eq!((p.kept_event.as_ref(), p.dropped), (None, 0));
            }
        }
        let o = FormatOptions { jstack: Jstack { include_tname: false, include_tid: false, shorten_pkgs: true }, dtrace: Dtrace { includeoffset: true }, ..Default::default() };
        let mut p = from_slice(Kind::Jstack, &data("jstack/inputs/edge-cases.txt"), &o, 1, &none).unwrap();
        assert!(text(&mut p) == data("jstack/expected/edge-cases--no-include-tname--shorten-pkgs.txt"));
        let mut p = from_slice(Kind::Dtrace, &data("dtrace/inputs/edge-cases.txt"), &o, 1, &none).unwrap();
        assert!(text(&mut p) == data("dtrace/expected/edge-cases-offsets.txt"));
        // a damaged perf.data is a parse error saying so
        assert!(matches!(from_slice(Kind::PerfData, b"PERFILE2", &o, 1, &none), Err(Error::Parse { line: 0, msg }) if msg.contains("damaged perf.data")));
    }

    /// The DTrace and jstack tests in `collapse::SNIFF_RULES` change nothing for the corpus's
    /// `perf script` captures and folded files: they sniff as with no format tests.
    #[test]
    fn corpus_sniffs_as_before_the_formats_were_wired() {
        use crate::input::sniff::{sniff, Rules, SNIFF};
        let before = Rules { perf_header: crate::collapse::SNIFF_RULES.perf_header, formats: &[] };
        let mut n = 0;
        for dir in ["collapse/inputs", "collapse/expected", "flamegraph/inputs", "diff"] {
            let Ok(entries) = std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(dir)) else { continue };
            for e in entries {
                let path = e.unwrap().path();
                if !path.is_file() {
                    continue;
                }
                let raw = std::fs::read(&path).unwrap();
                let mut text = Vec::new();
                let mut r = crate::input::source::decoding(&raw[..]).unwrap();
                std::io::Read::read_to_end(&mut r, &mut text).unwrap();
                let head = &text[..text.len().min(SNIFF)];
                assert_eq!(crate::collapse::sniff(head), sniff(head, &before), "{}", path.display());
                assert!(!matches!(crate::collapse::sniff(head), Kind::Dtrace | Kind::Jstack), "{}", path.display());
                n += 1;
            }
        }
        assert!(n > 100, "{n} files");
    }
}
