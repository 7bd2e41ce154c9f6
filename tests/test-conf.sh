#!/bin/sh
# msivd.conf is checked strictly and every error names its file and line
# (msivd.conf(5)): msivd --check-config on good and bad files, the same
# errors from a start, and the documented examples (the README's and
# msivd.conf(5)'s) parse. TAP output; no daemon keeps running.
set -u

: "${MSIVD:?run through make check}" "${top_srcdir:?}"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else nok "$desc"; fi; }
has() { printf '%s\n' "$1" | grep -q -F -- "$2"; }

dir=$(mktemp -d /tmp/msiv-conf-XXXXXX)
trap 'rm -rf "$dir"' EXIT
f=$dir/msivd.conf

# check TEXT STATUS FRAGMENT: --check-config of a file holding TEXT exits
# STATUS and prints FRAGMENT (stdout and stderr).
conf() {
	printf "$1" >"$f"
	out=$("$MSIVD" --check-config "$f" 2>&1); rc=$?
	check "$3: exit $2" [ $rc -eq "$2" ]
	check "... says \"$4\"" has "$out" "$4"
}

conf '[msivd]\nmax_rate = 5\n[device s]\nbackend = sim\nslots = 4\n' 0 \
    "a good file" "$f: valid"
conf '# a comment\n; another\n[msivd]\n  # an indented comment\nmax_rate = 5\n' \
    0 "comments starting with # or ;" "valid"
conf '[msivd]\nmax_rate = 5\n\n[msivd]\nmax_queued = 64\n' 3 \
    "a section given twice" "$f:4: duplicate section [msivd] (first at line 1)"
conf '[device a]\nbackend = sim\nslots = 4\n[device a]\nslots = 8\n' 3 \
    "a device given twice" "$f:4: duplicate section [device a] (first at line 1)"
conf '[tenant t]\nuids = 4001\n; a comment\nuids = 4002\n' 3 \
    "a key given twice" "$f:4: duplicate key uids in [tenant t] (first at line 2)"
conf '[auto nic]\nmatch = 0000:03:00.0  # the NIC\n' 3 \
    "a # comment after a value" "$f:2: match: a # after a value is not a comment"
conf '[msivd]\ndelivery_shards = 4\n[device s]\nbackend = sim\nslots = 4\nshard = spread\n' 0 \
    "delivery_shards and shard = spread" "valid"
conf '[msivd]\ndelivery_shards = auto\n[device s]\nbackend = sim\nslots = 4\nshard = 63\n[device t]\nbackend = sim\nslots = 4\nshard = auto\n' 0 \
    "delivery_shards = auto, shard = 63 and auto" "valid"
conf '[msivd]\ndelivery_shards = 0\n' 3 \
    "delivery_shards = 0" "$f:2: delivery_shards must be auto or 1 to 64, not \"0\""
conf '[msivd]\ndelivery_shards = 65\n' 3 \
    "delivery_shards = 65" "$f:2: delivery_shards must be auto or 1 to 64, not \"65\""
conf '[device s]\nbackend = sim\nslots = 4\nshard = 64\n' 3 \
    "shard = 64" "$f:4: device s: shard must be auto, spread or 0 to 63, not \"64\""
conf '[device s]\nbackend = sim\nslots = 4\nshard = wide\n' 3 \
    "shard = wide" "$f:4: device s: shard must be auto, spread or 0 to 63, not \"wide\""
conf '[msivd]\nlog_level = info\n  max_rate = 5\n' 3 \
    "an indented line after a setting (an INI continuation)" \
    "$f:3: a line that starts with white space continues the value of log_level"
conf '[msivd]\nmax_rate = 5\nthis is not ini\n' 3 \
    "a line that is not INI" "$f:3: syntax error"
conf '[msivd]\nadmin_group = no-such-group-msiv\n' 3 \
    "an unknown admin_group" "$f:2: admin_group: no such group \"no-such-group-msiv\""
conf '[msivd]\nmax_rate = 5\n[device d]\nbackend = sim\n' 3 \
    "a device without slots: the line of its section" "$f:3: [device d] needs slots"
conf '[msivd]\nfrob = 1\nmax_rate = 5\nmax_rate = 6\n' 3 \
    "the first error is the one reported" "$f:2: unknown key \"frob\""
long=$(printf '%0250d' 0)
conf "[msivd]\nsocket = /$long\n" 3 "a line longer than 200 characters" \
    "$f:2: line too long"

out=$("$MSIVD" --check-config "$dir/missing.conf" 2>&1); rc=$?
check "--check-config of a missing file: exit 3" [ $rc -eq 3 ]
check "... naming it" has "$out" "$dir/missing.conf: No such file"
printf '[msivd]\nmax_rate = 5\nmax_rate = 5\n' >"$f"
out=$("$MSIVD" --config "$f" --check-config 2>&1); rc=$?
check "--check-config without a file checks --config's: exit 3" [ $rc -eq 3 ]
check "... with file:line" has "$out" "$f:3: duplicate key max_rate"
"$MSIVD" --check-config a b >/dev/null 2>&1
check "--check-config with two files: exit 2" [ $? -eq 2 ]

# A start reports the same error and exits 3, before opening anything
# (one that starts all the same is stopped after 20 s at most).
"$MSIVD" --foreground --user root --config "$f" --state-dir "$dir" \
    --socket "$dir/s.sock" >"$dir/out" 2>&1 &
pid=$!
i=0
while [ $i -lt 400 ] && kill -0 $pid 2>/dev/null; do
	sleep 0.05
	i=$((i + 1))
done
kill $pid 2>/dev/null
wait $pid; rc=$?
check "msivd with a duplicate key: exit 3" [ $rc -eq 3 ]
check "... with file:line" grep -q -F "$f:3: duplicate key max_rate" "$dir/out"

# The documented examples parse.
out=$("$MSIVD" --check-config "$top_srcdir/examples/msivd.conf" 2>&1)
check "examples/msivd.conf is valid" [ $? -eq 0 ]
sed -n '/^      # This address/,/^      match = 1234:11e8/s/^      //p' \
    "$top_srcdir/README.md" >"$f"
out=$("$MSIVD" --check-config "$f" 2>&1); rc=$?
check "the README's [auto] example is valid: $out" [ $rc -eq 0 ]
check "... and it is there" grep -q "^\[auto edu\]" "$f"
sed -n '/^\.SH EXAMPLE/,/^\.fi/p' "$top_srcdir/man/msivd.conf.5" |
    sed -e '/^\./d' -e 's/\\-/-/g' >"$f"
# Its names need not exist here: admin_group, a vfio device.
sed -i -e '/^admin_group/d' "$f"
out=$("$MSIVD" --check-config "$f" 2>&1); rc=$?
check "msivd.conf(5)'s EXAMPLE is valid: $out" [ $rc -eq 0 ]

echo "1..$n"
[ $failed -eq 0 ]
