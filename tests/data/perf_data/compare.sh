#!/bin/sh
# Compares flamefold's perf.data reader with `perf script | flamefold's text path` on one
# capture. Usage: compare.sh PERF.DATA [collapse options...]   (or: compare.sh --record DIR to
# record the C program hot.c first). Prints "same" or the diff; exits 1 on a difference.
# Options: --pid --tid --kernel --jit --addrs --event-filter=EV. Both sides run the example
# binary (`cargo build --example perfdata_fold`; set PERFDATA_FOLD to use another build).
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
bin=${PERFDATA_FOLD:-$root/target/debug/examples/perfdata_fold}
if [ "$1" = "--record" ]; then
    dir=$2; shift 2
    mkdir -p "$dir"
    gcc -O1 -fno-omit-frame-pointer -o "$dir/hot" "$here/hot.c"
    perf record -q -F 999 -g -o "$dir/hot.data" -- "$dir/hot" 100 >/dev/null 2>&1
    set -- "$dir/hot.data" "$@"
fi
data=$1; shift
perf script -i "$data" 2>/dev/null | "$bin" --text "$@" > "$data.text.folded"
"$bin" "$@" "$data" > "$data.direct.folded"
if cmp -s "$data.text.folded" "$data.direct.folded"; then
    echo "same: $(wc -l < "$data.direct.folded") stacks"
else
    diff "$data.text.folded" "$data.direct.folded" | head -40
    exit 1
fi
