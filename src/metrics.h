/* The spooler's metrics, as a file for the Prometheus node_exporter
 * textfile collector (config key metrics_file): jobs by spool state, bytes
 * uploaded, transfer seconds, transfers by outcome, failed tries by reason
 * class, and the time of the last success. The file is replaced atomically
 * (a temporary file in the same directory, then rename), at the end of each
 * run and periodically under --watch. The counters carry on from the file
 * an earlier run wrote, so they keep counting across cron runs. */
#ifndef ZOOM2S3_METRICS_H
#define ZOOM2S3_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "outcome.h"
#include "spool.h"

/* Why a try failed, in a few classes an operator acts on differently
 * (docs/OPERATIONS.md has what to do about each). */
enum metrics_reason {
	REASON_ZOOM_AUTH,        /* Zoom refused the token; OAuth/JWT app problems */
	REASON_ZOOM_GONE,        /* Zoom no longer has the recording (404, 410) */
	REASON_ZOOM_UNAVAILABLE, /* Zoom unreachable, 5xx, 429, a download cut off */
	REASON_DOWNLOAD_CONTENT, /* the bytes were not the recording: count, range */
	REASON_S3_CREDENTIALS,   /* no AWS credentials, or S3 refused them */
	REASON_S3_BUCKET,        /* no such bucket, wrong s3_region */
	REASON_S3_UNAVAILABLE,   /* S3 unreachable, 5xx, SlowDown, timeouts */
	REASON_S3_REFUSED,       /* another S3 refusal (a 4xx, the clock) */
	REASON_POLICY,           /* the job or config forbids it: host, key, fields */
	REASON_SPOOL,            /* the spool could not record progress */
	REASON_OTHER,
	REASON_COUNT
};

/* "zoom_auth", "zoom_gone", ... (the label values of the file). */
const char *metrics_reason_name(enum metrics_reason reason);

/* The class of a result's why (a "gave up after N attempts: " prefix is
 * looked through). */
enum metrics_reason metrics_classify(const char *why);

enum metrics_outcome { MO_DONE, MO_RETRY, MO_GIVEUP, MO_STOPPED, MO_COUNT };

/* What became of one removal of a file from Zoom (retention.c). */
enum metrics_removal { RM_TRASH, RM_DELETE, RM_GONE, RM_ERROR, RM_COUNT };

struct metrics_counters {
	uint64_t uploaded_bytes;        /* sizes of the files that reached done/ */
	double transfer_seconds;
	uint64_t transfers[MO_COUNT];
	uint64_t failures[REASON_COUNT]; /* failed tries (retry or give up) */
	time_t last_success;             /* 0: none known */
	uint64_t removals[RM_COUNT];     /* files removed from Zoom, by result */
};

struct metrics; /* thread-safe: the spooler's workers note, its loop writes */

/* path NULL: metrics are off (every call does nothing). The counters start
 * from the file at path when it holds them. NULL when out of memory. */
struct metrics *metrics_new(const char *path);
void metrics_free(struct metrics *m);
bool metrics_enabled(const struct metrics *m);

/* One finished try. stopped: interrupted by SIGTERM/SIGINT (not a
 * failure). bytes: the file's size when the outcome is done. */
void metrics_note(struct metrics *m, const struct result *r, bool stopped, uint64_t bytes,
		  double seconds, time_t now);

/* One removal of a file from Zoom, by its result. */
void metrics_note_removal(struct metrics *m, enum metrics_removal result);

/* Counts the jobs in each state of sp and replaces the file. 0, or -1 with
 * err (nothing is replaced then). */
int metrics_write(struct metrics *m, struct spool *sp, time_t now, char *err, size_t errlen);

/* ---- the pure parts, exposed for the tests ---- */

/* The file's text. jobs: the count in each spool state (indexed by enum
 * spool_state; a negative count is left out). malloc'd, NULL when out of
 * memory. */
char *metrics_format(const struct metrics_counters *c, const long jobs[5], time_t now);

/* Reads the counters back from a file metrics_format wrote; lines it does
 * not know are ignored. */
void metrics_parse(const char *text, struct metrics_counters *c);

#endif
