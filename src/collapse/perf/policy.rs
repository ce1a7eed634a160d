//! When the perf collapser's callchain block cache is used.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// When the callchain block cache is used. It pays only when whole callchains repeat often
/// (captures concatenated to size: nearly every block); on real captures, where about half the
/// blocks repeat, reading their lines through the frame line cache is faster (build capture:
/// 0.256 s without it, 0.323 s with it). So it is used only when the callchains are seen to
/// repeat, and then measured:
/// - Without the block cache, an estimate of how often callchains repeat is kept: the blocks
///   chosen by their content (the first frame's address ending in `00`, `20`, ... `e0`: 5-7% of them on real captures) are
///   hashed into a small set of hashes shared by the workers ([`BlockPolicy::watch`]). This costs little, and the
///   same block is always chosen or not, so repeats among the chosen blocks are repeats.
/// - When most of the recent chosen blocks repeat ([`REPEATS`]), the block cache is warmed:
///   used for [`WARM_ONE`] bytes per worker (within a budget of [`WARM`] shared by the workers,
///   so that memory does not grow with the thread count), to learn the blocks;
/// - then each chunk uses the mode that read the last chunks faster (time per byte, a moving
///   average per mode), and one chunk in [`BlockPolicy::EXPLORE`] (four times fewer when one
///   mode takes more than 1.5 times the other) the other mode, to notice a change.
///
/// Either mode gives the same result: only the time depends on it.
pub(super) struct BlockPolicy {
    shared: Arc<Shared>,
    /// 0: not warmed yet (waiting for repeats); 1: warming; 2: warmed (timing both modes).
    phase: u8,
    /// Bytes this worker read while warming (at most [`WARM_ONE`]).
    warmed: u64,
    chunks: u64,
    /// Nanoseconds per byte without and with the block cache (0: not measured yet).
    cost: [f64; 2],
}

/// What the workers of a run share: the estimate (one for all, so that repeats across the
/// workers' chunks count), whether it said to warm, and the warm-up budget left.
pub(super) struct Shared {
    estimate: Mutex<Estimate>,
    go: AtomicBool,
    warm: AtomicI64,
}

impl Shared {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Shared { estimate: Mutex::new(Estimate::default()), go: AtomicBool::new(false), warm: AtomicI64::new(WARM) })
    }
}

/// The hashes of the chosen blocks seen lately, how many chosen blocks were seen, and the share
/// of repeats among the last ones (a moving average, in 1/65536).
#[derive(Default)]
struct Estimate {
    hashes: foldhash::HashSet<u64>,
    seen: u32,
    repeats: u32,
}

/// The share of the last chosen blocks seen before (in 1/65536) from which the block cache is
/// warmed: 95% (captures concatenated to size: 100% after the first copy; real captures recorded
/// here: at most 89% over any ~128 chosen blocks, 50-65% in all).
const REPEATS: u32 = 62_259;
/// Chosen blocks needed before the share counts.
const MIN_SEEN: u32 = 128;
/// Hashes kept (the set is emptied when it reaches this).
const MAX_HASHES: usize = 1 << 16;

/// The warm-up budget of a run: what the workers read with the block cache on, first, ...
const WARM: i64 = 32 << 20;
/// ... and of one worker.
const WARM_ONE: u64 = 16 << 20;

impl BlockPolicy {
    const EXPLORE: u64 = 32;

    pub(super) fn new(shared: Arc<Shared>) -> Self {
        BlockPolicy { shared, phase: 0, warmed: 0, chunks: 0, cost: [0.0; 2] }
    }

    /// Whether the block cache is off and the block starting at `first` (the sample's first
    /// frame line) is one of those watched: hash it then, and tell [`BlockPolicy::watch`].
    #[inline]
    pub(super) fn chosen(&self, first: &[u8]) -> bool {
        // perf's frame line: `\t` and the address in 16 columns, ending in `00`, `20`, ... `e0`
        self.phase == 0 && first.len() > 17 && first[16] == b'0' && first[15] & 1 == 0
    }

    /// A chosen block's hash.
    pub(super) fn watch(&mut self, hash: u64) {
        let Ok(mut e) = self.shared.estimate.lock() else { return };
        if e.hashes.len() >= MAX_HASHES {
            e.hashes.clear();
        }
        e.seen = e.seen.saturating_add(1);
        let repeat = if e.hashes.insert(hash) { 0 } else { 65_536 };
        // the last ~128 chosen blocks weigh most
        e.repeats = e.repeats - (e.repeats >> 7) + (repeat >> 7);
        if e.seen >= MIN_SEEN && e.repeats >= REPEATS && !self.shared.go.load(Ordering::Relaxed) {
            self.shared.go.store(true, Ordering::Relaxed);
            e.hashes = Default::default();
        }
    }

    pub(super) fn choose(&mut self) -> bool {
        self.chunks += 1;
        if self.phase == 0 {
            if !self.shared.go.load(Ordering::Relaxed) {
                return false;
            }
            self.phase = 1;
        }
        if self.phase == 1 {
            if self.warmed < WARM_ONE && self.shared.warm.load(Ordering::Relaxed) > 0 {
                return true;
            }
            self.phase = 2;
        }
        let [off, on] = self.cost;
        if off == 0.0 {
            return false;
        }
        let best = on <= off;
        // far apart, the other mode is tried less often (a try costs the difference)
        let every = if on.max(off) > 1.5 * on.min(off) { 4 * Self::EXPLORE } else { Self::EXPLORE };
        if self.chunks.is_multiple_of(every) {
            !best
        } else {
            best
        }
    }

    pub(super) fn learn(&mut self, on: bool, t: std::time::Duration, bytes: usize) {
        if self.phase == 1 {
            self.warmed += bytes as u64;
            self.shared.warm.fetch_sub(bytes as i64, Ordering::Relaxed);
        }
        if bytes < 1 << 16 {
            return; // too short to time
        }
        let c = t.as_nanos() as f64 / bytes as f64;
        let slot = &mut self.cost[on as usize];
        *slot = if *slot == 0.0 { c } else { 0.5 * *slot + 0.5 * c };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Callchains that mostly repeat warm the block cache (for every worker of the run); half
    /// repeating ones, as in real captures, do not.
    #[test]
    fn warms_only_when_callchains_repeat() {
        let shared = Shared::new();
        let (mut a, mut b) = (BlockPolicy::new(shared.clone()), BlockPolicy::new(shared.clone()));
        for i in 0..20_000u64 {
            // every other block new, the others seen before
            a.watch(if i % 2 == 0 { i } else { i - 1 });
        }
        assert!(!a.choose() && !b.choose());
        for round in 0..3 {
            for i in 0..200u64 {
                // the same 200 blocks again and again (a capture repeated to size)
                (if round % 2 == 0 { &mut a } else { &mut b }).watch(1_000_000 + i);
            }
        }
        assert!(a.choose() && b.choose(), "both workers warm");
    }
}
