#!/bin/sh
# fetch.sh CACHE
# Fetch and unpack what the test guests need into CACHE (once): the
# Debian 12 cloud kernel (6.1, MSI-X with NORESIZE) with its modules.
# Packages come from the machine's own apt sources; nothing else is
# downloaded. Exits 77 (skip) with a reason when a tool is missing.
set -eu
cache=$1
for t in apt-get dpkg-deb qemu-system-x86_64 busybox cpio gzip; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "missing $t (apt-get install qemu-system-x86 busybox-static cpio)"
		exit 77
	}
done
mkdir -p "$cache"
cd "$cache"
if [ ! -d k61 ]; then
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	    sed -n 's/.*Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' |
	    head -1)
	[ -n "$pkg" ] || { echo "no linux-image-cloud-amd64 in the apt sources"; exit 77; }
	rm -f ./*.deb
	apt-get download -q "$pkg" >/dev/null 2>&1 ||
	    { echo "cannot download $pkg"; exit 77; }
	dpkg-deb -x ./"$pkg"_*.deb k61.tmp
	rm -f ./*.deb
	mv k61.tmp k61
fi
echo "$cache/k61"
