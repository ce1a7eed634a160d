//! Outputs: renderings of a profile's frame and stack tables (not of text).
//!
//! - [`folded`]: `a;b;c count` lines in byte order (and reading them back).
//! - [`speedscope`]: speedscope's JSON file format (a "sampled" profile).

pub mod folded;
pub mod speedscope;
