#!/bin/sh
# msivd under real systemd: a QEMU (TCG) guest whose PID 1 is this
# machine's systemd (build-systemd.sh), on the first kernel of fetch.sh,
# with the IOMMU, devices and ivshmem peer of check-vm.sh. msivd runs
# from the project's units (msivd.socket, msivd.service with
# Restart=on-failure), its user made by systemd-sysusers, its state
# directory by systemd-tmpfiles, and owns the guest's ivshmem-doorbell
# device (MSI-X) through the vfio backend. vm-crash.c then kills msivd
# with SIGKILL while a vfunc is in use and checks (a) that the device's
# MSI-X Enable bit stays set throughout (sampled from its config space),
# (b) that systemd restarts msivd, (c) that ping-pong rounds complete
# after the restart.
# TAP output. MSIVD names the daemon binary; MSIV_VM_ROUNDS: ping-pong
# rounds before and after the crash (20); MSIV_VM_KERNEL=612: the 6.12
# kernel instead of 6.1; MSIV_VM_TIMEOUT: the guest's time limit (180 s);
# MSIV_VM_QUIET=no: the kernel's and systemd's boot messages too.
# Skips (exit 77, or MSIV_VM_SKIP_STATUS) where the guests or systemd
# cannot be had.
set -u
. "$(dirname "$0")/common.sh"
# The unit's own system call filter is written for msivd, not for a
# sanitizer's runtime (and msivd's seccomp is off in such a build).
[ "${MSIV_SANITIZED:-no}" = no ] ||
    skip "a sanitizer build: msivd.service's filter is not the sanitizers'"
vm_setup sysd
vm_build vm-crash msivctl
cat > "$work/run" <<'RUN'
ivs=0000:00:05.0
probe() { # condition, what
	if eval "$1"; then echo "PROBE OK $2"; else echo "PROBE FAIL $2"; st=1; fi
}
st=0
echo "PROBE INFO $(systemctl --version | head -1)"
probe '[ "$(cat /proc/1/comm)" = systemd ]' "systemd is PID 1"
# msivd.service as shipped. If it failed, say why (the journal), then
# go on with a runtime drop-in that lets msivd make its own system call
# filter under the unit's (seccomp(2) is not in @system-service; without
# it libseccomp finds no TSYNC), so the crash checks below still run.
# Settled: started, or failed for good (Restart=on-failure tries again).
i=0
while [ $i -lt 600 ]; do
	case $(systemctl is-active msivd.service) in
	active|failed) break ;;
	esac
	sleep 0.1
	i=$((i + 1))
done
if ! systemctl is-active --quiet msivd.service; then
	echo "PROBE FAIL msivd.service as shipped starts (it is $(systemctl is-active msivd.service); its journal says why below)"
	journalctl -b -u msivd.service -o cat --no-pager 2>&1 | grep -v '^-- ' |
	    grep -i -e seccomp -e "not starting" | tail -3 | sed 's/^/PROBE INFO shipped unit: /'
	st=1
	mkdir -p /run/systemd/system/msivd.service.d
	printf '[Service]\nSystemCallFilter=seccomp\n' \
	    > /run/systemd/system/msivd.service.d/msiv-vm.conf
	systemctl daemon-reload
	systemctl reset-failed msivd.service msivd.socket
	systemctl start msivd.socket msivd.service
	echo "PROBE INFO the checks below run with a runtime drop-in, SystemCallFilter=seccomp: msivd.service is $(systemctl is-active msivd.service)"
else
	echo "PROBE OK msivd.service as shipped starts"
fi
pid=$(systemctl show -p MainPID --value msivd.service)
uid=$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$pid/status 2>/dev/null)
probe '[ "$(systemctl is-active msivd.socket msivd.service msiv-vfio-bind.service | tr "\n" " ")" = "active active active " ]' \
    "msivd.socket, msivd.service and msiv-vfio-bind.service are active"
probe '[ -n "$uid" ] && [ "$uid" = "$(id -u msiv)" ] && [ "$uid" != 0 ]' \
    "msivd (pid $pid) serves as msiv (uid $uid), made by systemd-sysusers from msiv.sysusers"
probe '[ "$(stat -c "%U %G %a" /var/lib/msiv)" = "msiv msiv 700" ] && [ "$(stat -c "%U %G %a" /run/msiv)" = "root msiv 750" ]' \
    "systemd-tmpfiles made /var/lib/msiv and /run/msiv as msiv.tmpfiles says"
probe '/bin/msivctl -s /run/msiv/msivd.sock devices | grep -q "^ivshmem .*MSI-X"' \
    "msivd has the ivshmem device (vfio, MSI-X), per msivd.conf"
/bin/vm-crash /run/msiv/msivd.sock $ivs @ROUNDS@ || st=1
# A handover under systemd (msivctl restart): the service's MainPID
# follows it (NotifyAccess=main: the old msivd says MAINPID=); the new
# msivd, executed as msiv by the old one's spawner, keeps
# CAP_DAC_OVERRIDE permitted and nothing else, and with it attaches a
# vfio device (its group is root's, 0600).
ctl() { /bin/msivctl -s /run/msiv/msivd.sock "$@"; }
pid0=$(systemctl show -p MainPID --value msivd.service)
nr0=$(systemctl show -p NRestarts --value msivd.service)
out=$(ctl restart 2>&1); rc=$?
echo "PROBE INFO msivctl restart (exit $rc): $out"
pid1=$(systemctl show -p MainPID --value msivd.service)
probe '[ $rc -eq 0 ] && [ "$pid1" != "$pid0" ] && echo "$out" | grep -q "pid $pid1,"' \
    "msivctl restart under systemd: MainPID $pid0 -> $pid1, the pid msivctl reports"
probe 'systemctl is-active --quiet msivd.service && [ "$(systemctl show -p NRestarts --value msivd.service)" = "$nr0" ]' \
    "msivd.service stays active through the handover, not restarted by systemd"
caps=$(grep -E '^Cap(Prm|Eff|Inh|Amb)' /proc/$pid1/status | tr -s '\t' ' ' | tr '\n' ' ')
probe '[ "$caps" = "CapInh: 0000000000000000 CapPrm: 0000000000000002 CapEff: 0000000000000000 CapAmb: 0000000000000000 " ]' \
    "the new msivd (uid $(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$pid1/status)) keeps cap_dac_override permitted only: $caps"
ctl detach ivshmem --force >/dev/null 2>&1
out=$(ctl attach ivshmem vfio $ivs 2>&1); rc=$?
echo "PROBE INFO msivctl attach (exit $rc): $out"
probe '[ $rc -eq 0 ] && ctl devices | grep -q "^ivshmem .*MSI-X"' \
    "after the handover, msivd attaches the vfio device again (opens /dev/vfio/N with cap_dac_override)"
# What the kernel said about the device and VFIO (a reset, if any).
dmesg | grep -v 'systemd\[' | grep -i -e vfio -e reset -e "$ivs" |
    sed 's/^/PROBE INFO dmesg: /'
dmesg | grep -v 'systemd\[' | grep -i -q reset ||
    echo "PROBE INFO dmesg: no line about a reset"
echo "PROBE INFO the device's reset methods (sysfs reset_method): $(cat /sys/bus/pci/devices/$ivs/reset_method 2>/dev/null || echo none)"
journalctl -b -u msivd.service -o short-monotonic --no-pager 2>&1 |
    grep -v '^-- ' | tail -25 | sed 's/^/PROBE INFO journal: /'
systemctl --failed --no-legend --plain 2>&1 | sed 's/^/PROBE INFO failed unit: /'
exit $st
RUN
sed -i "s/@ROUNDS@/${MSIV_VM_ROUNDS:-20}/" "$work/run"
printf '[device ivshmem]\nbackend = vfio\naddress = 0000:00:05.0\n' \
    > "$work/msivd.conf"

n=0 failed=0 tmo=${MSIV_VM_TIMEOUT:-180}
kroot=$cache/k${MSIV_VM_KERNEL:-61}
[ -d "$kroot/lib/modules" ] || skip "no kernel $kroot (MSIV_VM_KERNEL: 61 or 612)"
label="$(ls "$kroot/lib/modules" | sed 's/-.*//') systemd"
sh "$top/tests/vm/build-initramfs.sh" "$kroot" "$work/base.gz" \
    "$work/run" 1af4:1110 vfio -- "$work/vm-crash" "$work/msivctl" ||
    skip "cannot build the guest's image"
out=$(MSIVD=$MSIVD sh "$top/tests/vm/build-systemd.sh" "$work/sysd.gz" \
    "$work/msivd.conf" 2>&1)
case $? in
0) ;;
77) skip "$out" ;;
*) echo "$out" | sed 's/^/# /'; echo "not ok 1 - build the systemd image"
   echo "1..1"; exit 1 ;;
esac
cat "$work/base.gz" "$work/sysd.gz" > "$work/initrd.gz"
export MSIV_VM_APPEND="rdinit=/lib/systemd/systemd"
vm_boot "$(ls "$kroot"/boot/vmlinuz-*)" "$work/initrd.gz" \
    -chardev socket,path="$work/ivshmem.sock",id=ivs \
    -device ivshmem-doorbell,chardev=ivs,vectors=8,addr=05.0
vm_report "$label"
echo "1..$n"
echo "# check-systemd: $n checks, $failed failed"
[ $failed -eq 0 ]
