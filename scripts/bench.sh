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

# Our durable engine beside beanstalkd, one table with the ratios (issue 13).
bash scripts/bench-side-by-side.sh "$build"
echo "make bench: results in out/bench/"
