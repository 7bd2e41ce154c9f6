#!/bin/sh
# make check-vm: real kernel VFIO in a QEMU (TCG) guest with an emulated
# IOMMU. Today: the guest-side probe of what the vfio backend needs
# (tests/vm/vfio-probe.c) against QEMU's edu device (MSI). TAP output.
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
cache=${MSIV_VM_CACHE:-$HOME/.cache/msiv-vm}
work=$(mktemp -d /tmp/msiv-vm-XXXXXX)
trap 'rm -rf "$work"' EXIT
kroot=$(sh "$top/tests/vm/fetch.sh" "$cache") || {
	echo "1..0 # SKIP $kroot"
	exit 0
}
kernel=$(ls "$kroot"/boot/vmlinuz-*)
gcc -static -O2 -o "$work/vfio-probe" "$top/tests/vm/vfio-probe.c" || {
	echo "1..0 # SKIP cannot build a static probe (libc6-dev)"
	exit 0
}
cat > "$work/run" <<'RUN'
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat $d/vendor):$(cat $d/device)" = "0x1234:0x11e8" ]; then
		/bin/vfio-probe ${d##*/}
		exit $?
	fi
done
echo "PROBE FAIL edu device: not found"
exit 3
RUN
sh "$top/tests/vm/build-initramfs.sh" "$kroot" "$work/initrd.gz" "$work/run" \
    1234:11e8 virt/lib/irqbypass.ko drivers/vfio/vfio.ko \
    drivers/vfio/vfio_virqfd.ko drivers/vfio/vfio_iommu_type1.ko \
    drivers/vfio/pci/vfio-pci-core.ko drivers/vfio/pci/vfio-pci.ko \
    -- "$work/vfio-probe"
# Retry once only when the guest never reached the test.
for try in 1 2; do
	sh "$top/tests/vm/run-vm.sh" "$kernel" "$work/initrd.gz" "$work/serial" \
	    -device edu
	rc=$?
	[ $rc -ne 125 ] && break
done
n=0
while read -r verdict what; do
	n=$((n + 1))
	case "$verdict" in
	OK) echo "ok $n - 6.1: $what" ;;
	*) echo "not ok $n - 6.1: $what" ;;
	esac
done <<EOF2
$(sed -n 's/^PROBE \(OK\|FAIL\) \(.*\)/\1 \2/p' "$work/serial" | tr -d '\r')
EOF2
n=$((n + 1))
if [ $rc -eq 0 ]; then echo "ok $n - 6.1: the guest ran the probe and exited 0"
else echo "not ok $n - 6.1: guest exit $rc"; sed 's/^/# /' "$work/serial" | tail -30; fi
echo "1..$n"
[ $rc -eq 0 ]
