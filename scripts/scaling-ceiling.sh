#!/usr/bin/env bash
# The machine's own scaling ceiling: N independent single-thread zoomgen processes against one
# process with N threads, the same seahorse frames (600.. of scenes/seahorse.toml), for the
# AVX-512 kernel at 1080p and the one-sample scalar kernel at 480x270. If N processes cannot
# reach Nx, no scheduler can. Prints one line per kernel.
#
#   scripts/scaling-ceiling.sh                  # builds zoomgen, N = all CPUs
#   ZOOMGEN=path/to/zoomgen scripts/scaling-ceiling.sh
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ZOOMGEN:-}" ]; then cargo build --release --quiet; fi
Z=${ZOOMGEN:-target/release/zoomgen}; S=scenes/seahorse.toml; n=${N:-$(nproc)}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
rate() { grep -o '[0-9.]* G iterations/s' | cut -d' ' -f1; }
now() { date +%s.%N; }
py() { python3 -c "print(round($1, 3))"; }
for k in avx512 scalar; do
  if [ $k = scalar ]; then count=1; size="--size 480x270"; else count=2; size=""; fi
  export ZOOMGEN_KERNEL=$k
  s=$(now); r1=$($Z $S -j 1 $size --frames 600..$((600 + count)) --overwrite -o "$work/$k-solo" 2>&1 | rate); t1=$(py "$(now) - $s")
  s=$(now)
  for i in $(seq 1 "$n"); do $Z $S -j 1 $size --frames 600..$((600 + count)) --overwrite -o "$work/$k-p$i" -q & done; wait
  tp=$(py "$(now) - $s")
  rn=$($Z $S -j "$n" $size --frames 600..$((600 + n * count)) --overwrite -o "$work/$k-threads" 2>&1 | rate)
  echo "$k: 1 thread $r1 G it/s ($t1 s); $n processes x 1 thread: ${tp} s wall = $(py "$n * $t1 / $tp")x; 1 process x $n threads: $rn G it/s = $(py "$rn / $r1")x"
done
