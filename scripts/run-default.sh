#!/usr/bin/env bash
# `make run`: runs the default suite. Until the harness lands (issue 4) that is the engine
# demo on a real SQLite store; the output directory is printed at the end.
set -euo pipefail
build=${1:-build}
out=out/engine-demo
"$build/bin/ithappens-engine-demo" "$out"
echo "make run: done; output in $out/"
