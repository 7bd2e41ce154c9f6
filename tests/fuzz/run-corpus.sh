#!/bin/sh
# make check: the fuzz target once over every seed of tests/fuzz/corpus
# (doc/fuzzing.md), through the real decoder and dispatch, as TAP. Without
# --enable-fuzzing the standalone driver (fuzz-main.c) runs them in one
# process; with it, the libFuzzer binary runs each (it executes the files
# it is given once and exits). Then: is the corpus what mkseeds writes?
set -u

: "${top_srcdir:?run through make check}" "${top_builddir:?}"
corpus=$top_srcdir/tests/fuzz/corpus
driver=$top_builddir/tests/fuzz/fuzz-corpus
fuzzer=$top_builddir/tests/fuzz/fuzz-dispatch
mkseeds=$top_builddir/tests/fuzz/mkseeds

tmp=$(mktemp -d "${TMPDIR:-/tmp}/msiv-corpus-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
# The target's store directory goes in here too: a run that aborts (the
# reproducers below) cannot remove its own.
mkdir "$tmp/state" || exit 1
TMPDIR=$tmp/state
export TMPDIR

if [ -x "$driver" ]; then
	# Its results, under our plan. A crash or a failed check aborts it
	# (what it says is in the test's log) and is one more failure here.
	"$driver" "$corpus" >"$tmp/out"
	st=$?
	grep -v '^1\.\.' "$tmp/out"
	n=$(grep -c '^ok\|^not ok' "$tmp/out")
	if [ $st -ne 0 ]; then
		n=$((n + 1))
		echo "not ok $n - the driver stopped with status $st"
	fi
else
	n=0
	for f in "$corpus"/*; do
		n=$((n + 1))
		if "$fuzzer" "$f" >"$tmp/log" 2>&1; then
			echo "ok $n - $f"
		else
			echo "not ok $n - $f"
			sed 's/^/# /' "$tmp/log"
		fi
	done
fi

# The seeds mkseeds writes, byte for byte (the corpus may hold more:
# reproducers of fixed bugs, inputs worth keeping).
n=$((n + 1))
stale=
mkdir "$tmp/seeds" && "$mkseeds" "$tmp/seeds" >/dev/null || stale=mkseeds
for f in "$tmp"/seeds/*; do
	cmp -s "$f" "$corpus/${f##*/}" || stale="$stale ${f##*/}"
done
if [ -z "$stale" ]; then
	echo "ok $n - tests/fuzz/corpus holds what mkseeds writes"
else
	echo "not ok $n - tests/fuzz/corpus is not what mkseeds writes:$stale" \
	    "(make fuzz-seeds writes it again)"
fi
echo "1..$n"
