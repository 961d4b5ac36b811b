#!/usr/bin/env bash
# `make run`: the default suite on the embedded default. Every scenario in scenarios/ runs
# in the simulator (with the determinism self-check) and is checked; then the engine demo
# runs on a real SQLite store, and smoke runs in real mode (the real engine, workers and
# sink as processes, each fault by its real mechanism). Prints where the reports are. Exits
# non-zero if a property is violated (1) or the harness failed (3).
set -uo pipefail
build=${1:-build}
out=out
status=0
"$build/bin/ithappens" run scenarios/*.yaml --mode sim --out "$out" --self-check || status=$?
"$build/bin/ithappens-engine-demo" "$out/engine-demo" > "$out/engine-demo.txt" || status=3
echo
"$build/bin/ithappens" run scenarios/smoke.yaml --mode real --out "$out/real" || status=$?
echo
echo "make run: reports in $out/<scenario>/ (report.html, report.json, summary.md, junit.xml, history.jsonl);"
echo "          smoke in real mode: $out/real/smoke/report.html (process logs in $out/real/smoke/logs/)"
echo "          engine demo on SQLite: $out/engine-demo.txt"
exit $status
