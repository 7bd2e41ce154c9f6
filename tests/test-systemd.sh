#!/bin/sh
# The systemd side (issue 6): the units pass systemd-analyze verify;
# socket activation and the notify protocol with the test as the service
# manager (tests/sd-activate); and, as root, msivd really runs as its
# service user with exactly the documented capability set, read from
# /proc. TAP.
set -u
: "${MSIVD:?run through make check}" "${MSIVCTL:?}" "${SD_ACTIVATE:?}"
: "${top_srcdir:?}" "${top_builddir:?}"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { if eval "$1"; then ok "$2"; else nok "$2"; fi; }
dir=$(mktemp -d /tmp/msiv-sd-XXXXXX)
chmod 0755 "$dir"
pids=
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$dir"' EXIT
wait_up() { # socket, pid
	i=0
	while [ $i -lt 200 ]; do
		"$MSIVCTL" --socket "$1" status >/dev/null 2>&1 && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# --- the units ------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	sed "s|^ExecStart=[^ ]*|ExecStart=$MSIVD|" \
	    "$top_builddir/systemd/msivd.service" > "$dir/msivd.service"
	cp "$top_srcdir/systemd/msivd.socket" "$dir/"
	out=$(cd "$dir" && systemd-analyze verify --man=no msivd.socket \
	    msivd.service 2>&1)
	st=$?
	check '[ $st -eq 0 ] && [ -z "$out" ]' \
	    "systemd-analyze verify accepts msivd.service and msivd.socket"
	[ -z "$out" ] || echo "$out" | sed 's/^/# /'
	check 'grep -q "^Type=notify" "$dir/msivd.service" &&
	    grep -q "^ListenSequentialPacket=/run/msiv/msivd.sock" "$dir/msivd.socket" &&
	    grep -q "^SocketMode=0660" "$dir/msivd.socket" &&
	    grep -q "^SocketGroup=msiv" "$dir/msivd.socket"' \
	    "Type=notify; the socket is 0660, group msiv"
	# msiv-metrics: the timer and its service (msivctl(8), METRICS).
	cp "$top_builddir/systemd/msiv-metrics.service" \
	    "$top_srcdir/systemd/msiv-metrics.timer" "$dir/"
	out=$(cd "$dir" && systemd-analyze verify --man=no \
	    msiv-metrics.timer msiv-metrics.service 2>&1)
	st=$?
	check '[ $st -eq 0 ] && [ -z "$out" ]' \
	    "systemd-analyze verify accepts msiv-metrics.service and .timer"
	[ -z "$out" ] || echo "$out" | sed 's/^/# /'
	out=$(systemd-analyze security --offline=yes \
	    "$dir/msiv-metrics.service" 2>/dev/null | tail -n 1)
	echo "# msiv-metrics.service: $out"
else
	ok "# SKIP systemd-analyze is not installed"
	ok "# SKIP"
	ok "# SKIP"
fi

# --- socket activation and notify -----------------------------------------
sock="$dir/act.sock"
"$SD_ACTIVATE" "$sock" "$dir/notify" "$MSIVD" --user root --foreground \
    --state-dir "$dir" --socket "$dir/unused.sock" >"$dir/log" 2>&1 &
act=$!
pids="$pids $act"
check 'wait_up "$sock" $act' "msivd serves on the activated socket"
check 'grep -q "listening on the socket passed by the service manager" "$dir/log" &&
    [ ! -e "$dir/unused.sock" ]' "...and does not make its own"
check 'grep -q "^READY=1|STATUS=serving 1 device" "$dir/notify"' \
    "READY=1 with a STATUS line"
"$MSIVCTL" --socket "$sock" shutdown >/dev/null 2>&1
wait $act
st=$?
check '[ $st -eq 0 ] && grep -q "^STOPPING=1" "$dir/notify"' \
    "SHUTDOWN: STOPPING=1, exit 0"
check '[ -S "$sock" ]' "the socket file stays (the service manager owns it)"
# Activated again on the same socket, the vfunc state is still there.
"$SD_ACTIVATE" "$sock" "$dir/notify" "$MSIVD" --user root --foreground \
    --state-dir "$dir" >>"$dir/log" 2>&1 &
act=$!
pids="$pids $act"
check 'wait_up "$sock" $act' "activated a second time"
kill -TERM $act
wait $act
# A wrong socket passed: refused with a clear message (exit 5).
printf 'x' > "$dir/notafile"
( exec 3<"$dir/notafile"; LISTEN_FDS=1 LISTEN_PID=$$ exec sh -c \
    'LISTEN_PID=$$ exec "$0" --user root --foreground --state-dir "$1"' \
    "$MSIVD" "$dir" ) >"$dir/bad.log" 2>&1
st=$?
check '[ $st -eq 5 ] && grep -q "is not a listening AF_UNIX SOCK_SEQPACKET" "$dir/bad.log"' \
    "a passed fd that is not a listening SEQPACKET socket: exit 5, says so"

# --- msiv-metrics.service's command -----------------------------------------
# Its ExecStart run as the unit would run it ("$$" is systemd's "$"),
# with the textfile directory and msivctl of the test: the file appears
# whole, under its own name only; with msivd gone the command fails and
# the old file stays.
cmd=$(sed -n "s/^ExecStart=\/bin\/sh -c '\(.*\)'\$/\1/p" \
    "$top_builddir/systemd/msiv-metrics.service" |
    sed 's/\$\$/$/g; s|[^ ]*/msivctl metrics|"$MSIVCTL" --socket "$sock" metrics|')
prom=$dir/textfile/msiv.prom
mkdir "$dir/textfile"
"$MSIVD" --user root --foreground --state-dir "$dir" --socket "$dir/m.sock" \
    >"$dir/m.log" 2>&1 &
mpid=$!
pids="$pids $mpid"
check 'wait_up "$dir/m.sock" $mpid' "a daemon for msiv-metrics.service's command"
PROM=$prom MSIVCTL=$MSIVCTL sock=$dir/m.sock sh -c "$cmd"
st=$?
check '[ $st -eq 0 ] && [ "$(tail -n 1 "$prom")" = "# EOF" ] &&
    [ "$(ls "$dir/textfile")" = "msiv.prom" ]' \
    "msiv-metrics.service's command writes msiv.prom whole, no temporary file left"
"$MSIVCTL" --socket "$dir/m.sock" shutdown >/dev/null 2>&1
wait $mpid
cp "$prom" "$dir/before.prom"
PROM=$prom MSIVCTL=$MSIVCTL sock=$dir/m.sock sh -c "$cmd" 2>/dev/null
st=$?
check '[ $st -eq 3 ] && cmp -s "$prom" "$dir/before.prom" &&
    [ "$(ls "$dir/textfile")" = "msiv.prom" ]' \
    "msivd gone: the command fails (exit 3), the old file stays, no temporary file"

# --- privileges -------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
	ok "# SKIP the drop needs root"
	ok "# SKIP"
	ok "# SKIP"
	ok "# SKIP"
else
	user=msiv
	id -u msiv >/dev/null 2>&1 || user=nobody
	echo "# service user: $user (create msiv with systemd-sysusers systemd/msiv.sysusers)"
	uid=$(id -u $user)
	mkdir "$dir/state"
	"$MSIVD" --foreground --user $user --state-dir "$dir/state" \
	    --socket "$dir/priv.sock" >"$dir/priv.log" 2>&1 &
	pid=$!
	pids="$pids $pid"
	check 'wait_up "$dir/priv.sock" $pid' "msivd started as root serves"
	creds=$(grep -E '^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' \
	    /proc/$pid/status | tr -s '\t ' ' ' | tr '\n' ' ')
	want="Uid: $uid $uid $uid $uid Gid: $(id -g $user) $(id -g $user) $(id -g $user) $(id -g $user) CapInh: 0000000000000000 CapPrm: 0000000000000002 CapEff: 0000000000000000 CapBnd: 0000000000000002 CapAmb: 0000000000000000 NoNewPrivs: 1 "
	check '[ "$creds" = "$want" ]' \
	    "it runs as $user with CAP_DAC_OVERRIDE permitted only (nothing effective, bounding set cut, no_new_privs)"
	[ "$creds" = "$want" ] || echo "# got: $creds"
	# Every thread, the delivery thread too.
	threads=0 same=0
	for t in /proc/$pid/task/*; do
		threads=$((threads + 1))
		c=$(grep -E '^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' \
		    $t/status | tr -s '\t ' ' ' | tr '\n' ' ')
		[ "$c" = "$want" ] && same=$((same + 1))
	done
	check '[ $threads -ge 2 ] && [ $same -eq $threads ]' \
	    "all $threads threads have the same credentials"
	check '[ "$(stat -c %U "$dir/state/msivd.db")" = "$user" ] &&
	    grep -q "running as $user (uid $uid.*capabilities: cap_dac_override=p" "$dir/priv.log"' \
	    "the store belongs to $user; the log names the capability set"
	kill -TERM $pid
	wait $pid
fi
echo "1..$n"
[ $failed -eq 0 ]
