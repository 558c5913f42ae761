/* The one place that talks HTTP to Zoom: downloads of recording files
 * (streamed to a caller's sink, redirects followed by hand, every hop held
 * to download_hosts) and the small API calls zoomauth.c makes.
 *
 * curl_global_init(CURL_GLOBAL_DEFAULT) is the program's job: call it once
 * in main() before any thread starts, and curl_global_cleanup() at exit.
 * A download_client is one curl easy handle; give each worker thread its
 * own and reuse it (connections are kept alive between transfers). */
#ifndef ZOOM2S3_DOWNLOAD_H
#define ZOOM2S3_DOWNLOAD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outcome.h"
#include "stopflag.h"

#define DOWNLOAD_MAX_REDIRECTS 5
#define DOWNLOAD_HOST_MAX 256

/* ---- policy (pure) ------------------------------------------------------ */

/* True when host may be downloaded from: patterns are download_hosts
 * entries. Case-insensitive; "*.zoom.us" matches names ending in ".zoom.us"
 * (not "zoom.us" itself, nor "evilzoom.us"); an IP address (v4, or v6 with
 * or without brackets) matches only the same address, never a wildcard;
 * ports, in host or pattern, are ignored; one trailing dot is ignored. */
bool download_host_allowed(char *const *patterns, size_t n, const char *host);

/* 0 when url may be fetched: scheme https (or http when allow_http), a host
 * that download_host_allowed accepts, no userinfo, printable ASCII only (no
 * space, CR, LF, backslash), and curl reads the same host from it. Else -1
 * with a sentence in why (naming at most the host, never the query). */
int download_url_check(const char *url, char *const *patterns, size_t n, bool allow_http,
		       char *why, size_t whylen);

/* scheme://host[:port]/path of url, without userinfo, query or fragment:
 * what a log line may show. "(unparsable URL)" when it cannot be read. */
const char *download_url_display(const char *url, char *buf, size_t size);

/* ---- transfers ---------------------------------------------------------- */

struct download_client;

/* stop: the worker's flag (NULL: none); every request of this client, API
 * calls included, stops at a safe point once it is set. */
struct download_client *download_client_new(stop_flag_t *stop);
void download_client_free(struct download_client *client);

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
	char host[DOWNLOAD_HOST_MAX]; /* host of the last request */
};

/* GETs req->url, following up to DOWNLOAD_MAX_REDIRECTS redirects, each
 * checked with download_url_check; the bearer goes only to the scheme, host
 * and port of req->url. The body of a 200/206 streams to the sink: a 206
 * must start at req->offset; a 200 to a ranged request has its first offset
 * bytes skipped. Done only when offset + bytes == expected_total (when
 * known). Fills out and returns out->res.kind. */
enum outcome download_run(struct download_client *client, const struct download_request *req,
			  struct download_result *out);

/* ---- small API calls (for zoomauth.c) ------------------------------------ */

struct download_api_request {
	const char *what;            /* for messages: "Zoom's OAuth endpoint" */
	const char *method;          /* "GET" or "POST" */
	const char *url;             /* from the config: http or https, no redirects */
	const char *authorization;   /* whole header value ("Bearer x", "Basic y"), or NULL */
	const char *content_type;    /* of body, for POST */
	const char *body;
	size_t body_len;
	size_t max_response;         /* 0: 1 MiB; a longer answer is an error */
	long timeout;                /* whole exchange, seconds; 0: 60 */
	stop_flag_t *stop; /* may be NULL */
};

struct download_api_response {
	long status;
	char *body;                  /* malloc'd, NUL-terminated; NULL when none */
	size_t len;
	long retry_after;
};

/* One request, answer kept in memory. Returns OUTCOME_DONE whenever an HTTP
 * answer arrived, whatever its status (the caller reads resp->status);
 * otherwise the transport error's outcome with res->why. Free resp->body. */
enum outcome download_api_call(struct download_client *client,
			       const struct download_api_request *req,
			       struct download_api_response *resp, struct result *res);

/* "404 Not Found", "503 Service Unavailable", "599" (our table, never the
 * server's words). */
const char *download_status_text(long status, char *buf, size_t size);

#endif
