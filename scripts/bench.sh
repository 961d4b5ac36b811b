#!/usr/bin/env bash
# `make bench`: runs every benchmark binary and keeps the JSON next to the console output.
set -euo pipefail
build=${1:-build}
mkdir -p out/bench
for b in "$build"/bin/ithappens-bench-*; do
  name=$(basename "$b")
  echo "== $name"
  "$b" --benchmark_out="out/bench/$name.json" --benchmark_out_format=json
done
echo "make bench: results in out/bench/"
