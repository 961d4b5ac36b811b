#!/usr/bin/env bash
# Real mode's self-validation (issue 10, item 5): each engine bug switch, passed to the real
# engine and workers, must make at least one scenario of the real-mode suite (the files with
# a `real:` section) exit 1. Prints one line per switch: the first scenario that caught it
# and the checkers that failed, or "NOT CAUGHT". Exit 1 if any switch was not caught.
#
#   scripts/real-self-validation.sh [BUG...]     (default: the 8 original switches and
#                                                  fsync-off, which only a power cut shows)
set -uo pipefail
cd "$(dirname "$0")/.."
bin=build/bin/ithappens
out=$(mktemp -d /tmp/ithappens-real-sv.XXXXXX)
trap 'rm -rf "$out"' EXIT
bugs=("$@")
[ ${#bugs[@]} -eq 0 ] && bugs=(random-task-ids retry-user-failures blame-user-for-platform
  effect-key-per-run no-claim-expiry lose-pending-on-restart ack-before-commit no-fencing
  fsync-off)
# The suite, quickest worst case first: a run that never gets quiet (a bug that keeps tasks
# running) lasts its heal_s in run time, heal_s / time_scale wall seconds.
suite=$(for f in $(grep -l '^real:' scenarios/*.yaml); do
  heal=$(awk '/^heal_s:/ {print $2}' "$f"); scale=$(awk '/^  time_scale:/ {print $2}' "$f")
  echo "$(( ${heal:-600} / ${scale:-1} )) $f"
done | sort -n | cut -d' ' -f2)
missed=0
for bug in "${bugs[@]}"; do
  caught=""
  for s in $suite; do
    text=$("$bin" run "$s" --mode real --engine-bug "$bug" --out "$out" 2>&1)
    rc=$?
    if [ $rc -eq 1 ]; then
      caught="$(basename "$s" .yaml): $(echo "$text" | awk '/FAILED/ {print $2}' | tr '\n' ' ')"
      break
    elif [ $rc -ne 0 ]; then
      echo "$bug: $(basename "$s" .yaml) exit $rc: $(echo "$text" | tail -1)" >&2
    fi
  done
  if [ -n "$caught" ]; then
    printf '%-26s caught by %s\n' "$bug" "$caught"
  else
    printf '%-26s NOT CAUGHT\n' "$bug"
    missed=1
  fi
done
exit $missed
