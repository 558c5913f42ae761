/* The responder's request logic as a pure function: method, headers, body,
 * the config and the clock in; status, reply and jobs out. No I/O. */
#ifndef ZOOM2S3_WEBHOOK_H
#define ZOOM2S3_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "job.h"

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
};

/* Fills reply. When reply->n_jobs > 0 the caller spools them and answers
 * reply->status only if that worked (503 otherwise). */
void webhook_handle(const struct config *cfg, const struct webhook_request *req,
		    struct webhook_reply *reply);
void webhook_reply_free(struct webhook_reply *reply);

#endif
