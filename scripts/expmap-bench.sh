#!/usr/bin/env bash
# Whole commands side by side: a scene rendered directly and from its exponential map.
#
#   scripts/expmap-bench.sh SCENE [ZOOMGEN ARGS...]     # e.g. benches/expmap/shallow-60.toml
#   REPS=5 scripts/expmap-bench.sh scenes/seahorse.toml --size 480x270
#
# Builds the release binary, then renders SCENE into a temporary folder REPS times (default 3)
# with --method direct and --method expmap in alternation (PNG files written, all cores), and
# prints each run's wall time, the medians and the median of the per-pair ratios (direct over
# expmap): a pair's two runs are seconds apart, so a drift in the machine's speed cancels in it.
set -euo pipefail
cd "$(dirname "$0")/.."
scene=$1
shift
cargo build --release --quiet
bin=target/release/zoomgen
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
seconds() {
    local start end
    start=$(date +%s.%N)
    "$bin" "$scene" -q --overwrite -o "$out/$1" --method "$1" "${@:2}" >/dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(nproc) CPUs)"
echo "scene: $scene $*"
"$bin" "$scene" --check --method expmap "$@" | grep -A20 '^method' | grep -v '^output\|^scene hash'
directs=() maps=() ratios=()
for rep in $(seq "${REPS:-3}"); do
    d=$(seconds direct "$@")
    m=$(seconds expmap "$@")
    directs+=("$d") maps+=("$m") ratios+=("$(echo "$d / $m" | bc -l)")
    printf 'pair %d: direct %.2f s, expmap %.2f s\n' "$rep" "$d" "$m"
done
printf 'median: direct %.2f s, expmap %.2f s, ratio (median of pairs) %.2fx\n' \
    "$(printf '%s\n' "${directs[@]}" | median)" "$(printf '%s\n' "${maps[@]}" | median)" \
    "$(printf '%s\n' "${ratios[@]}" | median)"
