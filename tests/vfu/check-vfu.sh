#!/bin/sh
# make check-vfu: msiv-vfu under a real QEMU (>= 10.1, vfio-user-pci,
# fetched by fetch-qemu.sh) and real guest kernels (the ones check-vm
# boots: tests/vm/fetch.sh), under TCG with an emulated intel-iommu. On
# this host: msivd with two sim devices, sim0 (64 slots) and sim1 (8),
# an msiv-vfu serving a 16-vector function from each, QEMU connected to
# both. In the guest (2 vCPUs): vfu-guest binds the functions to the
# guest's vfio-pci and enables their MSI-X vectors with
# VFIO_DEVICE_SET_IRQS; this script fires their slots with msivctl fire
# when the guest asks on its console, and the guest counts interrupts per
# vector (vfu-guest.c). Scenarios 1-8 of the issue: doc/vfio-user.md. The QEMU requests msiv-vfu logged
# (--debug) are checked against what each guest action should send.
# TAP output. MSIVD, MSIVCTL and MSIV_VFU name the binaries.
# Skipping (no QEMU >= 10.1, no guest kernels, MSIV_SKIP_VM set) prints a
# TAP plan of 0 with the reason and exits 77 (MSIV_VM_SKIP_STATUS under
# make check's TAP driver, as check-vm).
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
# skip, vm_verdicts.
# shellcheck source=tests/vm/common.sh
. "$top/tests/vm/common.sh"
[ -z "${MSIV_SKIP_VM:-}" ] || skip "MSIV_SKIP_VM is set"

cache=${MSIV_VM_CACHE:-$HOME/.cache/msiv-vm}
: "${MSIVD:?MSIVD names msivd}" "${MSIVCTL:?MSIVCTL names msivctl}"
: "${MSIV_VFU:?MSIV_VFU names msiv-vfu}" "${TEST_VFU:?TEST_VFU names test-vfu}"
start=$(date +%s)
qemu=$(sh "$top/tests/vfu/fetch-qemu.sh" "$cache") || skip "$qemu"
kroots=$(sh "$top/tests/vm/fetch.sh" "$cache") || skip "$kroots"
case $(gcc -print-file-name=libc.a) in
/*) ;;
*) skip "no static libc.a to build the guest program (libc6-dev)" ;;
esac
work=$(mktemp -d /tmp/msiv-vfu-XXXXXX)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
gcc -static -O2 -Wall -Wextra -Werror -o "$work/vfu-guest" \
    "$top/tests/vfu/vfu-guest.c" 2>"$work/cc.log" || {
	sed 's/^/# /' "$work/cc.log"
	echo "not ok 1 - build the guest program"
	echo "1..1"
	exit 1
}
# run-vm.sh runs qemu-system-x86_64 from PATH: the fetched one.
mkdir "$work/bin"
# Its own messages go to $work/qemu.log (run-vm.sh discards them).
printf '#!/bin/sh\nexec %s "$@" 2>>%s\n' "$qemu" "$work/qemu.log" \
    > "$work/bin/qemu-system-x86_64"
chmod +x "$work/bin/qemu-system-x86_64"

ids=1234:4d56 ids7=1234:4d57
cat > "$work/run" <<RUN
bdf= bdf7=
for d in /sys/bus/pci/devices/*; do
	case "\$(cat \$d/vendor):\$(cat \$d/device)" in
	"0x${ids%:*}:0x${ids#*:}") bdf=\${d##*/} ;;
	"0x${ids7%:*}:0x${ids7#*:}") bdf7=\${d##*/} ;;
	esac
done
[ -n "\$bdf" ] && [ -n "\$bdf7" ] || { echo "PROBE FAIL no device $ids and $ids7 in the guest"; exit 3; }
[ "\$(basename \$(readlink /sys/bus/pci/devices/\$bdf/driver))" = vfio-pci ] ||
    { echo "PROBE FAIL \$bdf is not bound to vfio-pci"; exit 3; }
echo "PROBE OK the function \$bdf ($ids, class \$(cat /sys/bus/pci/devices/\$bdf/class)) is claimed by no guest driver and binds to vfio-pci"
/bin/vfu-guest \$bdf 16 \$bdf7
st=\$?
[ \$st -eq 42 ] && { echo "PROBE OK the guest reboots"; reboot -f; sleep 60; }
# Scenario 7, once, on the function whose device has 8 slots.
[ \$st -eq 0 ] && { /bin/vfu-guest \$bdf7 16 nospace; st=\$?; }
exit \$st
RUN

ctl() { "$MSIVCTL" -s "$work/msivd.sock" "$@"; }

# msivd on the test's state directory and socket; its pid in msivd.pid.
# Started from a subshell, so that no shell reports its kill -9.
start_msivd() {
	user=
	[ "$(id -u)" -eq 0 ] && user="--user root"
	# shellcheck disable=SC2086
	( "$MSIVD" --foreground --config "$work/msivd.conf" --state-dir \
	    "$work/state" --socket "$work/msivd.sock" $user \
	    >> "$work/msivd.log" 2>&1 &
	  echo $! > "$work/msivd.pid" )
	i=0
	while ! ctl status >/dev/null 2>&1 && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
}

# The slot bound to vector $2 of tenant $1's vfunc (msivctl vfuncs), or
# nothing if it has none (slots on first use: "-").
slot_of() {
	ctl vfuncs | awk -v t="$1" -v v="$2" '
	    /^vfunc / { mine = 0; for (i = 1; i < NF; i++) if ($i == "tenant" && $(i+1) == t) mine = 1 }
	    mine && $1 == v && $2 ~ /^[0-9]+$/ { print $2; exit }'
}

# Carry out what the guest asks for on its console, in order:
# "MSIV-VFU FIRE VECTOR COUNT": fire the slot bound to the vector;
# "MSIV-VFU FIRE VECTOR COUNT 7": the same on the scenario 7 function
# (sim1), and a vector without a slot gets a fire on vector 0's instead;
# "MSIV-VFU GAP-FIRE VECTOR": MSI-X is disabled on the function: fire the
# vector's (reserved) slot, note its dropped count before and after, then
# fire vector 0 of the scenario 7 function (the guest's channel);
# "MSIV-VFU SNAPSHOT 7": keep what msivctl vfuncs shows now, then fire
# vector 0 of the scenario 7 function;
# "MSIV-VFU STREAM START [3]": keep msivctl's counters (scenario 2) and
# how many SET_IRQS msiv-vfu has logged, then fire the slots of vectors
# 0-3 in a loop, 5 at a time, until "MSIV-VFU STREAM STOP [3]", which
# waits for the loop to end, writes how many it fired at each slot and
# how many SET_IRQS msiv-vfu has logged now, and fires vector 9;
# "MSIV-VFU COUNTERS N...": keep the guest's counts and msivctl's, then
# fire vector 9;
# "MSIV-VFU RESTART-MSIVD": kill -9 msivd, start it again, and wait until
# msiv-vfu says it resumed.
relay() {
	done_=0
	while :; do
		total=$(grep -c "^MSIV-VFU " "$work/serial" 2>/dev/null)
		while [ "${total:-0}" -gt $done_ ]; do
			done_=$((done_ + 1))
			# shellcheck disable=SC2046 # split into words on purpose
			set -- $(sed -n 's/^MSIV-VFU //p' "$work/serial" |
			    tr -d '\r' | sed -n "${done_}p")
			case "$1" in
			FIRE)
				if [ "${4:-}" = 7 ]; then
					s=$(slot_of vm7 "$2")
					[ -n "$s" ] || s=$(slot_of vm7 0)
					dev=sim1
				else
					s=$(slot_of vm1 "$2") dev=sim0
				fi
				ctl fire $dev "${s:-none}" "$3" >/dev/null ||
				    echo "msivctl fire $dev ${s:-none} failed" >> "$work/relay.log" ;;
			STREAM)
				# $3: the scenario (3), none for scenario 2
				sx=${3:-}
				if [ "$2" = START ]; then
					[ -n "$sx" ] || ctl vfuncs > "$work/s2-before"
					grep -c "DEVICE_SET_IRQS" "$work/vfu.log" > "$work/stream$sx.sirq0"
					rm -f "$work/stream.stop"
					set -- "$(slot_of vm1 0)" "$(slot_of vm1 1)" \
					    "$(slot_of vm1 2)" "$(slot_of vm1 3)"
					( k=0
					  while [ ! -e "$work/stream.stop" ]; do
						for s; do ctl fire sim0 "$s" 5 >/dev/null; done
						k=$((k + 5))
					  done
					  echo $k > "$work/stream$sx.count" ) &
					spid=$!
				else
					touch "$work/stream.stop"
					wait "$spid"
					grep -c "DEVICE_SET_IRQS" "$work/vfu.log" > "$work/stream$sx.sirq1"
					ctl fire sim0 "$(slot_of vm1 9)" 1 >/dev/null
				fi ;;
			COUNTERS)
				shift
				echo "$*" > "$work/s2-guest"
				ctl vfuncs > "$work/s2-after"
				ctl fire sim0 "$(slot_of vm1 9)" 1 >/dev/null ;;
			GAP-FIRE)
				s=$(slot_of vm1 "$2")
				d0=$(ctl vfuncs | awk -v v="$2" '/^vfunc / { m = / tenant vm1 / } m && $1 == v && $2 ~ /^[0-9]+$/ { print $11; exit }')
				ctl fire sim0 "${s:-none}" 1 >/dev/null
				d1=$(ctl vfuncs | awk -v v="$2" '/^vfunc / { m = / tenant vm1 / } m && $1 == v && $2 ~ /^[0-9]+$/ { print $11; exit }')
				echo "$2 ${d0:-x} ${d1:-x}" >> "$work/gap.log"
				ctl fire sim1 "$(slot_of vm7 0)" 1 >/dev/null ;;
			SNAPSHOT)
				ctl vfuncs > "$work/vfuncs-nospace"
				ctl fire sim1 "$(slot_of vm7 0)" 1 >/dev/null ;;
			REBOOT\?)
				# The first time: reboot (vector 1); then: carry
				# on (vector 0).
				reboots=$((${reboots:-0} + 1))
				if [ $reboots -eq 1 ]; then
					ctl fire sim0 "$(slot_of vm1 1)" 1 >/dev/null
				else
					ctl vfuncs > "$work/vfuncs-after-reboot"
					ctl fire sim0 "$(slot_of vm1 0)" 1 >/dev/null
				fi ;;
			RESTART-MSIVD)
				r0=$(grep -c "msivd restarted: resumed" "$work/vfu.log")
				kill -9 "$(cat "$work/msivd.pid")"
				start_msivd
				i=0
				while [ "$(grep -c "msivd restarted: resumed" "$work/vfu.log")" -le "$r0" ] &&
				    [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done ;;
			esac
		done
		sleep 0.1
	done
}

n=0 failed=0 summary=
ok() { n=$((n + 1)); echo "ok $n - $1"; }
# A migration destination: QEMU started with -incoming on msiv-vfu's
# socket, its output into $1. Returns QEMU's exit status (124: it did not
# end within 120 s).
incoming() {
	# shellcheck disable=SC2086
	timeout 120 $qemu -machine q35,accel=tcg \
	    -m 128M -display none -nodefaults -monitor none -serial none \
	    -incoming defer -device "{\"driver\":\"vfio-user-pci\",\"socket\":{\"type\":\"unix\",\"path\":\"$work/vfu.sock\"}}" \
	    > "$1" 2>&1
}
notok() { n=$((n + 1)); echo "not ok $n - $1"; failed=$((failed + 1)); }

# guest LABEL KROOT: one boot, with its own msivd and msiv-vfu.
guest() {
	label=$1 kroot=$2
	kernel=$(ls "$kroot"/boot/vmlinuz-*)
	sh "$top/tests/vm/build-initramfs.sh" "$kroot" "$work/initrd.gz" \
	    "$work/run" $ids,$ids7 vfio -- "$work/vfu-guest"
	rm -rf "$work/state" "$work/serial" "$work/msivd.sock" "$work/vfu.sock"* \
	    "$work/vfu7.sock"* "$work/qemu.log" "$work/vfuncs-after-reboot" \
	    "$work/vfuncs-nospace" "$work/s2-"* "$work/stream."* "$work/gap.log"
	mkdir "$work/state"
	# sim1: fewer slots than the scenario 7 function's 16 vectors.
	printf '[device sim0]\nbackend = sim\nslots = 64\n[device sim1]\nbackend = sim\nslots = 8\n' \
	    > "$work/msivd.conf"
	: > "$work/msivd.log"
	start_msivd
	# 6.1 grows MSI-X by disabling and re-enabling it: there the function
	# reserves its slots, so that a fire into the gap has a slot to hit
	# (and is dropped, rule 1); 6.12 binds them on first use.
	reserve=
	[ "$label" = 6.1.0 ] && reserve=--reserve
	# shellcheck disable=SC2086 # reserve: empty or one word
	"$MSIV_VFU" --listen "$work/vfu.sock" --device sim0 --vectors 16 \
	    --tenant vm1 --socket "$work/msivd.sock" --debug $reserve \
	    > "$work/vfu.log" 2>&1 &
	vpid=$!
	"$MSIV_VFU" --listen "$work/vfu7.sock" --device sim1 --vectors 16 \
	    --tenant vm7 --socket "$work/msivd.sock" --device-id ${ids7#*:} \
	    --debug > "$work/vfu7.log" 2>&1 &
	vpid7=$!
	pids="$(cat "$work/msivd.pid") $vpid $vpid7"
	i=0
	while { [ ! -S "$work/vfu.sock" ] || [ ! -S "$work/vfu7.sock" ]; } &&
	    [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
	fds0=$(ls /proc/$vpid/fd | wc -l)
	: > "$work/serial"
	relay &
	relay=$!
	pids="$pids $relay"
	# -action reboot=reset: the guest's reboot resets it (run-vm.sh
	# says -no-reboot; the later option wins).
	PATH="$work/bin:$PATH" MSIV_VM_CPUS=2 sh "$top/tests/vm/run-vm.sh" \
	    "$kernel" "$work/initrd.gz" "$work/serial" -action reboot=reset \
	    -global intel-iommu.caching-mode=on -device "{\"driver\":\"vfio-user-pci\",\"addr\":\"05.0\",\"socket\":{\"type\":\"unix\",\"path\":\"$work/vfu.sock\"}}" \
	    -device "{\"driver\":\"vfio-user-pci\",\"id\":\"nospace\",\"addr\":\"06.0\",\"socket\":{\"type\":\"unix\",\"path\":\"$work/vfu7.sock\"}}"
	rc=$?
	kill $relay 2>/dev/null
	wait $relay 2>/dev/null
	vm_verdicts "$label"
	if [ $rc -eq 0 ]; then
		ok "$label: the guest ran its checks and exited 0"
	else
		notok "$label: guest exit $rc"
		sed 's/^/# /' "$work/serial" | tail -30
	fi
	# QEMU has exited: msiv-vfu closes the vfunc and keeps no fd of it.
	log=$work/vfu.log
	i=0
	while ! { grep -q "the VMM went away" "$log" &&
	    grep -q "the VMM went away" "$work/vfu7.log"; } && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
	fds1=$(ls /proc/$vpid/fd | wc -l)
	left=$(ctl vfuncs | grep -c "^vfunc ")
	[ "$left" -eq 0 ] && [ "$fds1" -eq "$fds0" ] &&
	    ok "$label: QEMU gone: msiv-vfu closed the vfunc (msivctl lists none) and holds $fds1 fds, as before it came" ||
	    notok "$label: QEMU gone: $left vfuncs left, msiv-vfu fds $fds0 -> $fds1"
	# Scenario 6: QEMU killed (-9) while it holds the function (in the
	# firmware, no guest): the vfunc goes, its slots are free, no fd
	# stays behind in msiv-vfu or msivd.
	dfd0=$(ls /proc/"$(cat "$work/msivd.pid")"/fd | wc -l)
	resets=$(grep -c "DEVICE_RESET" "$log")
	"$work/bin/qemu-system-x86_64" -machine q35,accel=tcg -m 128M \
	    -display none -nodefaults -monitor none -serial none \
	    -device "{\"driver\":\"vfio-user-pci\",\"socket\":{\"type\":\"unix\",\"path\":\"$work/vfu.sock\"}}" &
	qpid=$!
	i=0
	while [ "$(grep -c "DEVICE_RESET" "$log")" -le "$resets" ] && [ $i -lt 300 ]; do
		sleep 0.1; i=$((i+1))
	done
	inuse=$(ctl vfuncs | grep -c "^vfunc ")
	# A migration to this host: a destination QEMU (-incoming) on the
	# same socket while the source holds the function is refused, and
	# fails to start (QEMU itself does not refuse to migrate such a VM:
	# msiv-vfu(1), MIGRATION).
	second="a second VMM, pid [0-9]*, a migration destination (started with -incoming), connected; refused"
	refused0=$(grep -c "$second" "$log")
	incoming "$work/qemu-incoming.log"; st=$?
	[ $st -ne 0 ] && [ $st -ne 124 ] &&
	    [ "$(grep -c "$second" "$log")" -gt "$refused0" ] &&
	    ok "$label: a migration destination on the same host and socket is refused and fails to start (QEMU exit $st: $(head -1 "$work/qemu-incoming.log" | sed 's/.*: //'))" ||
	    notok "$label: a destination QEMU on the same socket: exit $st, msiv-vfu refusals $refused0 -> $(grep -c "$second" "$log")"
	gone0=$(grep -c "the VMM went away" "$log")
	kill -9 $qpid
	wait $qpid 2>/dev/null
	i=0
	while [ "$(grep -c "the VMM went away" "$log")" -le "$gone0" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
	left=$(ctl vfuncs | grep -c "^vfunc ")
	fds2=$(ls /proc/$vpid/fd | wc -l)
	dfd1=$(ls /proc/"$(cat "$work/msivd.pid")"/fd | wc -l)
	[ "$inuse" -eq 1 ] && [ "$left" -eq 0 ] && [ "$fds2" -eq "$fds0" ] &&
	    [ "$dfd1" -eq "$dfd0" ] &&
	    ok "$label: scenario 6: QEMU killed -9: its vfunc is gone, its slots free; msiv-vfu holds $fds2 fds and msivd $dfd1, as before" ||
	    notok "$label: scenario 6: vfuncs $inuse -> $left, msiv-vfu fds $fds0 -> $fds2, msivd fds $dfd0 -> $dfd1"
	# A migration from another host: msiv-vfu serves no VMM, as on the
	# destination host, and a QEMU started with -incoming connects. It is
	# refused before a vfunc is opened; QEMU fails to start, so the
	# migration fails and the source keeps running.
	dest="is a migration destination (started with -incoming): refused"
	refused0=$(grep -c "$dest" "$log")
	incoming "$work/qemu-incoming2.log"; st=$?
	opened=$(ctl vfuncs | grep -c "^vfunc ")
	# QEMU's only complaint is msiv-vfu's answer.
	[ $st -ne 0 ] && [ $st -ne 124 ] && [ "$opened" -eq 0 ] &&
	    grep -q "version reply: Operation not supported" "$work/qemu-incoming2.log" &&
	    ! grep -q "failed to read header" "$work/qemu-incoming2.log" &&
	    [ "$(grep -c "$dest" "$log")" -gt "$refused0" ] &&
	    ok "$label: a migration destination on an idle msiv-vfu (as on another host) is refused, opens no vfunc, and QEMU fails to start (exit $st: $(grep -o "version reply: .*" "$work/qemu-incoming2.log"))" ||
	    notok "$label: a destination QEMU on an idle msiv-vfu: exit $st, vfuncs $opened, refusals $refused0 -> $(grep -c "$dest" "$log"): $(head -2 "$work/qemu-incoming2.log")"
	# Scenario 4: the reboot reached msiv-vfu as MSI-X disable and
	# DEVICE_RESET, and the second boot's checks passed (above).
	k=$(sed -n '/VMM connected/,$p' "$log" | grep -c "DEVICE_RESET: ok")
	[ "$(grep -c "MSIV-VM BOOTED" "$work/serial")" -eq 2 ] && [ "$k" -ge 2 ] &&
	    [ -s "$work/vfuncs-after-reboot" ] &&
	    ok "$label: scenario 4: the guest rebooted; QEMU reset the function (DEVICE_RESET, $k in all), and after the reboot every vector delivers again" ||
	    notok "$label: scenario 4: boots $(grep -c "MSIV-VM BOOTED" "$work/serial"), DEVICE_RESETs $k"
	# What QEMU sent msiv-vfu for the guest's actions.
	grep -q "DEVICE_SET_IRQS index 2 TRIGGER|DATA_EVENTFD start 15 count 1 fds 1: ok" "$log" &&
	    ok "$label: QEMU passes each vector's first unmask on as SET_IRQS TRIGGER with one eventfd" ||
	    notok "$label: no SET_IRQS with an eventfd for vector 15"
	if grep -q "fixed-size" "$work/serial"; then
		k=$(grep -c "DEVICE_SET_IRQS index 2 TRIGGER|DATA_NONE start 0 count 0 fds 0: ok" "$log")
		[ "$k" -ge 15 ] &&
		    ok "$label: the guest's MSI-X disable (growing a NORESIZE vfio-pci) reaches msiv-vfu as SET_IRQS DATA_NONE count 0 ($k times)" ||
		    notok "$label: MSI-X disables passed on: $k"
	fi
	# Scenario 7: sim1 has 8 slots for the 16 vectors the guest enabled.
	# msiv-vfu answers each setup it has no slot for with ENOSPC; QEMU
	# logs the error and goes on (the guest sees nothing), and msivctl
	# shows the refusals.
	# Scenario 1 on a fixed-size vfio-pci: each fire into a disable/
	# re-enable gap was dropped and counted (msivctl's DROPPED of the
	# vector went up by one).
	if [ -s "$work/gap.log" ]; then
		g=$(awk '$3 == $2 + 1' "$work/gap.log" | wc -l)
		# 15 gaps in each of the two boots (scenario 4)
		[ "$g" -eq 30 ] && [ "$(wc -l < "$work/gap.log")" -eq 30 ] &&
		    ok "$label: scenario 1: $g fires into the MSI-X disable/re-enable gaps (15 per boot) were dropped, each counted in msivctl's DROPPED (rule 1)" ||
		    notok "$label: scenario 1: gap fires counted as dropped: $g of $(wc -l < "$work/gap.log")"
	elif grep -q "fixed-size" "$work/serial"; then
		notok "$label: scenario 1: no fire into the disable/re-enable gaps"
	fi
	# Scenario 2 (dynamic MSI-X): msivd's counters over the stream against
	# the guest's. Per vector: msivd fired what the host fired (the stream
	# and one final fire; on vector 9 the stop's answer and the final
	# fire; more only by interrupts it assumed, a delivery of the io_uring
	# loop that stood for no signal: msiv-protocol(7), COUNTERS),
	# delivered or coalesced each, dropped none, and the guest
	# counted at most what msivd delivered: QEMU reads each eventfd
	# once per wake-up, so signals msivd delivered close together reach
	# the guest as one interrupt (the rest is QEMU's coalescing).
	if [ -s "$work/s2-guest" ]; then
		s2=$(awk -v k="$(cat "$work/stream.count" 2>/dev/null)" -v g="$(cat "$work/s2-guest")" '
		    function grab(f,  t, mine) {
			while ((getline t < f) > 0) {
			    split(t, w, " ")
			    if (w[1] == "vfunc") mine = (t ~ / tenant vm1 /)
			    else if (mine && w[1] ~ /^[0-9]+$/ && w[2] ~ /^([0-9]+|-)$/ && w[8] != "")
				for (j = 8; j <= 11; j++) c[f, w[1], j] = w[j]
			}
		    }
		    BEGIN {
			grab(ARGV[1]); grab(ARGV[2]); n = split(g, gc, " ")
			split("0 1 2 3 9", vs, " "); bad = 0; out = ""
			for (i = 1; i <= 5; i++) {
			    v = vs[i]
			    for (j = 8; j <= 11; j++) d[j] = c[ARGV[2], v, j] - c[ARGV[1], v, j]
			    want = v == 9 ? 2 : k + 1
			    if (d[8] < want || d[9] > d[8] || d[10] + d[11] > d[8] || d[11] != 0 ||
				gc[i] > d[9] || gc[i] < (v == 9 ? 2 : 1) || (v == 9 && gc[i] != d[9]))
				bad++
			    out = out sprintf(" vector %s: fired %d (host %d) delivered %d coalesced %d dropped %d guest %d;",
				v, d[8], want, d[9], d[10], d[11], gc[i])
			}
			print bad out
		    }' "$work/s2-before" "$work/s2-after")
		if [ "${s2%% *}" = 0 ] && [ -n "$(cat "$work/stream.count" 2>/dev/null)" ]; then
			ok "$label: scenario 2: msivd's counters agree with the guest's over a stream of $(cat "$work/stream.count") fires on each of vectors 0-3 and vector 9's late first unmask"
		else
			notok "$label: scenario 2: counters disagree"
		fi
		echo "# $label: scenario 2:${s2#* }"
	elif [ "$label" != 6.1.0 ]; then
		notok "$label: scenario 2 did not run"
	fi
	# Scenario 3: QEMU sent msiv-vfu nothing for the guest's affinity
	# changes (under TCG QEMU emulates the MSI-X table and, with
	# interrupt remapping, the IOMMU's remapping table that the guest
	# rewrites).
	if [ -s "$work/stream3.sirq1" ]; then
		k0=$(cat "$work/stream3.sirq0") k1=$(cat "$work/stream3.sirq1")
		[ "$k0" -eq "$k1" ] &&
		    ok "$label: scenario 3: QEMU sent msiv-vfu no SET_IRQS during the affinity changes (a stream of $(cat "$work/stream3.count") fires per vector)" ||
		    notok "$label: scenario 3: SET_IRQS during the affinity changes: $((k1 - k0))"
	else
		notok "$label: scenario 3 did not run to its end"
	fi
	# What QEMU 11 logs for an error reply to a vector's setup.
	qenospc="vfu7.sock: Failed to set up TRIGGER eventfd signaling for interrupt MSIX-[0-9]*: VFIO_DEVICE_SET_IRQS failure"
	if grep -q "scenario 7: all" "$work/serial"; then
		nsl=$(grep -c "NO SLOT: [1-9]" "$work/vfuncs-nospace" 2>/dev/null)
		bnd=$(grep -A1 "tenant vm7 " "$work/vfuncs-nospace" 2>/dev/null |
		    sed -n 's/.*slots on first use (\([0-9]*\) bound, \([0-9]*\) setup.*/\1 \2/p')
		enos=$(grep -c "DEVICE_SET_IRQS index 2 TRIGGER|DATA_EVENTFD start [0-9]* count 1 fds 1: No space left on device" "$work/vfu7.log")
		qns=$(grep -c "$qenospc" "$work/qemu.log")
		# shellcheck disable=SC2086 # two numbers
		set -- $bnd
		[ "${1:-0}" -eq 8 ] && [ "${2:-0}" -ge 8 ] && [ "${nsl:-0}" -eq 8 ] &&
		    [ "$enos" -eq "${2:-0}" ] && [ "$qns" -eq "$enos" ] &&
		    ok "$label: scenario 7: 8 slots for 16 vectors: $enos setups refused with ENOSPC (QEMU logged each and carried on); msivctl vfuncs shows 8 bound and NO SLOT on 8 vectors" ||
		    notok "$label: scenario 7: bound/refused '${bnd:-none}', NO SLOT lines ${nsl:-0}, ENOSPC replies $enos, QEMU's ENOSPC lines $qns"
		grep "$qenospc" "$work/qemu.log" | sed 's/^/# qemu: /' | head -1
	else
		notok "$label: scenario 7 did not run"
	fi
	if grep -v "$qenospc" "$work/qemu.log" | grep -q .; then
		notok "$label: QEMU logged something"
		sed 's/^/# qemu: /' "$work/qemu.log" | head
	else
		ok "$label: QEMU logged nothing else (no warning, no error from its vfio-user client)"
	fi
	# The migration destinations above were refused on purpose, and
	# counted there.
	if grep -v "a migration destination (started with -incoming)" "$log" |
	    grep -q "refused\|closing"; then
		notok "$label: msiv-vfu refused or closed something"
		grep "refused\|closing" "$log" | sed 's/^/# /' | head
	fi
	# MSIV_VFU_LOGS=DIR keeps msiv-vfu's debug logs (doc/vfio-user.md).
	[ -z "${MSIV_VFU_LOGS:-}" ] || cp "$log" "$MSIV_VFU_LOGS/msiv-vfu-$label.log"
	[ -z "${MSIV_VFU_LOGS:-}" ] || cp "$work/vfu7.log" "$MSIV_VFU_LOGS/msiv-vfu-$label-nospace.log"
	# Scenario 8: QEMU has gone and msiv-vfu waits for the next VMM: it
	# gets test-vfu's malformed traffic (error replies, connections
	# closed, every fd closed), and keeps serving.
	"$TEST_VFU" --against "$work/vfu.sock" "$vpid" > "$work/malformed.log" 2>&1
	k=$(grep -c "^ok" "$work/malformed.log")
	if [ "$(grep -c "^not ok" "$work/malformed.log")" -eq 0 ] && [ "$k" -ge 10 ] &&
	    grep -q "after all that, msiv-vfu still serves" "$work/malformed.log"; then
		ok "$label: scenario 8: test-vfu's malformed traffic against this msiv-vfu: $k checks, error replies or closed connections, and it still serves"
	else
		notok "$label: scenario 8: test-vfu --against"
		grep -v "^ok" "$work/malformed.log" | sed 's/^/# /' | head -20
	fi
	kill "$vpid7" 2>/dev/null
	wait "$vpid7"
	kill "$vpid" 2>/dev/null
	wait "$vpid"
	vst=$?
	[ $vst -eq 0 ] && ok "$label: msiv-vfu exits 0 on SIGTERM" ||
	    notok "$label: msiv-vfu exit status $vst"
	# msivd: the one the relay restarted is not this shell's child.
	dpid=$(cat "$work/msivd.pid")
	ctl shutdown >/dev/null
	i=0
	while kill -0 "$dpid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
	kill -0 "$dpid" 2>/dev/null && notok "$label: msivd did not shut down"
	grep -q "msivd restarted: resumed" "$log" &&
	    ok "$label: msiv-vfu resumed with its token after msivd's kill -9" ||
	    notok "$label: msiv-vfu did not resume after msivd's kill -9"
	pids=
	summary="$summary, $label $(grep -c "^PROBE OK" "$work/serial")/$(grep -c "^PROBE \(OK\|FAIL\)" "$work/serial")"
}
for kroot in $kroots; do
	label=$(ls "$kroot/lib/modules")
	guest "${label%%-*}" "$kroot"
done
echo "1..$n"
echo "# check-vfu: $n checks on $(echo $kroots | wc -w) kernels (scenarios 1, 3, 4, 5, 6, 7, 8 on each, 2 on 6.12), $failed failed; guest checks passed${summary#,}; $(($(date +%s) - start)) s"
[ $failed -eq 0 ]
