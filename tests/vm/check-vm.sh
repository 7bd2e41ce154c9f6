#!/bin/sh
# make check-vm: real kernel VFIO in a QEMU (TCG) guest with an emulated
# IOMMU, with QEMU's edu device (MSI): the guest-side probe of what the
# vfio backend needs (tests/vm/vfio-probe.c), then msivd itself owning the
# device through its vfio backend, checked by tests/vm/vm-relay.c in relay
# mode. TAP output. MSIVD names the daemon binary.
set -u
if [ -n "${MSIV_SKIP_VM:-}" ]; then
	echo "1..0 # SKIP MSIV_SKIP_VM is set"
	exit 0
fi
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
cache=${MSIV_VM_CACHE:-$HOME/.cache/msiv-vm}
work=$(mktemp -d /tmp/msiv-vm-XXXXXX)
trap 'rm -rf "$work"' EXIT
kroots=$(sh "$top/tests/vm/fetch.sh" "$cache") || {
	echo "1..0 # SKIP $kroots"
	exit 0
}
gcc -static -O2 -o "$work/vfio-probe" "$top/tests/vm/vfio-probe.c" &&
gcc -static -O2 -I"$top/include" -I"$top/lib" -include /dev/null \
    -DPACKAGE_VERSION='"vm"' -o "$work/vm-relay" "$top/tests/vm/vm-relay.c" \
    "$top/lib/msiv.c" "$top/lib/proto.c" "$top/lib/fdpass.c" \
    -I"$(dirname "${MSIVD:?MSIVD names msivd}")" 2>"$work/cc.log" || {
	cat "$work/cc.log" >&2
	echo "1..0 # SKIP cannot build the static guest programs (libc6-dev)"
	exit 0
}
cat > "$work/run" <<'RUN'
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor):$(cat $d/device)" = "0x1234:0x11e8" ] && bdf=${d##*/}
done
[ -n "${bdf:-}" ] || { echo "PROBE FAIL edu device: not found"; exit 3; }
/bin/vfio-probe $bdf || exit 1
# Now msivd owns the device through its vfio backend.
mkdir -p /tmp/state
printf '[device edu]\nbackend = vfio\naddress = %s\n' $bdf > /tmp/msivd.conf
/bin/msivd --foreground --config /tmp/msivd.conf --state-dir /tmp/state \
    --socket /tmp/msivd.sock > /tmp/msivd.log 2>&1 &
pid=$!
i=0
while [ ! -S /tmp/msivd.sock ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
/bin/vm-relay /tmp/msivd.sock $bdf
st=$?
wait $pid
dst=$?
[ $dst -eq 0 ] && echo "PROBE OK msivd exits cleanly" || echo "PROBE FAIL msivd exited $dst"
[ $st -eq 0 ] && [ $dst -eq 0 ] || { sed 's/^/msivd: /' /tmp/msivd.log; exit 1; }
exit 0
RUN
n=0 failed=0
for kroot in $kroots; do
	kver=$(ls "$kroot/lib/modules")
	label=${kver%%-*}
	kernel=$(ls "$kroot"/boot/vmlinuz-*)
	mods=
	for m in virt/lib/irqbypass.ko drivers/vfio/vfio.ko \
	    drivers/vfio/vfio_virqfd.ko drivers/vfio/vfio_iommu_type1.ko \
	    drivers/vfio/pci/vfio-pci-core.ko drivers/vfio/pci/vfio-pci.ko; do
		for f in "$m" "$m.xz"; do
			[ -f "$kroot/lib/modules/$kver/kernel/$f" ] && mods="$mods $f"
		done
	done
	# shellcheck disable=SC2086
	sh "$top/tests/vm/build-initramfs.sh" "$kroot" "$work/initrd.gz" \
	    "$work/run" 1234:11e8 $mods -- "$work/vfio-probe" "$work/vm-relay" \
	    "$MSIVD"
	# Retry once only when the guest never reached the test.
	for try in 1 2; do
		sh "$top/tests/vm/run-vm.sh" "$kernel" "$work/initrd.gz" \
		    "$work/serial" -device edu
		rc=$?
		[ $rc -ne 125 ] && break
	done
	while read -r verdict what; do
		[ -n "$verdict" ] || continue
		n=$((n + 1))
		case "$verdict" in
		OK) echo "ok $n - $label: $what" ;;
		*) echo "not ok $n - $label: $what"; failed=$((failed + 1)) ;;
		esac
	done <<EOF2
$(sed -n 's/^PROBE \(OK\|FAIL\) \(.*\)/\1 \2/p' "$work/serial" | tr -d '\r')
EOF2
	n=$((n + 1))
	if [ $rc -eq 0 ]; then
		echo "ok $n - $label: the guest ran its checks and exited 0"
	else
		echo "not ok $n - $label: guest exit $rc"
		failed=$((failed + 1))
		sed 's/^/# /' "$work/serial" | tail -40
	fi
done
echo "1..$n"
echo "# check-vm: $n checks on $(echo $kroots | wc -w) kernels, relay and direct mode, $failed failed"
[ $failed -eq 0 ]
