#!/bin/sh
# The hotplug listener against real kernel uevents, in a private network
# namespace so that nothing outside it changes: the add and remove events
# of a veth pair (a network device type every kernel here has; "dummy" is
# a module some lack) are parsed; messages forged by a user-space sender
# (to msivd's netlink port, and to the kernel's multicast group) are
# ignored and counted, even one that names a device an [auto] rule would
# attach; a receive overrun (ENOBUFS) is answered with a sysfs rescan.
# Needs root (for the namespace); skips (77) without it. TAP output; every
# wait has a deadline.
set -u

: "${MSIVD:?run through make check}" "${MSIVCTL:?}" "${UEVENT_FORGE:?}"

if [ -z "${MSIV_IN_NETNS:-}" ]; then
	if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null ||
	    ! command -v ip >/dev/null || ! unshare -n true 2>/dev/null; then
		echo "1..0 # SKIP needs root, unshare and ip (iproute2)"
		exit 77
	fi
	MSIV_IN_NETNS=1 exec unshare -n sh "$0" "$@"
fi

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else nok "$desc"; fi; }

dir=$(mktemp -d /tmp/msiv-uevent-XXXXXX)
sock=$dir/msivd.sock
log=$dir/log
ctl() { "$MSIVCTL" --socket "$sock" "$@"; }
cleanup() {
	[ -n "${dpid:-}" ] && kill -CONT "$dpid" 2>/dev/null
	[ -n "${dpid:-}" ] && kill "$dpid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
ip link set lo up
# A network device pair, made and removed inside the namespace.
mklink() { ip link add "$1" type veth peer name "$1p"; }
rmlink() { ip link del "$1"; }

# Poll (30 s at most) until "$@" succeeds.
wait_for() {
	i=0
	while [ $i -lt 600 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}
logged() { grep -qF -- "$1" "$log"; }
# A figure from msivctl --json status, e.g. uevents_foreign.
figure() { ctl --json status | sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p"; }
figure_is() { [ "$(figure "$1")" = "$2" ]; }
figure_at_least() { v=$(figure "$1"); [ -n "$v" ] && [ "$v" -ge "$2" ]; }

start() {
	"$MSIVD" --user root --foreground --config "$1" --state-dir "$dir" \
	    --socket "$sock" >"$log" 2>&1 &
	dpid=$!
	wait_for ctl status
}
stop() {
	kill "$dpid" 2>/dev/null
	wait "$dpid"
	dpid=
}

# An [auto] rule for an address no device here has: a forged bind for it
# must not even be tried.
cat >"$dir/msivd.conf" <<EOF
[msivd]
log_level = debug
[device sim0]
backend = sim
slots = 8
[auto forged]
match = 0000:7f:1f.7
EOF
check "msivd starts with a hotplug rule" start "$dir/msivd.conf"
port=$(sed -n 's/.*listening to kernel uevents on netlink port \([0-9]*\).*/\1/p' "$log")
check "it listens to kernel uevents (netlink port ${port:-?})" [ -n "$port" ]
check "msivctl status shows the listener and its rule" \
    sh -c "\"$MSIVCTL\" --socket \"$sock\" status | grep -q 'hotplug  *1 rule(s)'"
check "start-up rescan counted" figure_is rescans 1

# --- real kernel uevents ---------------------------------------------------------
mklink msivt0
check "kernel uevent parsed: add of msivt0 (net)" \
    wait_for logged "uevent: add /devices/virtual/net/msivt0 (net)"
rmlink msivt0
check "kernel uevent parsed: remove of msivt0 (net)" \
    wait_for logged "uevent: remove /devices/virtual/net/msivt0 (net)"
check "kernel uevents counted, none foreign" \
    sh -c "[ \"\$(\"$MSIVCTL\" --socket \"$sock\" --json status | sed -n 's/.*\"uevents\": *\([0-9]*\).*/\1/p')\" -ge 2 ]"
check "nothing foreign yet" figure_is uevents_foreign 0

# --- forged messages ----------------------------------------------------------
bind_args="SUBSYSTEM=pci DRIVER=vfio-pci PCI_ID=1234:11E8 PCI_SLOT_NAME=0000:7f:1f.7"
# shellcheck disable=SC2086
check "forge a vfio-pci bind to msivd's port" \
    "$UEVENT_FORGE" "$port" bind /devices/pci0000:7f/0000:7f:1f.7 $bind_args
# shellcheck disable=SC2086
check "forge the same to the kernel's multicast group" \
    "$UEVENT_FORGE" multicast bind /devices/pci0000:7f/0000:7f:1f.7 $bind_args
check "forge a net add to msivd's port" \
    "$UEVENT_FORGE" "$port" add /devices/virtual/net/forged0 SUBSYSTEM=net
check "the three forged messages are counted as foreign" \
    wait_for figure_is uevents_foreign 3
check "and logged as ignored" logged "ignored a uevent not sent by the kernel"
check "none was parsed as a uevent" sh -c "! grep -q 'uevent: .*forged0\|uevent: bind /devices/pci0000:7f' '$log'"
check "no attach of the forged device was tried" sh -c "! grep -q '0000:7f:1f.7' '$log'"
check "nothing attached by rule" figure_is auto_attached 0
mklink msivt1
check "real uevents still heard after the forgeries" \
    wait_for logged "uevent: add /devices/virtual/net/msivt1 (net)"
rmlink msivt1
check "msivd carries on" ctl status
stop

# --- overrun: the kernel drops messages, msivd rescans -------------------------
cat >"$dir/small.conf" <<EOF
[msivd]
log_level = debug
[device sim0]
backend = sim
slots = 8
[hotplug]
buffer = 4096
EOF
check "msivd starts with a 4 KiB uevent buffer" start "$dir/small.conf"
kill -STOP "$dpid"
i=0
while [ $i -lt 40 ]; do
	mklink "msivo$i" && rmlink "msivo$i"
	i=$((i + 1))
done
kill -CONT "$dpid"
check "the overrun is seen and answered with a rescan" \
    wait_for figure_at_least rescans 2
check "and logged" logged "uevents were lost"
mklink msivt2
check "uevents are heard again after the overrun" \
    wait_for logged "uevent: add /devices/virtual/net/msivt2 (net)"
rmlink msivt2
check "msivd carries on" ctl status
stop

# --- listener off ------------------------------------------------------------
printf '[msivd]\n[hotplug]\nlisten = no\n[device sim0]\nbackend = sim\nslots = 4\n' >"$dir/off.conf"
check "msivd starts with [hotplug] listen = no" start "$dir/off.conf"
check "msivctl status says hotplug is off" \
    sh -c "\"$MSIVCTL\" --socket \"$sock\" status | grep -q 'hotplug  *off'"
stop

echo "1..$n"
[ "$failed" -eq 0 ]
