/* Downloads of recording files from Zoom: streamed to a caller's sink
 * over http.c (one http_client per worker thread), every redirect held to
 * download_hosts by urlpolicy.c, and nothing but the recording ever given
 * to the sink. */
#ifndef ZOOM2S3_DOWNLOAD_H
#define ZOOM2S3_DOWNLOAD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "outcome.h"
#include "urlpolicy.h"

#define DOWNLOAD_MAX_REDIRECTS 5

/* Receives the body in order, from the requested offset on. Returns 0 to go
 * on; anything else stops the transfer (the result then says sink_failed
 * and the sink's owner knows why). Never called for an error page. */
typedef int (*download_sink_fn)(void *ctx, const void *data, size_t len);

/* Called often during a transfer: done = offset + bytes delivered so far,
 * total = expected_total (-1 unknown). Must not block. */
typedef void (*download_progress_fn)(void *ctx, uint64_t done, int64_t total);

struct download_request {
	const char *url;
	const char *bearer;          /* NULL: no Authorization header */
	uint64_t offset;             /* first byte wanted (Range: bytes=N-) */
	int64_t expected_total;      /* file_size; -1 when unknown */
	char *const *hosts;          /* download_hosts */
	size_t n_hosts;
	bool allow_http;
	download_sink_fn sink;
	void *sink_ctx;
	download_progress_fn progress; /* NULL: none */
	void *progress_ctx;
	stop_flag_t *stop; /* NULL, or a flag besides the client's */
	long connect_timeout;        /* seconds; 0: 30 */
	long low_speed_time;         /* a stall is below low_speed_limit bytes/s for this long; 0: 60 */
	long low_speed_limit;        /* bytes/s; 0: 1024 */
};

struct download_result {
	struct result res;       /* outcome and, unless done, a readable why */
	bool auth_refused;       /* 401/403 or an HTML page: a fresh token or link may help */
	bool gone;               /* 404/410 */
	bool stopped;            /* the stop flag ended it (outcome retry) */
	bool sink_failed;        /* the sink refused data: its owner has the reason */
	bool range_ignored;      /* offset > 0 answered by 200: the bytes before it were skipped */
	long http_status;        /* of the last response, 0 when none */
	int curl_code;           /* CURLcode of the last request */
	long retry_after;        /* seconds from Retry-After on 429/503, else 0 */
	int redirects;           /* redirects followed */
	uint64_t bytes;          /* bytes given to the sink in this call */
	int64_t total;           /* the file's length as the server announced it, -1 unknown */
	char content_type[128];  /* of the last response, "" when none */
	char host[URLPOLICY_HOST_MAX]; /* host of the last request */
};

/* GETs req->url, following up to DOWNLOAD_MAX_REDIRECTS redirects, each
 * checked with urlpolicy_check; the bearer goes only to the scheme, host
 * and port of req->url. The body of a 200/206 streams to the sink: a 206
 * must start at req->offset; a 200 to a ranged request has its first offset
 * bytes skipped. Done only when offset + bytes == expected_total (when
 * known). Fills out and returns out->res.kind. */
enum outcome download_run(struct http_client *client, const struct download_request *req,
			  struct download_result *out);

#endif
