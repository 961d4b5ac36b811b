#!/usr/bin/env bash
# `make run`: the default suite on the embedded default. Every scenario in scenarios/ runs
# in the simulator (with the determinism self-check) and is checked; then the engine demo
# runs on a real SQLite store. Prints where the reports are. Exits non-zero if a property
# is violated (1) or the harness failed (3).
set -uo pipefail
build=${1:-build}
out=out
status=0
"$build/bin/ithappens" run scenarios/*.yaml --mode sim --out "$out" --self-check || status=$?
"$build/bin/ithappens-engine-demo" "$out/engine-demo" > "$out/engine-demo.txt" || status=3
echo
echo "make run: reports in $out/<scenario>/ (report.html, report.json, summary.md, junit.xml, history.jsonl);"
echo "          engine demo on SQLite: $out/engine-demo.txt"
exit $status
