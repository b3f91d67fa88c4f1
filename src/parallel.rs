//! Work split across the machine's cores with scoped threads, for the CPU-bound passes over
//! every object (parsing files, hashing them, naming link ends).

/// Threads a pass may use: the machine's cores, at most 8.
pub fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

/// Runs `f` on every item, on all cores once there are at least `min` items.
pub fn each_mut<T: Send>(items: &mut [T], min: usize, f: impl Fn(&mut T) + Sync) {
    let threads = threads();
    if threads == 1 || items.len() < min.max(2) {
        items.iter_mut().for_each(f);
        return;
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        for part in items.chunks_mut(chunk) {
            s.spawn(move || part.iter_mut().for_each(f));
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_item_is_visited_once() {
        for n in [0, 1, 5, 1000] {
            let mut items: Vec<usize> = (0..n).collect();
            super::each_mut(&mut items, 10, |i| *i *= 2);
            assert_eq!(items, (0..n).map(|i| i * 2).collect::<Vec<_>>());
        }
    }
}
