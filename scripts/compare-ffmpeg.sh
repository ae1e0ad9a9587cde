#!/usr/bin/env bash
# zoomgen against ffmpeg's own `mandelbrot` source, on ONE CPU, same frames.
#
# Same size, center, zoom law and max iterations as ffmpeg's defaults: center
# -0.743643887037158704752191506114774 - 0.131825904205311970493132056385139i (ffmpeg counts y
# downwards with growing imaginary part, so its picture is the mirror image of zoomgen's at
# +0.1318...i: the same work), picture height 3.0 at frame 0 shrinking 10x by frame 400,
# maxiter 7189, no supersampling.
#
# ffmpeg runs twice: its default mode, which reuses and interpolates pixels of the previous
# frame (an approximation), and with `morphamp=1e-300`, which turns that reuse off so every
# pixel is computed (the morph offset of 1e-300 changes no pixel). zoomgen computes every pixel
# exactly and writes PNG files. Everything is pinned to one CPU with taskset, so the PNG encoder
# thread's time counts too.
#
# zoomgen also runs with --method expmap (the zoom assembled from an exponential map; the map's
# octaves are computed for the frames asked for, within the 401 frames of the scene).
#
# Usage: scripts/compare-ffmpeg.sh [FRAMES] [WxH]     (default 20 frames of 1920x1080)
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:-20}
size=${2:-1920x1080}
w=${size%x*}
h=${size#*x}
cpu=${CPU:-0}
command -v ffmpeg >/dev/null || { echo "ffmpeg not found" >&2; exit 1; }
if [ -z "${ZOOMGEN:-}" ]; then cargo build --release --quiet; fi
bin=${ZOOMGEN:-target/release/zoomgen}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# zoomgen's width is the picture's width in the plane: 3.0 * W / H at frame 0.
width0=$(python3 -c "print(3.0*$w/$h)")
width400=$(python3 -c "print(0.3*$w/$h)")
cat >"$work/ffmpeg-zoom.toml" <<TOML
title = "ffmpeg's default zoom"
[video]
width = $w
height = $h
fps = 25
frames = 401
[render]
max_iterations = 7189
supersample = 1
[[keyframe]]
frame = 0
center = ["-0.743643887037158704752191506114774", "0.131825904205311970493132056385139"]
width = $width0
[[keyframe]]
frame = 400
center = ["-0.743643887037158704752191506114774", "0.131825904205311970493132056385139"]
width = $width400
TOML

time_of() { # prints seconds of wall time of the command
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.2f}')"
}

src="mandelbrot=s=${size}:r=25"
t_ff=$(time_of taskset -c "$cpu" ffmpeg -hide_banner -nostdin -f lavfi -i "$src" -frames:v "$frames" -f null -)
t_ff_exact=$(time_of taskset -c "$cpu" ffmpeg -hide_banner -nostdin -f lavfi -i "$src:morphamp=1e-300" -frames:v "$frames" -f null -)
t_zg=$(time_of taskset -c "$cpu" "$bin" "$work/ffmpeg-zoom.toml" -j 1 --frames "0..$frames" -o "$work/frames" -q)
t_zg_raw=$(time_of taskset -c "$cpu" sh -c "\"$bin\" \"$work/ffmpeg-zoom.toml\" -j 1 --frames 0..$frames --pipe raw -q > /dev/null")
t_zg_map=$(time_of taskset -c "$cpu" "$bin" "$work/ffmpeg-zoom.toml" -j 1 --frames "0..$frames" --method expmap -o "$work/frames-map" -q)
t_zg_map_fastest=$(time_of taskset -c "$cpu" "$bin" "$work/ffmpeg-zoom.toml" -j 1 --frames "0..$frames" --method expmap --png-compression fastest -o "$work/frames-map-fastest" -q)
t_zg_scalar=$(ZOOMGEN_KERNEL=scalar time_of taskset -c "$cpu" "$bin" "$work/ffmpeg-zoom.toml" -j 1 --frames "0..$frames" -o "$work/frames-scalar" -q)

ms() { python3 -c "print(f'{1000*$1/$frames:.0f}')"; }
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), one CPU (taskset -c $cpu)"
echo "$frames frames of $size, frames 0..$frames of ffmpeg's default zoom, maxiter 7189"
echo
echo "| renderer | ms per frame | vs zoomgen |"
echo "|---|---|---|"
echo "| ffmpeg mandelbrot, default (reuses previous frame, approximate) | $(ms "$t_ff") | $(python3 -c "print(f'{$t_ff/$t_zg:.2f}x')") |"
echo "| ffmpeg mandelbrot, every pixel (morphamp=1e-300) | $(ms "$t_ff_exact") | $(python3 -c "print(f'{$t_ff_exact/$t_zg:.2f}x')") |"
echo "| zoomgen, best kernel, every pixel exact, PNG written | $(ms "$t_zg") | 1.00x |"
echo "| zoomgen, best kernel, every pixel exact, --pipe raw (no PNG) | $(ms "$t_zg_raw") | $(python3 -c "print(f'{$t_zg_raw/$t_zg:.2f}x')") |"
echo "| zoomgen --method expmap, PNG written | $(ms "$t_zg_map") | $(python3 -c "print(f'{$t_zg_map/$t_zg:.2f}x')") |"
echo "| zoomgen --method expmap --png-compression fastest, PNG written | $(ms "$t_zg_map_fastest") | $(python3 -c "print(f'{$t_zg_map_fastest/$t_zg:.2f}x')") |"
echo "| zoomgen, ZOOMGEN_KERNEL=scalar | $(ms "$t_zg_scalar") | $(python3 -c "print(f'{$t_zg_scalar/$t_zg:.2f}x')") |"
