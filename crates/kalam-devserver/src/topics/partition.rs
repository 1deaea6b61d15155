//! Partition choice (PROTOCOL §4.4, §11): Rust's `DefaultHasher::new()` (SipHash-1-3, zero
//! keys) over the key string, modulo the partition count. `DefaultHasher::new()` is not
//! randomly seeded, so the choice is stable across processes — the §11 vector pins it.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

pub fn partition_for(key: &str, partitions: u32) -> u32 {
    if partitions <= 1 {
        return 0;
    }
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % partitions as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_vector_observed_on_a_real_server() {
        let p0: Vec<&str> = ["a", "b", "c", "d", "e", "f", "g", "h"]
            .into_iter()
            .filter(|k| partition_for(k, 2) == 0)
            .collect();
        assert_eq!(p0, vec!["b", "c", "e", "g"]);
        for k in ["a", "d", "f", "h"] {
            assert_eq!(partition_for(k, 2), 1, "{k}");
        }
        assert_eq!(partition_for("anything", 1), 0);
    }
}
