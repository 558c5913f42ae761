/* Retention in Zoom: with zoom_after_upload = trash or delete, the spooler
 * removes from Zoom's cloud each recording file whose job is in done/ with
 * a completed_at at least zoom_after_upload_delay ago and no
 * zoom_removed_at. First a HEAD of the job's s3_key must show an object of
 * file_size bytes whose metadata names this Zoom file id; then one DELETE
 * of that one file (never a whole meeting). The result goes into the done/
 * job (spool_edit_done, under the spool's protocol): zoom_removed_at and
 * zoom_removal (trash, delete, or gone on a 404), or zoom_removal_error,
 * tried again on a later pass. Each removal is one log line.
 *
 * --once makes one bounded pass after its transfers; --watch runs passes
 * on a thread of their own, so a slow Zoom never holds up a transfer. */
#ifndef ZOOM2S3_RETENTION_H
#define ZOOM2S3_RETENTION_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "job.h"
#include "metrics.h"
#include "s3.h"
#include "spool.h"

#define RETENTION_EVERY 300         /* --watch: seconds between passes */
#define RETENTION_ONCE_MAX 500      /* removals tried in one --once pass */
#define RETENTION_WATCH_MAX 50      /* ... in one --watch pass */

/* Where a done/ job stands with respect to its file in Zoom. */
enum retention_state {
	RETENTION_OFF,      /* zoom_after_upload = keep: nothing is ever removed */
	RETENTION_NOT_OURS, /* no completed_at: not a job zoom2s3 completed */
	RETENTION_WAITING,  /* completed_at + zoom_after_upload_delay is still ahead */
	RETENTION_DUE,      /* to be removed now */
	RETENTION_ERROR,    /* the last try failed (zoom_removal_error): due again */
	RETENTION_REMOVED,  /* zoom_removed_at: trashed, deleted, or gone */
};

/* ---- the pure parts -------------------------------------------------------- */

/* The job's state at now; *due_at (may be NULL) gets when it is or was due
 * (0 when that is unknown). */
enum retention_state retention_state_of(const struct config *cfg, const struct job *job,
					time_t now, time_t *due_at);

/* A done job that still awaits removal (waiting, due, or an error to
 * retry): status counts it, prune keeps it. */
bool retention_awaits(enum retention_state st);

/* For zoom2s3ctl list: "trash", "delete", "gone", "waiting 3d 04h", "due",
 * "error: ..." (cut short), or "" (retention off, or not ours). */
void retention_describe(const struct config *cfg, const struct job *job, time_t now,
			char *buf, size_t size);

/* Whether obj is the upload of job: it exists, has file_size bytes and
 * names recording_file_id in its metadata, in the bucket the job names
 * (which must be s3_bucket). 0, or -1 with why (a sentence for
 * zoom_removal_error). */
int retention_verify(const struct config *cfg, const struct job *job,
		     const struct s3_object *obj, char *why, size_t whylen);

/* DELETE {zoom_api_url}/meetings/{uuid, double-encoded}/recordings/{file id}
 * ?action=ACTION into out. -1 when it does not fit. */
int retention_delete_url(const char *api_url, const char *meeting_uuid, const char *file_id,
			 enum zoom_after_upload action, char *out, size_t size);

/* ---- the work -------------------------------------------------------------- */

struct retention_counts {
	size_t removed, gone, errors, busy; /* busy: another process held the job */
};

struct retention;

/* Its own S3 client, HTTP client, AWS credentials and Zoom token cache (the
 * spool's file). metrics may be NULL. NULL with err on a config the S3
 * client refuses, or out of memory. With zoom_after_upload = keep every
 * pass does nothing. */
struct retention *retention_new(const struct config *cfg, struct spool *sp,
				struct metrics *metrics, stop_flag_t *stop, char *err,
				size_t errlen);
void retention_free(struct retention *r);

/* One pass over done/: every due job (up to max removals tried), in name
 * order. Counts what it did into *counts (may be NULL). -1 when done/
 * cannot be listed or a job cannot be rewritten (logged). */
int retention_pass(struct retention *r, time_t now, size_t max, struct retention_counts *counts);

/* --watch: a thread that makes a pass (RETENTION_WATCH_MAX) at once and
 * every RETENTION_EVERY seconds until retention_stop or *stop. */
int retention_start(struct retention *r);
void retention_stop(struct retention *r);

#endif
