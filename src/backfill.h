/* zoom2s3ctl backfill: finds through Zoom's API the recordings whose
 * webhook never came, and spools each selected file exactly as its webhook
 * would have (webhook_select: the same selection, job, name and key), with
 * event "backfill" and no download_token.
 *
 * Users: the account's (GET /users, every page, active then inactive), or
 * the --user values. Recordings: GET /users/{id}/recordings per user, in
 * windows of at most BACKFILL_WINDOW_DAYS days, every page. A 429 is waited
 * out (zoomapi.c). One output line per selected file, then a summary. */
#ifndef ZOOM2S3_BACKFILL_H
#define ZOOM2S3_BACKFILL_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "config.h"
#include "stopflag.h"
#include "spool.h"

#define BACKFILL_WINDOW_DAYS 30  /* Zoom lists at most one month per request */
#define BACKFILL_PAGE_SIZE 300   /* the most GET /users/{id}/recordings gives */
#define BACKFILL_MAX_USERS 64    /* --user given at most this often */
#define BACKFILL_DAY 86400L

/* Exit statuses, the contract's. */
enum backfill_exit {
	BACKFILL_OK = 0,       /* every listing was read */
	BACKFILL_PARTIAL = 1,  /* some listing failed (what was read is spooled) */
	BACKFILL_USAGE = 2,    /* a usage or config error */
	BACKFILL_SPOOL = 3,    /* the spool cannot be used */
};

struct backfill_opts {
	time_t from, to;       /* midnight UTC of the first and the last day, inclusive */
	const char *users[BACKFILL_MAX_USERS]; /* --user values (borrowed from argv) */
	size_t n_users;
	bool dry_run;
};

/* ---- the pure parts ------------------------------------------------------ */

/* Reads the backfill's arguments (argv[0] is "backfill"): --from DATE
 * [--to DATE] or --since DURATION, --user ID_OR_EMAIL (repeatable),
 * --dry-run. DATE is YYYY-MM-DD (UTC); --to defaults to today; --since
 * counts back from now (its first day is the day now - DURATION falls on).
 * 0, or -1 with a sentence in err. */
int backfill_parse_args(int argc, char **argv, time_t now, struct backfill_opts *opts,
			char *err, size_t errlen);

/* "2026-03-01" -> midnight UTC of that day; -1 when it is not a real date
 * in that form. */
int backfill_parse_day(const char *text, time_t *day);

/* midnight UTC of t's day, as "YYYY-MM-DD" in buf (11 bytes). */
void backfill_format_day(time_t day, char *buf, size_t size);

/* The window that starts at from: its last day, at most
 * BACKFILL_WINDOW_DAYS days on and never past to. */
time_t backfill_window_end(time_t from, time_t to);

/* How many windows [from, to] takes. */
size_t backfill_count_windows(time_t from, time_t to);

/* ---- the run --------------------------------------------------------------- */

/* Lists and spools as opts says, printing to out (one line per selected
 * file and a summary) and errout (each failed listing). The spool is opened
 * without creating anything; --dry-run writes nothing. stop: a flag that
 * ends the run early (may be NULL). Returns an enum backfill_exit. */
int backfill_run(const struct config *cfg, const struct backfill_opts *opts, time_t now,
		 FILE *out, FILE *errout, stop_flag_t *stop);

#endif
