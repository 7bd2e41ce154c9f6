#!/bin/sh
# Upgrade across releases (issue 19; msivd(8), RESTART AND UPGRADE): an
# msivd of the first release that hands over (the tag handover-1, msiv
# 0.1.0) serves a VMM; this build's msivd is installed over its binary as
# dpkg installs one (a new file renamed over the path) and `msivctl
# restart` hands over to it. Then:
#  - the reply names the new release and the old, the old msivd exits 0,
#    and the new one serves (its own pid, the installed file);
#  - the VMM's connection is the same one (same session, same socket, no
#    reconnect) and keeps working;
#  - the masked vector's pending bit crossed, and is delivered exactly
#    once on unmask; no interrupt is assumed for the other vectors, none
#    is delivered twice; a fired vector is delivered by the new msivd.
# Then the way back: the old binary put at the path and restarted into.
# Both read the same state format, so that is a handover too; were the
# format to change, the old binary would refuse the newer state and this
# build's msivd would serve on, and either is reported.
#
# msivd 0.1.0 is built from the repository's history in a git worktree of
# its own under a temporary directory (autoreconf, configure, make msivd:
# most of the run time). Without git, outside a git checkout (a tarball,
# distcheck) or without that history (a shallow clone) this skips
# (exit 77, the reason printed). MSIV_UPGRADE_FROM names another revision
# to upgrade from. TAP output; every wait has a deadline. make
# check-upgrade runs it.
set -u

: "${MSIVD:?run through make check-upgrade}" "${MSIVCTL:?}"
: "${MSIV_UPGRADE_CLIENT:?}" "${top_srcdir:?}"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else nok "$desc"; fi; }
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
# Succeed if every argument, a shell condition, holds.
all() { for c; do eval "$c" || return 1; done; }
skip() { echo "1..0 # SKIP $*"; exit 77; }
finish() {
	echo "1..$n"
	echo "# check-upgrade: $((n - failed)) passed, $failed failed"
	[ $failed -eq 0 ]
	exit
}

# --- the old release's source ------------------------------------------------
command -v git >/dev/null 2>&1 || skip "no git: msivd 0.1.0 is built from the repository's history"
command -v autoreconf >/dev/null 2>&1 || skip "no autoreconf (package autoconf) to build msivd 0.1.0"
top=$(cd "$top_srcdir" && pwd -P)
gtop=$(git -C "$top" rev-parse --show-toplevel 2>/dev/null) &&
    [ "$(cd "$gtop" && pwd -P)" = "$top" ] ||
	skip "$top is not a git checkout (a tarball, distcheck): no history to build msivd 0.1.0 from"
# The tag, else its commit (a clone that did not fetch tags).
revs=${MSIV_UPGRADE_FROM:-handover-1 88b1f0c}
from=
for rev in $revs; do
	from=$(git -C "$top" rev-parse -q --verify "$rev^{commit}") && break
	from=
done
[ -n "$from" ] ||
    skip "none of $revs is in this repository's history (a shallow clone?)"

dir=$(mktemp -d /tmp/msiv-upgrade-XXXXXX)
sock=$dir/msivd.sock
ctl() { "$MSIVCTL" --socket "$sock" "$@"; }
pids=
cleanup() {
	exec 3>&- 4<&-
	for p in ${cpid:-} $pids; do kill "$p" 2>/dev/null; done
	[ ! -d "$dir/old" ] || git -C "$top" worktree remove --force "$dir/old" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
# A client gone makes writes to it fail rather than end this script.
trap '' PIPE

# Wait (20 s at most) until the command succeeds.
wait_for() {
	i=0
	while [ $i -lt 400 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}
# A process that is gone or a zombie (exited, not reaped).
gone() {
	s=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null)
	[ -z "$s" ] || [ "$s" = Z ]
}
jq_py() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
status_of() { ctl --json status | jq_py "d[\"$1\"]"; }

echo "# building msivd from $(git -C "$top" describe --always --tags "$from") (${from%"${from#???????}"}) in $dir/old"
# Not this make's flags or variables (a jobserver, TESTS=...).
if ! { git -C "$top" worktree add -q --detach "$dir/old" "$from" &&
    (cd "$dir/old" && autoreconf -fi && ./configure -q &&
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -j"$(nproc)" msivd); } \
    >"$dir/build.log" 2>&1; then
	tail -n 30 "$dir/build.log" | sed 's/^/# /'
	nok "build msivd from $from"
	finish
fi
mkdir "$dir/sbin" "$dir/state"
cp "$dir/old/msivd" "$dir/msivd.old"
cp "$dir/msivd.old" "$dir/sbin/msivd"
old_v=$("$dir/msivd.old" --version | sed -n 's/^msivd \([^ ]*\) .*/\1/p')
new_v=$("$MSIVD" --version | sed -n 's/^msivd \([^ ]*\) .*/\1/p')
check "built msivd $old_v; this build's is $new_v: another release" \
    all '[ -n "$old_v" ]' '[ -n "$new_v" ]' '[ "$old_v" != "$new_v" ]'

# Install BIN at $dir/sbin/msivd as dpkg does: a new file in the same
# directory, renamed over the path (the running msivd keeps its inode).
install_msivd() {
	cp "$1" "$dir/sbin/msivd.dpkg-new" && mv -f "$dir/sbin/msivd.dpkg-new" "$dir/sbin/msivd"
}

# --- the old release serves a VMM --------------------------------------------
printf '[msivd]\norphan_grace = 3600\n[device sim0]\nbackend = sim\nslots = 16\n' \
    >"$dir/msivd.conf"
"$dir/sbin/msivd" --user root --foreground --config "$dir/msivd.conf" \
    --state-dir "$dir/state" --socket "$sock" >"$dir/log" 2>&1 &
dpid=$!
pids=$dpid
check "msivd $old_v answers on its socket" wait_for ctl status
check "... pid $dpid, version $old_v" all '[ "$(status_of pid)" = "$dpid" ]' \
    '[ "$(status_of version)" = "$old_v" ]'

# The VMM: one connection for the whole test, driven line by line
# through two FIFOs (tests/upgrade-client.c says what it answers).
mkfifo "$dir/in" "$dir/out"
"$MSIV_UPGRADE_CLIENT" --socket "$sock" <"$dir/in" >"$dir/out" 2>"$dir/client.err" &
cpid=$!
exec 3>"$dir/in" 4<"$dir/out"
reply=
ask() { echo "$*" >&3; reply=; read -r reply <&4; }
# A field NAME=VALUE of the last reply.
field() { printf '%s\n' "$reply" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
# The reply to `query K` has FIELD=VALUE...
query_has() {
	k=$1
	shift
	ask query "$k"
	for fv; do has " $reply " " $fv " || return 1; done
}
fire() { ctl fire sim0 "$1" >/dev/null; }

ask setup
slots=$(field slots)
check "the VMM opened a vfunc of 4 vectors on sim0 (${reply:-no reply: $(cat "$dir/client.err")})" \
    has "$reply" "^setup vfunc=[0-9a-f]* slots=[0-9]*,[0-9]*,[0-9]*,[0-9]*$"
s0=$(echo "$slots" | cut -d, -f1) s1=$(echo "$slots" | cut -d, -f2)
s2=$(echo "$slots" | cut -d, -f3) s3=$(echo "$slots" | cut -d, -f4)
ask conn
session=$(field session) ino=$(field ino)
check "... session $session" [ -n "$session" ]

fire "$s0"
ask wait 0
check "vector 0 fired: delivered by msivd $old_v" [ "$reply" = "wait 0 1" ]
fire "$s1"
check "masked vector 1 fired" wait_for query_has 1 fired=1
check "... pending, masked, not delivered" query_has 1 masked=1 pending=1 delivered=0
ask take 1
check "... nothing reached its target" [ "$reply" = "take 1 0" ]
check "vectors 2 and 3: set up, never fired, nothing pending" all \
    'query_has 2 fired=0 pending=0 target=1' 'query_has 3 fired=0 pending=0 target=1'

# --- the upgrade -------------------------------------------------------------
install_msivd "$MSIVD"
check "msivd $new_v installed over $dir/sbin/msivd (the running one's file is replaced)" \
    has "$(readlink "/proc/$dpid/exe")" " (deleted)$"
out=$(ctl restart 2>&1); rc=$?
echo "# $out"
check "msivctl restart: exit 0" [ $rc -eq 0 ]
check "... version $new_v (from $old_v)" has "$out" \
    "^msivd restarted: pid [0-9]*, version $new_v (from $old_v), 2 sessions, 1 vfunc, [0-9]* fds handed over; no interrupt read for [0-9]* us$"
npid=$(printf '%s\n' "$out" | sed -n 's/^msivd restarted: pid \([0-9]*\),.*/\1/p')
pids="$pids $npid"
check "... a new pid ($npid, was $dpid)" all '[ -n "$npid" ]' '[ "$npid" != "$dpid" ]'
if wait_for gone "$dpid"; then
	wait "$dpid"
	st=$?
	check "the old msivd ($old_v, pid $dpid) exited 0" [ $st -eq 0 ]
else
	nok "the old msivd ($old_v, pid $dpid) exited 0 (still running after 20 s)"
fi
check "msivctl status: pid $npid, version $new_v" all \
    '[ "$(status_of pid)" = "$npid" ]' '[ "$(status_of version)" = "$new_v" ]'
check "... running the installed file" \
    [ "$(readlink "/proc/$npid/exe")" = "$dir/sbin/msivd" ]
check "the old msivd logged the handover" grep -q \
    "restart: handed over to msivd $new_v (pid $npid) in [0-9]* us; exiting" "$dir/log"
check "the new one the take-over" grep -q \
    "restart: took over from msivd $old_v: 2 session(s), 1 vfunc(s), [0-9]* fds; no trigger read for [0-9]* us" \
    "$dir/log"
grep 'msivd info: restart' "$dir/log" | sed 's/^/# /'

# --- the VMM, on the same connection -----------------------------------------
ask conn
check "the VMM's connection is the same: session $session, socket inode $ino, no reconnect" \
    [ "$reply" = "conn session=$session ino=$ino resumed=0" ]
check "msivctl sessions (msivd $new_v): session $session of upgrade-vm holds its vfunc" \
    [ "$(ctl --json sessions | jq_py "[(s['tenant'], s['vfuncs']) for s in d if s['session'] == $session]")" = "[('upgrade-vm', 1)]" ]
check "vector 1: still masked and pending, fired 1, delivered 0" \
    query_has 1 masked=1 pending=1 fired=1 delivered=0
ask take 1
check "... nothing reached its target" [ "$reply" = "take 1 0" ]
check "vector 0: fired 1, delivered 1, not pending" \
    query_has 0 fired=1 delivered=1 pending=0
check "vectors 2 and 3: no interrupt assumed" all \
    'query_has 2 fired=0 pending=0 target=1' 'query_has 3 fired=0 pending=0 target=1'
ask take 0
r0=$reply
ask take 2
r2=$reply
ask take 3
check "... nothing delivered to vectors 0, 2, 3 by the handover" \
    all '[ "$r0" = "take 0 0" ]' '[ "$r2" = "take 2 0" ]' '[ "$reply" = "take 3 0" ]'
ask unmask 1
check "unmask vector 1 on the same connection" [ "$reply" = "unmask 1 ok" ]
ask wait 1
check "... its pending interrupt delivered (counter 1: once)" [ "$reply" = "wait 1 1" ]
fire "$s0"
ask wait 0
check "vector 0 fired: delivered by msivd $new_v" [ "$reply" = "wait 0 1" ]
fire "$s2"
ask wait 2
check "vector 2 fired: delivered" [ "$reply" = "wait 2 1" ]
ask take 1
check "vector 1: nothing more reached its target" [ "$reply" = "take 1 0" ]
check "... fired 1, delivered 1, not pending" query_has 1 fired=1 delivered=1 pending=0
ask mask 3
check "mask vector 3" [ "$reply" = "mask 3 ok" ]
fire "$s3"
check "... fired while masked: pending" wait_for query_has 3 fired=1 pending=1 delivered=0

# --- the way back: the old binary at the path --------------------------------
install_msivd "$dir/msivd.old"
out=$(ctl restart 2>&1); rc=$?
echo "# downgrade, msivctl restart (exit $rc): $out"
check "msivd $new_v logged who asked: session, pid, uid" grep -q \
    "restart asked by session [0-9][0-9]* (pid [0-9][0-9]*, uid 0): starting $dir/sbin/msivd (pid [0-9][0-9]*)" \
    "$dir/log"
if [ $rc -eq 0 ]; then
	bpid=$(printf '%s\n' "$out" | sed -n 's/^msivd restarted: pid \([0-9]*\),.*/\1/p')
	pids="$pids $bpid"
	check "downgrade: a handover, version $old_v (from $new_v)" \
	    has "$out" "^msivd restarted: pid [0-9]*, version $old_v (from $new_v), "
	check "... msivd $new_v (pid $npid) exited" wait_for gone "$npid"
	check "... msivctl status: pid $bpid, version $old_v" all '[ -n "$bpid" ]' \
	    '[ "$(status_of pid)" = "$bpid" ]' '[ "$(status_of version)" = "$old_v" ]'
	ask conn
	check "... the VMM's connection is the same" \
	    [ "$reply" = "conn session=$session ino=$ino resumed=0" ]
	check "... vector 3 still pending" query_has 3 masked=1 pending=1 fired=1 delivered=0
	ask unmask 3
	ask wait 3
	check "... delivered once on unmask" [ "$reply" = "wait 3 1" ]
	fire "$s0"
	ask wait 0
	check "... vector 0 fired: delivered by msivd $old_v" [ "$reply" = "wait 0 1" ]
	last=$bpid
else
	# A state format msivd $old_v does not read: refused, and this
	# build's msivd serves on.
	check "downgrade: refused, the state format named" has "$out" \
	    "^msivctl: restart refused: .*format"
	check "... msivd $new_v (pid $npid) serves on" all \
	    '[ "$(status_of pid)" = "$npid" ]' '[ "$(status_of version)" = "$new_v" ]'
	fire "$s0"
	ask wait 0
	check "... vector 0 fired: delivered" [ "$reply" = "wait 0 1" ]
	last=$npid
fi

ask quit
wait "$cpid"
check "the VMM ends cleanly" [ $? -eq 0 ]
cpid=
ctl shutdown >/dev/null
check "msivd stops" wait_for gone "$last"
finish
