#!/bin/sh
# fetch-qemu.sh CACHE
# A QEMU with the vfio-user-pci device (10.1 or later) for a Debian 12
# machine, whose own QEMU (7.2) has none: qemu-system-x86 from
# trixie-backports with its dependencies (no recommends), downloaded by
# apt's own tools into a private apt state under CACHE and unpacked, not
# installed, into CACHE/qemu-root. It runs through trixie's own dynamic
# loader from that root. Prints the command that runs it (one line, the
# arguments up to the caller's own). The packages come from the archive
# already named in this machine's apt sources, read at run time; the
# machine's own apt state is left alone. Exits 77 (skip) with a reason
# when QEMU >= 10.1 cannot be had this way.
set -eu
cache=$1
for t in apt-get dpkg-deb; do
	command -v "$t" >/dev/null 2>&1 || { echo "missing $t"; exit 77; }
done
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
root=$cache/qemu-root
ldso=$root/usr/lib64/ld-linux-x86-64.so.2
[ -e "$ldso" ] || ldso=$root/lib64/ld-linux-x86-64.so.2

# The full invocation; the QEMU_MODULE_DIR keeps it from falling back to
# the system's module directory (a Debian 12 QEMU's modules abort it).
invocation() {
	echo "env QEMU_MODULE_DIR=$root/usr/lib/x86_64-linux-gnu/qemu $ldso" \
	    "--library-path $root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu" \
	    "$root/usr/bin/qemu-system-x86_64 -L $root/usr/share/qemu" \
	    "-L $root/usr/share/seabios"
}

if [ ! -x "$root/usr/bin/qemu-system-x86_64" ]; then
	uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources \
	    2>/dev/null) || true
	[ -n "${uri:-}" ] || { echo "no Debian archive in the apt sources"; exit 77; }
	apt=$cache/qemu-apt
	rm -rf "$apt"
	mkdir -p "$apt/sources" "$apt/parts" "$apt/prefs" "$apt/state/lists/partial" \
	    "$apt/cache/archives/partial" "$apt/log"
	: > "$apt/state/status"
	printf 'Types: deb\nURIs: %s\nSuites: trixie trixie-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
	    "$uri" > "$apt/sources/trixie.sources"
	# Its own state (an empty dpkg status: every dependency is fetched),
	# cache, sources, no apt.conf.d and no preferences of the machine's.
	cat > "$apt/apt.conf" <<EOF
Dir::Etc::main "/dev/null";
Dir::Etc::parts "$apt/parts";
Dir::Etc::sourcelist "/dev/null";
Dir::Etc::sourceparts "$apt/sources";
Dir::Etc::preferences "/dev/null";
Dir::Etc::preferencesparts "$apt/prefs";
Dir::State "$apt/state";
Dir::State::status "$apt/state/status";
Dir::Cache "$apt/cache";
Dir::Log "$apt/log";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APT::Sandbox::User "root";
Debug::NoLocking "true";
EOF
	export APT_CONFIG="$apt/apt.conf"
	apt-get update -q >"$apt/log/update" 2>&1 || {
		echo "cannot read trixie and trixie-backports from the archive" \
		    "(see $apt/log/update)"
		exit 77
	}
	ver=$(apt-cache madison qemu-system-x86 2>/dev/null |
	    awk '/trixie-backports/ { print $3; exit }')
	case "$ver" in
	1:1[1-9].*|1:10.[1-9]*) ;;
	*) echo "no qemu-system-x86 >= 10.1 in trixie-backports (${ver:-none})"; exit 77 ;;
	esac
	DEBIAN_FRONTEND=noninteractive apt-get install -q -y -d -t trixie-backports \
	    "qemu-system-x86=$ver" >"$apt/log/download" 2>&1 || {
		echo "cannot download qemu-system-x86 $ver (see $apt/log/download)"
		exit 77
	}
	rm -rf "$root.tmp"
	mkdir -p "$root.tmp"
	for deb in "$apt/cache/archives/"*.deb; do
		dpkg-deb -x "$deb" "$root.tmp" || {
			echo "cannot unpack $deb"
			exit 77
		}
	done
	rm -rf "$apt/cache/archives/"*.deb
	mv "$root.tmp" "$root"
	ldso=$root/usr/lib64/ld-linux-x86-64.so.2
	[ -e "$ldso" ] || ldso=$root/lib64/ld-linux-x86-64.so.2
fi
# Asked about the one device, not "-device help": that loads every
# module QEMU knows of, and one not unpacked here (ui-opengl, in a package
# that is only recommended) would be looked for in the system's module
# directory, where a Debian 12 QEMU's modules make it abort.
# shellcheck disable=SC2046
out=$($(invocation) -device vfio-user-pci,help 2>&1) || {
	echo "the unpacked QEMU has no vfio-user-pci device or does not run:" \
	    "$(echo "$out" | head -2)"
	exit 77
}
invocation
