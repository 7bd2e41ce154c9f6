#!/bin/sh
# vfio-bind (in the test guest's /bin): load the VFIO modules listed in
# /etc/msiv-vm/modules (in order; /etc/msiv-vm/modparams: "MODULE
# PARAM=VALUE..." gives one of them options) and bind every PCI device
# listed in /etc/msiv-vm/bind (vendor:device) to vfio-pci. Run by the
# busybox init (tests/vm/init) and, in the systemd guest, by a oneshot
# unit ordered before msivd.service (check-systemd.sh).
read -r pmod pargs < /etc/msiv-vm/modparams
for m in $(cat /etc/msiv-vm/modules); do
	args=
	[ "${m%.ko}" = "${pmod:-}" ] && args=$pargs
	# shellcheck disable=SC2086
	insmod "/lib/modules/$m" $args || echo "MSIV-VM insmod $m failed"
done
for id in $(cat /etc/msiv-vm/bind 2>/dev/null); do
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/vendor):$(cat $d/device)" = "0x${id%:*}:0x${id#*:}" ] || continue
		bdf=${d##*/}
		[ -e $d/driver ] && echo $bdf > $d/driver/unbind
		echo vfio-pci > $d/driver_override
		echo $bdf > /sys/bus/pci/drivers_probe
		echo "MSIV-VM BOUND $id $bdf"
	done
done
