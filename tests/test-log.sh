#!/bin/sh
# msivd's log as an administrator filters it (msivd(8), LOGGING and EXIT
# STATUS): syslog priority prefixes when stderr is the journal
# (JOURNAL_STREAM names it: here the file msivd's stderr goes to, as PID 1
# is no systemd), none when it does not match; fatal start-up errors at
# error priority with their documented exit status; session open and close
# at debug only; `msivctl log-level` at run time.
# TAP output. Every wait has a deadline.
set -u

: "${MSIVD:?run through make check}" "${MSIVCTL:?}"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else nok "$desc"; fi; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }

dir=$(mktemp -d /tmp/msiv-log-XXXXXX)
cleanup() {
	[ -n "${dpid:-}" ] && kill "$dpid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

# Wait (20 s at most) until msivctl reaches the daemon at $1, while its
# process $2 lives.
wait_up() {
	i=0
	while [ $i -lt 400 ]; do
		"$MSIVCTL" --socket "$1" status >/dev/null 2>&1 && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}
# Stop daemon $dpid (msivctl shutdown on socket $1), wait for it.
stop() {
	"$MSIVCTL" --socket "$1" shutdown >/dev/null 2>&1 || kill "$dpid"
	i=0
	while [ $i -lt 400 ] && kill -0 "$dpid" 2>/dev/null; do
		sleep 0.05
		i=$((i + 1))
	done
	wait "$dpid" 2>/dev/null
	dpid=
}
# Wait until the daemon at $1 has ended every session but the asking
# one: what it logs for them is then in the log.
settle() {
	i=0
	while [ $i -lt 400 ]; do
		"$MSIVCTL" --socket "$1" --json status 2>/dev/null |
		    grep -Eq '"sessions": ?1[,} ]' && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}
# Wait until file $1 has a line matching the extended regex $2.
wait_line() {
	i=0
	while [ $i -lt 400 ]; do
		grep -Eq -- "$2" "$1" && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}
count() { grep -Ec -- "$2" "$1"; }

conf=$dir/msivd.conf
printf '[msivd]\nlog_level = debug\n[device sim0]\nbackend = sim\nslots = 8\n' \
    >"$conf"

# --- stderr is the journal: a priority on every line ------------------------
# A state directory others may enter: a warning (msivd(8), --state-dir).
mkdir -m 0700 "$dir/j" && mkdir "$dir/j/state" && chmod 0750 "$dir/j/state"
# A socket path with a newline: the message naming it has two lines.
jsock="$dir/j/a
b.sock"
jlog=$dir/j/stderr
: >"$jlog"
JOURNAL_STREAM=$(stat -c '%d:%i' "$jlog") "$MSIVD" --user root --foreground \
    --config "$conf" --state-dir "$dir/j/state" --socket "$jsock" \
    2>>"$jlog" >/dev/null &
dpid=$!
if wait_up "$jsock" "$dpid"; then
	ok "msivd with JOURNAL_STREAM = its stderr: up"
else
	nok "msivd with JOURNAL_STREAM = its stderr: up"
	sed 's/^/# /' "$jlog"
fi
"$MSIVCTL" --socket "$jsock" status >/dev/null
settle "$jsock"
stop "$jsock"
sed 's/^/# journal: /' "$jlog"
check "every line starts with a priority <N>" \
    sh -c '! grep -qv "^<[0-7]>" "$1"' - "$jlog"
check "... and has neither time nor name (journald adds both)" \
    sh -c '! grep -Eq "^<[0-7]>[0-9]{4}-|msivd (info|debug|warning|error):" "$1"' - "$jlog"
check "info is <6> (ready)" wait_line "$jlog" '^<6>msivd .* ready'
check "warning is <4> (state directory others may enter)" \
    wait_line "$jlog" '^<4>state directory .* may enter it'
check "debug is <7> (a session)" wait_line "$jlog" '^<7>session [0-9]+'
check "a message of two lines: both have the priority" \
    sh -c 'grep -A1 "^<6>listening on .*/j/a\$" "$1" | grep -q "^<6>b.sock\$"' \
    - "$jlog"

# --- JOURNAL_STREAM that is not stderr: as before ---------------------------
mkdir -m 0700 "$dir/n"
nlog=$dir/n/stderr
: >"$nlog"
JOURNAL_STREAM=$(stat -c '%d:%i' "$conf") "$MSIVD" --user root --foreground \
    --config "$conf" --state-dir "$dir/n" --socket "$dir/n/s.sock" \
    2>>"$nlog" >/dev/null &
dpid=$!
wait_up "$dir/n/s.sock" "$dpid"
stop "$dir/n/s.sock"
check "JOURNAL_STREAM of another file: no priority prefixes" \
    sh -c '! grep -q "^<[0-7]>" "$1"' - "$nlog"
check "... the usual time, name and level" \
    grep -Eq '^[0-9]{4}-[0-9-]+T[0-9:.]+Z msivd info: msivd .* ready' "$nlog"

# --- fatal start-up errors: <3> and the documented exit status --------------
# $1 description, $2 exit status, $3 regex of the reason; the command
# follows. Its stderr is the journal.
fatal_case() {
	desc=$1 want=$2 why=$3
	shift 3
	flog=$dir/fatal.$n
	: >"$flog"
	JOURNAL_STREAM=$(stat -c '%d:%i' "$flog") "$@" 2>>"$flog" >/dev/null
	rc=$?
	sed 's/^/# fatal: /' "$flog"
	check "$desc: exit status $want" [ "$rc" -eq "$want" ]
	check "... the reason at error priority" grep -Eq -- "^<3>$why" "$flog"
	check "... and why it did not start, with the status" \
	    grep -q "^<3>not starting: .*(exit status $want)\$" "$flog"
}
fatal_case "bad command line" 2 "--log-level: must be" \
    "$MSIVD" --foreground --log-level loud
printf '[msivd]\nlog_level = loud\n' >"$dir/bad.conf"
fatal_case "bad configuration file" 3 ".*bad.conf:2: log_level must be" \
    "$MSIVD" --user root --foreground --config "$dir/bad.conf" \
    --state-dir "$dir" --socket "$dir/bad.sock"
mkdir "$dir/open" && chmod 0777 "$dir/open"
fatal_case "state directory others may write" 4 \
    "state directory .*/open is mode 0777: .* refusing it" \
    "$MSIVD" --user root --foreground --config "$conf" \
    --state-dir "$dir/open" --socket "$dir/open.sock"
# A socket another msivd listens on.
mkdir -m 0700 "$dir/busy"
"$MSIVD" --user root --foreground --config "$conf" --state-dir "$dir/busy" \
    --socket "$dir/busy.sock" 2>"$dir/busy/log" >/dev/null &
dpid=$!
wait_up "$dir/busy.sock" "$dpid"
mkdir -m 0700 "$dir/busy2"
fatal_case "socket in use" 5 ".*busy.sock: another msivd is already listening" \
    "$MSIVD" --user root --foreground --config "$conf" \
    --state-dir "$dir/busy2" --socket "$dir/busy.sock"
stop "$dir/busy.sock"
if [ "$(id -u)" -eq 0 ]; then
	mkdir -m 0700 "$dir/priv"
	fatal_case "no such service user" 11 "user msiv-no-such-user: no such user" \
	    "$MSIVD" --user msiv-no-such-user --foreground --config "$conf" \
	    --state-dir "$dir/priv" --socket "$dir/priv.sock"
else
	for t in 1 2 3; do skip "the privilege drop needs root"; done
fi

# --- sessions at debug; msivctl log-level ------------------------------------
mkdir -m 0700 "$dir/s"
slog=$dir/s/stderr
sock=$dir/s/s.sock
ctl() { "$MSIVCTL" --socket "$sock" "$@"; }
printf '[msivd]\nlog_level = info\n[device sim0]\nbackend = sim\nslots = 8\n' \
    >"$dir/info.conf"
"$MSIVD" --user root --foreground --config "$dir/info.conf" --state-dir "$dir/s" \
    --socket "$sock" 2>>"$slog" >/dev/null &
dpid=$!
wait_up "$sock" "$dpid"
for i in 1 2 3 4 5; do ctl status >/dev/null; done
settle "$sock"
check "at info: msivctl sessions log no open or close" \
    [ "$(count "$slog" 'session [0-9]+.*(closed|tenant)')" -eq 0 ]
out=$(ctl log-level); rc=$?
check "msivctl log-level: prints the level in force (info)" \
    [ "$rc.$out" = "0.info" ]
out=$(ctl log-level debug); rc=$?
check "msivctl log-level debug: says so" \
    [ "$rc.$out" = "0.log level debug (was info)" ]
check "... logged, naming the session" \
    wait_line "$slog" 'msivd info: log level set to debug \(was info\) by session [0-9]+'
before=$(count "$slog" 'msivd debug: session [0-9]+ .* closed')
for i in 1 2 3 4 5; do ctl status >/dev/null; done
settle "$sock"
after=$(count "$slog" 'msivd debug: session [0-9]+ .* closed')
check "at debug, set at run time: the sessions' closes are logged" \
    [ "$after" -ge $((before + 5)) ]
check "... and their opens" wait_line "$slog" 'msivd debug: session [0-9]+: pid .* tenant'
out=$(ctl --json log-level info); rc=$?
check "msivctl --json log-level info" sh -c \
    '[ $1 -eq 0 ] && printf "%s" "$2" | grep -q "\"level\": *\"info\"" &&
    printf "%s" "$2" | grep -q "\"previous\": *\"debug\""' - "$rc" "$out"
check "... logged at info" \
    wait_line "$slog" 'msivd info: log level set to info \(was debug\)'
before=$(count "$slog" 'session [0-9]+.*(closed|tenant)')
for i in 1 2 3; do ctl status >/dev/null; done
settle "$sock"
check "back at info: no session lines again" \
    [ "$(count "$slog" 'session [0-9]+.*(closed|tenant)')" -eq "$before" ]
ctl log-level error >/dev/null
check "log-level error: the change itself is logged at error, so it shows" \
    wait_line "$slog" 'msivd error: log level set to error \(was info\)'
ctl log-level info >/dev/null
ctl log-level loud >/dev/null 2>&1; rc=$?
check "log-level with no such level: usage, exit 2" [ "$rc" -eq 2 ]
check "... the daemon's level unchanged" [ "$(ctl log-level)" = info ]
stop "$sock"
sed 's/^/# msivd: /' "$slog"

echo "1..$n"
[ "$failed" -eq 0 ]
