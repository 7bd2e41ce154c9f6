#!/bin/sh
# libmsiv(3)'s EXAMPLE, as printed: taken out of the man page (.EX to .EE
# under .SH EXAMPLE), compiled against the built libmsiv with warnings as
# errors (so it uses no deprecated call), and run three times in a row
# against a real msivd. Each run must exit 0: the second finds the vfunc
# the first left orphaned, which only its saved resume token unlocks.
# TAP output. Every wait has a deadline.
set -u

: "${MSIVD:?run through make check}" "${MSIVCTL:?}" "${top_srcdir:?}" \
    "${top_builddir:?}"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else nok "$desc"; fi; }

dir=$(mktemp -d /tmp/msiv-manex-XXXXXX)
sock=$dir/msivd.sock
cleanup() {
	[ -n "${dpid:-}" ] && kill "$dpid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

# groff escapes in the example: \- is '-', \e is '\', \& is nothing.
sed -n '/^\.SH EXAMPLE/,/^\.SH /p' "$top_srcdir/man/libmsiv.3" |
    sed -n '/^\.EX$/,/^\.EE$/p' | sed '1d;$d' |
    sed -e 's/\\-/-/g' -e 's/\\&//g' -e 's/\\e/\\/g' >"$dir/example.c"
check "the EXAMPLE section has a program between .EX and .EE" \
    grep -q '^main(void)' "$dir/example.c"
if ! ${CC:-cc} ${SAN_CFLAGS:-} -std=gnu11 -Wall -Wextra -Werror \
    -I"$top_srcdir/include" \
    -o "$dir/example" "$dir/example.c" -L"$top_builddir/.libs" -lmsiv \
    -Wl,-rpath,"$top_builddir/.libs" >"$dir/cc.log" 2>&1; then
	sed 's/^/# /' "$dir/cc.log"
	nok "the example compiles against libmsiv without a warning"
	echo "1..$n"
	exit 1
fi
ok "the example compiles against libmsiv without a warning"

printf '[msivd]\norphan_grace = 300\n[device sim0]\nbackend = sim\nslots = 16\n' \
    >"$dir/msivd.conf"
"$MSIVD" --user root --foreground --config "$dir/msivd.conf" \
    --state-dir "$dir" --socket "$sock" >"$dir/msivd.log" 2>&1 &
dpid=$!
i=0
while [ $i -lt 400 ] && ! "$MSIVCTL" --socket "$sock" status >/dev/null 2>&1
do
	kill -0 "$dpid" 2>/dev/null || break
	sleep 0.05
	i=$((i + 1))
done
check "msivd is up" "$MSIVCTL" --socket "$sock" status

mkdir "$dir/vm" && chmod 700 "$dir/vm"
for run in first second third; do
	out=$(cd "$dir/vm" && MSIV_SOCKET=$sock "$dir/example" 2>&1); rc=$?
	[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/# /'
	check "the $run run exits 0" [ $rc -eq 0 ]
done
mode=$(stat -c %a "$dir/vm/my-vm.token" 2>/dev/null)
check "it keeps the token in my-vm.token, mode 600 (is ${mode:-missing})" \
    [ "$mode" = 600 ]
check "no temporary file is left beside it" \
    [ "$(ls -A "$dir/vm")" = my-vm.token ]
# The tenant holds the third run's vfunc, orphaned: the token unlocks it.
vf=$("$MSIVCTL" --socket "$sock" vfuncs | grep -c 'tenant my-vm.*ORPHANED')
check "the last run's vfunc is the only one the tenant holds (has $vf)" \
    [ "$vf" = 1 ]

"$MSIVCTL" --socket "$sock" shutdown >/dev/null 2>&1
echo "1..$n"
[ $failed -eq 0 ]
