/* Zoom's REST API as zoom2s3ctl backfill and the spooler's retention call
 * it: each request made with the app's token (zoomauth_api_request, one
 * refresh after a 401), and a 429 waited out (its Retry-After, else a
 * growing delay) and tried again, a bounded number of times. Counts what it
 * sent, for the backfill's summary and the bench. */
#ifndef ZOOM2S3_ZOOMAPI_H
#define ZOOM2S3_ZOOMAPI_H

#include <signal.h>
#include <stddef.h>

#include "config.h"
#include "http.h"
#include "outcome.h"
#include "zoomauth.h"

#define ZOOMAPI_MAX_TRIES 8       /* per call, the 429s included */
#define ZOOMAPI_MAX_WAIT 300      /* a longer Retry-After (a daily quota) is not waited out */
#define ZOOMAPI_FIRST_DELAY 1     /* seconds after a 429 without Retry-After; doubles */
#define ZOOMAPI_URL_MAX 4096

/* The scopes of a Server-to-Server OAuth app that each call needs, as
 * Zoom names them (granular, then classic); docs/DEPLOY.md lists them. */
#define ZOOMAPI_SCOPE_LIST_USERS "user:read:list_users:admin (classic: user:read:admin)"
#define ZOOMAPI_SCOPE_LIST_RECORDINGS \
	"cloud_recording:read:list_user_recordings:admin (classic: recording:read:admin)"
#define ZOOMAPI_SCOPE_DELETE_FILE \
	"cloud_recording:delete:recording_file:admin (classic: recording:write:admin)"

struct zoomapi {
	struct zoomauth *za;          /* borrowed */
	struct http_client *client;   /* borrowed */
	stop_flag_t *stop;  /* may be NULL: a wait ends early once set */
	int max_tries;                /* 0: ZOOMAPI_MAX_TRIES */
	long max_wait;                /* 0: ZOOMAPI_MAX_WAIT */
	unsigned long requests;       /* requests sent (each try counts) */
	unsigned long rate_limited;   /* 429 answers waited out */
	long waited;                  /* seconds spent waiting them out */
};

/* One request (req->url, req->method, req->what; the Bearer is the app's). OUTCOME_DONE when
 * an answer other than 429 arrived (resp->status says which); a 429 still
 * answered after max_tries, or whose Retry-After is over max_wait, is
 * OUTCOME_RETRY with why in res; a transport failure as zoomauth_api_request
 * reports it. resp needs http_response_free. */
enum outcome zoomapi_call(struct zoomapi *api, const struct http_request *req,
			  struct http_response *resp, struct result *res);

/* The delay before try number `retry` (1 for the first retry) after a 429
 * that said retry_after (0: none): retry_after itself, else
 * ZOOMAPI_FIRST_DELAY doubled per retry, capped at 60. */
long zoomapi_delay(long retry_after, int retry);

/* "Zoom's users API answered 400 Bad Request (code 300: ...)": status and
 * Zoom's own error, for a message. */
void zoomapi_describe(const struct http_response *resp, const char *what, char *buf,
		      size_t size);

#endif
