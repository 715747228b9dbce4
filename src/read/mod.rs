//! Reading: bytes to records with their true line numbers and raw bytes,
//! on every thread, and the file's BLAKE3 digest; compressed and non-UTF-8
//! inputs decoded on the way.

pub mod blocks;
pub mod decode;
pub(crate) mod digest;
mod header;
pub mod input;
pub mod pipeline;
pub(crate) mod split;
mod stitch;
mod stream;
