/* backfill.c's pure parts: the arguments of zoom2s3ctl backfill, days and
 * windows of at most 30 days; and zoomapi.c's delay after a 429. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backfill.h"
#include "tap.h"
#include "zoomapi.h"

#define NOW ((time_t)1780000000) /* 2026-05-28T20:26:40Z */

static time_t day(const char *text)
{
	time_t t = 0;

	if (backfill_parse_day(text, &t) < 0)
		printf("# cannot parse %s\n", text);
	return t;
}

static int parse(struct backfill_opts *o, char *err, size_t errlen, ...)
{
	char *argv[32] = { "backfill" };
	int argc = 1;
	va_list ap;

	va_start(ap, errlen);
	for (char *a; argc < 31 && (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	err[0] = '\0';
	return backfill_parse_args(argc, argv, NOW, o, err, errlen);
}

static void refused(const char *want, const char *name, ...)
{
	char *argv[32] = { "backfill" };
	struct backfill_opts o;
	char err[256] = "";
	int argc = 1, rc;
	va_list ap;

	va_start(ap, name);
	for (char *a; argc < 31 && (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	rc = backfill_parse_args(argc, argv, NOW, &o, err, sizeof err);
	if (!ok(rc == -1 && strstr(err, want), "%s", name))
		printf("#   rc %d, err '%s', want '%s'\n", rc, err, want);
}

static void test_days(void)
{
	time_t t;
	char buf[16];

	ok(backfill_parse_day("2026-03-01", &t) == 0 && t == 1772323200, "2026-03-01 is midnight UTC");
	ok(backfill_parse_day("2024-02-29", &t) == 0, "a leap day");
	ok(backfill_parse_day("2026-02-29", &t) < 0, "no 2026-02-29");
	ok(backfill_parse_day("2026-3-1", &t) < 0, "YYYY-MM-DD only");
	ok(backfill_parse_day("2026-03-01T00:00:00Z", &t) < 0, "a date, not a time");
	ok(backfill_parse_day("", &t) < 0 && backfill_parse_day(NULL, &t) < 0, "empty or none");
	backfill_format_day(day("2026-12-31"), buf, sizeof buf);
	is_str(buf, "2026-12-31", "format_day");
}

static void test_args(void)
{
	struct backfill_opts o;
	char err[256];

	ok(parse(&o, err, sizeof err, "--since", "2d", NULL) == 0, "--since 2d");
	ok(o.from == day("2026-05-26") && o.to == day("2026-05-28"),
	   "  ... from the day 48 h ago to today");
	ok(!o.dry_run && o.n_users == 0, "  ... no dry run, every user");
	ok(parse(&o, err, sizeof err, "--since", "36h", NULL) == 0 && o.from == day("2026-05-27"),
	   "--since 36h starts on the day now - 36 h falls on");
	ok(parse(&o, err, sizeof err, "--from", "2026-01-01", NULL) == 0 &&
		   o.from == day("2026-01-01") && o.to == day("2026-05-28"),
	   "--from alone: to today");
	ok(parse(&o, err, sizeof err, "--from", "2026-01-01", "--to", "2026-01-31", "--dry-run",
		 "--user", "a@example.com", "--user", "U2", NULL) == 0,
	   "--from --to --dry-run --user twice");
	ok(o.to == day("2026-01-31") && o.dry_run && o.n_users == 2 &&
		   strcmp(o.users[0], "a@example.com") == 0 && strcmp(o.users[1], "U2") == 0,
	   "  ... all kept in order");
	ok(parse(&o, err, sizeof err, "--from", "2026-05-28", "--to", "2026-05-28", NULL) == 0,
	   "one day, today");

	refused("give --from DATE", "nothing: says what to give", NULL);
	refused("--since goes without", "--since with --from", "--since", "2d", "--from",
		"2026-01-01", NULL);
	refused("--since goes without", "--since with --to", "--to", "2026-01-01", "--since", "2d",
		NULL);
	refused("give --from DATE", "--to alone", "--to", "2026-01-01", NULL);
	refused("--since takes a duration", "--since 2x", "--since", "2x", NULL);
	refused("--from takes a date", "--from 01/02/2026", "--from", "01/02/2026", NULL);
	refused("--to takes a date", "--to 2026-13-01", "--from", "2026-01-01", "--to",
		"2026-13-01", NULL);
	refused("is after --to", "--from after --to", "--from", "2026-02-01", "--to", "2026-01-31",
		NULL);
	refused("in the future", "--to tomorrow", "--from", "2026-05-01", "--to", "2026-05-29",
		NULL);
	refused("needs a value", "--user without a value", "--since", "1d", "--user", NULL);
	refused("needs a value", "--from empty", "--from", "", NULL);
	refused("given twice", "--from twice", "--from", "2026-01-01", "--from", "2026-01-02",
		NULL);
	refused("unknown argument", "an unknown option", "--since", "1d", "--all", NULL);
}

static void test_windows(void)
{
	time_t from = day("2026-01-01"), to = day("2026-03-12");

	ok(backfill_window_end(from, to) == day("2026-01-30"), "a window is 30 days, inclusive");
	ok(backfill_window_end(day("2026-03-02"), to) == to, "the last one ends at --to");
	is_int(backfill_count_windows(from, to), 3, "71 days: three windows");
	is_int(backfill_count_windows(from, day("2026-01-30")), 1, "30 days: one window");
	is_int(backfill_count_windows(from, day("2026-01-31")), 2, "31 days: two windows");
	is_int(backfill_count_windows(from, from), 1, "one day: one window");
	is_int(backfill_count_windows(day("2025-01-01"), day("2025-12-31")), 13,
	       "a year: 13 windows");
}

static void test_delay(void)
{
	is_int(zoomapi_delay(7, 1), 7, "Retry-After is waited as it says");
	is_int(zoomapi_delay(0, 1), 1, "no Retry-After: 1 s first");
	is_int(zoomapi_delay(0, 2), 2, "  ... then 2 s");
	is_int(zoomapi_delay(0, 4), 8, "  ... doubling");
	is_int(zoomapi_delay(0, 30), 60, "  ... capped at 60 s");
}

int main(void)
{
	test_days();
	test_args();
	test_windows();
	test_delay();
	return done_testing();
}
