#!/usr/bin/env bash
# The machine's own scaling ceiling: N independent single-thread zoomgen processes against one
# process with N threads, the same frames, for the AVX-512 kernel at 1080p and the one-sample
# scalar kernel at 480x270. If N processes cannot reach Nx, no scheduler can. Prints one line
# per kernel.
#
#   scripts/scaling-ceiling.sh                  # builds zoomgen, N = all CPUs, seahorse frames
#   VIEW=full scripts/scaling-ceiling.sh        # the whole set instead (light frames)
#   ZOOMGEN=path/to/zoomgen scripts/scaling-ceiling.sh
#   KERNELS=avx512 scripts/scaling-ceiling.sh  # one kernel only
#
# The seahorse frames are 600.. of scenes/seahorse.toml (1080p, 2x2 samples). The whole-set
# frames are one view of the whole set (1080p, one sample, 1000 iterations) repeated, eight
# times as many per process as seahorse frames, since each costs about a tenth as much.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ZOOMGEN:-}" ]; then cargo build --release --quiet; fi
Z=${ZOOMGEN:-target/release/zoomgen}; n=${N:-$(nproc)}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
if [ "${VIEW:-seahorse}" = full ]; then
  S=$work/full.toml; first=0; scale=8
  cat > "$S" <<'TOML'
title = "The whole set"
[video]
width = 1920
height = 1080
frames = 100000
[render]
max_iterations = 1000
supersample = 1
[[keyframe]]
frame = 0
center = ["-0.75", "0.0"]
width = 3.5
[[keyframe]]
frame = 99999
center = ["-0.75", "0.0"]
width = 3.5
TOML
else
  S=scenes/seahorse.toml; first=600; scale=1
fi
echo "view: ${VIEW:-seahorse}"
rate() { grep -o '[0-9.]* G iterations/s' | cut -d' ' -f1; }
now() { date +%s.%N; }
py() { python3 -c "print(round($1, 3))"; }
for k in ${KERNELS:-avx512 scalar}; do
  if [ $k = scalar ]; then count=$scale; size="--size 480x270"; else count=$((2 * scale)); size=""; fi
  export ZOOMGEN_KERNEL=$k
  s=$(now); r1=$($Z "$S" -j 1 $size --frames $first..$((first + count)) --overwrite -o "$work/$k-solo" 2>&1 | rate); t1=$(py "$(now) - $s")
  s=$(now)
  for i in $(seq 1 "$n"); do $Z "$S" -j 1 $size --frames $first..$((first + count)) --overwrite -o "$work/$k-p$i" -q & done; wait
  tp=$(py "$(now) - $s")
  rn=$($Z "$S" -j "$n" $size --frames $first..$((first + n * count)) --overwrite -o "$work/$k-threads" 2>&1 | rate)
  echo "$k: 1 thread $r1 G it/s ($t1 s); $n processes x 1 thread: ${tp} s wall = $(py "$n * $t1 / $tp")x; 1 process x $n threads: $rn G it/s = $(py "$rn / $r1")x"
done
