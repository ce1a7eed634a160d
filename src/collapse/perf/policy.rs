//! When the perf collapser's callchain block cache is used.

/// When the callchain block cache is used. It pays only when whole callchains repeat often
/// (captures concatenated to size: nearly every block); on real captures, where half the
/// blocks repeat, reading their lines through the frame line cache is as fast or faster. So it
/// is measured: the first [`BlockPolicy::WARM`] bytes use it (to learn the blocks of a repeated
/// capture), then each chunk uses the mode that read the last chunks faster (time per byte, a
/// moving average per mode), and one chunk in [`BlockPolicy::EXPLORE`] the other mode, to notice
/// a change. Either mode gives the same result: only the time depends on it.
#[derive(Default)]
pub(super) struct BlockPolicy {
    bytes: u64,
    chunks: u64,
    /// Nanoseconds per byte without and with the block cache (0: not measured yet).
    cost: [f64; 2],
}

impl BlockPolicy {
    const WARM: u64 = 16 << 20;
    const EXPLORE: u64 = 32;

    pub(super) fn choose(&mut self) -> bool {
        self.chunks += 1;
        if self.bytes < Self::WARM {
            return true;
        }
        let [off, on] = self.cost;
        if off == 0.0 {
            return false;
        }
        let best = on <= off;
        if self.chunks.is_multiple_of(Self::EXPLORE) {
            !best
        } else {
            best
        }
    }

    pub(super) fn learn(&mut self, on: bool, t: std::time::Duration, bytes: usize) {
        self.bytes += bytes as u64;
        if bytes < 1 << 16 {
            return; // too short to time
        }
        let c = t.as_nanos() as f64 / bytes as f64;
        let slot = &mut self.cost[on as usize];
        *slot = if *slot == 0.0 { c } else { 0.5 * *slot + 0.5 * c };
    }
}

