#!/usr/bin/env bash
# Builds the throughput bench (release) and prints the path of its binary, for the scripts that
# run it many times over (scaling.sh, scaling-target.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench throughput --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "throughput" and m.get("executable"):
        print(m["executable"])'
