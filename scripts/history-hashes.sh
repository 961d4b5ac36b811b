#!/usr/bin/env bash
# Hashes the history of every scenario at seeds 1..3, loads 1x and 3x, and with three bug
# switches: run it before and after a refactor of the simulator and diff the two files
# (a refactor must leave every history byte-identical).
#   scripts/history-hashes.sh > before.txt; ...; scripts/history-hashes.sh | diff before.txt -
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${ITHAPPENS:-$root/build/bin/ithappens}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for f in "$root"/scenarios/*.yaml; do
  n=$(basename "$f" .yaml)
  for s in 1 2 3; do
    for l in 1 3; do
      "$bin" run "$f" --seed $s --load ${l}x --out "$out" >/dev/null 2>&1 || true
      echo "$n seed $s load ${l}x $(sha256sum "$out/$n/history.jsonl" | cut -c1-16)"
    done
  done
  for bug in no-fencing ack-before-commit lose-pending-on-restart; do
    "$bin" run "$f" --seed 5 --engine-bug $bug --out "$out" >/dev/null 2>&1 || true
    echo "$n seed 5 bug $bug $(sha256sum "$out/$n/history.jsonl" | cut -c1-16)"
  done
done
