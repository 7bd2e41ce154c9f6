#!/bin/sh
# get-qemu.sh [QEMU-ARGS...]
# A QEMU with the vfio-user-pci device for msiv-vfu(1) on a Debian 12
# machine (whose own QEMU is too old): fetches qemu-system-x86 from
# trixie-backports once, unpacks it (nothing is installed) into
# $MSIV_VM_CACHE (default ~/.cache/msiv-vm, shared with make check-vm and
# make check-vfu), and prints the full command that runs it. With
# arguments it runs that command with them instead.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${MSIV_VM_CACHE:-$HOME/.cache/msiv-vm}
qemu=$(sh "$here/../tests/vfu/fetch-qemu.sh" "$cache") || {
	echo "get-qemu.sh: $qemu" >&2
	exit 1
}
[ $# -gt 0 ] || { echo "$qemu"; exit 0; }
# shellcheck disable=SC2086
exec $qemu "$@"
