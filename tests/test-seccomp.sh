#!/bin/sh
# The running msivd is under its system call filter (msivd(8), SANDBOX):
# every thread of it, from the moment it says it is ready, and it serves
# through the filter (a device attached and detached at run time, a
# vfunc, interrupts); --no-seccomp and [msivd] seccomp = no turn it off
# and say so; a sanitizer build has it off by default and says why.
# tests/test-seccomp.c checks what the filter refuses, and how.
# TAP output. Every wait has a deadline.
set -u

: "${MSIVD:?run through make check}" "${MSIVCTL:?}" "${MSIV_EXAMPLE:?}"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else nok "$desc"; fi; }

dir=$(mktemp -d /tmp/msiv-seccomp-XXXXXX)
sock=$dir/msivd.sock
ctl() { "$MSIVCTL" --socket "$sock" "$@"; }
cleanup() {
	[ -n "${dpid:-}" ] && kill "$dpid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
# The user msivd drops to when run as root; an unprivileged run keeps its
# own (what the suite's other tests do).
user=$(id -un)
[ "$(id -u)" -eq 0 ] && user=root

# start LOG ARGS...: msivd in the foreground; waits (20 s at most) until
# it says it is ready. Its pid in $dpid.
start() {
	log=$1
	shift
	: > "$log"
	"$MSIVD" --foreground --socket "$sock" --state-dir "$dir/state" \
	    --user "$user" --log-level debug "$@" >>"$log" 2>&1 &
	dpid=$!
	i=0
	while [ $i -lt 400 ]; do
		grep -q " ready: " "$log" && return 0
		kill -0 "$dpid" 2>/dev/null || return 1
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}
stop() {
	ctl shutdown >/dev/null 2>&1 || kill "$dpid" 2>/dev/null
	wait "$dpid"
	st=$?
	dpid=
}
# The Seccomp: field of every thread of $dpid (2: a filter), one a line.
modes() {
	for t in /proc/"$dpid"/task/*; do
		sed -n 's/^Seccomp:[[:space:]]*//p' "$t/status"
	done
}
threads() { ls /proc/"$dpid"/task | wc -l; }

mkdir -p "$dir/state"
# --- on by default -----------------------------------------------------------
if [ "${MSIV_SANITIZED:-no}" = yes ]; then
	check "sanitizer build: msivd starts" start "$dir/a.log"
	check "... without the filter" [ "$(modes | sort -u)" = 0 ]
	check "... and says why" grep -q "seccomp: off by default in a sanitizer build: LeakSanitizer" "$dir/a.log"
	stop
	check "... it stops cleanly" [ "$st" -eq 0 ]
	# The rest runs with the filter asked for, and without LeakSanitizer,
	# whose ptrace at exit the filter refuses (msivd(8), SANDBOX).
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	export ASAN_OPTIONS
	printf '[msivd]\nseccomp = yes\n[device sim0]\nbackend = sim\nslots = 64\n' > "$dir/on.conf"
	on="--config $dir/on.conf"
else
	on=
fi
# shellcheck disable=SC2086
check "msivd starts" start "$dir/a.log" $on
check "it says the filter is on" grep -q "seccomp: system call filter on" "$dir/a.log"
check "the filter is in before it says it is ready" \
    eval 'grep "seccomp: system call filter on\| ready: " "$dir/a.log" | head -1 | grep -q seccomp'
nt=$(threads)
filtered() { [ "$(modes | sort -u)" = 2 ]; }
check "both threads (control, delivery: $nt) are under the filter" \
    eval '[ "$nt" -ge 2 ] && filtered'
check "one filter" grep -q "^Seccomp_filters:[[:space:]]*1$" /proc/"$dpid"/status
# Run-time paths through the filter: attach and detach a device, the
# example VMM (vfunc, vectors, eventfds passed, interrupts, retarget),
# queries, a restart of nothing but the session.
check "attach a device at run time" eval 'ctl attach sim1 sim 16 >/dev/null'
check "the example VMM client runs on it" eval '"$MSIV_EXAMPLE" --socket "$sock" --device sim1 --tenant vm1 --stay >"$dir/ex.log" 2>&1'
check "fire, list, status" eval 'ctl fire sim1 3 2 >/dev/null && ctl --json vfuncs >/dev/null && ctl status >/dev/null'
check "revoke the example's tenant" eval 'ctl revoke vm1 >/dev/null'
check "detach it" eval 'ctl detach sim1 --force >/dev/null'
check "msivd is still alive, still filtered" filtered
stop
check "it stops cleanly through the filter (exit 0)" [ "$st" -eq 0 ]
check "no system call was refused" eval '! grep -q "allow-list" "$dir/a.log"'

# Detached (no --foreground: logs to syslog, and the filter's handler
# gets a syslog socket of its own): filtered all the same.
# shellcheck disable=SC2086
"$MSIVD" --socket "$sock" --state-dir "$dir/state" --user "$user" $on \
    >"$dir/e.log" 2>&1
rc=$?
dpid=$(ctl status 2>/dev/null | sed -n 's/.*, pid \([0-9]*\),.*/\1/p')
check "detached: msivd starts (exit 0 once it serves)" [ "$rc" -eq 0 ]
if [ -n "$dpid" ]; then
	check "... and serves under the filter, every thread" filtered
	ctl shutdown >/dev/null 2>&1
	i=0
	while kill -0 "$dpid" 2>/dev/null && [ $i -lt 400 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	check "... and stops through it" eval '! kill -0 "$dpid" 2>/dev/null'
	dpid=
else
	nok "... and serves under the filter (no pid from msivctl status)"
fi

# --- off when told ------------------------------------------------------------
check "--no-seccomp: msivd starts" start "$dir/b.log" --no-seccomp
check "... without the filter" [ "$(modes | sort -u)" = 0 ]
check "... and says so" grep -q "seccomp: off (--no-seccomp)" "$dir/b.log"
stop
printf '[msivd]\nseccomp = no\n[device sim0]\nbackend = sim\nslots = 64\n' > "$dir/off.conf"
check "seccomp = no: msivd starts" start "$dir/c.log" --config "$dir/off.conf"
check "... without the filter" [ "$(modes | sort -u)" = 0 ]
check "... and says so" grep -q "seccomp: off (\[msivd\] seccomp = no)" "$dir/c.log"
stop
printf '[msivd]\nseccomp = maybe\n' > "$dir/bad.conf"
"$MSIVD" --foreground --config "$dir/bad.conf" --socket "$sock" \
    --state-dir "$dir/state" >"$dir/d.log" 2>&1
rc=$?
check "seccomp = maybe: exit 3, saying what is allowed" \
    eval '[ $rc -eq 3 ] && grep -q "seccomp must be yes or no" "$dir/d.log"'

echo "1..$n"
[ "$failed" -eq 0 ]
