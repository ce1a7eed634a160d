#!/usr/bin/env bash
# Records real system-wide captures for the benchmarks (needs root and Debian's linux-perf).
#
#   benches/record_captures.sh [OUTDIR]     # default: benches/captures (not committed)
#
# Writes, each as `perf script` text and its perf.data:
#   build.perf.txt  - `perf record -a -g` over a release build of this project (cargo, rustc, lld)
#   jit.perf.txt    - `perf record -a -g` over a Java program (perf map written at exit) and a
#                     Node program (--perf-basic-prof), running side by side with a Python loop
# and wide.data (perf.data only, for benches/bench_perf_data.py): 20 s of `perf record -F 2999
# -a -g` while a release build of this project runs.
# Nothing is repeated by hand: every sample is what perf recorded.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/captures}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
command -v perf >/dev/null || { echo "record_captures: perf not found (apt-get install linux-perf)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1. a build: a fresh copy of this project compiled in release mode
git -C "$here/.." archive --format=tar HEAD | tar -x -C "$work"
mkdir -p "$work/src-copy" && mv "$work"/{Cargo.toml,Cargo.lock,src} "$work/src-copy/"
perf record -F 1999 -a -g -o "$out/build.data" -- \
    bash -c "cd '$work/src-copy' && CARGO_TARGET_DIR='$work/target' cargo build --release --quiet" 2>"$out/build.record.log"
perf script -i "$out/build.data" > "$out/build.perf.txt" 2>/dev/null

# 2. JIT runtimes: Java (perf map dumped at exit) and Node (perf map as it goes), plus CPython
cat > "$work/Hot.java" <<'EOF'
import java.util.*;
public class Hot {
    static long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
    static String words(Random r) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 200; i++) sb.append((char) ('a' + r.nextInt(26)));
        return sb.toString();
    }
    public static void main(String[] a) {
        long end = System.nanoTime() + Long.parseLong(a[0]) * 1_000_000_000L;
        Random r = new Random(1);
        Map<String, Integer> m = new HashMap<>();
        long s = 0;
        while (System.nanoTime() < end) {
            s += fib(24);
            String w = words(r);
            m.merge(w.substring(0, 3), 1, Integer::sum);
            List<String> l = new ArrayList<>(m.keySet());
            Collections.sort(l);
            s += l.size();
        }
        System.out.println(s);
    }
}
EOF
cat > "$work/hot.js" <<'EOF'
const end = Date.now() + Number(process.argv[2]) * 1000;
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
function parse(s) { return JSON.parse(s).items.map((x) => x.v * 2).reduce((a, b) => a + b, 0); }
const doc = JSON.stringify({ items: Array.from({ length: 2000 }, (_, i) => ({ v: i, k: "k" + i })) });
let s = 0;
while (Date.now() < end) { s += fib(22); s += parse(doc); s += [...doc.slice(0, 5000)].sort().length; }
console.log(s);
EOF
cat > "$work/hot.py" <<'EOF'
import json, sys, time
end = time.time() + float(sys.argv[1])
doc = json.dumps({"items": [{"v": i, "k": f"k{i}"} for i in range(2000)]})
s = 0
while time.time() < end:
    s += sum(x["v"] for x in json.loads(doc)["items"])
    s += len(sorted(doc[:5000]))
print(s)
EOF
cd "$work"  # node and java write their logs and maps relative to here
javac -d "$work" "$work/Hot.java"
secs=40
perf record -F 1999 -a -g -o "$out/jit.data" -- bash -c "
    java -XX:+PreserveFramePointer -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit -cp '$work' Hot $secs >/dev/null &
    node --perf-basic-prof '$work/hot.js' $secs >/dev/null &
    python3 '$work/hot.py' $secs >/dev/null &
    wait" 2>"$out/jit.record.log"
perf script -i "$out/jit.data" > "$out/jit.perf.txt" 2>/dev/null

# 3. 20 s system-wide at 2999 Hz over a build (the perf.data benchmark's capture)
rm -rf "$work/target"
(cd "$work/src-copy" && CARGO_TARGET_DIR="$work/target" cargo build --release --quiet) &
build=$!
perf record -F 2999 -a -g -o "$out/wide.data" -- sleep 20 2>"$out/wide.record.log"
wait "$build" || true  # the build finishes (its capture is not needed)
ls -la "$out/wide.data"
ls -la "$out"/*.perf.txt
