//! Folded text straight from a perf.data collapse, for tests and the example.

use crate::collapse::Collapsed;
use crate::intern::FrameId;

/// Folded text of one event's stacks, as the text path keeps them: the event named by
/// `event_filter`, else the first event sampled (events are numbered in the order their first
/// sample was read, so that is event 0). For tests and the example; the lead's finishing step
/// does this for the library.
pub fn folded(c: &Collapsed, event_filter: Option<&[u8]>) -> Vec<u8> {
    let keep = match event_filter {
        Some(name) => match c.sink.events.iter().find(|(_, n)| *n == name) {
            Some((id, _)) => id.0,
            None => return Vec::new(),
        },
        None => 0,
    };
    let mut lines: Vec<(Vec<u8>, u64)> = Vec::new();
    for (k, n) in c.sink.stacks.iter() {
        if k[0] == keep || k[0] == crate::collapse::NO_EVENT {
            let mut s = Vec::new();
            for (i, &id) in k[1..].iter().enumerate() {
                if i > 0 {
                    s.push(b';');
                }
                s.extend_from_slice(c.sink.names.get(FrameId(id)));
            }
            lines.push((s, n));
        }
    }
    lines.sort_unstable();
    let mut out = Vec::new();
    for (s, n) in lines {
        out.extend_from_slice(&s);
        out.push(b' ');
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        out.push(b'\n');
    }
    out
}
