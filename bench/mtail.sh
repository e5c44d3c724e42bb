#!/usr/bin/env bash
# bench/mtail.sh CORPUS — baseline throughput of mtail on an ESXi syslog corpus.
#
# Runs mtail one-shot with bench/esxi.mtail over CORPUS (pinned to CPU 0 with
# taskset when available), measures wall time and prints exactly one line:
#
#   mtail_lines_per_second=<N>
#
# and the totals of what it counted (for the bench to check that replay
# counted the same): mtail_logins_total=, mtail_login_failures_total=,
# mtail_account_locked_total=, mtail_logins_series=.
#
# where N = lines in CORPUS / wall seconds (integer). Generate a corpus with
#   go run ./tools/gencorpus -n 1000000 -seed 1 -o /tmp/esxi-1m.log
# Environment: MTAIL (default: mtail from PATH), MTAIL_PROG (default: the
# esxi.mtail next to this script).
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 CORPUS" >&2
	exit 2
fi
corpus=$1
if [ ! -r "$corpus" ]; then
	echo "$0: cannot read $corpus" >&2
	exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
mtail=${MTAIL:-mtail}
prog=${MTAIL_PROG:-$here/esxi.mtail}
command -v "$mtail" >/dev/null || { echo "$0: $mtail not found" >&2; exit 1; }

pin=()
if command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null; then
	pin=(taskset -c 0)
fi

lines=$(wc -l <"$corpus")
log=$(mktemp)
out=$(mktemp)
trap 'rm -f "$log" "$out"' EXIT

# --port 0: one-shot mode still starts the HTTP listener; use an ephemeral
# port so concurrent runs do not collide on 3903.
# --logtostderr: keep glog files out of /tmp.
start=$(date +%s%N)
if ! "${pin[@]}" "$mtail" --one_shot --one_shot_format prometheus \
	--logtostderr --port 0 --address 127.0.0.1 \
	--progs "$prog" --logs "$corpus" >"$out" 2>"$log"; then
	echo "$0: mtail failed:" >&2
	tail -n 20 "$log" >&2
	exit 1
fi
end=$(date +%s%N)

awk -v n="$lines" -v ns="$((end - start))" \
	'BEGIN { s = ns / 1e9; if (s <= 0) s = 1e-9; printf "mtail_lines_per_second=%d\n", n / s }'
awk '
  /^#/ { next }
  { name = $1; sub(/[{].*/, "", name); v = $NF }
  name == "esxi_logins_total" { logins += v; series++ }
  name == "esxi_login_failures_total" { failures += v }
  name == "esxi_account_locked_total" { locked += v }
  END {
    printf "mtail_logins_total=%d\nmtail_login_failures_total=%d\nmtail_account_locked_total=%d\nmtail_logins_series=%d\n", logins, failures, locked, series
  }' "$out"
