#!/bin/sh
# The Debian package, end to end (tests/run-all.sh runs this; as root):
#  1. dpkg-buildpackage -us -uc -b in a copy of the tree;
#  2. dpkg -i: binaries, man pages, configs readable by root and one group,
#     the system user, the spool and its modes, the units (not enabled);
#     zoom2s3ctl as the spooler's user and as the web server's user;
#  3. the Apache and lighttpd snippets it ships, disabled: each enabled in
#     turn (a2enconf zoom2s3, lighty-enable-mod zoom2s3), the real server
#     (re)loaded, a signed event posted through it, the job checked in the
#     spool, the snippet disabled again;
#  4. the README's demo (tests/demo.py) against the installed programs;
#  5. dpkg --purge leaves nothing of the package behind, the snippets included.
# Prints TAP; exits 0 only when every check held.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/rig/tap.sh"
finish() { tap_finish; }

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (dpkg -i)"
	[ "${ZOOM2S3_REQUIRE_ALL:-}" = 1 ] && exit 1
	exit 0
fi
for t in dpkg-buildpackage dh man systemd-analyze python3 runuser; do
	if ! command -v $t >/dev/null 2>&1; then
		echo "1..1"; echo "not ok 1 - $t is installed (tests/deps.sh)"; exit 1
	fi
done

work=$(mktemp -d /tmp/zoom2s3-deb.XXXXXX)
had_user=no
getent passwd zoom2s3 >/dev/null && had_user=yes
cleanup() {
	dpkg --purge zoom2s3 >/dev/null 2>&1 || true
	if [ "$had_user" = no ] && getent passwd zoom2s3 >/dev/null; then
		deluser --quiet --system zoom2s3 >/dev/null 2>&1 || true
		delgroup --quiet --system zoom2s3 >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
tap_on_exit cleanup
dpkg --purge zoom2s3 >/dev/null 2>&1 || true # a run that died earlier

# ---- 1. build
mkdir "$work/zoom2s3"
(cd "$top" && tar --exclude=./build --exclude=./.git -cf - .) | tar -xf - -C "$work/zoom2s3"
(cd "$work/zoom2s3" && rm -rf debian/zoom2s3 debian/.debhelper &&
	dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1
ok $? "dpkg-buildpackage -us -uc -b (as the README types it: unit tests included) builds" \
	"$(tail -n 40 "$work/build.log")"
grep -aq '^PASS: tests/unit/test_spool' "$work/build.log"
ok $? "the package build ran the unit tests" "$(grep -aE '^(PASS|FAIL|SKIP|ERROR|# )' "$work/build.log" | tail -n 30)"
deb=$(ls "$work"/zoom2s3_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || finish

# ---- 2. install
dpkg -i "$deb" >"$work/install.log" 2>&1
ok $? "dpkg -i installs it" "$(cat "$work/install.log")"
for f in /usr/bin/zoom2s3-spooler /usr/bin/zoom2s3ctl /usr/libexec/zoom2s3/zoom2s3.fcgi; do
	[ -x "$f" ]
	ok $? "$f installed"
done
for p in 8:zoom2s3.fcgi 8:zoom2s3-spooler 8:zoom2s3ctl 5:zoom2s3.conf; do
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings "${p%%:*}" "${p#*:}" 2>&1 >/dev/null)
	[ $? -eq 0 ] && [ -z "$out" ] && man -w "${p%%:*}" "${p#*:}" | grep -q '^/usr/share/man/'
	ok $? "man ${p%%:*} ${p#*:}: installed, renders without a warning" "$out"
done
mode_of() { stat -c '%U:%G %a' "$1" 2>&1; }
[ "$(mode_of /etc/zoom2s3/spooler.conf)" = "root:zoom2s3 640" ]
ok $? "spooler.conf: root:zoom2s3 0640" "$(mode_of /etc/zoom2s3/spooler.conf)"
[ "$(mode_of /etc/zoom2s3/responder.conf)" = "root:www-data 640" ]
ok $? "responder.conf: root:www-data 0640" "$(mode_of /etc/zoom2s3/responder.conf)"
grep -qx /etc/zoom2s3/spooler.conf /var/lib/dpkg/info/zoom2s3.conffiles
ok $? "the configs are conffiles (an admin's edits survive upgrades)"
uid=$(id -u zoom2s3 2>/dev/null || echo none)
[ "$uid" != none ] && [ "$uid" -lt 1000 ] && id -nG zoom2s3 | tr ' ' '\n' | grep -qx www-data
ok $? "system user zoom2s3 (uid $uid), in the spool's group www-data" "$(id zoom2s3 2>&1)"
good=yes
for d in "" /tmp /new /cur /done /failed; do
	[ "$(mode_of /var/spool/zoom2s3$d)" = "root:www-data 2770" ] || good="no: $d $(mode_of /var/spool/zoom2s3$d)"
done
[ "$(mode_of /var/spool/zoom2s3/.lock)" = "root:www-data 660" ] || good="no: .lock"
[ "$good" = yes ]
ok $? "the spool: root:www-data 2770, .lock 0660" "$good"

units="zoom2s3-spooler.service zoom2s3-spooler-once.service zoom2s3-spooler-once.path zoom2s3-spooler-once.timer zoom2s3-backfill.service zoom2s3-backfill.timer"
missing=""
for u in $units; do [ -f "/lib/systemd/system/$u" ] || missing="$missing $u"; done
[ -z "$missing" ]
ok $? "the units are in /lib/systemd/system" "missing:$missing"
out=$(cd /lib/systemd/system && SYSTEMD_LOG_COLOR=0 systemd-analyze verify $units 2>&1)
[ $? -eq 0 ] && [ -z "$out" ]
ok $? "systemd-analyze verify on the installed units: no message" "$out"
enabled=$(ls /etc/systemd/system/*.wants/ 2>/dev/null | grep zoom2s3)
[ -z "$enabled" ]
ok $? "no unit is enabled by the package" "$enabled"

out=$(runuser -u zoom2s3 -- zoom2s3ctl status 2>&1)
[ $? -eq 0 ] && echo "$out" | grep -q '^OK$'
ok $? "zoom2s3ctl status as zoom2s3 (default config /etc/zoom2s3.conf): exit 0, OK" "$out"
out=$(runuser -u www-data -- zoom2s3ctl -c /etc/zoom2s3/responder.conf list 2>&1)
ok $? "zoom2s3ctl list as www-data with the responder's config" "$out"
runuser -u www-data -- cat /etc/zoom2s3/spooler.conf >/dev/null 2>&1
[ $? -ne 0 ]
ok $? "www-data cannot read the spooler's config"
out=$(zoom2s3ctl check-config 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q 'FAIL neither program'
ok $? "check-config on the unconfigured spooler.conf: FAIL, naming what is missing" "$out"
sed -i 's/^#s3_bucket = .*/s3_bucket = example-edu-zoom-recordings/' /etc/zoom2s3/spooler.conf
out=$(runuser -u zoom2s3 -- zoom2s3ctl check-config 2>&1)
[ $? -eq 0 ] && [ "$(echo "$out" | grep -c '^ok   spool /var/spool/zoom2s3')" -eq 7 ]
ok $? "check-config as zoom2s3 once s3_bucket is set: the spool's 7 parts ok" "$out"

# ---- 3. the web servers' snippets: shipped disabled; enabled the Debian
# way, the real server (re)loaded, a signed event posted through it, the job
# checked in the spool, the snippet disabled again
apache_snip=/etc/apache2/conf-available/zoom2s3.conf
lighty_snip=/etc/lighttpd/conf-available/50-zoom2s3.conf
for f in $apache_snip $lighty_snip; do
	[ -f "$f" ] && grep -q '/usr/libexec/zoom2s3/zoom2s3.fcgi' "$f" && ! grep -q '@[A-Z_]*@' "$f" &&
		grep -qx "$f" /var/lib/dpkg/info/zoom2s3.conffiles
	ok $? "$f: shipped (a conffile), installed paths filled in" "$(cat "$f" 2>&1 | head -n 40)"
done
[ ! -e /etc/apache2/conf-enabled/zoom2s3.conf ] && [ ! -e /etc/lighttpd/conf-enabled/50-zoom2s3.conf ]
ok $? "neither snippet is enabled by the package"

secret=deb-test-secret-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
cp -p /etc/zoom2s3/responder.conf "$work/responder.conf.orig"
sed -i "s/^#webhook_secret_token = .*/webhook_secret_token = $secret/" /etc/zoom2s3/responder.conf
post_event() { # file_id: a signed recording.completed to 127.0.0.1:80; prints the status
	python3 - "$top/tests/rig" "$1" "$secret" <<'PY'
import http.client, sys
sys.path.insert(0, sys.argv[1])
import webrig
fid, secret = sys.argv[2], sys.argv[3]
body = webrig.body_of(webrig.recording_event("deb/%s==" % fid, [webrig.rec_file(fid)]))
import time
status = None
for _ in range(100):  # a server that is still (re)loading: asked again
    conn = http.client.HTTPConnection("127.0.0.1", 80, timeout=30)
    try:
        conn.request("POST", "/zoom2s3/webhook", body=body,
                     headers=webrig.signed_headers(secret, body))
        status = conn.getresponse().status
    except OSError as e:
        status = "no answer: %s" % e
    finally:
        conn.close()
    if status not in (404, 503) and not str(status).startswith("no answer"):
        break
    time.sleep(0.2)
print(status)
PY
}
pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
is_prog() { [ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]; } # pid name
port80_free() { ! ss -ltn 2>/dev/null | awk '{print $4}' | grep -qE '(^|:)80$'; }
# A signed event through the server on port 80 is answered 200 and its job
# is in the spool's new/; on failure the diagnostics command's output (run
# after the request: it says what the server did with it).
check_spooled() { # label job-name diagnostics-command
	st=$(post_event "$2")
	[ "$st" = 200 ] && [ -f "/var/spool/zoom2s3/new/$2.json" ]
	ok $? "$1: a signed event is answered 200, its job is in the spool's new/" "status $st; $($3)"
}
apache_diag() { tail -n 20 /var/log/apache2/error.log 2>&1; }
lighttpd_diag() {
	echo "lighttpd $lpid $(pid_alive "$lpid" && echo runs || echo "is gone")"
	cat "$work/lighttpd.out" 2>/dev/null
	tail -n 20 /var/log/lighttpd/error.log 2>&1
	ss -ltnp 2>&1 | grep -E ':80 '
}

# Apache + mod_fcgid: a2enconf zoom2s3
if [ ! -x /usr/sbin/apache2 ] || [ ! -f /etc/apache2/mods-available/fcgid.load ]; then
	echo "ok $((n + 1)) - Apache: a2enconf zoom2s3 # SKIP apache2 or libapache2-mod-fcgid is not installed"
	n=$((n + 1))
else
	apid=$(cat /run/apache2/apache2.pid 2>/dev/null)
	is_prog "$apid" apache2 || apid=""
	started=no
	fcgid_was=$([ -e /etc/apache2/mods-enabled/fcgid.load ] && echo on || echo off)
	out=$( { a2enmod -q fcgid && a2enconf -q zoom2s3; } 2>&1)
	ok $? "a2enmod fcgid && a2enconf zoom2s3" "$out"
	if pid_alive "$apid"; then
		out=$(apache2ctl graceful 2>&1)
	elif port80_free; then
		out=$(apache2ctl start 2>&1) && started=yes
	else
		out="port 80 is taken by another server"
	fi
	ok $? "Apache (re)loaded with the snippet" "$out"
	check_spooled Apache deb-apache-1 apache_diag
	out=$(a2disconf -q zoom2s3 2>&1)
	ok $? "a2disconf zoom2s3" "$out"
	[ "$fcgid_was" = on ] || a2dismod -q fcgid >/dev/null 2>&1
	if [ $started = yes ]; then
		apache2ctl stop >/dev/null 2>&1
		# until its last process let go of port 80 (a bound, not a timing)
		for _ in $(seq 300); do
			! pid_alive "$(cat /run/apache2/apache2.pid 2>/dev/null)" && port80_free && break
			sleep 0.1
		done
	elif pid_alive "$apid"; then
		apache2ctl graceful >/dev/null 2>&1
	fi
	rm -f /var/spool/zoom2s3/new/deb-apache-1.json
fi

# lighttpd: lighty-enable-mod zoom2s3
if ! command -v lighttpd >/dev/null 2>&1 || ! command -v lighty-enable-mod >/dev/null 2>&1; then
	echo "ok $((n + 1)) - lighttpd: lighty-enable-mod zoom2s3 # SKIP lighttpd is not installed"
	n=$((n + 1))
else
	lpid=$(cat /run/lighttpd.pid 2>/dev/null)
	is_prog "$lpid" lighttpd || lpid=""
	started=no
	out=$(lighty-enable-mod zoom2s3 2>&1)
	[ -L /etc/lighttpd/conf-enabled/50-zoom2s3.conf ]
	ok $? "lighty-enable-mod zoom2s3" "$out"
	if [ -n "$lpid" ]; then
		out=$(kill -USR1 "$lpid" 2>&1)  # lighttpd's graceful restart
	elif port80_free; then
		# in the foreground, in the background: its PID is ours to stop
		out=$(lighttpd -tt -f /etc/lighttpd/lighttpd.conf 2>&1) && {
			lighttpd -D -f /etc/lighttpd/lighttpd.conf >"$work/lighttpd.out" 2>&1 &
			lpid=$!
			started=yes
		}
	else
		out="port 80 is taken by another server"
	fi
	ok $? "lighttpd (re)loaded with the snippet" "$out"
	check_spooled lighttpd deb-lighttpd-1 lighttpd_diag
	out=$(lighty-disable-mod zoom2s3 2>&1)
	[ ! -e /etc/lighttpd/conf-enabled/50-zoom2s3.conf ]
	ok $? "lighty-disable-mod zoom2s3" "$out"
	if [ $started = yes ]; then
		kill "$lpid" 2>/dev/null
		wait "$lpid" 2>/dev/null
	fi
	rm -f /var/spool/zoom2s3/new/deb-lighttpd-1.json
fi
cp -p "$work/responder.conf.orig" /etc/zoom2s3/responder.conf

# ---- 4. the demo against the installed programs
mkdir -p "$work/demo/src"
ln -s /usr/libexec/zoom2s3/zoom2s3.fcgi "$work/demo/src/zoom2s3.fcgi"
ln -s /usr/bin/zoom2s3-spooler "$work/demo/src/zoom2s3-spooler"
python3 "$top/tests/demo.py" --builddir "$work/demo" >"$work/demo.log" 2>&1
ok $? "the README's demo passes with the installed zoom2s3.fcgi and zoom2s3-spooler" \
	"$(tail -n 40 "$work/demo.log")"

# ---- 5. purge
dpkg --purge zoom2s3 >"$work/purge.log" 2>&1
ok $? "dpkg --purge" "$(cat "$work/purge.log")"
left=""
for f in /usr/bin/zoom2s3-spooler /usr/bin/zoom2s3ctl /usr/libexec/zoom2s3 /etc/zoom2s3 \
	/etc/zoom2s3.conf /var/spool/zoom2s3 /var/lib/zoom2s3 /usr/share/doc/zoom2s3 \
	/usr/share/man/man8/zoom2s3ctl.8.gz /lib/systemd/system/zoom2s3-spooler.service \
	$apache_snip $lighty_snip /etc/apache2/conf-enabled/zoom2s3.conf \
	/etc/lighttpd/conf-enabled/50-zoom2s3.conf; do
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done
[ -z "$left" ]
ok $? "nothing of the package is left" "left:$left"
dpkg-query -W -f='${Status}' zoom2s3 2>/dev/null | grep -q 'installed'
[ $? -ne 0 ]
ok $? "dpkg knows it no more"
finish
