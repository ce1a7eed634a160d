//! Finishing a tree: pruning by the minimum width, and laying out frames (a tree or a chart).

use super::*;

impl TreeBuilder {
    /// Prunes frames narrower than `min` and lays out the rest. `total` (flamegraph.pl's
    /// `--total`) widens the x scale when it is larger than the sum of the counts. Fails when
    /// the counts add up past 2^64 (`count overflow`).
    pub fn finish(self, min: MinWidth, total: Option<f64>) -> Result<Frames> {
        self.finish_checked(min, total, &|_| Ok(()))
    }

    /// [`TreeBuilder::finish`], calling `check` now and then (its error stops the work).
    pub fn finish_checked(self, min: MinWidth, total: Option<f64>, check: &dyn Fn(u64) -> Result<()>) -> Result<Frames> {
        if self.overflowed() {
            let what = if self.total > MAX_FIXED { "the total of the counts" } else { "the total of the first counts" };
            return Err(Error::Overflow { what: what.into() });
        }
        let sum = fixed_f64(self.total);
        let timemax = total.filter(|&t| t > sum).unwrap_or(sum);
        let min_time = match min {
            MinWidth::Pixels { px, image_width } => {
                if timemax > 0.0 && image_width > 0.0 {
                    px / (image_width / timemax)
                } else {
                    0.0
                }
            }
            MinWidth::Percent(p) => timemax * p / 100.0,
        };
        let out = Frames {
            total: sum,
            total_fixed: self.total,
            timemax,
            maxdelta: fixed_f64(self.maxdelta).max(1.0),
            lines: self.lines,
            ..Frames::default()
        };
        if self.chart.is_some() {
            Ok(self.finish_chart(min_time, out))
        } else {
            self.finish_tree(min_time, out, check)
        }
    }

    fn finish_tree(self, min_time: f64, mut out: Frames, check: &dyn Fn(u64) -> Result<()>) -> Result<Frames> {
        let n = self.nodes.len();
        // each node's samples and those of all below it, in place of its own (a drawn frame's
        // own are its total less its children's)
        // wide enough to draw: at least `min_time`, compared in fixed point (the conversion is
        // monotonic, so there is a least such count); per node, whether a child is
        let least = least_fixed(min_time);
        let wide = |t: u128| least.is_some_and(|m| t >= m);
        let mut wide_child = vec![false; n];
        let mut nodes = self.nodes;
        for i in (1..n).rev() {
            let t = nodes[i].selfc; // final: the nodes below come after it
            let p = nodes[i].parent as usize;
            nodes[p].selfc += t;
            wide_child[p] |= wide(t);
        }
        let nodes = &nodes;
        let total_of = |i: usize| nodes[i].selfc;
        // differential input: a frame is differential when a two-column line went through it
        let (mut delta, mut diff) = (self.delta, self.diff);
        if !diff.is_empty() {
            delta.resize(n, 0);
            diff.resize(n, false);
            for i in (1..n).rev() {
                if diff[i] {
                    diff[nodes[i].parent as usize] = true;
                }
            }
        }
        // the first column under each frame: its samples less the deltas of the stacks below it
        let mut delta_under: Vec<i128> = delta.clone();
        for i in (1..delta_under.len()).rev() {
            let d = delta_under[i];
            delta_under[nodes[i].parent as usize] += d;
        }
        check(0)?;
        // depth-first from the root over the frames wide enough to draw: each one's samples
        // first, then its children left to right in byte order of their names (the narrow ones
        // too: they are not drawn but take their room)
        let names = &self.names;
        let order = |a: &u32, b: &u32| {
            let (a, b) = (names.get(FrameId(nodes[*a as usize].name)), names.get(FrameId(nodes[*b as usize].name)));
            shown_name(a).cmp(shown_name(b)).then(a.cmp(b))
        };
        let mut name_index = vec![NONE; names.len()];
        let mut kids: Vec<u32> = Vec::new();
        let mut narrow: Vec<u32> = Vec::new();
        let mut room: Vec<u128> = Vec::new();
        let mut stack: Vec<(u32, u32, u128)> = vec![(0, 0, 0)]; // (node, depth, start)
        while let Some((node, depth, start)) = stack.pop() {
            let i = node as usize;
            if out.depth.len().is_multiple_of(1 << 16) {
                check(0)?;
            }
            let ni = &mut name_index[nodes[i].name as usize];
            if *ni == NONE {
                *ni = out.names.len() as u32;
                out.names.push(names.get(FrameId(nodes[i].name)).to_vec());
            }
            out.depth.push(depth);
            out.start.push(fixed_f64(start));
            out.width.push(if i == 0 { out.timemax } else { fixed_f64(total_of(i)) });
            out.name.push(*ni);
            out.delta.push(fixed_f64_signed(delta.get(i).copied().unwrap_or(0)));
            out.diff.push(diff.get(i).copied().unwrap_or(false));
            let before = total_of(i) as i128 - delta_under.get(i).copied().unwrap_or(0);
            out.before.push(fixed_f64_signed(before));
            out.count.push(total_of(i));
            out.before_count.push(before.max(0) as u128);
            // the children wide enough to draw, in byte order of their names; each starts after
            // its siblings before it in that order, drawn or not: the narrow ones only add their
            // samples to the room before the first wide sibling after them (no full sort)
            if !wide_child[i] {
                continue; // nothing below is drawn: no need to visit the children
            }
            kids.clear();
            narrow.clear();
            let mut c = nodes[i].last_child;
            let mut below = 0u128;
            while c != NONE {
                below += total_of(c as usize);
                if wide(total_of(c as usize)) {
                    kids.push(c);
                } else {
                    narrow.push(c);
                }
                c = nodes[c as usize].prev_sibling;
            }
            if kids.is_empty() {
                continue;
            }
            kids.sort_unstable_by(order);
            room.clear();
            room.resize(kids.len() + 1, 0);
            for &c in &narrow {
                let k = kids.partition_point(|w| order(w, &c) == std::cmp::Ordering::Less);
                room[k] += total_of(c as usize);
            }
            let mut cursor = start + (total_of(i) - below);
            let at = stack.len();
            for (k, &c) in kids.iter().enumerate() {
                cursor += room[k];
                stack.push((c, depth + 1, cursor));
                cursor += total_of(c as usize);
            }
            stack[at..].reverse();
        }
        Ok(out)
    }

    fn finish_chart(self, min_time: f64, mut out: Frames) -> Frames {
        let Some(mut chart) = self.chart else { return out };
        let t = self.total;
        while let Some(b) = chart.open.pop() {
            let depth = chart.open.len() as u32;
            chart.closed.push((depth, b, t));
        }
        let mut boxes: Vec<_> = chart.closed.into_iter().filter(|(d, b, end)| *d == 0 || fixed_f64(end - b.start) >= min_time).collect();
        boxes.sort_by(|a, b| a.1.start.cmp(&b.1.start).then(a.0.cmp(&b.0)));
        let mut name_index = vec![NONE; self.names.len()];
        for (depth, b, end) in boxes {
            let ni = &mut name_index[b.name as usize];
            if *ni == NONE {
                *ni = out.names.len() as u32;
                out.names.push(self.names.get(FrameId(b.name)).to_vec());
            }
            let width = if depth == 0 { out.timemax } else { fixed_f64(end - b.start) };
            out.depth.push(depth);
            out.start.push(fixed_f64(b.start));
            out.width.push(width);
            out.name.push(*ni);
            out.delta.push(fixed_f64_signed(b.delta));
            out.diff.push(b.diff);
            out.before.push(if depth == 0 { width - fixed_f64_signed(b.delta) } else { fixed_f64_signed((end - b.start) as i128 - b.delta) });
            out.count.push(end - b.start);
            out.before_count.push(((end - b.start) as i128 - b.delta).max(0) as u128);
        }
        out
    }
}

/// The least count (fixed point) whose float is at least `min_time`, if any.
fn least_fixed(min_time: f64) -> Option<u128> {
    if fixed_f64(u128::MAX) < min_time || min_time.is_nan() {
        return None;
    }
    let (mut lo, mut hi) = (0u128, u128::MAX);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if fixed_f64(mid) >= min_time {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(lo)
}
