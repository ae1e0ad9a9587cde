#!/usr/bin/env bash
# Scaling on a many-core machine: one prepared run of the scheduler matrix.
#
#   scripts/scaling.sh            # build the bench binary, run the matrix, print Markdown tables
#   BIN=path scripts/scaling.sh   # run a bench binary built elsewhere (carried to the machine)
#
# Prints the CPU model, then for a full-set view and a seahorse view: ms per 1080p frame and
# speed-up over one thread for static bands, the Mutex queue, the lock-free CAS and fetch_add
# queues and rayon's par_chunks_mut, at 1..16 threads and 1, 4, 16, 64-row bands; then a whole
# seahorse segment with and without PNG encoding. Takes a few minutes on 16 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(scripts/bench-binary.sh)}
cores=$(nproc)
threads=1
for t in 2 4 8 16 32 64; do [ "$t" -le "$cores" ] && threads="$threads,$t"; done
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($cores CPUs)"
echo "kernel: ${ZOOMGEN_KERNEL:-best available}"
echo
"$BIN" schedulers --threads "$threads" --bands 1,4,16,64 --reps "${REPS:-3}" --frames "${FRAMES:-2}"
echo
"$BIN" scene --threads "$cores" --reps "${REPS:-3}" --frames $((8 * cores))
echo
"$BIN" png --reps 5
