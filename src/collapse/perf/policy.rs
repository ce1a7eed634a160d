//! When the perf collapser's callchain block cache is used.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// When the callchain block cache is used. It pays only when whole callchains repeat often
/// (captures concatenated to size: nearly every block); on real captures, where half the
/// blocks repeat, reading their lines through the frame line cache is as fast or faster. So it
/// is measured: the first bytes use it (to learn the blocks of a repeated capture: [`WARM_ONE`] bytes per
/// worker, within a budget of [`WARM`] shared by the workers, so that memory does not grow
/// with the thread count), then each chunk uses the mode that read the last chunks faster (time per byte, a
/// moving average per mode), and one chunk in [`BlockPolicy::EXPLORE`] (four times fewer when
/// one mode takes more than 1.5 times the other) the other mode, to notice a change. Either mode gives the same result: only the time depends on it.
pub(super) struct BlockPolicy {
    /// The warm-up budget left, shared by the workers of a run.
    warm: Arc<AtomicI64>,
    warming: bool,
    /// Bytes this worker read while warming (at most [`WARM_ONE`]).
    warmed: u64,
    chunks: u64,
    /// Nanoseconds per byte without and with the block cache (0: not measured yet).
    cost: [f64; 2],
}

/// The warm-up budget of a run: what the workers read with the block cache on, first, ...
pub(super) const WARM: i64 = 32 << 20;
/// ... and of one worker.
const WARM_ONE: u64 = 16 << 20;

impl BlockPolicy {
    const EXPLORE: u64 = 32;

    pub(super) fn new(warm: Arc<AtomicI64>) -> Self {
        BlockPolicy { warm, warming: true, warmed: 0, chunks: 0, cost: [0.0; 2] }
    }

    pub(super) fn choose(&mut self) -> bool {
        self.chunks += 1;
        if self.warming {
            self.warming = self.warmed < WARM_ONE && self.warm.load(Ordering::Relaxed) > 0;
            if self.warming {
                return true;
            }
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
        if self.warming {
            self.warmed += bytes as u64;
            self.warm.fetch_sub(bytes as i64, Ordering::Relaxed);
        }
        if bytes < 1 << 16 {
            return; // too short to time
        }
        let c = t.as_nanos() as f64 / bytes as f64;
        let slot = &mut self.cost[on as usize];
        *slot = if *slot == 0.0 { c } else { 0.5 * *slot + 0.5 * c };
    }
}

