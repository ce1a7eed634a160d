//! flamefold's core. The data flow, one module a stage (each uses only those above it):
//!
//! ```text
//! error, intern  one Error type; interned frames (FrameId), stack tables (StackId)
//! input/         sources (files, pipes, bytes, gzip/zstd), the one sniffer, the one chunker,
//!                the one folded grammar
//! collapse/      the seam (Sample, Sink, Collapser, Format) and the one parallel driver;
//!                perf/ (perf script text) is a format on it
//! profile/       merged tables: events filtered, Rust names fixed once per frame, stacks
//!                in byte order
//! output/        renderings of a profile (folded text, speedscope JSON)
//! transform/     graphs over timed samples: off-CPU, hot/cold, wakeup, CPI; the stack doctor
//! diff, tree/    two profiles -> stack before after; folded stacks -> frame tree for graphs
//! py/            the only PyO3 (feature `python`), so `cargo test` needs no interpreter
//! ```

pub mod collapse;
pub mod diff;
pub mod error;
pub mod input;
pub mod intern;
pub mod output;
pub mod profile;
pub mod transform;
pub mod tree;

#[cfg(feature = "python")]
mod py;

pub use error::{Error, Result, Warning};
pub use output::folded::Folded;

#[cfg(test)]
mod seams_tests;
