/* The responder's request logic as a pure function: method, headers, body,
 * the config and the clock in; status, reply and jobs out. No I/O.
 *
 * Its second half, from a meeting object to the jobs of the files the
 * selection takes (topic_regex, file_types, min_duration, status, and the
 * key_template with its collision rule), is webhook_select: the one code
 * path for a webhook's payload.object and for a meeting that the backfill
 * found in the recordings API. */
#ifndef ZOOM2S3_WEBHOOK_H
#define ZOOM2S3_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "job.h"
#include "zoomjson.h"

/* The most recording_files entries an event may list; more is answered 400.
 * Zoom sends a handful; a signed body of max_body_bytes could otherwise list
 * ~15000, and the responder must answer within Zoom's 3 seconds. */
#define WEBHOOK_MAX_FILES 1000

struct webhook_request {
	const char *method;      /* REQUEST_METHOD */
	const char *signature;   /* x-zm-signature, NULL when absent */
	const char *timestamp;   /* x-zm-request-timestamp, NULL when absent */
	const char *body;
	size_t body_len;
	time_t now;
};

/* A recording file of the meeting that the selection took (its file_type is
 * wanted) but cannot spool: no id, no download_url, a status other than
 * completed, or listed twice. */
struct webhook_skip {
	char *file_id;   /* NULL when the entry has none */
	char *reason;    /* "no download_url", "status \"processing\"", ... */
};

struct webhook_reply {
	int status;              /* 200, 400, 401, 405, 413; 503 when out of memory */
	char *body;              /* malloc'd JSON text, or NULL for an empty body */
	struct job **jobs;       /* malloc'd; jobs to spool before answering */
	size_t n_jobs;
	char note[256];          /* why, for the log line (never a secret) */
	char **notes;            /* malloc'd: one line per recording file skipped
				  * for a fault (no id or download_url, status
				  * not completed...), each to be logged; never
				  * a secret */
	size_t n_notes;
	bool signed_with_previous; /* the signature was made with
				    * webhook_secret_token_previous */
	/* What the selection saw of the meeting (for a caller that reports per
	 * meeting, such as the backfill). */
	bool topic_ignored;        /* topic_regex did not match: nothing taken */
	size_t n_files;            /* recording_files entries */
	size_t n_other_type, n_short, n_faulty; /* not taken: file_type, min_duration,
						 * a fault (each in skipped) */
	struct webhook_skip *skipped;
	size_t n_skipped;
};

/* Fills reply. When reply->n_jobs > 0 the caller spools them and answers
 * reply->status only if that worked (503 otherwise). */
void webhook_handle(const struct config *cfg, const struct webhook_request *req,
		    struct webhook_reply *reply);

/* The selection for one meeting object, whoever found it: a webhook's
 * payload.object or a meeting of the recordings API's listing. Each job gets
 * meeting->event as "event", meeting->download_token (when not NULL), and
 * received_at = now. reply is filled from scratch: status 200 with the jobs
 * (keys made by the collision rule, in payload order), notes, skipped files
 * and counts; 503 (no job) when out of memory. */
void webhook_select(const struct config *cfg, const struct zevent *meeting, time_t now,
		    struct webhook_reply *reply);

void webhook_reply_free(struct webhook_reply *reply);

#endif
