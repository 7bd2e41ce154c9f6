#!/bin/sh
# make check: a fuzz target once over every seed of its corpus, as TAP:
# msivd's decoder and dispatch over tests/fuzz/corpus (doc/fuzzing.md),
# or, with MSIV_CORPUS=vfu (run-vfu-corpus.sh), msiv-vfu's decoder and
# function model over tests/fuzz/vfu-corpus (doc/vfio-user.md). Without
# --enable-fuzzing the standalone driver (fuzz-main.c) runs them in one
# process; with it, the libFuzzer binary runs each (it executes the files
# it is given once and exits). Then: is the corpus what its seed
# generator writes?
set -u

: "${top_srcdir:?run through make check}" "${top_builddir:?}"
fz=$top_builddir/tests/fuzz
case ${MSIV_CORPUS:-dispatch} in
vfu)	corpus=tests/fuzz/vfu-corpus driver=$fz/fuzz-vfu-corpus
	fuzzer=$fz/fuzz-vfu mkseeds=$fz/mkseeds-vfu rewrite="make vfu-fuzz-seeds" ;;
*)	corpus=tests/fuzz/corpus driver=$fz/fuzz-corpus
	fuzzer=$fz/fuzz-dispatch mkseeds=$fz/mkseeds rewrite="make fuzz-seeds" ;;
esac
name=$corpus
corpus=$top_srcdir/$corpus

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
mkdir "$tmp/seeds" && "$mkseeds" "$tmp/seeds" >/dev/null || stale=${mkseeds##*/}
for f in "$tmp"/seeds/*; do
	cmp -s "$f" "$corpus/${f##*/}" || stale="$stale ${f##*/}"
done
if [ -z "$stale" ]; then
	echo "ok $n - $name holds what ${mkseeds##*/} writes"
else
	echo "not ok $n - $name is not what ${mkseeds##*/} writes:$stale" \
	    "($rewrite writes it again)"
fi
echo "1..$n"
