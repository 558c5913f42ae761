#!/bin/sh
# The Debian package, end to end (tests/run-all.sh runs this; as root):
#  1. dpkg-buildpackage -us -uc -b in a copy of the tree;
#  2. dpkg -i: binaries, man pages, configs readable by root and one group,
#     the system user, the spool and its modes, the units (not enabled);
#     zoom2s3ctl as the spooler's user and as the web server's user;
#  3. the README's demo (tests/demo.py) against the installed programs;
#  4. dpkg --purge leaves nothing of the package behind.
# Prints TAP; exits 0 only when every check held.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
n=0
fails=0
ok() { # status name [diag]
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fails=$((fails + 1))
		[ -n "${3:-}" ] && printf '%s\n' "$3" | tail -n 40 | sed 's/^/# /'
	fi
}
finish() {
	echo "1..$n"
	[ $fails -eq 0 ] && exit 0
	exit 1
}

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
trap cleanup EXIT
dpkg --purge zoom2s3 >/dev/null 2>&1 || true # a run that died earlier

# ---- 1. build
mkdir "$work/zoom2s3"
(cd "$top" && tar --exclude=./build --exclude=./.git -cf - .) | tar -xf - -C "$work/zoom2s3"
(cd "$work/zoom2s3" && rm -rf debian/zoom2s3 debian/.debhelper &&
	dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1
ok $? "dpkg-buildpackage -us -uc -b (as the README types it: unit tests included) builds" \
	"$(tail -n 40 "$work/build.log")"
grep -q '^PASS: tests/unit/test_spool' "$work/build.log"
ok $? "the package build ran the unit tests" "$(grep -E '^(PASS|FAIL|SKIP|ERROR|# )' "$work/build.log" | tail -n 30)"
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

units="zoom2s3-spooler.service zoom2s3-spooler-once.service zoom2s3-spooler-once.path zoom2s3-spooler-once.timer"
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

# ---- 3. the demo against the installed programs
mkdir -p "$work/demo/src"
ln -s /usr/libexec/zoom2s3/zoom2s3.fcgi "$work/demo/src/zoom2s3.fcgi"
ln -s /usr/bin/zoom2s3-spooler "$work/demo/src/zoom2s3-spooler"
python3 "$top/tests/demo.py" --builddir "$work/demo" >"$work/demo.log" 2>&1
ok $? "the README's demo passes with the installed zoom2s3.fcgi and zoom2s3-spooler" \
	"$(tail -n 40 "$work/demo.log")"

# ---- 4. purge
dpkg --purge zoom2s3 >"$work/purge.log" 2>&1
ok $? "dpkg --purge" "$(cat "$work/purge.log")"
left=""
for f in /usr/bin/zoom2s3-spooler /usr/bin/zoom2s3ctl /usr/libexec/zoom2s3 /etc/zoom2s3 \
	/etc/zoom2s3.conf /var/spool/zoom2s3 /var/lib/zoom2s3 /usr/share/doc/zoom2s3 \
	/usr/share/man/man8/zoom2s3ctl.8.gz /lib/systemd/system/zoom2s3-spooler.service; do
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done
[ -z "$left" ]
ok $? "nothing of the package is left" "left:$left"
dpkg-query -W -f='${Status}' zoom2s3 2>/dev/null | grep -q 'installed'
[ $? -ne 0 ]
ok $? "dpkg knows it no more"
finish
