#!/bin/sh
# End to end with the real programs: msivd, the example VMM client (as
# `./quickstart.sh run` uses it) and msivctl — its listings, --json output,
# exit codes, and `permission denied` for a user who is not an admin.
# TAP output. Every wait has a deadline.
set -u

: "${MSIVD:?run through make check}" "${MSIVCTL:?}" "${MSIV_EXAMPLE:?}"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else nok "$desc"; fi; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }
quiet() { "$@" >/dev/null; }
has() { printf '%s\n' "$1" | grep -q -- "$2"; }

dir=$(mktemp -d /tmp/msiv-cli-XXXXXX)
sock=$dir/msivd.sock
ctl() { "$MSIVCTL" --socket "$sock" "$@"; }
cleanup() {
	[ -n "${dpid:-}" ] && kill "$dpid" 2>/dev/null
	[ -n "${d2pid:-}" ] && kill "$d2pid" 2>/dev/null
	[ -n "${lpid:-}" ] && kill "$lpid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

# Wait (20 s at most) until msivctl reaches the daemon at $1 (or until
# its process $2, if given, has exited).
wait_up() {
	i=0
	while [ $i -lt 400 ]; do
		"$MSIVCTL" --socket "$1" status >/dev/null 2>&1 && return 0
		[ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null && return 1
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}
# Wait until process $1 has exited; its status in $st.
wait_exit() {
	i=0
	while [ $i -lt 400 ] && kill -0 "$1" 2>/dev/null; do
		sleep 0.05
		i=$((i + 1))
	done
	if kill -0 "$1" 2>/dev/null; then st=timeout; return 1; fi
	wait "$1"; st=$?
}

# --- no daemon yet -----------------------------------------------------------
check "msivctl --version" quiet "$MSIVCTL" --version
check "msivctl --help" quiet "$MSIVCTL" --help
"$MSIVCTL" >/dev/null 2>&1; check "no command: usage, exit 2" [ $? -eq 2 ]
"$MSIVCTL" --socket "$sock" frobnicate >/dev/null 2>&1
check "unknown command: exit 2" [ $? -eq 2 ]
out=$(ctl status 2>&1); rc=$?
check "daemon not running: exit 3" [ $rc -eq 3 ]
case "$out" in *"not running"*"$sock"*|*"$sock"*"not running"*) ok "the message says so and names the socket" ;;
*) nok "the message says so and names the socket: $out" ;; esac

# A device definition msivd cannot take: exit 3 (configuration), saying why.
printf '[device s]\nbackend = sim\nslots = 4\nmsi_latch = yes\n' >"$dir/latch.conf"
out=$("$MSIVD" --user root --foreground --config "$dir/latch.conf" --state-dir "$dir" \
    --socket "$dir/latch.sock" 2>&1); rc=$?
check "msi_latch on a sim device: msivd exits 3" [ $rc -eq 3 ]
check "... naming the file, the device and the reason" \
    has "$out" "latch.conf:1: \[device s\] msi_latch is for vfio devices"

# --- the delivery loops (msivd.8, DELIVERY LOOPS) -----------------------------
out=$("$MSIVD" --user root --foreground --delivery poll 2>&1); rc=$?
check "--delivery poll: exit 2" [ $rc -eq 2 ]
check "... naming the loops there are" has "$out" "must be auto, io_uring or epoll"
printf '[msivd]\ndelivery = poll\n' >"$dir/loop.conf"
out=$("$MSIVD" --user root --foreground --config "$dir/loop.conf" --state-dir "$dir" \
    --socket "$dir/loop.sock" 2>&1); rc=$?
check "delivery = poll in the file: exit 3, naming file and line" \
    sh -c '[ $1 -eq 3 ] && printf "%s" "$2" | grep -q "loop.conf:2: delivery must be auto, io_uring or epoll"' - $rc "$out"
for loop in epoll io_uring; do
	"$MSIVD" --user root --foreground --delivery $loop --state-dir "$dir" \
	    --socket "$dir/loop.sock" >"$dir/loop.log" 2>&1 &
	lpid=$!
	if ! wait_up "$dir/loop.sock" $lpid; then
		wait_exit "$lpid"
		if [ $loop = io_uring ] && [ "$st" = 3 ] &&
		    grep -q "io_uring asked for but unavailable" "$dir/loop.log"; then
			for t in 1 2; do skip "$(grep -o 'unavailable: .*' "$dir/loop.log")"; done
		else
			nok "msivd --delivery $loop starts"; nok "... and runs the example"
		fi
		continue
	fi
	check "msivd --delivery $loop: status names the loop" \
	    has "$("$MSIVCTL" --socket "$dir/loop.sock" status)" "delivery loop  $loop$"
	# Where io_uring serves the loop, it serves the target writers too:
	# their rings, restricted to writes, pass the start-up probe.
	[ $loop = io_uring ] && check "... and its target writes never wait" \
	    sh -c '! grep -q "target writes:" "$1"' - "$dir/loop.log"
	out=$("$MSIV_EXAMPLE" --socket "$dir/loop.sock" 2>&1)
	check "... and the example VMM client succeeds on it" [ $? -eq 0 ]
	quiet "$MSIVCTL" --socket "$dir/loop.sock" shutdown; wait_exit "$lpid"
	lpid=
	rm -f "$dir/msivd.db"*
done
# io_uring refused by a seccomp filter (as systemd's SystemCallFilter
# does): the default falls back to epoll and says why; asked for, it is
# a configuration error.
"$NO_URING" "$MSIVD" --user root --foreground --state-dir "$dir" \
    --socket "$dir/loop.sock" >"$dir/loop.log" 2>&1 &
lpid=$!
check "io_uring refused: msivd starts" wait_up "$dir/loop.sock" $lpid
check "... on the epoll loop" \
    has "$("$MSIVCTL" --socket "$dir/loop.sock" status)" "delivery loop  epoll$"
check "... and its log says why" grep -q \
    "io_uring unavailable (io_uring not permitted (sysctl kernel.io_uring_disabled or a seccomp filter)); using epoll" \
    "$dir/loop.log"
check "... and that target writes rely on O_NONBLOCK alone" grep -q \
    "target writes: io_uring not permitted (sysctl kernel.io_uring_disabled or a seccomp filter): a client that clears O_NONBLOCK on its target can stall msivd" \
    "$dir/loop.log"
out=$("$MSIV_EXAMPLE" --socket "$dir/loop.sock" 2>&1)
check "... and the example VMM client succeeds on it" [ $? -eq 0 ]
quiet "$MSIVCTL" --socket "$dir/loop.sock" shutdown; wait_exit "$lpid"
lpid=
rm -f "$dir/msivd.db"*
out=$("$NO_URING" "$MSIVD" --user root --foreground --delivery io_uring \
    --state-dir "$dir" --socket "$dir/loop.sock" 2>&1); rc=$?
check "io_uring refused and asked for: exit 3" [ $rc -eq 3 ]
check "... saying why" has "$out" "io_uring asked for but unavailable: io_uring not permitted"

# --- the daemon on its embedded default, as quickstart runs it ---------------
"$MSIVD" --user root --foreground --state-dir "$dir" --socket "$sock" >"$dir/log" 2>&1 &
dpid=$!
check "msivd answers on its socket" wait_up "$sock"
out=$("$MSIV_EXAMPLE" --socket "$sock" --stay 2>&1); rc=$?
check "the example VMM client succeeds" [ $rc -eq 0 ]
case "$out" in *"vector 3: interrupt delivered"*) ok "the example shows deliveries" ;;
*) nok "the example shows deliveries" ;; esac
case "$out" in *"replayed exactly once"*"one interrupt"*) ok "the example shows the pending replay" ;;
*) nok "the example shows the pending replay" ;; esac
case "$out" in *"new eventfd: interrupt arrived; old eventfd: quiet"*) ok "the example shows the retarget" ;;
*) nok "the example shows the retarget" ;; esac

out=$(ctl status); check "status" [ $? -eq 0 ]
case "$out" in *sim0*|*"devices"*) ok "status describes the daemon" ;; *) nok "status describes the daemon" ;; esac
out=$(ctl devices); check "devices" [ $? -eq 0 ]
case "$out" in *sim0*2048*) ok "devices lists sim0 with 2048 slots" ;; *) nok "devices lists sim0: $out" ;; esac
out=$(ctl vfuncs); check "vfuncs" [ $? -eq 0 ]
case "$out" in *example-vm*) ok "vfuncs shows the example's vfunc" ;; *) nok "vfuncs shows the example's vfunc" ;; esac
json=$(ctl --json vfuncs); check "--json vfuncs" [ $? -eq 0 ]
check "the JSON vfunc has 4 vectors" [ "$(printf '%s\n' "$json" | grep -c '"vector":')" -eq 4 ]
check "one vector is pending (the example left vector 3 so)" \
	[ "$(printf '%s\n' "$json" | grep -c '"pending": *true')" -eq 1 ]
check "JSON names the tenant" has "$json" '"example-vm"'
out=$(ctl --json devices); check "--json devices" [ $? -eq 0 ]
out=$(ctl --json sessions); check "--json sessions" [ $? -eq 0 ]
out=$(ctl --json status); check "--json status" [ $? -eq 0 ]
check "sessions lists the example" has "$(ctl sessions)" example-vm

check "fire sim0 100" quiet ctl fire sim0 100 2
ctl fire nosuch 0 >/dev/null 2>&1; check "fire on an unknown device: exit 5" [ $? -eq 5 ]
ctl fire sim0 99999 >/dev/null 2>&1; rc=$?
check "fire on a slot out of range: exit 1" [ $rc -eq 1 ]
ctl fire sim0 abc >/dev/null 2>&1; check "fire with a bad number: exit 2" [ $? -eq 2 ]
MSIV_SOCKET=$sock "$MSIVCTL" status >/dev/null 2>&1
check "\$MSIV_SOCKET names the socket" [ $? -eq 0 ]

# --- permission denied --------------------------------------------------------
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
	chmod 0755 "$dir"
	# The build tree may sit where nobody cannot reach it: run a copy of
	# the real binary (behind libtool's wrapper) and of libmsiv.
	mkdir -m 0755 "$dir/bin"
	lt=$(dirname "$MSIVCTL")/.libs
	if [ -x "$lt/msivctl" ]; then
		cp "$lt/msivctl" "$lt"/libmsiv.so* "$dir/bin/"
	else
		cp "$MSIVCTL" "$dir/bin/"
	fi
	chmod -R a+rX "$dir/bin"
	nctl() { as_nobody env LD_LIBRARY_PATH="$dir/bin" "$dir/bin/msivctl" "$@"; }
	nctl --socket "$sock" status >/dev/null 2>&1
	check "a user who may not open the socket: exit 4" [ $? -eq 4 ]
	# A second daemon whose socket anyone may open: the user connects,
	# but is not an admin.
	cat >"$dir/open.conf" <<EOF
[msivd]
socket_mode = 0666
[device sim0]
backend = sim
slots = 16
EOF
	mkdir "$dir/s2"
	"$MSIVD" --user root --foreground --config "$dir/open.conf" --state-dir "$dir/s2" \
	    --socket "$dir/open.sock" >"$dir/log2" 2>&1 &
	d2pid=$!
	check "a second daemon with an open socket" wait_up "$dir/open.sock"
	out=$(nctl --socket "$dir/open.sock" fire sim0 0 2>&1); rc=$?
	check "a non-admin's fire: exit 4" [ $rc -eq 4 ]
	case "$out" in *"permission denied"*) ok "the message says permission denied" ;;
	*) nok "the message says permission denied: $out" ;; esac
	check "the daemon logged the attempt" grep -q "denied" "$dir/log2"
	out=$(nctl --socket "$dir/open.sock" metrics 2>&1); rc=$?
	check "a non-admin's metrics: exit 4, nothing on stdout but the message" \
	    sh -c '[ $1 -eq 4 ] && printf "%s" "$2" | grep -q "metrics: permission denied" &&
	    ! printf "%s" "$2" | grep -q "^# TYPE"' - $rc "$out"
	nctl --socket "$dir/open.sock" shutdown >/dev/null 2>&1
	check "a non-admin cannot shut it down" [ $? -eq 4 ]
	"$MSIVCTL" --socket "$dir/open.sock" shutdown >/dev/null
	wait_exit "$d2pid"; check "the second daemon stops" [ "$st" = 0 ]
	d2pid=
else
	for t in 1 2 3 4 5 6; do skip "permission tests need root, setpriv and user nobody"; done
fi

# --- devices attached at run time --------------------------------------------
out=$(ctl attach sim1 sim 64 2>&1); check "attach sim1 sim 64" [ $? -eq 0 ]
quiet ctl attach sim2 sim 8 live; check "attach sim2 sim 8 live" [ $? -eq 0 ]
out=$(ctl devices)
check "devices lists sim1" has "$out" "^sim1 *sim *64 *0 *latch"
check "devices lists sim2" has "$out" "^sim2 *sim *8 *0 *live"
out=$(ctl attach sim1 sim 64 2>&1); rc=$?
check "attaching a name in use: exit 1" [ $rc -eq 1 ]
check "... saying so" has "$out" "attached already"
out=$(ctl attach nic0 vfio 0000:7f:1f.7 2>&1); rc=$?
check "attaching a missing PCI device: exit 5" [ $rc -eq 5 ]
check "... the message says what to check" has "$out" "missing or not bound to vfio-pci"
check "... msivd's log names the device and the fix" \
    grep -q "vfio 0000:7f:1f.7: no such PCI device or no IOMMU group" "$dir/log"
out=$(ctl attach nic0 vfio 3.0 2>&1); rc=$?
check "a malformed PCI address: exit 1" [ $rc -eq 1 ]
check "... msivd's log says why" grep -q "address must be a PCI address" "$dir/log"
out=$(ctl attach nic0 sim 2>&1); check "attach with too few arguments: exit 2" [ $? -eq 2 ]
out=$("$MSIV_EXAMPLE" --socket "$sock" --device sim1 --tenant vm2 --stay 2>&1)
check "the example client runs on sim1 and leaves its vfunc" [ $? -eq 0 ]
out=$(ctl detach sim1 2>&1); rc=$?
check "detaching a device in use is refused: exit 1" [ $rc -eq 1 ]
check "... saying why" has "$out" "vfuncs still use the device"
out=$(ctl affinity sim1 0 2>&1); rc=$?
check "affinity of a sim slot: not supported, exit 1" [ $rc -eq 1 ]
out=$(ctl affinity sim1 0 1-x 2>&1); check "affinity with a bad CPU list: exit 2" [ $? -eq 2 ]
quiet ctl detach sim2; check "detach sim2" [ $? -eq 0 ]
out=$(ctl devices); check "sim2 is gone" sh -c '! printf "%s" "$1" | grep -q sim2' - "$out"
out=$(ctl detach sim2 2>&1); check "detaching it again: exit 5" [ $? -eq 5 ]
quiet ctl shutdown; wait_exit "$dpid"; check "restart: msivd stops" [ "$st" = 0 ]
"$MSIVD" --user root --foreground --state-dir "$dir" --socket "$sock" >>"$dir/log" 2>&1 &
dpid=$!
check "restart: msivd comes back" wait_up "$sock"
out=$(ctl devices)
check "restart: sim1 is attached again, sim2 is not" sh -c \
    'printf "%s" "$1" | grep -q "sim1 *sim *64" && ! printf "%s" "$1" | grep -q sim2' - "$out"
out=$(ctl vfuncs)
check "restart: the vfunc on sim1 is restored" has "$out" "sim1"

# --- revocation ---------------------------------------------------------------
out=$(ctl status); check "status shows the hotplug listener" has "$out" "hotplug .*uevents"
out=$(ctl --json status); check "... and --json its figures" has "$out" '"uevents_foreign": 0'
out=$("$MSIV_EXAMPLE" --socket "$sock" --tenant vm3 --stay 2>&1)
check "the example client leaves a vfunc of tenant vm3 on sim0" [ $? -eq 0 ]
out=$(ctl revoke vm3); check "revoke vm3" [ $? -eq 0 ]
check "... revoked 1 vfunc" has "$out" "revoked 1 vfunc$"
out=$(ctl vfuncs); check "vfuncs shows it revoked" has "$out" "tenant vm3  REVOKED (revoked by an admin)"
out=$(ctl revoke vm3); check "revoking vm3 again: nothing left to revoke" has "$out" "revoked 0 vfuncs"
out=$(ctl revoke nobody-here 2>&1); rc=$?
check "revoke a tenant that holds nothing: exit 5" [ $rc -eq 5 ]
check "... saying so" has "$out" "holds no vfunc"
out=$(ctl revoke 0x0123456789abcdef 2>&1); check "revoke an unknown handle: exit 5" [ $? -eq 5 ]
out=$(ctl revoke 2>&1); check "revoke without an argument: exit 2" [ $? -eq 2 ]
out=$(ctl detach sim1 --force); check "detach sim1 --force, though vm2 uses it" [ $? -eq 0 ]
out=$(ctl vfuncs); check "vm2's vfunc is shown revoked (device removed)" \
    has "$out" "device sim1  tenant vm2  REVOKED (device removed)"
out=$(ctl detach sim0 --frce 2>&1); check "detach with a bad option: exit 2" [ $? -eq 2 ]

# --- shutdown ---------------------------------------------------------------
out=$(ctl shutdown); check "msivctl shutdown" [ $? -eq 0 ]
wait_exit "$dpid"; check "msivd exits with status 0" [ "$st" = 0 ]
dpid=
check "the socket is gone" [ ! -e "$sock" ]
check "the daemon logged a clean stop" grep -q "stopped" "$dir/log"
ctl status >/dev/null 2>&1; check "afterwards: daemon not running, exit 3" [ $? -eq 3 ]

[ $failed -gt 0 ] && sed 's/^/# msivd: /' "$dir/log"
echo "1..$n"
[ $failed -eq 0 ]
