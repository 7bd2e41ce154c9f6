#!/bin/sh
# build-systemd.sh OUT.cpio.gz MSIVD-CONF
# The systemd layer of the systemd test guest (check-systemd.sh), a cpio
# archive the kernel unpacks over build-initramfs.sh's image (it accepts
# concatenated archives): this machine's systemd (PID 1, journald,
# systemctl, journalctl, systemd-sysusers, systemd-tmpfiles, the shutdown
# binary) with the libraries they load; its target units and the few
# services those need, and none of the rest (nothing else is wanted);
# the project's units as `make install` would put them (msivd.service
# from msivd.service.in, @sbindir@ = /usr/sbin, msivd.socket, msiv's
# sysusers.d and tmpfiles.d files) and msivd ($MSIVD) with MSIVD-CONF at
# its default configuration path; enabled with `systemctl --root`, the
# way a package does. Two units of the test's own:
#   msiv-vfio-bind.service  loads the VFIO modules and binds the devices
#                           (vfio-bind.sh), before msivd.service;
#   msiv-test.service       runs /etc/msiv-vm/run after msivd.service,
#                           prints "MSIV-VM EXIT <status>" on the console
#                           and powers off.
# The guest boots it with rdinit=/lib/systemd/systemd. Exits 77 when
# this machine has no systemd to copy.
set -eu
out=$1 conf=$2
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/common.sh"
: "${MSIVD:?MSIVD names msivd}"
for f in /lib/systemd/systemd /lib/systemd/systemd-journald \
    /lib/systemd/systemd-shutdown /bin/systemctl /bin/journalctl \
    /bin/systemd-sysusers /bin/systemd-tmpfiles; do
	[ -x "$f" ] || { echo "no $f (apt-get install systemd)"; exit 77; }
done
command -v systemctl >/dev/null || { echo "no systemctl"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The image has /bin and /lib of its own (build-initramfs.sh); /usr
# points at them, as on a merged-/usr system.
mkdir -p "$tmp/usr" "$tmp/bin" "$tmp/lib" "$tmp/etc/systemd/system" \
    "$tmp/var/lib" "$tmp/var/tmp" "$tmp/var/log" "$tmp/tmp" "$tmp/run" \
    "$tmp/root"
ln -s ../bin "$tmp/usr/bin"
ln -s ../bin "$tmp/usr/sbin"
ln -s ../lib "$tmp/usr/lib"
ln -s bin "$tmp/sbin"
for f in systemd systemd-journald systemd-shutdown; do
	install_bin "$tmp" "/lib/systemd/$f" "/lib/systemd/$f"
done
for f in systemctl journalctl systemd-sysusers systemd-tmpfiles; do
	install_bin "$tmp" "/bin/$f"
done
# busybox's applets for the test's shell scripts; not init, halt,
# poweroff or reboot: systemd's business.
for a in $(busybox --list); do
	case $a in
	busybox|init|linuxrc|halt|poweroff|reboot) ;;
	*) [ -e "$tmp/bin/$a" ] || ln -s busybox "$tmp/bin/$a" ;;
	esac
done

# The units: every target, and the services and sockets the boot needs.
u=$tmp/lib/systemd/system
mkdir -p "$u"
cp /lib/systemd/system/*.target "$u/"
for f in systemd-journald.service systemd-journald.socket \
    systemd-journald-dev-log.socket systemd-sysusers.service \
    systemd-tmpfiles-setup.service systemd-poweroff.service \
    systemd-halt.service systemd-reboot.service emergency.service \
    rescue.service; do
	cp "/lib/systemd/system/$f" "$u/"
done
sed 's|@sbindir@|/usr/sbin|g' "$top/systemd/msivd.service.in" \
    > "$u/msivd.service"
cp "$top/systemd/msivd.socket" "$u/"
mkdir -p "$tmp/lib/sysusers.d" "$tmp/lib/tmpfiles.d"
cp "$top/systemd/msiv.sysusers" "$tmp/lib/sysusers.d/msiv.conf"
cp "$top/systemd/msiv.tmpfiles" "$tmp/lib/tmpfiles.d/msiv.conf"
install_bin "$tmp" "$MSIVD" /bin/msivd
cdir=$("$MSIVD" --help 2>&1 | sed -n 's/.*(default \(\/[^;]*msivd\.conf\);.*/\1/p')
[ -n "$cdir" ] || { echo "cannot read msivd's default configuration path"; exit 1; }
mkdir -p "$tmp$(dirname "$cdir")"
cp "$conf" "$tmp$cdir"

cat > "$u/msiv-vfio-bind.service" <<'EOF'
[Unit]
Description=msiv test guest: VFIO modules, devices bound to vfio-pci
DefaultDependencies=no
Before=msivd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStartPre=/bin/sh -c 'echo "MSIV-VM BOOTED $(uname -r), systemd as PID 1"'
ExecStart=/bin/sh /bin/vfio-bind
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console

[Install]
RequiredBy=msivd.service
EOF
cat > "$u/msiv-test.service" <<'EOF'
[Unit]
Description=msiv test guest: the test, then power off
Wants=msivd.service
After=msivd.service msiv-vfio-bind.service
SuccessAction=poweroff
FailureAction=poweroff

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'sh /etc/msiv-vm/run; echo "MSIV-VM EXIT $?"'
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF

# /etc, as a package system leaves it: no msiv user yet (msiv.sysusers
# makes it at boot), no /etc/.updated (so systemd-sysusers.service runs).
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$tmp/etc/passwd"
printf 'root:x:0:\n' > "$tmp/etc/group"
printf 'passwd: files\ngroup: files\nshadow: files\n' > "$tmp/etc/nsswitch.conf"
cat /proc/sys/kernel/random/uuid | tr -d '-' > "$tmp/etc/machine-id"
cp -L /etc/os-release "$tmp/etc/os-release"
echo msiv-vm > "$tmp/etc/hostname"
sc() { systemctl --root="$tmp" --quiet "$@"; }
sc add-wants sysinit.target systemd-journald.socket \
    systemd-journald-dev-log.socket systemd-sysusers.service \
    systemd-tmpfiles-setup.service
sc enable msivd.service msiv-vfio-bind.service msiv-test.service
sc set-default multi-user.target
chmod 0755 "$tmp"
(cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
