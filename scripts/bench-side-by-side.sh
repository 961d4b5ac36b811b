#!/usr/bin/env bash
# The durable engine beside its peer, measured back to back on this machine (issue 13):
# ithappens-engine over gRPC (SQLite, synchronous=FULL, group commit; a connection per
# client thread; create -> claim -> report-completed, every change acknowledged after its
# fsync) and beanstalkd 1.12 (Debian's) in its three durability modes, put -> reserve ->
# delete, from 1, 4 and 16 connections. Prints one table with the ratios; figures drift
# between runs on a shared machine, ratios from one run hold.
#
# Usage: scripts/bench-side-by-side.sh [BUILD_DIR]  (make bench runs it last)
# Installs beanstalkd with apt if it is missing (here only: `make test` never needs it).
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
peers=${ITHAPPENS_PEERS:-$root/../shared/peers}
if [ ! -x "$peers/beanstalkd-bench.sh" ] && [ ! -f "$peers/beanstalkd-bench.sh" ]; then
  echo "bench-side-by-side: no peer benchmark at $peers/beanstalkd-bench.sh (set ITHAPPENS_PEERS)" >&2
  exit 2
fi
if ! command -v beanstalkd >/dev/null; then
  echo "bench-side-by-side: installing beanstalkd (apt)" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -q beanstalkd >/dev/null; else sudo apt-get install -y -q beanstalkd >/dev/null; fi
fi
mkdir -p "$root/out/bench"
ours="$root/out/bench/side-by-side-ithappens.json"
peer="$root/out/bench/side-by-side-beanstalkd.txt"
# Ours first, then the peer at once: the same minutes of the same machine.
"$build/bin/ithappens-bench-grpc" --benchmark_filter='Grpc/(DurableLifecycle/batch:(1|100)/|Health/)' \
  --benchmark_out="$ours" --benchmark_out_format=json >/dev/null 2>&1
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3} bash "$peers/beanstalkd-bench.sh" 1 4 16 > "$peer"

# "batch threads lifecycles/s" from Google Benchmark's JSON (names like
# Grpc/DurableLifecycle/batch:1/min_time:1.000/real_time/threads:16).
ours_rows=$(awk -F'"' '/"name": "Grpc\/DurableLifecycle/ { name=$4 }
  /"items_per_second"/ { split(name, p, "/"); b=p[3]; sub("batch:", "", b);
    t=p[length(p)]; sub("threads:", "", t); v=$0; sub(/.*: /, "", v); sub(/,.*/, "", v);
    printf "%s %s %.0f\n", b, t, v }' "$ours")
# Health calls/s at 16 connections: the transport alone (no commit, no queue work).
health16=$(awk -F'"' '/"name": "Grpc\/Health\/.*threads:16"/ { h=1 }
  h && /"items_per_second"/ { v=$0; sub(/.*: /, "", v); sub(/,.*/, "", v); printf "%.0f", v; exit }' "$ours")
ours_at() { echo "$ours_rows" | awk -v b="$1" -v t="$2" '$1==b && $2==t { print $3 }'; }
peer_at() { awk -v m="$1" -v c="connections=$2" '$2==m && $3==c { sub("lifecycles/s=", "", $4); print $4 }' "$peer"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }

echo
echo "Durable lifecycles/s, measured back to back (ours: $ours; peer: $peer)"
printf "%-6s | %-22s | %-28s | %-28s | %-24s\n" "conns" "ithappens, unbatched" \
  "beanstalkd -f 0 (ratio)" "beanstalkd default (ratio)" "ithappens batch 100 (vs default)"
for n in 1 4 16; do
  o=$(ours_at 1 "$n"); b=$(ours_at 100 "$n")
  f=$(peer_at fsync-each "$n"); d=$(peer_at default "$n")
  printf "%-6s | %-22s | %-28s | %-28s | %-24s\n" "$n" "$o" "$f ($(ratio "$o" "$f"))" \
    "$d ($(ratio "$o" "$d"))" "$b ($(ratio "$b" "$d"))"
done
echo "(beanstalkd -f 0: fsync before every acknowledgement, durable at ack like ours;"
echo " default: fsync every 50 ms, acknowledged before; beanstalkd memory, no binlog, at 1/4/16:"
echo " $(awk '$2=="memory" { v=$4; sub("lifecycles/s=", "", v); printf "%s ", v }' "$peer")lifecycles/s)"
# The ceiling of an unbatched lifecycle over gRPC here: three calls (create, claim, report)
# can go no faster than three Health calls, whatever the engine does.
f16=$(peer_at fsync-each 16)
if [ -n "$health16" ] && [ -n "$f16" ]; then
  awk -v h="$health16" -v f="$f16" 'BEGIN {
    printf "Transport ceiling at 16 connections: %d Health calls/s (no commit, no queue work) = %d three-call lifecycles/s = %.2fx beanstalkd -f 0\n", h, h / 3, h / 3 / f }'
fi
