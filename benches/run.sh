#!/usr/bin/env bash
# The whole performance table (DESIGN.md section 10): builds the benches in the bench profile,
# runs each, and prints measured vs target vs pass/MISS. Nothing here is a test: numbers depend
# on the machine and its load, which are printed first.
#
#   benches/run.sh                 # every bench
#   benches/run.sh feed render     # some of them
#
# Extra cargo arguments go in KDESK_BENCH_CARGO_ARGS (e.g. --config overrides).
set -euo pipefail
cd "$(dirname "$0")/.."

all=(feed decision render e2e_ws kill desk_resources replay_speed)
if [ $# -gt 0 ]; then benches=("$@"); else benches=("${all[@]}"); fi
read -r -a extra <<<"${KDESK_BENCH_CARGO_ARGS:-}"
logs="${CARGO_TARGET_DIR:-target}/bench-logs"
mkdir -p "$logs"

echo "== machine"
echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores;" \
    "memory: $(free -g 2>/dev/null | awk '/^Mem:/ {print $2 " GiB"}'); $(uname -sr)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rustc: $(rustc --version)"
echo

echo "== build"
cargo bench "${extra[@]}" --no-run $(printf -- '--bench %s ' "${benches[@]}") 2>&1 | tail -n 3

failed=()
for bench in "${benches[@]}"; do
    echo "== $bench"
    if cargo bench "${extra[@]}" --bench "$bench" >"$logs/$bench.log" 2>"$logs/$bench.err"; then
        grep -h '^RESULT' "$logs/$bench.log" | cut -f2,3,4,6 | sed 's/\t/  /g'
    else
        failed+=("$bench")
        echo "FAILED (see $logs/$bench.err)"
        tail -n 5 "$logs/$bench.err"
    fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

echo "== table"
{
    printf 'measure\tmeasured\tunit\ttarget\tverdict\tnote\n'
    for bench in "${benches[@]}"; do
        grep -h '^RESULT' "$logs/$bench.log" 2>/dev/null | cut -f2- || true
    done
} | awk -F'\t' '
    { rows[NR] = $0; for (i = 1; i <= 5; i++) if (length($i) > w[i]) w[i] = length($i) }
    END {
        for (r = 1; r <= NR; r++) {
            n = split(rows[r], f, "\t")
            printf "%-" w[1] "s  %" w[2] "s %-" w[3] "s  %-" w[4] "s  %-" w[5] "s  %s\n", f[1], f[2], f[3], f[4], f[5], f[6]
        }
    }'
if [ ${#failed[@]} -gt 0 ]; then
    echo "benches that failed: ${failed[*]}" >&2
    exit 1
fi
