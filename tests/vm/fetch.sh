#!/bin/sh
# fetch.sh CACHE
# Fetch and unpack the test guests' kernels into CACHE (once) and print
# their directories: the Debian 12 cloud kernel (6.1: MSI-X with
# NORESIZE) and the generic kernel from bookworm-backports (6.12: dynamic
# MSI-X). Packages come from the archive already named in this machine's
# apt sources; the backports suite is read into a private apt state under
# CACHE, leaving the machine's own apt state alone. Exits 77 (skip) with
# a reason when a tool or package is missing.
set -eu
cache=$1
for t in apt-get apt-cache dpkg-deb qemu-system-x86_64 busybox cpio gzip xz flock; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "missing $t (apt-get install qemu-system-x86 busybox-static cpio xz-utils)"
		exit 77
	}
done
if ldd /bin/busybox >/dev/null 2>&1; then
	echo "/bin/busybox is not static (apt-get install busybox-static)"
	exit 77
fi
mkdir -p "$cache"
cd "$cache"
# One fetch at a time: make check runs the guest tests side by side
# (check-vm, check-systemd, check-vfu) on this one cache; the second
# waits, then finds the kernels there.
exec 9>"$cache/.fetch.lock"
flock 9 || { echo "cannot lock $cache/.fetch.lock"; exit 77; }

# unpack PACKAGE DIR [APT-OPTIONS...]
unpack() {
	pkg=$1 dir=$2
	shift 2
	[ -d "$dir" ] && return 0
	rm -rf dl && mkdir dl
	(cd dl && apt-get "$@" download -q "$pkg" >/dev/null 2>&1) ||
	    { echo "cannot download $pkg"; exit 77; }
	dpkg-deb -x dl/*.deb "$dir.tmp" ||
	    { echo "cannot unpack $pkg"; exit 77; }
	rm -rf dl
	mv "$dir.tmp" "$dir"
}

dep() { # the versioned image package a meta package depends on
	apt-cache "$@" 2>/dev/null |
	    sed -n 's/.*Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1
}

pkg=$(dep depends linux-image-cloud-amd64)
[ -n "$pkg" ] || { echo "no linux-image-cloud-amd64 in the apt sources"; exit 77; }
unpack "$pkg" k61

if [ ! -d k612 ]; then
	uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources \
	    2>/dev/null) || true
	[ -n "${uri:-}" ] || { echo "no Debian archive in the apt sources"; exit 77; }
	mkdir -p bp/parts bp/lists/partial bp/cache/archives/partial
	printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
	    "$uri" > bp/parts/backports.sources
	set -- -o Dir::Etc::sourcelist=/dev/null \
	    -o Dir::Etc::sourceparts="$cache/bp/parts" \
	    -o Dir::State::Lists="$cache/bp/lists" -o Dir::Cache="$cache/bp/cache"
	apt-get "$@" update -q >/dev/null 2>&1 ||
	    { echo "cannot read bookworm-backports"; exit 77; }
	pkg=$(dep "$@" depends linux-image-amd64)
	case "$pkg" in
	linux-image-6.12*) unpack "$pkg" k612 "$@" ;;
	*) echo "no 6.12 kernel in bookworm-backports ($pkg)"; exit 77 ;;
	esac
fi
echo "$cache/k61 $cache/k612"
