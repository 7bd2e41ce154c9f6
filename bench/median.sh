#!/bin/sh
# Run msiv-bench several times and print the median of every figure
# (doc/performance.md, "Medians over runs"). Each run's whole output is
# kept, so a median can be traced back to the runs it came from.
#
# usage: bench/median.sh [-n RUNS] [-o DIR] [SECTION...]
#   RUNS: how many runs (default 7); DIR: where the runs' outputs go
#   (default: a new directory under ${TMPDIR:-/tmp}); SECTIONs are passed
#   on to msiv-bench (default: every section).
# MSIVD names the daemon, MSIV_BENCH the bench binary (make bench-median
# sets both).
set -eu

runs=7
out=
while getopts n:o: opt; do
	case $opt in
	n) runs=$OPTARG ;;
	o) out=$OPTARG ;;
	*) echo "usage: $0 [-n RUNS] [-o DIR] [SECTION...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
case $runs in
''|*[!0-9]*|0) echo "$0: RUNS must be a positive number" >&2; exit 2 ;;
esac
bench=${MSIV_BENCH:-./bench/msiv-bench}
[ -x "$bench" ] || { echo "$0: $bench: not built (make bench builds it)" >&2; exit 2; }
[ -n "${MSIVD:-}" ] || { echo "$0: MSIVD is not set" >&2; exit 2; }
if [ -z "$out" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/msiv-bench.XXXXXX")
else
	mkdir -p "$out"
fi

i=1
while [ "$i" -le "$runs" ]; do
	echo "# run $i of $runs: $out/run$i.txt" >&2
	if ! "$bench" "$@" >"$out/run$i.txt" 2>&1; then
		echo "$0: run $i failed; its output: $out/run$i.txt" >&2
		tail -n 5 "$out/run$i.txt" >&2
		exit 1
	fi
	i=$((i + 1))
done

# A figure line is "name value unit"; a ratio printed "n/a (...)" is no
# figure. The median of an even count is the lower middle one: a value
# some run printed.
med="$out/medians.txt"
for f in "$out"/run*.txt; do
	awk '/^#/ || NF < 2 { next }
	    $2 ~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/ { print $1, $2, (NF >= 3 ? $3 : "") }' "$f"
done | sort -k1,1 -k2,2g | awk '
	function flush() {
		if (name == "")
			return
		printf "%s %s %s  # %d run%s: %s\n", name, v[int((n + 1) / 2)],
		    unit, n, (n > 1 ? "s" : ""), all
	}
	$1 != name { flush(); name = $1; n = 0; all = ""; unit = $3 }
	{ v[++n] = $2; all = all (n > 1 ? " " : "") $2 }
	END { flush() }' >"$med"
echo "# medians of $runs runs (bench/median.sh; outputs in $out)"
cat "$med"
# The goals ("# goal: NAME VALUE <= GOAL: met"), judged on the medians.
grep -h '^# goal:' "$out"/run*.txt | awk '{ print $3, $5, $6 }' | sort -u |
while read -r g op goal; do
	goal=${goal%:}
	m=$(awk -v g="$g" '$1 == g { print $2 }' "$med")
	awk -v g="$g" -v m="$m" -v op="$op" -v goal="$goal" '
	    /^# goal:/ && $3 == g { n++; if ($0 ~ /: met$/) met++ }
	    END {
		ok = op == ">=" ? m + 0 >= goal + 0 : m + 0 <= goal + 0
		printf "# goal (median): %s %s %s %s: %s; met in %d of %d runs\n",
		    g, m, op, goal, (ok ? "met" : "not met"), met, n
	    }' "$out"/run*.txt
done
