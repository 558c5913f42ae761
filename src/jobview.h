/* What zoom2s3ctl shows of a job: one summary row per job file, ages and
 * sizes for people, the same rows as JSON for scripts, and the whole job
 * with its tokens masked. Pure functions: no I/O, the clock passed in. */
#ifndef ZOOM2S3_JOBVIEW_H
#define ZOOM2S3_JOBVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "job.h"
#include "spoolrepair.h"

#define JOBVIEW_ERROR_SHORT 60 /* characters of last_error in a list line */

/* One job as `list` and `status` see it. Text fields are "" when absent. */
struct jobview_row {
	char name[SPOOL_NAME_MAX];
	enum spool_state state;
	bool unparsable;         /* the file is not a job: only name and since hold */
	char topic[512];
	char file_type[64];
	int64_t file_size;       /* -1: unknown */
	int64_t attempts;        /* -1: unknown */
	time_t since;            /* what the age counts from, see jobview_since */
	time_t mtime;            /* of the job file: in new/, when its last try failed */
	time_t next_attempt_at;  /* 0: none (due at once) */
	enum spool_result running; /* cur/ only: spool_cur_held's SPOOL_RUNNING or
				    * SPOOL_ABANDONED; anything else: unknown */
	char s3_key[1100];
	char last_error[1024];
	char removal[128];       /* done/: the file in Zoom (retention_describe),
				  * filled by the caller; "" when not shown */
	char claimed_by[300];    /* HOST:PID of the spooler that holds or last held it */
};

/* The moment a job's age counts from: received_at (or requeued_at, when
 * later) in new/ and cur/, completed_at in done/, failed_at in failed/; the
 * file's mtime when the field is absent or malformed (or job is NULL). */
time_t jobview_since(const struct job *job, enum spool_state st, time_t mtime);

/* Fills row from a job file; job NULL: the file did not parse. running is
 * left -1 (the caller probes cur/ jobs). */
void jobview_row_fill(struct jobview_row *row, enum spool_state st,
		      const struct spool_entry *entry, const struct job *job);

/* "45s", "12m", "2h 05m", "3d 04h"; negative ages show as "0s". */
const char *jobview_age(long long seconds, char *buf, size_t size);

/* "512 B", "340.0 KiB", "12.3 MiB", "1.50 GiB"; "-" when negative. */
const char *jobview_size(int64_t bytes, char *buf, size_t size);

/* text cut to at most max characters (UTF-8 sequences kept whole; control
 * characters become '?'), "..." marking a cut. */
const char *jobview_shorten(const char *text, size_t max, char *buf, size_t size);

/* The column titles of jobview_line, and one row as a line (no newline). */
const char *jobview_header(void);
int jobview_line(const struct jobview_row *row, time_t now, char *buf, size_t size);

/* One row as a JSON object (no newline): state, name, topic, file_type,
 * file_size, attempts, since, age_seconds, next_attempt_at, running (cur/),
 * s3_key, last_error (whole), removal, unparsable. -1 when buf is too
 * small. */
int jobview_json(const struct jobview_row *row, time_t now, char *buf, size_t size);

/* s as a JSON string with its quotes; UTF-8 passes, control characters
 * are escaped. -1 when out is too small. */
int jobview_json_string(const char *s, char *out, size_t size);

/* The job pretty-printed, every value of a member whose name holds
 * "token", "secret" or "password" replaced by "***", and every URL's query
 * string redacted (log_scrub). malloc'd, NULL when out of memory. */
char *jobview_masked(const struct job *job);

/* "90" or "90s", "15m", "6h", "2d" -> seconds. -1 on anything else. */
int jobview_parse_duration(const char *text, long *seconds);

#endif
