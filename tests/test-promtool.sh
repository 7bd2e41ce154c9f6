#!/bin/sh
# msivctl metrics through Prometheus' own checker, `promtool check metrics`
# (Debian package prometheus), on a real msivd with a vfunc and
# interrupts; and a deliberately broken copy of the output, which promtool
# must reject, so the check can fail. TAP output.
# Skipping prints a TAP plan of 0 with the reason and exits 77 (automake's
# skip status); under make check's TAP driver, which takes the reason from
# the plan, MSIV_SKIP_STATUS=0. `make check-promtool` runs it alone.
set -u

: "${MSIVD:?run through make check}" "${MSIVCTL:?}" "${MSIV_EXAMPLE:?}"
skip() {
	echo "1..0 # SKIP $*"
	exit "${MSIV_SKIP_STATUS:-77}"
}
command -v promtool >/dev/null 2>&1 ||
	skip "promtool is not installed (Debian package prometheus)"

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else nok "$desc"; fi; }

dir=$(mktemp -d /tmp/msiv-promtool-XXXXXX)
sock=$dir/msivd.sock
ctl() { "$MSIVCTL" --socket "$sock" "$@"; }
cleanup() {
	[ -n "${dpid:-}" ] && kill "$dpid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/msivd.conf" <<EOF
[device sim0]
backend = sim
slots = 64
[device sim1]
backend = sim
slots = 8
EOF
"$MSIVD" --user root --foreground --config "$dir/msivd.conf" \
    --state-dir "$dir" --socket "$sock" >"$dir/log" 2>&1 &
dpid=$!
i=0
while [ $i -lt 400 ] && ! ctl status >/dev/null 2>&1; do
	sleep 0.05
	i=$((i + 1))
done
quiet() { "$@" >/dev/null 2>&1; }
check "msivd answers" quiet ctl status
check "the example VMM client leaves a vfunc" \
    sh -c '"$1" --socket "$2" --stay >/dev/null 2>&1' - "$MSIV_EXAMPLE" "$sock"
check "fire sim0 0 and 1, 5 at once" \
    sh -c 'for s in 0 1; do "$1" --socket "$2" fire sim0 $s 5 || exit 1; done >/dev/null' \
    - "$MSIVCTL" "$sock"

ctl metrics >"$dir/msiv.prom"; rc=$?
check "msivctl metrics: exit 0" [ $rc -eq 0 ]
check "... with vfunc samples" grep -q '^msiv_vfunc_interrupts_fired_total{' "$dir/msiv.prom"
promtool check metrics <"$dir/msiv.prom" >"$dir/promtool.out" 2>&1; rc=$?
if [ $rc -eq 0 ]; then
	ok "promtool check metrics accepts the output"
else
	nok "promtool check metrics accepts the output (exit $rc)"
	sed 's/^/# /' "$dir/promtool.out"
fi

# Broken on purpose, two ways: a counter declared without _total (promtool
# lints it), and a sample whose label set is not closed (it cannot parse).
sed 's/^# TYPE msiv_store_commits_total counter$/# TYPE msiv_store_commits counter/;
    s/^msiv_store_commits_total /msiv_store_commits /' \
    "$dir/msiv.prom" >"$dir/bad1.prom"
check "... a copy with a counter not ending in _total differs" \
    sh -c '! cmp -s "$1" "$2"' - "$dir/msiv.prom" "$dir/bad1.prom"
promtool check metrics <"$dir/bad1.prom" >"$dir/bad1.out" 2>&1
check "promtool rejects the counter without _total" [ $? -ne 0 ]
sed '0,/^msiv_device_interrupts_fired_total{device="sim0"}/s//msiv_device_interrupts_fired_total{device="sim0"/' \
    "$dir/msiv.prom" >"$dir/bad2.prom"
promtool check metrics <"$dir/bad2.prom" >"$dir/bad2.out" 2>&1
check "promtool rejects a sample with an unclosed label set" [ $? -ne 0 ]

ctl shutdown >/dev/null 2>&1
wait "$dpid"; dpid=
echo "1..$n"
[ $failed -eq 0 ]
