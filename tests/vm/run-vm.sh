#!/bin/sh
# run-vm.sh KERNEL INITRAMFS LOG [QEMU-ARGS...]
# Boot the test guest under TCG with an emulated IOMMU (interrupt
# remapping), the serial console to LOG, within a time limit. Exits with
# the guest's "MSIV-VM EXIT" status (MSIV_VM_INTREMAP=off: no interrupt
# remapping; MSIV_VM_MONITOR: QEMU's -monitor, default none;
# MSIV_VM_APPEND: more kernel arguments, MSIV_VM_QUIET=no: without
# "quiet"); 124 if it
# timed out, 125 if the guest
# never reached its test (no "MSIV-VM BOOTED"): the caller may retry that
# once, never a failed check.
set -u
kernel=$1 initrd=$2 log=$3
shift 3
quiet="quiet "
[ "${MSIV_VM_QUIET:-yes}" = no ] && quiet=
timeout "${MSIV_VM_TIMEOUT:-120}" qemu-system-x86_64 \
    -machine q35,accel=tcg -cpu max -smp "${MSIV_VM_CPUS:-2}" -m 512M \
    -device intel-iommu,intremap="${MSIV_VM_INTREMAP:-on}" \
    -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 intel_iommu=on panic=-1 $quiet${MSIV_VM_APPEND:-}" \
    -nographic -no-reboot -serial "file:$log" \
    -monitor "${MSIV_VM_MONITOR:-none}" "$@" \
    </dev/null >/dev/null 2>&1
rc=$?
grep -q "MSIV-VM BOOTED" "$log" || exit 125
st=$(sed -n 's/^MSIV-VM EXIT \([0-9]*\).*/\1/p' "$log" | tail -1)
[ -n "$st" ] && exit "$st"
[ $rc -eq 124 ] && exit 124
exit 1
