#!/bin/sh
# msiv quick start. Two commands on a fresh Debian 12 machine:
#
#   ./quickstart.sh run     build, start msivd on its built-in sim device
#                           (state and socket under ./var), run the example
#                           VMM client, print `msivctl status`
#   ./quickstart.sh check   build and run the test suite (make check),
#                           the QEMU guests of the VFIO tests included; the
#                           last line is "N passed, N failed" (a line
#                           before it counts the skipped tests, if any)
#
# Both install the build dependencies with apt-get when they are missing;
# check also installs what the QEMU guests need (QEMU, a static busybox),
# unless MSIV_SKIP_VM=1 is set, which skips the guests.
# MSIV_CONFIGURE_FLAGS adds configure options (CI: --enable-werror).
set -eu
cd "$(dirname "$0")"
top=$(pwd)

# iproute2: the hotplug test makes network devices in a private namespace;
# systemd: systemd-analyze verifies the units (tests/test-systemd.sh).
DEPS="build-essential autoconf automake libtool pkg-config libevent-dev
libsqlite3-dev libcap-dev libnl-3-dev libinih-dev libjson-c-dev libsystemd-dev
liburing-dev libseccomp-dev nettle-dev
systemd iproute2"
# tests/vm/ (make check-vm): QEMU under TCG with a busybox initramfs; the
# guest kernels themselves are fetched by tests/vm/fetch.sh.
VM_DEPS="qemu-system-x86 busybox-static cpio xz-utils"

say() { printf '==> %s\n' "$*"; }
die() { printf 'quickstart: %s\n' "$*" >&2; exit 1; }

# install_deps WHAT PACKAGE...: install those of the packages that are
# missing (APT_FLAGS: more apt-get options).
install_deps() {
	what=$1 missing=
	shift
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	say "installing $what:$missing"
	sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
	    ${APT_FLAGS:-} $missing
}

bootstrap() {
	# shellcheck disable=SC2086
	install_deps "build dependencies" $DEPS
	if [ ! -x configure ] || [ configure.ac -nt configure ] ||
	    [ Makefile.am -nt Makefile.in ]; then
		say "autoreconf"
		autoreconf -fi
	fi
}

build() {
	bootstrap
	if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
		say "configure ${MSIV_CONFIGURE_FLAGS:-}"
		# shellcheck disable=SC2086
		./configure -q ${MSIV_CONFIGURE_FLAGS:-}
	fi
	say "make"
	make -j"$(nproc)" >/dev/null
}

# Wait until the daemon answers on its socket (or is seen to have died).
wait_daemon() {
	pid=$1 i=0
	while [ $i -lt 200 ]; do
		./msivctl --socket "$SOCK" status >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

run() {
	build
	# The state directory is msivd's alone (msivd(8), -d); the
	# example's token file stays outside it, beside the socket.
	mkdir -p var
	mkdir -p -m 0700 var/state
	SOCK="$top/var/msivd.sock"
	CTL="./msivctl --socket $SOCK"
	if ./msivctl --socket "$SOCK" status >/dev/null 2>&1; then
		say "msivd is already running on $SOCK"
	else
		say "starting msivd (state ./var/state, socket $SOCK, log ./var/msivd.log)"
		setsid ./msivd --foreground --user "$(id -un)" --state-dir "$top/var/state" \
		    --socket "$SOCK" </dev/null >var/msivd.log 2>&1 &
		wait_daemon $! || { cat var/msivd.log >&2; die "msivd did not start"; }
	fi
	if $CTL --json vfuncs | grep -q '"tenant": "example-vm"'; then
		say "the example's vfunc is already there (restored or still held):"
		$CTL vfuncs
	else
		say "running the example VMM client (examples/vmm-example.c)"
		./examples/vmm-example --socket "$SOCK" \
		    --token-file "$top/var/example-vm.token" --stay
	fi
	echo
	say "$CTL status"
	$CTL status
	cat <<TXT

msivd keeps running in the background; the example keeps its vfunc open.
msivd keeps its state in ./var/state/msivd.db: kill it (even with kill -9) and run
./quickstart.sh run again, and the vfunc is still there; the example
reconnects with its token and re-attaches its eventfds. Or hand it over
to a new msivd (an upgrade's way): the example stays connected, and its
vectors keep their pending bits.
  see it:        $CTL vfuncs
  hand over:     $CTL restart
  as JSON:       $CTL --json vfuncs
  fire a slot:   $CTL fire sim0 0
  stop it all:   $CTL shutdown
  daemon log:    ./var/msivd.log
TXT
}

check() {
	if [ -z "${MSIV_SKIP_VM:-}" ]; then
		# shellcheck disable=SC2086
		APT_FLAGS=--no-install-recommends \
		    install_deps "what the QEMU guests need" $VM_DEPS
	fi
	build
	say "make check"
	status=0
	make -j"$(nproc)" check || status=$?
	# Count the TAP results of every test program.
	pass=0 fail=0 skip=0 skipped=
	for trs in $(find tests -name '*.trs'); do
		p=$(grep -c '^:test-result: PASS' "$trs" || true)
		x=$(grep -c '^:test-result: XFAIL' "$trs" || true)
		f=$(grep -c -E '^:test-result: (FAIL|XPASS|ERROR)' "$trs" || true)
		s=$(grep -c '^:test-result: SKIP' "$trs" || true)
		pass=$((pass + p + x)) fail=$((fail + f)) skip=$((skip + s))
		[ "$s" -eq 0 ] || skipped="$skipped ${trs%.trs}"
	done
	[ "$status" -ne 0 ] && [ "$fail" -eq 0 ] && fail=1
	# The guests' own summaries (make check keeps them in the logs), or
	# why they were skipped.
	for log in tests/vm/check-vm.sh.log tests/vm/check-systemd.sh.log \
	    tests/vfu/check-vfu.sh.log; do
		[ -f "$log" ] || continue
		grep -E '^# check-(vm|vfu|systemd):' "$log" ||
		    sed -n "s|^1\.\.0 # SKIP \(.*\)|# ${log%.log}: skipped: \1|p" "$log"
	done
	# The skips by name (each test's log says why), then the summary,
	# always the last line.
	[ "$skip" -eq 0 ] || echo "# $skip skipped:$skipped"
	echo "$pass passed, $fail failed"
	return "$status"
}

case "${1:-}" in
run) run ;;
build) build ;;         # dependencies and build only (used by .ci/run)
bootstrap) bootstrap ;; # dependencies and autoreconf only
check) check ;;
*) echo "usage: ./quickstart.sh run|check" >&2; exit 2 ;;
esac
