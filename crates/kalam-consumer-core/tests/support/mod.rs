//! Helpers shared by the decode tests. Each test binary compiles this module and uses part of
//! it, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod assemble;
pub mod batch;
pub mod batch_text;
pub mod reference;
