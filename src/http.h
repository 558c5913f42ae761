/* The one HTTP layer: every request the programs make (S3, Zoom's
 * downloads and APIs, AWS credential endpoints, test-webhook) goes through
 * here. It owns the curl easy handles, their common setup (timeouts, CA
 * file, proxy, "User-Agent: zoom2s3/VERSION", http(s) only), redirects
 * followed by hand under the caller's policy, bounded capture of the
 * answer's headers and body or a streaming sink, a streaming upload source,
 * the stop flag, and the mapping of the result to the outcome convention
 * (outcome.c's one table). The clients keep only their protocol.
 *
 * curl_global_init(CURL_GLOBAL_DEFAULT) is the program's job: once, in
 * main(), before any thread starts. An http_client is one easy handle:
 * give each thread its own and reuse it, so connections are kept alive
 * between requests. Nothing here retries or sleeps. */
#ifndef ZOOM2S3_HTTP_H
#define ZOOM2S3_HTTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outcome.h"
#include "stopflag.h"

#define HTTP_BODY_MAX_DEFAULT (1024 * 1024) /* captured body, when the request says 0 */
#define HTTP_HEADERS_MAX (32 * 1024)        /* captured header bytes of one answer */
#define HTTP_ERROR_MAX 256
#define HTTP_REQUEST_ID_MAX 256
#define HTTP_SOURCE_ABORT ((size_t)-1)

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_DELETE };

struct http_header {
	const char *name;
	const char *value; /* sent as is: printable ASCII only (checked) */
};

struct http_response;

/* Called once when the headers of the final answer are complete (not for
 * a 1xx, nor for a redirect that is followed), before any byte of its body.
 * 0 to go on; anything else stops the exchange (resp->refused; the
 * callback's owner knows why). */
typedef int (*http_headers_fn)(void *ctx, const struct http_response *resp);

/* Receives the body of a 2xx final answer, in order. 0 to go on; anything
 * else stops it (resp->sink_failed). Other answers' bodies are captured
 * (bounded) for the error message instead. */
typedef int (*http_sink_fn)(void *ctx, const struct http_response *resp, const void *data,
			    size_t len);

/* Fills buf with up to len bytes of the request body; 0 at its end,
 * HTTP_SOURCE_ABORT to stop the exchange (resp->source_failed). */
typedef size_t (*http_source_fn)(void *ctx, void *buf, size_t len);

/* Starts the source over from its first byte (curl resends a body on a
 * fresh connection). 0, or -1 when it cannot. */
typedef int (*http_rewind_fn)(void *ctx);

/* Called often while bytes move; must not block. */
typedef void (*http_progress_fn)(void *ctx, uint64_t received, uint64_t sent);

/* Decides whether a redirect to url may be followed: 0 yes; -1 no, with a
 * phrase in why that names at most the host (never a query string). */
typedef int (*http_redirect_fn)(const void *ctx, const char *url, char *why, size_t whylen);

struct http_request {
	const char *what;                 /* for messages: "Zoom's OAuth endpoint" */
	enum http_method method;
	const char *url;
	/* The whole Authorization value ("Bearer x", "Basic y", a SigV4
	 * signature) or NULL. Never logged; never sent to another scheme, host
	 * or port than url's after a redirect; refused (not sent, logged) when
	 * it holds bytes a header cannot carry. */
	const char *authorization;
	const struct http_header *headers; /* more request headers */
	size_t n_headers;

	/* The body to send (POST, PUT): either in memory ... */
	const void *body;
	size_t body_len;
	/* ... or streamed (body NULL): source_len bytes from source. */
	http_source_fn source;
	http_rewind_fn rewind;            /* NULL: a resend fails */
	void *source_ctx;
	uint64_t source_len;

	/* The answer: the headers callback, then a 2xx body to sink; without a
	 * sink the body is captured into resp->body, at most max_body bytes (0:
	 * HTTP_BODY_MAX_DEFAULT; a longer 2xx answer fails, RETRY). */
	http_headers_fn on_headers;
	http_sink_fn sink;
	void *ctx;                        /* for on_headers and sink */
	size_t max_body;
	http_progress_fn progress;
	void *progress_ctx;
	const char *range;                /* "N-" for Range: bytes=N-, or NULL */

	/* Redirects: at most max_redirects are followed (0: a 3xx is the
	 * answer), each one first put to redirect (NULL: any http(s) URL). */
	int max_redirects;
	http_redirect_fn redirect;
	const void *redirect_ctx;

	/* Transport. 0 takes the default. */
	long connect_timeout_ms;          /* default 30 s */
	long timeout_ms;                  /* the whole exchange; default none */
	long low_speed_limit;             /* bytes/s ... default 1024 */
	long low_speed_time;              /* ... for this long is a stall; default 60 */
	long recv_buffer;                 /* curl's receive buffer, bytes */
	long send_buffer;                 /* curl's upload buffer, bytes */
	const char *ca_file;              /* NULL: the system's */
	bool no_proxy;                    /* true: never through a proxy (IMDS) */
	stop_flag_t *stop;      /* NULL, or a flag besides the client's */
};

struct http_response {
	/* The one table (outcome.c) applied to the exchange: DONE for a 2xx;
	 * from the status for another answer; from curl's code when no answer
	 * came, or when it was cut. */
	enum outcome outcome;
	bool answered;        /* a whole status line and headers arrived */
	long status;          /* of the final answer, 0 when none */
	int curl_code;        /* CURLcode of the last request */
	bool stopped;         /* a stop flag ended it (outcome RETRY) */
	bool refused;         /* on_headers stopped it */
	bool sink_failed;     /* the sink stopped it */
	bool source_failed;   /* the source stopped it */
	bool body_over;       /* a captured body passed max_body (2xx: RETRY) */
	bool redirect_refused; /* the redirect policy said no (GIVEUP) */
	int redirects;        /* redirects followed */
	char *url;            /* the URL of the last request (malloc'd) */
	char error[HTTP_ERROR_MAX]; /* why no usable answer came; "" otherwise */

	/* From the final answer's headers. */
	char content_type[128];
	int64_t content_length;   /* -1 when absent */
	long retry_after;         /* seconds (delta or HTTP date), 0 when absent */
	/* The server's id of the request, for the log: x-amz-request-id
	 * ("x-amz-id-2" appended), or Zoom's x-zm-trackingid; "" when none. */
	char request_id[HTTP_REQUEST_ID_MAX];

	char *body;               /* captured body, NUL-terminated, or NULL */
	size_t body_len;
	uint64_t body_bytes;      /* bytes given to the sink */

	char *headers_raw;        /* internal: "name\0value\0" pairs */
	size_t headers_len;
};

struct http_client;

/* stop (may be NULL) is polled during every request of this client. NULL
 * when out of memory. */
struct http_client *http_client_new(stop_flag_t *stop);
void http_client_free(struct http_client *client);

/* Performs req (following redirects as it says) and fills resp; returns
 * resp->outcome. resp needs http_response_free, whatever the result. */
enum outcome http_run(struct http_client *client, const struct http_request *req,
		      struct http_response *resp);

/* Frees what resp holds (wiping the captured body: it may hold a token). */
void http_response_free(struct http_response *resp);

/* The trimmed value of the final answer's header name (any case), or NULL. */
const char *http_header(const struct http_response *resp, const char *name);

/* r set for resp the standard way: "WHAT could not be reached: ERROR",
 * "WHAT answered 404 Not Found (request id X)", or done. Returns r->kind. */
enum outcome http_result(const struct http_response *resp, const char *what,
			 struct result *r);

/* "404 Not Found", "503 Service Unavailable", "599": our words, never the
 * server's. */
const char *http_status_text(long status, char *buf, size_t size);

/* " (request id X)" for a message, or "" when the answer carried none. */
const char *http_request_id_note(const struct http_response *resp, char *buf, size_t size);

/* Scheme, host and port of a and b are the same (what a credential may
 * follow). false when either cannot be read. */
bool http_same_origin(const char *a, const char *b);

/* Retry-After's value: delta-seconds, or an HTTP date relative to now;
 * 0 when unreadable or past, capped at a week. */
long http_parse_retry_after(const char *value, long now);

#endif
