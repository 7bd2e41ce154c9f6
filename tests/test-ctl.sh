#!/bin/sh
# msivctl's habits (msivctl(8)): `msivctl help COMMAND` for every command
# of its table, the bash completion offering the same commands, failures
# printed with msivd's reason (and as JSON with --json), and `msivctl
# release`: a tenant locked to a resume token nobody saved (the
# libmsiv(3) example run with --stay, then killed) is claimed again at
# once instead of after orphan_grace. TAP output. Every wait has a
# deadline.
set -u

: "${MSIVD:?run through make check}" "${MSIVCTL:?}" "${MSIV_EXAMPLE:?}"
: "${top_srcdir:?}"
completion=$top_srcdir/client/completion/msivctl
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else nok "$desc"; fi; }
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
# Succeed if every argument, a shell condition, holds.
all() { for c; do eval "$c" || return 1; done; }

dir=$(mktemp -d /tmp/msiv-ctl-XXXXXX)
sock=$dir/msivd.sock
ctl() { "$MSIVCTL" --socket "$sock" "$@"; }
cleanup() {
	[ -n "${dpid:-}" ] && kill "$dpid" 2>/dev/null
	for p in ${vmpids:-}; do kill "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT

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
# A value out of msivctl's JSON on stdin: python3 EXPR over the document d.
jq_py() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

# --- help and completion (no daemon needed) ------------------------------------
"$MSIVCTL" help >"$dir/help"; check "msivctl help: exit 0" [ $? -eq 0 ]
# The commands: the lines of the "commands:" paragraph that start with a name.
sed -n '/^commands:/,/^$/p' "$dir/help" |
    sed -n 's/^  \([a-z][a-z-]*\).*/\1/p' | sort -u >"$dir/commands"
check "msivctl help lists commands ($(wc -l <"$dir/commands"))" \
    [ "$(wc -l <"$dir/commands")" -ge 11 ]
check "... release and restart among them" all \
    'grep -qx release "$dir/commands"' 'grep -qx restart "$dir/commands"'
bad=
while read -r c; do
	out=$("$MSIVCTL" help "$c") || bad="$bad $c"
	case "$out" in "usage: msivctl $c"*) ;; *) bad="$bad $c" ;; esac
done <"$dir/commands"
check "msivctl help COMMAND: the usage of each${bad:+ (not:$bad)}" [ -z "$bad" ]
out=$("$MSIVCTL" help release)
check "... and what it does" has "$out" "orphan_grace"
"$MSIVCTL" help frobnicate >/dev/null 2>&1
check "help of an unknown command: exit 2" [ $? -eq 2 ]
out=$("$MSIVCTL" help restart)
check "msivctl help restart: admin, and where msivd(8) tells more" all \
    'has "$out" "(admin)"' 'has "$out" "msivd(8), RESTART AND UPGRADE"'
out=$("$MSIVCTL" --socket "$sock" restart now 2>&1); rc=$?
check "restart takes no argument: exit 2, its usage" all '[ $rc -eq 2 ]' \
    'has "$out" "^usage: msivctl restart$"'
out=$("$MSIVCTL" --socket "$sock" fire 2>&1); rc=$?
check "fire without arguments: exit 2" [ $rc -eq 2 ]
check "... with the usage from the table" has "$out" "usage: msivctl fire DEVICE SLOT \[COUNT\]"

check "the completion script is valid bash" bash -n "$completion"
# Complete as bash-completion would: the two helpers the script uses from
# it are stood in for (the package need not be installed to test).
complete_words() {
	bash -c '
		_init_completion() {
			words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
			cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD - 1]}
		}
		_filedir() { :; }
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_msivctl "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' - "$completion" "$@"
}
complete_words "$MSIVCTL" "" | sort -u >"$dir/completed"
check "completing the command offers every command of msivctl help" \
    cmp -s "$dir/commands" "$dir/completed"
[ $? -eq 0 ] || diff "$dir/commands" "$dir/completed" | sed 's/^/# /'
complete_words "$MSIVCTL" help re | sort | tr '\n' ' ' >"$dir/completed"
check "msivctl help re<TAB>: release reload restart revoke" [ "$(cat "$dir/completed")" = "release reload restart revoke " ]
complete_words "$MSIVCTL" --j >"$dir/completed"
check "--j<TAB>: --json" [ "$(cat "$dir/completed")" = "--json" ]

# --- a daemon ------------------------------------------------------------------
printf '[msivd]\norphan_grace = 3600\n[device sim0]\nbackend = sim\nslots = 16\n' \
    >"$dir/msivd.conf"
"$MSIVD" --user root --foreground --config "$dir/msivd.conf" --state-dir "$dir" \
    --socket "$sock" >"$dir/log" 2>&1 &
dpid=$!
check "msivd answers on its socket" wait_for ctl status

complete_words "$MSIVCTL" --socket "$sock" detach "" >"$dir/completed"
check "detach <TAB>: the daemon's devices" [ "$(cat "$dir/completed")" = "sim0" ]

# --- failures with msivd's reason ----------------------------------------------
out=$(ctl attach x vfio notanaddr 2>&1); rc=$?
check "attach with a bad address: exit 1" [ $rc -eq 1 ]
check "... msivctl: COMMAND: ERROR: REASON" [ "$out" = \
    'msivctl: attach x: invalid argument: address must be a PCI address like 0000:00:03.0, not "notanaddr"' ]
check "... the reason as msivd logs it" \
    grep -q 'attach x (session [0-9]*): address must be a PCI address like 0000:00:03.0, not "notanaddr"' "$dir/log"
ctl --json attach x vfio notanaddr >"$dir/out" 2>"$dir/err"; rc=$?
check "--json: exit 1, nothing on standard error" all '[ $rc -eq 1 ]' '[ ! -s "$dir/err" ]'
check "... the error as JSON on standard output" [ "$(jq_py \
    '(sorted(d["error"]), d["error"]["errno"], d["error"]["name"], d["error"]["command"])' \
    <"$dir/out")" = "(['command', 'errno', 'message', 'name', 'reason'], 22, 'EINVAL', 'attach')" ]
check "... with the reason" has "$(jq_py 'd["error"]["reason"]' <"$dir/out")" \
    "address must be a PCI address"
out=$(ctl detach nodev 2>&1); rc=$?
check "detach of no device: exit 5, saying so" all '[ $rc -eq 5 ]' \
    '[ "$out" = "msivctl: detach nodev: no such device: no device nodev" ]'

# --- release --------------------------------------------------------------------
# The example VMM, staying: it holds a vfunc of 4 vectors for tenant $1,
# and its token is nobody's but its own (no --token-file). Its pid in
# $vmpid.
stay() {
	"$MSIV_EXAMPLE" --socket "$sock" --tenant "$1" --stay >"$dir/ex-$1" 2>&1 ||
	    return 1
	# It went to the background (daemon(3)) after it connected, so its
	# pid is not the session's: the process of that command line.
	vmpid=
	for p in /proc/[0-9]*; do
		case $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) in
		*"vmm-example --socket $sock --tenant $1 --stay "*)
			vmpid=${p#/proc/} ;;
		esac
	done
	[ -n "$vmpid" ] || return 1
	vmpids="${vmpids:-} $vmpid"
}
orphaned() {
	[ "$(ctl --json vfuncs | jq_py \
	    'all(v["orphaned"] for v in d if v["tenant"] == "'"$1"'")')" = True ]
}
used() { ctl --json devices | jq_py 'd[0]["slots_used"]'; }

check "the example VMM holds a vfunc for tenant lost-vm" stay lost-vm
out=$(ctl release lost-vm 2>&1); rc=$?
check "release while its session holds the vfunc: exit 1" [ $rc -eq 1 ]
check "... saying why" has "$out" \
    "msivctl: release lost-vm: .*: tenant lost-vm: a session holds 1 of its vfuncs"
kill "$vmpid"
check "the VMM killed: its vfunc is orphaned" wait_for orphaned lost-vm
check "... and holds its 4 slots" [ "$(used)" = 4 ]
out=$("$MSIV_EXAMPLE" --socket "$sock" --tenant lost-vm 2>&1)
check "a new VMM cannot claim lost-vm without the token" [ $? -ne 0 ]
check "... msivd says why" has "$out" "permission denied"
out=$(ctl release lost-vm); rc=$?
check "msivctl release lost-vm: exit 0" [ $rc -eq 0 ]
check "... released 1 vfunc" [ "$out" = "released 1 vfunc" ]
check "... the slots are back at once" [ "$(used)" = 0 ]
check "... logged" grep -q "released tenant lost-vm: 1 vfunc(s)" "$dir/log"
out=$("$MSIV_EXAMPLE" --socket "$sock" --tenant lost-vm 2>&1)
check "a new VMM claims lost-vm, no token needed" [ $? -eq 0 ]
out=$(ctl release lost-vm 2>&1); rc=$?
check "release again: exit 5, nothing to release" all '[ $rc -eq 5 ]' \
    '[ "$out" = "msivctl: release lost-vm: no such object: tenant lost-vm holds no vfunc" ]'

# A revoked tenant: the revoked vfunc stays the session's until the VMM
# closes it, or (VMM gone) until orphan_grace ends, or until release.
check "a VMM for tenant bad-vm" stay bad-vm
out=$(ctl revoke bad-vm); check "revoked" [ "$out" = "revoked 1 vfunc" ]
kill "$vmpid" 2>/dev/null
check "the VMM gone: its revoked vfunc is orphaned" wait_for orphaned bad-vm
out=$(ctl --json release bad-vm); rc=$?
check "release --json: exit 0, {\"released\": 1}" all '[ $rc -eq 0 ]' \
    '[ "$(printf "%s" "$out" | jq_py "d[\"released\"]")" = 1 ]'
check "... the vfunc is gone from the listing" [ "$(ctl --json vfuncs | jq_py \
    'len([v for v in d if v["tenant"] == "bad-vm"])')" = 0 ]
out=$(ctl release 'bad name' 2>&1); rc=$?
check "release of a bad name: exit 1, EINVAL" all '[ $rc -eq 1 ]' \
    'has "$out" "invalid argument"'

ctl shutdown >/dev/null
wait "$dpid"; dpid=
echo "1..$n"
[ $failed -eq 0 ]
