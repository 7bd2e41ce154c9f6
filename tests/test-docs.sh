#!/bin/sh
# The documentation says what the programs do:
#  - every option `msivd --help` lists is in msivd(8)'s SYNOPSIS, by its
#    short name where it has one (-u as well as --user);
#  - the README's opening promises no IMS support msivd lacks: where it
#    names IMS it points to its "Intel IMS" section, which says what msivd
#    does with an IMS device, what the sim device models and what the
#    kernel does not offer user space.
# TAP output.
set -u

: "${MSIVD:?run through make check}" "${top_srcdir:?}"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

syn=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' "$top_srcdir/man/msivd.8")
help=$("$MSIVD" --help 2>&1)
opts=$(printf '%s\n' "$help" | sed -n 's/^  \(-[a-zA-Z]\), --.*/\1/p; s/^      \(--[a-z-]*\).*/\1/p')
[ -n "$opts" ] || nok "msivd --help lists options"
for o in $opts; do
	roff=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
	if printf '%s\n' "$syn" | grep -q -- "$roff\\b\\|$roff\$\\|$roff "; then
		ok "msivd(8) SYNOPSIS has $o"
	else
		nok "msivd(8) SYNOPSIS has $o"
	fi
done

readme=$top_srcdir/README.md
intro=$(sed -n '1,/^## /p' "$readme")
if printf '%s\n' "$intro" | grep -q 'IMS' &&
    ! printf '%s\n' "$intro" | grep -q '(#intel-ims)'; then
	nok "the README's opening names IMS without pointing to its section"
else
	ok "the README's opening names IMS only with a pointer to its section"
fi
sec=$(sed -n '/^## Intel IMS$/,/^## [^I]/p' "$readme")
for what in '\*\*A real IMS device:\*\*' '\*\*The `sim` device\*\*' \
    '\*\*What the kernel does not offer user space:\*\*'; do
	if printf '%s\n' "$sec" | grep -q "$what"; then
		ok "README, Intel IMS: $what"
	else
		nok "README, Intel IMS: $what"
	fi
done
echo "1..$n"
[ $failed -eq 0 ]
