//! Prints the folded stacks of a perf.data file read directly, or (`--text`) of `perf script`
//! text read from stdin by the text path: the two sides of `tests/data/perf_data/compare.sh`.
//!
//! Usage: perfdata_fold [--pid] [--tid] [--kernel] [--jit] [--addrs] [--event-filter=EV]
//!        (PERF.DATA | - | --text)   (`-`: perf.data streamed by `perf record -o -`)
//! `$FLAMEFOLD_THREADS`: threads loading symbols (default: every core).

use flamefold::collapse::perf::Options;
use std::io::{Read, Write};

fn main() {
    let mut opts = Options::default();
    let mut path = None;
    let mut text = false;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--pid" => opts.pid = true,
            "--tid" => opts.tid = true,
            "--kernel" => opts.kernel = true,
            "--jit" => opts.jit = true,
            "--addrs" => opts.addrs = true,
            "--text" => text = true,
            _ if a.starts_with("--event-filter=") => opts.event_filter = Some(a["--event-filter=".len()..].as_bytes().to_vec()),
            _ => path = Some(a),
        }
    }
    let out = if text {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).expect("stdin");
        let p = flamefold::profile::from_perf_slice(&buf, &opts, 1, &|_| Ok(())).expect("collapse");
        flamefold::Folded::from_profile(&p).to_text()
    } else {
        let path = path.expect("a perf.data path");
        use flamefold::collapse::perf_data as pd;
        let c = if path == "-" {
            pd::collapse_pipe(std::io::BufReader::new(std::io::stdin().lock()), &opts, pd::read_kallsyms()).expect("perf.data from stdin")
        } else {
            let threads = std::env::var("FLAMEFOLD_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            pd::collapse_perf_data_threads(std::path::Path::new(&path), &opts, threads).expect("perf.data")
        };
        for w in &c.warnings {
            eprintln!("warning: {w}");
        }
        flamefold::collapse::perf_data::folded(&c, opts.event_filter.as_deref())
    };
    std::io::stdout().write_all(&out).expect("stdout");
}
