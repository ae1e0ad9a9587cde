#!/usr/bin/env bash
# Target 4 of the throughput issue on a many-core machine, in one prepared run of a few minutes:
#   1. one thread against all cores, in alternating pairs (the bench's `speedup`), on the
#      whole-set and the seahorse view: the median of the pairs' speed-ups;
#   2. the machine's own ceiling (independent one-thread processes against one process with
#      as many threads), AVX-512 only, on both views;
#   3. the whole seahorse scene with and without PNG files (target 5) at all cores;
#   4. one deep frame at 1 thread and at all cores.
#
#   scripts/scaling-target.sh                                  # builds the binaries here
#   BIN=path/to/throughput ZOOMGEN=path/to/zoomgen scripts/scaling-target.sh
#   PAIRS=7 scripts/scaling-target.sh                          # pairs per view (default 7)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(scripts/bench-binary.sh)}
if [ -z "${ZOOMGEN:-}" ]; then cargo build --release --quiet; ZOOMGEN=target/release/zoomgen; fi
export ZOOMGEN
n=$(nproc); pairs=${PAIRS:-7}
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($n CPUs); $(date -u +%FT%TZ)"
lscpu | grep -E 'Thread|Core|Socket|L2|L3|NUMA node\(s\)' || true
echo
echo "## 1. speed-up in alternating pairs"
# The whole set costs about a tenth of a seahorse frame: its 8 views 6 times over keep runs ~2 s.
"$BIN" speedup --views full --threads "$n" --reps "$pairs" --frames 8 --repeat 6
"$BIN" speedup --views seahorse --threads "$n" --reps "$pairs" --frames 8 | tail -n +5
echo
echo "## 2. the machine's ceiling (AVX-512)"
KERNELS=avx512 VIEW=full scripts/scaling-ceiling.sh
KERNELS=avx512 VIEW=seahorse scripts/scaling-ceiling.sh
echo
echo "## 3. whole scene, render only against PNG files"
"$BIN" scene --threads "$n" --reps 3 --frames $((8 * n))
echo
echo "## 4. a deep frame (scenes/deep-spiral.toml frame 900, 1080p)"
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
for j in 1 "$n"; do
  s=$(date +%s.%N)
  "$ZOOMGEN" scenes/deep-spiral.toml -j "$j" --frames 900 --overwrite -o "$out/j$j" -q
  echo "-j $j: $(python3 -c "print(round($(date +%s.%N) - $s, 2))") s, $(md5sum < "$out/j$j"/*.png | cut -c1-12)"
done
