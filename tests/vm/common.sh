# Sourced by the guest tests (check-vm.sh, check-systemd.sh; check-vfu.sh
# for skip and vm_verdicts): what they share to fetch the guests' kernels, build the guests' programs, boot a
# guest with its ivshmem-doorbell peer on this host and read its verdict
# from the serial console as TAP. Sets and uses the globals named below.
# shellcheck shell=sh

# skip REASON...: a TAP plan of 0 with the reason, exit 77 (automake's
# skip status); under make check's TAP driver, which takes the reason
# from the plan, MSIV_VM_SKIP_STATUS=0.
skip() {
	echo "1..0 # SKIP $*"
	exit "${MSIV_VM_SKIP_STATUS:-77}"
}

# vm_setup NAME: top (the source tree), cache, work (a private directory,
# removed on exit unless MSIV_VM_KEEP is set) and kroots (the unpacked kernels, fetch.sh); skips
# when the guests cannot be had.
vm_setup() {
	[ -z "${MSIV_SKIP_VM:-}" ] || skip "MSIV_SKIP_VM is set"
	top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
	cache=${MSIV_VM_CACHE:-$HOME/.cache/msiv-vm}
	work=$(mktemp -d "/tmp/msiv-$1-XXXXXX")
	# MSIV_VM_KEEP=1: keep it (images, console logs) and say where.
	if [ -n "${MSIV_VM_KEEP:-}" ]; then
		trap 'echo "# kept $work"' EXIT
	else
		trap 'rm -rf "$work"' EXIT
	fi
	kroots=$(sh "$top/tests/vm/fetch.sh" "$cache") || skip "$kroots"
}

# vm_build PROGRAM...: build the guest's programs, static (libmsiv
# compiled in), as $work/PROGRAM from tests/vm/PROGRAM.c (msivctl: from
# client/), and the host side of its ivshmem-doorbell device. Missing
# static libraries skip; our own code failing to build (warnings are
# errors) fails.
vm_build() {
	for a in libc.a libjson-c.a; do
		case $(gcc -print-file-name=$a) in
		/*) ;;
		*) skip "no static $a to build the guest programs (libc6-dev, libjson-c-dev)" ;;
		esac
	done
	lib="$top/lib/msiv.c $top/lib/proto.c $top/lib/fdpass.c"
	cc="gcc -O2 -Wall -Wextra -Werror"
	inc="-I$top/include -I$top/lib -I$(dirname "${MSIVD:?MSIVD names msivd}")"
	built=1
	for p in "$@" ivshmem-host; do
		# shellcheck disable=SC2086
		case $p in
		msivctl) $cc -static $inc -o "$work/msivctl" \
		    "$top/client/msivctl.c" $lib -ljson-c ;;
		ivshmem-host) $cc -o "$work/ivshmem-host" \
		    "$top/tests/vm/ivshmem-host.c" ;;
		*) $cc -static $inc -o "$work/$p" "$top/tests/vm/$p.c" $lib ;;
		esac 2>>"$work/cc.log" || { built=0; break; }
	done
	[ $built -eq 1 ] || {
		sed 's/^/# /' "$work/cc.log"
		echo "not ok 1 - build the guest programs"
		echo "1..1"
		exit 1
	}
}

# install_bin ROOT FILE [PATH]: FILE into the image under ROOT as PATH
# (default /bin/NAME), with the shared libraries it loads (ldd).
install_bin() {
	dst=$1${3:-/bin/$(basename "$2")}
	mkdir -p "$(dirname "$dst")"
	cp "$2" "$dst"
	for l in $(ldd "$2" 2>/dev/null | grep -o '/[^ ]*'); do
		mkdir -p "$1$(dirname "$l")"
		cp -L "$l" "$1$l"
	done
}

# Forward the guest's "MSIV-VM MONITOR <command>" console lines to QEMU's
# monitor (a pipe: $work/mon.in, .out), polling the console log.
monitor_relay() {
	sent=0
	while :; do
		total=$(grep -c "^MSIV-VM MONITOR " "$work/serial" 2>/dev/null)
		while [ "${total:-0}" -gt $sent ]; do
			sent=$((sent + 1))
			sed -n 's/^MSIV-VM MONITOR //p' "$work/serial" | tr -d '\r' |
			    sed -n "${sent}p" > "$work/mon.in"
		done
		sleep 0.2
	done
}

# vm_boot KERNEL INITRD QEMU-ARGS...: boot one guest (run-vm.sh, within
# $tmo seconds) with its ivshmem server and host-side peer on
# $work/ivshmem.sock; its console in $work/serial. Sets rc (run-vm.sh's
# status) and t0. Retries once only when the guest never reached its
# test.
vm_boot() {
	kernel=$1 initrd=$2
	shift 2
	t0=$(date +%s)
	for try in 1 2; do
		rm -f "$work/ivshmem.sock" "$work/serial" "$work/mon.in" \
		    "$work/mon.out"
		"$work/ivshmem-host" "$work/ivshmem.sock" 8 "$work/ivshmem.log" ||
		    { rc=1; break; }
		mkfifo "$work/mon.in" "$work/mon.out"
		monitor_relay &
		relay=$!
		MSIV_VM_TIMEOUT=$tmo MSIV_VM_MONITOR=pipe:$work/mon \
		    sh "$top/tests/vm/run-vm.sh" "$kernel" "$initrd" \
		    "$work/serial" "$@"
		rc=$?
		kill $relay 2>/dev/null
		wait $relay 2>/dev/null
		[ $rc -ne 125 ] && break
		echo "# the guest never reached its test (try $try)"
	done
}

# vm_verdicts LABEL: the guest's "PROBE OK|FAIL what" lines (in
# $work/serial) as TAP, its "PROBE INFO" lines as comments; counts in n
# and failed.
vm_verdicts() {
	while read -r verdict what; do
		[ -n "$verdict" ] || continue
		n=$((n + 1))
		case "$verdict" in
		OK) echo "ok $n - $1: $what" ;;
		*) echo "not ok $n - $1: $what"; failed=$((failed + 1)) ;;
		esac
	done <<EOF2
$(sed -n 's/^PROBE \(OK\|FAIL\) \(.*\)/\1 \2/p' "$work/serial" | tr -d '\r')
EOF2
	sed -n "s/^PROBE INFO /# $1: /p" "$work/serial" | tr -d '\r'
}

# vm_report LABEL: vm_verdicts, then one check for the guest's exit
# status (rc); counts in n and failed.
vm_report() {
	vm_verdicts "$1"
	echo "# $1: the guest ran $(($(date +%s) - t0)) s"
	n=$((n + 1))
	if [ $rc -eq 0 ]; then
		echo "ok $n - $1: the guest ran its checks and exited 0"
	else
		echo "not ok $n - $1: guest exit $rc"
		failed=$((failed + 1))
		sed 's/^/# /' "$work/serial" | tail -40
		sed 's/^/# ivshmem-host: /' "$work/ivshmem.log" | tail -5
	fi
}
