#!/bin/sh
# make check-vm: real kernel VFIO in QEMU (TCG) guests with an emulated
# IOMMU, on two guest kernels (fetch.sh): 6.1, whose MSI-X is fixed-size
# (NORESIZE), and 6.12, whose MSI-X is dynamic. In each guest: the probe
# of what the vfio backend needs (vfio-probe.c); msivd refusing devices it
# cannot use with a clear error; then msivd owning QEMU's edu device (MSI,
# checked by vm-relay.c) and an ivshmem-doorbell device (MSI-X, checked by
# vm-msix.c, with interrupts raised inside the guest and by ivshmem-host.c
# on this host), rules 1-8 and 10 in relay and direct mode, and the swap
# window: an interrupt raised while MASK or RETARGET moves a direct
# vector's VFIO trigger is never lost (MSIV_VM_SWAPS rounds per mode,
# 2000 by default: 15 to 25 s per mode and kernel under TCG). A third guest
# per kernel removes a device attached by rule while a client holds a
# vector on it, through sysfs and through QEMU's monitor, and puts it back
# (vm-hotplug.c). A fourth restarts msivd by handover (SIGUSR2) under
# doorbell traffic from this host, in relay and in direct mode
# (MSIV_VM_HANDOVERS per mode, 20 by default): MSI-X stays enabled, no
# vector goes dead, the client keeps its connection, every old msivd exits
# 0 (vm-handover.c).
# MSIV_VM_ONLY="KIND..." boots only those guests: main (vfio-probe,
# vm-relay, vm-msix), hotplug, handover, noir (no interrupt remapping).
# TAP output. MSIVD names the daemon binary.
# Skipping prints a TAP plan of 0 with the reason and exits 77 (automake's
# skip status); under make check's TAP driver, which takes the reason
# from the plan, MSIV_VM_SKIP_STATUS=0.
set -u
. "$(dirname "$0")/common.sh"
vm_setup vm
vm_build vfio-probe vm-relay vm-msix vm-hotplug vm-handover msivctl
cat > "$work/run" <<'RUN'
# edu (MSI) at 00:04.0, ivshmem-doorbell (MSI-X) at 00:05.0; a second edu
# at 00:06.0 shares its IOMMU group with a PCI serial port at 00:06.1
# that the kernel's 8250 driver owns: a group that is not viable.
edu=0000:00:04.0 ivs=0000:00:05.0 bad=0000:00:06.0
for d in $edu $ivs $bad; do
	[ -e /sys/bus/pci/devices/$d/driver ] ||
	    { echo "PROBE FAIL device $d: not present or not bound"; exit 3; }
done
/bin/vfio-probe $edu || exit 1
mkdir -p /tmp/state
# A device msivd cannot use: it refuses to start (exit 6, device) and
# says what to do.
refuses() { # what, address, expected words of the message
	printf '[device x]\nbackend = vfio\naddress = %s\n' $2 > /tmp/bad.conf
	/bin/msivd --foreground --config /tmp/bad.conf --state-dir /tmp/state \
	    --socket /tmp/bad.sock > /tmp/bad.log 2>&1
	st=$?
	if [ $st -eq 6 ] && grep -q "$3" /tmp/bad.log; then
		echo "PROBE OK $1: msivd exits 6: $(grep -o "$3.*" /tmp/bad.log | head -1 | cut -c1-60)"
	else
		echo "PROBE FAIL $1: exit $st"; sed 's/^/msivd: /' /tmp/bad.log
	fi
}
refuses "a missing device" 0000:00:1f.7 "no such PCI device"
refuses "a device not bound to vfio-pci" 0000:00:06.1 "not bound to vfio-pci; bind it"
refuses "a device in a non-viable group" $bad "is not viable: bind every device"
printf '[device edu]\nbackend = vfio\naddress = %s\nmsi_latch = yes\n\n[device ivshmem]\nbackend = vfio\naddress = %s\n' \
    $edu $ivs > /tmp/msivd.conf
/bin/msivd --foreground --config /tmp/msivd.conf --state-dir /tmp/state \
    --socket /tmp/msivd.sock > /tmp/msivd.log 2>&1 &
pid=$!
i=0
while [ ! -S /tmp/msivd.sock ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
# The socket is made before the drop: wait until msivd says it serves.
i=0
while ! grep -q " ready: " /tmp/msivd.log && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
# Started as root, it serves as msiv with CAP_DAC_OVERRIDE (bit 1)
# permitted, nothing effective (the devices below are opened with it
# raised just for the open, and hotplug attaches after the drop).
caps=$(grep -E '^(Uid|CapPrm|CapEff|CapBnd):' /proc/$pid/status | tr -s '\t ' ' ' | tr '\n' ' ')
case "$caps" in
"Uid: 990 990 990 990 CapPrm: 0000000000000002 CapEff: 0000000000000000 CapBnd: 0000000000000002 ")
	echo "PROBE OK msivd runs as msiv with CAP_DAC_OVERRIDE permitted only" ;;
*)	echo "PROBE FAIL msivd credentials: $caps" ;;
esac
# Serving under its system call filter (msivd(8), SANDBOX), every thread:
# the vfio paths below (attach, arm, affinity, detach) run through it.
# A sanitizer build has it off by default and says so.
sc=$(cat /proc/$pid/task/*/status | sed -n 's/^Seccomp:[[:space:]]*//p' | sort -u | tr '\n' ' ')
if grep -q "seccomp: off by default in a sanitizer build" /tmp/msivd.log; then
	echo "PROBE OK msivd (a sanitizer build) says its filter is off by default"
elif [ "$sc" = "2 " ]; then
	echo "PROBE OK msivd serves under its seccomp filter, every thread"
else
	echo "PROBE FAIL msivd seccomp mode: $sc"
fi
# The delivery loop: io_uring where the kernel passes msivd's check of it,
# else epoll, saying why (the relay tests below run on it).
loop=$(/bin/msivctl -s /tmp/msivd.sock status | sed -n 's/^ *delivery loop *//p')
why=$(sed -n 's/.*io_uring unavailable (\(.*\)); using epoll.*/\1/p' /tmp/msivd.log)
case "$loop" in
io_uring) echo "PROBE OK msivd delivers through io_uring on this kernel" ;;
epoll)	[ -n "$why" ] && echo "PROBE OK msivd falls back to epoll on this kernel: $why" ||
	    echo "PROBE FAIL msivd uses epoll without saying why" ;;
*)	echo "PROBE FAIL delivery loop: '$loop'" ;;
esac
st=0
/bin/vm-relay /tmp/msivd.sock $edu || st=1
/bin/vm-msix /tmp/msivd.sock $ivs @SWAPS@ || st=1
ctl() { /bin/msivctl -s /tmp/msivd.sock "$@"; }
ctl devices | sed 's/^/PROBE INFO /'
# Run-time detach and attach: detach releases the device whole, so it
# can be opened again at once.
ctl detach ivshmem >/dev/null && ! ctl devices | grep -q ivshmem &&
    ctl attach ivshmem vfio $ivs >/dev/null && ctl devices | grep -q "^ivshmem .*MSI-X" &&
    echo "PROBE OK msivctl detach, then attach the ivshmem device again" ||
    { echo "PROBE FAIL msivctl detach/attach"; st=1; }
out=$(ctl attach bad vfio $bad 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q "not viable: bind every device" &&
    echo "PROBE OK msivctl attach of a device in a non-viable group: exit 1, naming the fix" ||
    { echo "PROBE FAIL msivctl attach of a non-viable group: $out"; st=1; }
out=$(ctl attach gone vfio 0000:00:1f.7 2>&1)
[ $? -eq 5 ] && echo "$out" | grep -q "missing or not bound to vfio-pci" &&
    echo "PROBE OK msivctl attach of a missing device: exit 5, naming the fix" ||
    { echo "PROBE FAIL msivctl attach of a missing device: $out"; st=1; }
ctl shutdown >/dev/null &&
    echo "PROBE OK msivctl shuts msivd down" || { echo "PROBE FAIL msivctl shutdown"; st=1; }
wait $pid
dst=$?
[ $dst -eq 0 ] && echo "PROBE OK msivd releases the devices and exits cleanly" ||
    echo "PROBE FAIL msivd exited $dst"
[ $st -eq 0 ] && [ $dst -eq 0 ] || { sed 's/^/msivd: /' /tmp/msivd.log; exit 1; }
exit 0
RUN
# Swap windows per mode (vm-msix.c: ring, MASK or RETARGET, UNMASK).
sed -i "s/@SWAPS@/${MSIV_VM_SWAPS:-2000}/" "$work/run"
# A guest without interrupt remapping (VFIO then needs type1's
# allow_unsafe_interrupts): an msi_latch device must refuse an affinity
# change there, since it would rewrite the message the device latched.
cat > "$work/run-noir" <<'RUN'
edu=0000:00:04.0
mkdir -p /tmp/state
printf '[device edu]\nbackend = vfio\naddress = %s\nmsi_latch = yes\n' $edu > /tmp/msivd.conf
/bin/msivd --foreground --config /tmp/msivd.conf --state-dir /tmp/state \
    --socket /tmp/msivd.sock > /tmp/msivd.log 2>&1 &
pid=$!
i=0
while [ ! -S /tmp/msivd.sock ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
/bin/vm-relay /tmp/msivd.sock $edu noir; st=$?
/bin/msivctl -s /tmp/msivd.sock shutdown >/dev/null
wait $pid || st=1
[ $st -eq 0 ] || { sed 's/^/msivd: /' /tmp/msivd.log; exit 1; }
RUN
# Hotplug: edu behind a hot-pluggable root port at 01:00.0, attached by an
# [auto] rule, removed and put back (vm-hotplug.c): first through sysfs
# with a rule by address, then, after a restart, through QEMU's monitor
# with a rule by vendor:device. vfio-pci takes every edu that appears.
cat > "$work/run-hotplug" <<'RUN'
edu=0000:00:04.0 hp=0000:01:00.0
[ -e /sys/bus/pci/devices/$hp/driver ] ||
    { echo "PROBE FAIL hotplug device $hp: not present or not bound"; exit 3; }
echo "1234 11e8" > /sys/bus/pci/drivers/vfio-pci/new_id
mkdir -p /tmp/state
ctl() { /bin/msivctl -s /tmp/msivd.sock "$@"; }
st=0
for run in "sysfs hp $hp" "monitor hp-$hp 1234:11e8"; do
	set -- $run
	printf '[device edu]\nbackend = vfio\naddress = %s\nmsi_latch = yes\n\n[auto hp]\nmatch = %s\n' \
	    $edu $3 > /tmp/msivd.conf
	/bin/msivd --foreground --config /tmp/msivd.conf --state-dir /tmp/state \
	    --socket /tmp/msivd.sock >> /tmp/msivd.log 2>&1 &
	pid=$!
	i=0
	while ! ctl status >/dev/null 2>&1 && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
	/bin/vm-hotplug /tmp/msivd.sock $1 $2 $hp $edu || st=1
	ctl status | grep hotplug | sed 's/^ */PROBE INFO /'
	ctl shutdown >/dev/null
	wait $pid || st=1
done
[ $st -eq 0 ] || { sed 's/^/msivd: /' /tmp/msivd.log | tail -60; exit 1; }
RUN
# Handover: msivd (started and reaped by vm-handover, the subreaper of
# its successors) owns the ivshmem-doorbell device; SIGUSR2 hands it over
# again and again while the host-side peer rings its vectors.
cat > "$work/run-handover" <<'RUN'
ivs=0000:00:05.0
[ -e /sys/bus/pci/devices/$ivs/driver ] ||
    { echo "PROBE FAIL device $ivs: not present or not bound"; exit 3; }
mkdir -p /tmp/state
printf '[device ivshmem]\nbackend = vfio\naddress = %s\n' $ivs > /tmp/msivd.conf
/bin/vm-handover /tmp/msivd.sock $ivs @HANDOVERS@ /tmp/msivd.log \
    /bin/msivd --foreground --config /tmp/msivd.conf --state-dir /tmp/state \
    --socket /tmp/msivd.sock
st=$?
# What each new msivd says of its cut-over (handover.c).
grep -o "no trigger read for [0-9]* us" /tmp/msivd.log |
    awk '{ n++; us = $5; if (n == 1 || us < lo) lo = us; if (us > hi) hi = us; s += us }
	END { if (n) printf "PROBE INFO msivd took over %d times; no trigger read for %d us to %d us, %d us on average\n", n, lo, hi, s / n }'
[ $st -eq 0 ] || { sed 's/^/msivd: /' /tmp/msivd.log | tail -80; exit 1; }
RUN
sed -i "s/@HANDOVERS@/${MSIV_VM_HANDOVERS:-20}/" "$work/run-handover"

n=0 failed=0 rules= swaps= handovers= tmo=${MSIV_VM_TIMEOUT:-120}
# wanted KIND: whether MSIV_VM_ONLY lets that kind of guest boot.
wanted() {
	[ -z "${MSIV_VM_ONLY:-}" ] && return 0
	case " $MSIV_VM_ONLY " in
	*" $1 "*) return 0 ;;
	*) return 1 ;;
	esac
}
# guest LABEL KROOT RUNSCRIPT QEMU-ARGS...: boot one guest, report its
# verdicts as TAP.
guest() {
	label=$1 kroot=$2 script=$3
	shift 3
	kernel=$(ls "$kroot"/boot/vmlinuz-*)
	sh "$top/tests/vm/build-initramfs.sh" "$kroot" "$work/initrd.gz" \
	    "$script" 1234:11e8,1af4:1110 vfio -- "$work/vfio-probe" \
	    "$work/vm-relay" "$work/vm-msix" "$work/vm-hotplug" \
	    "$work/vm-handover" "$work/msivctl" "$MSIVD"
	vm_boot "$kernel" "$work/initrd.gz" -device edu,addr=04.0 \
	    -chardev socket,path="$work/ivshmem.sock",id=ivs \
	    -device ivshmem-doorbell,chardev=ivs,vectors=8,addr=05.0 "$@"
	vm_report "$label"
}
for kroot in $kroots; do
	# The kernel's name (guest() sets label to the guest's).
	kname=$(ls "$kroot/lib/modules")
	kname=${kname%%-*}
	# The swap windows take this guest 40 s to 100 s on a loaded
	# 2-core machine: a longer limit than the others' (run-vm.sh).
	tmo=${MSIV_VM_TIMEOUT:-300}
	if wanted main; then
		guest "$kname" "$kroot" "$work/run" \
		    -device edu,addr=06.0,multifunction=on \
		    -device pci-serial,addr=06.1
		for mode in relay direct; do
			rules="$rules, $kname $mode $(grep -c "^PROBE OK $mode: rule" \
			    "$work/serial")"
			swaps="$swaps; $kname $mode $(sed -n "s/^PROBE [A-Z]* $mode: swap windows: .*UNMASK: \([0-9]* of [0-9]*\) rounds.*, \([0-9]*\) lost.*/\1 delivered, \2 lost/p" \
			    "$work/serial" | tr -d '\r')"
		done
	fi
	# Two modes of MSIV_VM_HANDOVERS handovers each: about 25 s a
	# guest (0.3 s to 0.7 s a handover under TCG).
	if wanted handover; then
		guest "$kname handover" "$kroot" "$work/run-handover"
		tr -d '\r' < "$work/serial" > "$work/serial.txt"
		for mode in relay direct; do
			ho=$(sed -n "s/^PROBE [A-Z]* $mode: \([0-9]* of [0-9]*\) handovers.*(\(.*\))$/\1 handovers (\2)/p" \
			    "$work/serial.txt")
			ho="$ho, $(sed -n "s/^PROBE [A-Z]* $mode: no vector went dead: \([0-9]*\) ping-pong rounds.*complete, \([0-9]*\) of them during.*the slowest in \([0-9]*\) ms.*/\1 rounds (\2 during them, the slowest \3 ms)/p" \
			    "$work/serial.txt")"
			ho="$ho, MSI-X Enable clear in $(sed -n "s/^PROBE [A-Z]* $mode: MSI-X stays enabled: \([0-9]*\) samples.*; \([0-9]*\) with Enable clear.*/\2 of \1 samples/p" \
			    "$work/serial.txt")"
			handovers="$handovers; $kname $mode $ho"
		done
	fi
	tmo=${MSIV_VM_TIMEOUT:-120}
	wanted hotplug && guest "$kname hotplug" "$kroot" "$work/run-hotplug" \
	    -device pcie-root-port,id=rp1,chassis=1,slot=1,addr=07.0 \
	    -device edu,id=hp0,bus=rp1
done
kroot=${kroots%% *}
label=$(ls "$kroot/lib/modules")
export MSIV_VM_INTREMAP=off
export MSIV_VM_MODPARAMS="vfio_iommu_type1 allow_unsafe_interrupts=1"
wanted noir &&
    guest "${label%%-*} without interrupt remapping" "$kroot" "$work/run-noir"
echo "1..$n"
echo "# check-vm: $n checks on $(echo $kroots | wc -w) kernels, $failed failed${rules:+; rule checks passed${rules#,}}"
[ -z "$swaps" ] ||
    echo "# check-vm: swap windows (ring, MASK or RETARGET, UNMASK)${swaps#;}"
[ -z "$handovers" ] ||
    echo "# check-vm: handovers under doorbell traffic${handovers#;}"
[ $failed -eq 0 ]
