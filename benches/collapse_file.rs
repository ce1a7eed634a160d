//! A pure-Rust driver for profiling the collapser (`perf record` on it, no Python):
//!
//!     cargo build --profile profiling --bench collapse_file
//!     perf record -g target/profiling/deps/collapse_file-* FILE [THREADS] > /dev/null
//!
//! Reads FILE as the CLI does (streamed, in chunks) and writes the folded text to stdout; with
//! `FLAMEFOLD_SLICE=1` in the environment, reads it whole first (not timed) and collapses it from
//! memory (to tell the reading's share).

use flamefold::collapse::perf::Options;
use flamefold::output::folded::Folded;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: collapse_file FILE [THREADS] [--bench]");
    let threads: usize = args.next().map_or(1, |t| t.parse().expect("threads"));
    // FLAMEFOLD_SLICE=1: the file read into memory first (not timed), then collapsed from there
    let data = std::env::var_os("FLAMEFOLD_SLICE").map(|_| std::fs::read(&path).expect("read"));
    let (r, _) = flamefold::input::source::open_path(std::path::Path::new(&path)).expect("open");
    let t = std::time::Instant::now();
    let mut p = match &data {
        Some(d) => flamefold::profile::from_perf_slice(d, &Options::default(), threads, &|_| Ok(())),
        None => flamefold::profile::from_perf_read(r, &Options::default(), threads, &|_| Ok(())),
    }
    .expect("collapse");
    let folded = Folded::take_from(&mut p);
    let out = std::io::stdout().lock();
    folded.write_to(std::io::BufWriter::with_capacity(1 << 16, out)).expect("write");
    eprintln!("{:.3} s", t.elapsed().as_secs_f64());
}
