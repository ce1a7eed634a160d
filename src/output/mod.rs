//! Outputs: renderings of a profile's frame and stack tables (not of text).
//!
//! - [`folded`]: `a;b;c count` lines in byte order (and reading them back).

pub mod folded;
