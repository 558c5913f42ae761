#!/bin/sh
# The four man pages, as make built them (install paths filled in): each
# renders with `man --warnings -l` without a single warning, has its NAME
# and SYNOPSIS or DESCRIPTION, keeps no @placeholder@, and every page that
# SEE ALSO names is one of ours or a system page that exists.
set -u
b=${top_builddir:-.}
pages="zoom2s3.fcgi.8 zoom2s3-spooler.8 zoom2s3ctl.8 zoom2s3.conf.5"

. "${top_srcdir:-.}/tests/rig/tap.sh"
tap_need man:man-db groff:groff-base

tmp=$(mktemp -d)
tap_on_exit 'rm -rf "$tmp"'

# renders "$1" with man --warnings -l at 80 columns: no warning at all
renders_clean() {
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$1" >"$tmp/out" 2>"$tmp/err" &&
		[ ! -s "$tmp/err" ]
}
for p in $pages; do
	f="$b/docs/man/$p"
	if [ ! -f "$f" ]; then
		ok 1 "$p is built" "$f is missing"
		continue
	fi
	renders_clean "$f"
	ok $? "$p renders with man --warnings -l, no warning" "$(cat "$tmp/err")"
	grep -q '^NAME' "$tmp/out" && grep -Eq '^(SYNOPSIS|DESCRIPTION)' "$tmp/out"
	ok $? "$p has NAME and SYNOPSIS/DESCRIPTION"
	grep -n '@[a-zA-Z_]*@' "$f" >"$tmp/ph"
	[ ! -s "$tmp/ph" ]
	ok $? "$p keeps no @placeholder@" "$(cat "$tmp/ph")"
	# SEE ALSO: name(section) references
	missing=""
	LC_ALL=C MANWIDTH=80 man -l "$f" >"$tmp/ascii" 2>/dev/null
	for ref in $(awk '/^SEE ALSO/ {on = 1; next} on && /^$/ {exit} on' "$tmp/ascii" |
		grep -o '[a-z0-9.-][a-z0-9.-]*([0-9])'); do
		name=${ref%(*}
		sec=$(echo "$ref" | sed 's/.*(\(.\))/\1/')
		[ -f "$b/docs/man/$name.$sec" ] && continue
		man -w "$sec" "$name" >/dev/null 2>&1 || missing="$missing $ref"
	done
	[ -z "$missing" ]
	ok $? "$p: every page SEE ALSO names exists" "missing:$missing"
done

# A prefix as long as make distcheck's deep in a clone's directory: every
# path in the pages must still break to fit the line.
long=/srv/a_rather_long_directory_name/that_an_operator_might_pick/for_zoom2s3_under_opt
mkdir "$tmp/long"
make -s -C "$b" man-pages-to DIR="$tmp/long" prefix="$long" >"$tmp/make" 2>&1
ok $? "the pages for a prefix of ${#long} characters are made" "$(cat "$tmp/make")"
for p in $pages; do
	grep -q a_rather_long "$tmp/long/$p" && renders_clean "$tmp/long/$p"
	ok $? "$p with that prefix renders with no warning" "$(cat "$tmp/err")"
done
tap_finish
