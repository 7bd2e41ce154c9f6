#!/bin/sh
# <msiv/msiv.h> as a C program meets it, compiled with the tree's
# compiler: it compiles on its own as strict C11; the MSIV_0.1 calls that
# take the wire's structs still compile (source compatibility) but warn
# that they are deprecated, naming their replacement; and
# MSIV_NO_DEPRECATION_WARNINGS silences that (libmsiv(3), Status and
# listings). TAP output.
set -u

: "${top_srcdir:?run through make check}"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

dir=$(mktemp -d /tmp/msiv-header-XXXXXX)
trap 'rm -rf "$dir"' EXIT
cc() { ${CC:-cc} -I"$top_srcdir/include" -c -o "$dir/x.o" "$@"; }

printf '#include <msiv/msiv.h>\nint msiv_test_unit;\n' >"$dir/alone.c"
if cc -std=c11 -Wall -Wextra -Wpedantic -Werror "$dir/alone.c" \
    >"$dir/log" 2>&1; then
	ok "<msiv/msiv.h> alone compiles as strict C11"
else
	sed 's/^/# /' "$dir/log"; nok "<msiv/msiv.h> alone compiles as strict C11"
fi

cat >"$dir/old.c" <<'EOC'
#include <msiv/msiv.h>
int old_status(struct msiv_conn *c);
int
old_status(struct msiv_conn *c)
{
	struct msiv_status_rep st;

	return msiv_status(c, &st);
}
EOC
if cc -std=gnu11 -Wall "$dir/old.c" >"$dir/log" 2>&1; then
	ok "a program on msiv_status() still compiles"
else
	sed 's/^/# /' "$dir/log"; nok "a program on msiv_status() still compiles"
fi
if grep -q "msiv_status.*deprecated.*use msiv_get_status()" "$dir/log"; then
	ok "...with a warning that it is deprecated, naming msiv_get_status()"
else
	sed 's/^/# /' "$dir/log"
	nok "...with a warning that it is deprecated, naming msiv_get_status()"
fi
if cc -std=gnu11 -Wall -Werror -DMSIV_NO_DEPRECATION_WARNINGS "$dir/old.c" \
    >"$dir/log" 2>&1; then
	ok "MSIV_NO_DEPRECATION_WARNINGS silences it"
else
	sed 's/^/# /' "$dir/log"; nok "MSIV_NO_DEPRECATION_WARNINGS silences it"
fi
echo "1..$n"
[ $failed -eq 0 ]
