#!/bin/sh
# build-initramfs.sh KROOT OUT.cpio.gz RUNSCRIPT BIND MODULES... -- FILES...
# The test guest's initramfs: busybox-static, tests/vm/init as /init, the
# listed modules of the unpacked kernel package KROOT (paths relative to
# its lib/modules/VERSION/kernel, or "vfio": the VFIO module chain, those
# of its modules this kernel has, in load order; MSIV_VM_MODPARAMS gives
# one of them options), the device ids to bind to vfio-pci, the
# script to run, and FILES in /bin (with the libraries they load).
set -eu
kroot=$1 out=$2 run=$3 bind=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/etc/msiv-vm" "$tmp/lib/modules" "$tmp/proc" \
    "$tmp/sys" "$tmp/dev"
cp /bin/busybox "$tmp/bin/busybox"
# msivd, started as root, drops to its service user msiv (msivd(8)).
printf 'root:x:0:0:root:/:/bin/sh\nmsiv:x:990:990:msiv:/tmp/state:/bin/false\n' \
    > "$tmp/etc/passwd"
printf 'root:x:0:\nmsiv:x:990:\n' > "$tmp/etc/group"
ln -s busybox "$tmp/bin/sh"
cp "$here/init" "$tmp/init"
cp "$here/vfio-bind.sh" "$tmp/bin/vfio-bind"
chmod 0755 "$tmp/init" "$tmp/bin/vfio-bind"
cp "$run" "$tmp/etc/msiv-vm/run"
echo "$bind" | tr ',' '\n' > "$tmp/etc/msiv-vm/bind"
# MSIV_VM_MODPARAMS="MODULE PARAM=VALUE...": options for one module.
echo "${MSIV_VM_MODPARAMS:-}" > "$tmp/etc/msiv-vm/modparams"
kver=$(ls "$kroot/lib/modules")
: > "$tmp/etc/msiv-vm/modules"
# module PATH: put one module in, decompressed.
module() {
	m=$(basename "$1")
	src="$kroot/lib/modules/$kver/kernel/$1"
	case "$src" in
	*.xz) xz -dc "$src" > "$tmp/lib/modules/${m%.xz}"; m=${m%.xz} ;;
	*) cp "$src" "$tmp/lib/modules/$m" ;;
	esac
	echo "$m" >> "$tmp/etc/msiv-vm/modules"
}
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	if [ "$1" = vfio ]; then
		# vfio_virqfd is a module of its own on 6.1 only; .xz or not.
		for m in virt/lib/irqbypass.ko drivers/vfio/vfio.ko \
		    drivers/vfio/vfio_virqfd.ko drivers/vfio/vfio_iommu_type1.ko \
		    drivers/vfio/pci/vfio-pci-core.ko drivers/vfio/pci/vfio-pci.ko; do
			for f in "$m" "$m.xz"; do
				[ -f "$kroot/lib/modules/$kver/kernel/$f" ] &&
				    module "$f"
			done
		done
	else
		module "$1"
	fi
	shift
done
[ $# -gt 0 ] && shift
for f in "$@"; do
	install_bin "$tmp" "$f"
done
# mktemp made it 0700: as the guest's /, msiv could not reach /sys or /dev.
chmod 0755 "$tmp"
(cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
