//! flamefold's core: streaming `perf script` parsing, stack folding with interned frames, and
//! folded-stack reading. Free of Python: the bindings live in `py/` behind the `python` feature,
//! so `cargo test` needs no interpreter.

pub mod collapse;
pub mod diff;
pub mod error;
pub mod fold;
pub mod folded;
pub mod intern;
pub mod output;
pub mod perf;
pub mod transform;
pub mod source;
pub mod tree;

#[cfg(feature = "python")]
mod py;

pub use error::{Error, Result, Warning};
pub use fold::Folded;
