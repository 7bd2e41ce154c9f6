#!/bin/sh
# make check: the msiv-vfu fuzz target (fuzz-vfu.c) once over every seed
# of tests/fuzz/vfu-corpus, as TAP, through the real decoder and function
# model (the standalone driver in gcc builds, the libFuzzer binary with
# --enable-fuzzing); then: is the corpus what mkseeds-vfu writes?
set -u
: "${top_srcdir:?run through make check}" "${top_builddir:?}"
corpus=$top_srcdir/tests/fuzz/vfu-corpus
driver=$top_builddir/tests/fuzz/fuzz-vfu-corpus
fuzzer=$top_builddir/tests/fuzz/fuzz-vfu
mkseeds=$top_builddir/tests/fuzz/mkseeds-vfu
tmp=$(mktemp -d "${TMPDIR:-/tmp}/msiv-vfu-corpus-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0
if [ -x "$driver" ]; then
	"$driver" "$corpus" >"$tmp/out"
	st=$?
	grep -v '^1\.\.' "$tmp/out"
	n=$(grep -c '^ok\|^not ok' "$tmp/out")
	if [ $st -ne 0 ]; then
		n=$((n + 1))
		echo "not ok $n - the driver stopped with status $st"
	fi
else
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
n=$((n + 1))
stale=
mkdir "$tmp/seeds" && "$mkseeds" "$tmp/seeds" >/dev/null || stale="mkseeds-vfu"
for f in "$tmp"/seeds/*; do
	cmp -s "$f" "$corpus/${f##*/}" || stale="$stale ${f##*/}"
done
if [ -z "$stale" ]; then
	echo "ok $n - tests/fuzz/vfu-corpus holds what mkseeds-vfu writes"
else
	echo "not ok $n - tests/fuzz/vfu-corpus is not what mkseeds-vfu writes:$stale" \
	    "(make vfu-fuzz-seeds writes it again)"
fi
echo "1..$n"
