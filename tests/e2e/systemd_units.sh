#!/bin/sh
# The service examples (docs/service/*.in): systemd-analyze verify accepts
# each unit without a word, with ExecStart= pointing at this build's
# spooler and the man pages of Documentation= found in this build; the
# hardening the issue asks for is there; the cron line names the spooler
# with --once; and the installed copies (make's) carry no @placeholder@.
set -u
src=${top_srcdir:-.}
b=${top_builddir:-.}
units="zoom2s3-spooler.service zoom2s3-spooler-once.service zoom2s3-spooler-once.path
zoom2s3-spooler-once.timer zoom2s3-backfill.service zoom2s3-backfill.timer"

. "$src/tests/rig/tap.sh"
tap_need systemd-analyze:systemd man:man-db

tmp=$(mktemp -d)
tap_on_exit 'rm -rf "$tmp"'
mkdir -p "$tmp/units" "$tmp/man/man8" "$tmp/man/man5"
for f in "$b"/docs/man/*.8; do cp "$f" "$tmp/man/man8/"; done
for f in "$b"/docs/man/*.5; do cp "$f" "$tmp/man/man5/"; done
for u in $units; do
	sed -e "s|@bindir@|$b/src|g" -e "s|@docdir@|/usr/share/doc/zoom2s3|g" \
		"$src/docs/service/$u.in" >"$tmp/units/$u"
done
[ -x "$b/src/zoom2s3-spooler" ] && [ -x "$b/src/zoom2s3ctl" ]
ok $? "the spooler and zoom2s3ctl are built (ExecStart= names them)"

cd "$tmp/units" || exit 1
# shellcheck disable=SC2086
MANPATH="$tmp/man" SYSTEMD_LOG_COLOR=0 systemd-analyze verify $units >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 0 ] && [ ! -s "$tmp/out" ]
ok $? "systemd-analyze verify: every unit accepted, not a single message" "$(cat "$tmp/out")"

# It does notice a broken unit (so the check above can fail).
sed 's|^ExecStart=.*|ExecStart=/nonexistent/zoom2s3-spooler --watch|' zoom2s3-spooler.service \
	>"$tmp/broken.service"
MANPATH="$tmp/man" systemd-analyze verify "$tmp/broken.service" >"$tmp/out2" 2>&1
[ -s "$tmp/out2" ]
ok $? "a unit whose ExecStart= is missing is reported" "$(cat "$tmp/out2")"

for u in zoom2s3-spooler.service zoom2s3-spooler-once.service zoom2s3-backfill.service; do
	for want in 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ReadWritePaths=/var/spool/zoom2s3' \
		'User=zoom2s3' 'PrivateTmp=yes'; do
		grep -qx "$want" "$u"
		ok $? "$u: $want"
	done
	others=$(grep '^ReadWritePaths=' "$u" | grep -v -e '=/var/spool/zoom2s3$' \
		-e '=-/var/lib/prometheus/node-exporter$')
	[ -z "$others" ]
	ok $? "$u: nothing else writable" "$others"
done
grep -q -- '--watch$' zoom2s3-spooler.service
ok $? "zoom2s3-spooler.service runs --watch"
grep -q -- '--once$' zoom2s3-spooler-once.service
ok $? "zoom2s3-spooler-once.service runs --once"
grep -qx 'PathChanged=/var/spool/zoom2s3/new' zoom2s3-spooler-once.path &&
	grep -qx 'Unit=zoom2s3-spooler-once.service' zoom2s3-spooler-once.path
ok $? "the .path unit fires on new/ and starts the --once service"
grep -q '^OnCalendar=' zoom2s3-spooler-once.timer
ok $? "the .timer unit runs it on a calendar"

# The daily reconciliation: zoom2s3ctl backfill --since 2d, as the spooler's user.
grep -qx 'ExecStart=.*/zoom2s3ctl -c /etc/zoom2s3/spooler.conf backfill --since 2d' \
	zoom2s3-backfill.service && grep -qx 'Type=oneshot' zoom2s3-backfill.service
ok $? "zoom2s3-backfill.service runs backfill --since 2d once"
grep -qx 'OnCalendar=daily' zoom2s3-backfill.timer && grep -qx 'Persistent=true' zoom2s3-backfill.timer &&
	grep -qx 'Unit=zoom2s3-backfill.service' zoom2s3-backfill.timer
ok $? "zoom2s3-backfill.timer starts it daily, catching up a missed day"
bline=$(grep -v '^#' "$src/docs/service/zoom2s3-backfill.cron.in" | grep .)
echo "$bline" | grep -Eq '^[0-9]+ [0-9]+ \* \* \* zoom2s3 @bindir@/zoom2s3ctl -c [^ ]+ backfill --since 2d >/dev/null$'
ok $? "the backfill cron line: once a day, the user zoom2s3, backfill --since 2d" "$bline"
out=$("$b/src/zoom2s3ctl" backfill --since 2d --bogus 2>&1)
[ $? -eq 2 ] && echo "$out" | grep -q 'unknown argument'
ok $? "the units' zoom2s3ctl knows backfill and checks its arguments" "$out"

line=$(grep -v '^#' "$src/docs/service/zoom2s3-spooler.cron.in" | grep .)
echo "$line" | grep -Eq '^[*/0-9,-]+ [*/0-9,-]+ [*/0-9,-]+ [*/0-9,-]+ [*/0-9,-]+ zoom2s3 @bindir@/zoom2s3-spooler -c [^ ]+ --once$'
ok $? "the cron line: five time fields, the user, the spooler --once" "$line"

bad=""
for f in zoom2s3-spooler.service zoom2s3-spooler-once.service zoom2s3-spooler-once.path \
	zoom2s3-spooler-once.timer zoom2s3-spooler.cron zoom2s3-backfill.service \
	zoom2s3-backfill.timer zoom2s3-backfill.cron; do
	if [ ! -f "$b/docs/service/$f" ]; then
		bad="$bad $f(not built)"
	elif grep -q '@[a-z_]*@' "$b/docs/service/$f"; then
		bad="$bad $f"
	fi
done
[ -z "$bad" ]
ok $? "the examples make installs are built with their paths filled in" "$bad"
tap_finish
