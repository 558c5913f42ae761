/* Downloads from Zoom: the checks that keep anything but the recording out
 * of the sink (an HTML page, a wrong range, a length other than file_size),
 * over http.c with every redirect held to urlpolicy.c. See download.h. */
#include <ctype.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "download.h"
#include "log.h"
#include "urlpolicy.h"

#define SNIFF_LEN 512             /* body bytes held back until vetted */
#define DISCARD_MAX (1024 * 1024) /* error bodies read at most */
/* curl's receive buffer for a download (its default is 16 KiB): each
 * recv() and each call of the sink takes up to this much, so a GiB costs
 * ~4,000 system calls and callbacks instead of ~65,000. Larger saves little
 * more CPU and costs memory per worker (docs/BENCHMARKS.md). */
#define DOWNLOAD_BUFFER_SIZE (256L * 1024)

/* ---- one transfer's state ------------------------------------------------ */

/* What the headers of the current answer said about its range. */
struct range {
	bool has_range;
	uint64_t first, last;
	int64_t total;              /* -1 for "*" */
};

/* Why a transfer was cut by us rather than by the network. */
enum fault {
	FAULT_NONE,
	FAULT_STOPPED,
	FAULT_HTML,
	FAULT_RANGE,
	FAULT_LONG,      /* more bytes than expected_total */
	FAULT_SHORT,     /* a shorter length announced */
	FAULT_SINK,
	FAULT_DISCARDED, /* an error or redirect body too long to read: status decides */
};


struct xfer {
	const struct download_request *req;
	struct download_result *out;
	long status;
	struct range range;
	int64_t content_length;
	bool deliver;              /* this body goes to the sink */
	bool sniffing;             /* holding the first bytes back */
	uint64_t skip;             /* raw bytes still to drop (200 to a Range) */
	size_t discarded;
	unsigned char held[SNIFF_LEN];
	size_t held_len;
	enum fault fault;
	char fault_why[256];
};


static void set_fault(struct xfer *x, enum fault f, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_fault(struct xfer *x, enum fault f, const char *fmt, ...)
{
	va_list ap;

	if (x->fault != FAULT_NONE)
		return;
	x->fault = f;
	va_start(ap, fmt);
	vsnprintf(x->fault_why, sizeof x->fault_why, fmt, ap);
	va_end(ap);
}

/* ---- the answer's headers ---------------------------------------------- */

/* The most digits of a Content-Range number: 19 stays under 2^63. */
#define U64_DIGITS 19

/* "bytes FIRST-LAST/TOTAL", or with "*" for the total. */
static void parse_content_range(struct range *r, const char *v)
{
	size_t len = v ? strlen(v) : 0;
	const char *dash, *slash, *end = v + len;
	uint64_t total;

	memset(r, 0, sizeof *r);
	r->total = -1;
	if (len < 6 || strncasecmp(v, "bytes ", 6) != 0)
		return;
	v += 6;
	dash = memchr(v, '-', (size_t)(end - v));
	slash = dash ? memchr(dash, '/', (size_t)(end - dash)) : NULL;
	if (!slash)
		return;
	if (urlpolicy_decimal(v, (size_t)(dash - v), U64_DIGITS, &r->first) < 0 ||
	    urlpolicy_decimal(dash + 1, (size_t)(slash - dash - 1), U64_DIGITS, &r->last) < 0 ||
	    r->last < r->first)
		return;
	if (end - slash == 2 && slash[1] == '*')
		r->total = -1;
	else if (urlpolicy_decimal(slash + 1, (size_t)(end - slash - 1), U64_DIGITS, &total) == 0 &&
		 total <= INT64_MAX)
		r->total = (int64_t)total;
	else
		return;
	r->has_range = true;
}

/* ---- body checks ---------------------------------------------------------- */

static bool content_type_is_html(const char *ct)
{
	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, "text/html", 9) == 0 ||
	       strncasecmp(ct, "application/xhtml", 17) == 0;
}

/* Zoom's error page, whatever its Content-Type says. Only asked about the
 * first bytes of a file: no recording format starts like this. */
static bool body_looks_html(const unsigned char *p, size_t len)
{
	static const char *const starts[] = { "<!doctype html", "<html" };
	size_t i = 0;

	if (len >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		i = 3;
	while (i < len && isspace(p[i]))
		i++;
	for (size_t s = 0; s < 2; s++) {
		size_t n = strlen(starts[s]);

		if (len - i >= n && strncasecmp((const char *)p + i, starts[s], n) == 0)
			return true;
	}
	return false;
}

/* Where this response's body starts in the file, or -1 (fault set). */
static int64_t body_start(struct xfer *x)
{
	const struct range *r = &x->range;

	if (x->status == 200)
		return 0;
	if (!r->has_range) {
		set_fault(x, FAULT_RANGE, "Zoom answered 206 without a usable Content-Range");
		return -1;
	}
	if (r->first != x->req->offset) {
		set_fault(x, FAULT_RANGE, "Zoom answered a range starting at byte %" PRIu64
			  " instead of %" PRIu64, r->first, x->req->offset);
		return -1;
	}
	return (int64_t)r->first;
}

/* The file's full length as announced: Content-Range's total, else the
 * Content-Length of a whole-file answer. */
static int64_t announced_total(const struct xfer *x)
{
	if (x->status == 206)
		return x->range.total;
	return x->content_length;
}

/* Judges the headers of the final answer before any byte of a 200/206
 * reaches the sink (http.c's on_headers). 0 to go on, -1 to stop (fault
 * set). */
static int decide(void *ctx, const struct http_response *resp)
{
	struct xfer *x = ctx;
	int64_t start, total, expected = x->req->expected_total;

	x->status = resp->status;
	x->content_length = resp->content_length;
	parse_content_range(&x->range, http_header(resp, "Content-Range"));
	x->deliver = false;
	if (x->status != 200 && x->status != 206)
		return 0;
	if (content_type_is_html(resp->content_type)) {
		set_fault(x, FAULT_HTML, "Zoom answered with an HTML page instead of the recording "
			  "(the file was deleted, or the token was refused)");
		return -1;
	}
	start = body_start(x);
	if (start < 0)
		return -1;
	total = announced_total(x);
	x->out->total = total;
	if (expected >= 0 && total >= 0 && total != expected) {
		set_fault(x, total > expected ? FAULT_LONG : FAULT_SHORT,
			  "Zoom announced %" PRId64 " bytes but file_size is %" PRId64, total,
			  expected);
		return -1;
	}
	if (x->status == 200 && x->req->offset > 0) {
		x->skip = x->req->offset;
		x->out->range_ignored = true;
	}
	x->sniffing = start == 0;
	x->deliver = true;
	return 0;
}

/* Drops skipped bytes, checks the length, hands the rest to the sink. */

static int deliver(struct xfer *x, const unsigned char *p, size_t len)
{
	const struct download_request *req = x->req;
	uint64_t n;

	if (x->skip) {
		n = x->skip < len ? x->skip : len;
		x->skip -= n;
		p += n;
		len -= n;
	}
	if (len == 0)
		return 0;
	if (req->expected_total >= 0 &&
	    req->offset + x->out->bytes + len > (uint64_t)req->expected_total) {
		set_fault(x, FAULT_LONG, "Zoom sent more bytes than file_size (%" PRId64 ")",
			  req->expected_total);
		return -1;
	}
	if (req->sink(req->sink_ctx, p, len) != 0) {
		set_fault(x, FAULT_SINK, "the upload side stopped taking data");
		return -1;
	}
	x->out->bytes += len;
	return 0;
}

/* Ends the sniffing: refuses an HTML body, else releases the held bytes. */
static int release_held(struct xfer *x)
{
	x->sniffing = false;
	if (body_looks_html(x->held, x->held_len)) {
		set_fault(x, FAULT_HTML, "Zoom answered with an HTML page instead of the recording "
			  "(the file was deleted, or the token was refused)");
		return -1;
	}
	return deliver(x, x->held, x->held_len);
}


/* http.c's sink: the body of a 2xx answer. */
static int on_body(void *ctx, const struct http_response *resp, const void *data, size_t len)
{
	struct xfer *x = ctx;
	const unsigned char *p = data;
	size_t take;

	(void)resp;
	if (!x->deliver) { /* a 2xx that is not the file: read a little, then stop */
		x->discarded += len;
		if (x->discarded <= DISCARD_MAX)
			return 0;
		set_fault(x, FAULT_DISCARDED, "an over-long body");
		return -1;
	}
	if (x->sniffing) {
		take = SNIFF_LEN - x->held_len < len ? SNIFF_LEN - x->held_len : len;
		memcpy(x->held + x->held_len, p, take);
		x->held_len += take;
		p += take;
		len -= take;
		if (x->held_len < SNIFF_LEN)
			return 0;
		if (release_held(x) < 0)
			return -1;
	}
	return deliver(x, p, len);
}

static void on_progress(void *ctx, uint64_t received, uint64_t sent)
{
	struct xfer *x = ctx;
	const struct download_request *req = x->req;

	(void)received, (void)sent;
	if (req->progress && x->deliver)
		req->progress(req->progress_ctx, req->offset + x->out->bytes, req->expected_total);
}

/* http.c's redirect policy: every hop is held to download_hosts. */
static int check_redirect(const void *ctx, const char *url, char *why, size_t whylen)
{
	const struct download_request *req = ctx;

	return urlpolicy_check(url, req->hosts, req->n_hosts, req->allow_http, why, whylen);
}

/* ---- judging the end of a transfer ----------------------------------------- */

static enum outcome judge_fault(struct xfer *x)
{
	struct download_result *out = x->out;

	switch (x->fault) {
	case FAULT_STOPPED:
		out->stopped = true;
		return result_set(&out->res, outcome_from_curl(CURLE_ABORTED_BY_CALLBACK),
				  "stopped at byte %" PRIu64 " (the program is shutting down)",
				  x->req->offset + out->bytes);
	case FAULT_HTML:
		out->auth_refused = true;
		return result_set(&out->res, outcome_from_http(403), "%s", x->fault_why);
	case FAULT_RANGE:
		return result_set(&out->res, outcome_from_curl(CURLE_RANGE_ERROR), "%s",
				  x->fault_why);
	case FAULT_LONG:
		return result_set(&out->res, outcome_from_curl(CURLE_FILESIZE_EXCEEDED), "%s",
				  x->fault_why);
	case FAULT_SHORT:
		return result_set(&out->res, outcome_from_curl(CURLE_PARTIAL_FILE), "%s",
				  x->fault_why);
	case FAULT_SINK:
		out->sink_failed = true;
		return result_set(&out->res, outcome_from_curl(CURLE_WRITE_ERROR), "%s",
				  x->fault_why);
	case FAULT_NONE:
	case FAULT_DISCARDED:
		break;
	}
	return OUTCOME_DONE;
}

static enum outcome judge_status(struct xfer *x, const struct http_response *resp)
{
	struct download_result *out = x->out;
	long status = resp->status;
	char text[64], where[URLPOLICY_HOST_MAX + 64], id[HTTP_REQUEST_ID_MAX + 16];

	http_status_text(status, text, sizeof text);
	http_request_id_note(resp, id, sizeof id);
	if (http_same_origin(resp->url, x->req->url))
		snprintf(where, sizeof where, "the download link");
	else
		snprintf(where, sizeof where, "the download's redirect to %s", out->host);
	if (status == 401 || status == 403)
		out->auth_refused = true;
	if (status == 404 || status == 410)
		out->gone = true;
	if (status >= 300 && status < 400)
		return result_set(&out->res, outcome_from_http(status),
				  "Zoom answered %s without a usable Location for %s%s", text, where,
				  id);
	if (status >= 200 && status < 300)
		return result_set(&out->res, outcome_from_curl(CURLE_WEIRD_SERVER_REPLY),
				  "Zoom answered %s for %s, not the file%s", text, where, id);
	return result_set(&out->res, outcome_from_http(status), "Zoom answered %s for %s%s", text,
			  where, id);
}

static enum outcome judge(struct xfer *x, const struct http_response *resp)
{
	struct download_result *out = x->out;
	const struct download_request *req = x->req;
	uint64_t have = req->offset + out->bytes;

	out->curl_code = resp->curl_code;
	out->http_status = resp->status;
	out->redirects = resp->redirects;
	out->retry_after = resp->retry_after;
	snprintf(out->content_type, sizeof out->content_type, "%s", resp->content_type);
	urlpolicy_host(resp->url, out->host, sizeof out->host);
	if (resp->stopped)
		set_fault(x, FAULT_STOPPED, "stopped");
	if (x->fault != FAULT_NONE && x->fault != FAULT_DISCARDED)
		return judge_fault(x);
	if (resp->redirect_refused)
		return result_set(&out->res, resp->outcome, "%s", resp->error);
	if (resp->curl_code == CURLE_TOO_MANY_REDIRECTS)
		return result_set(&out->res, resp->outcome,
				  "Zoom redirected the download more than %d times",
				  DOWNLOAD_MAX_REDIRECTS);
	if (resp->answered && (!resp->error[0] || x->fault == FAULT_DISCARDED) &&
	    resp->status != 200 && resp->status != 206)
		return judge_status(x, resp);
	if (resp->error[0])
		return result_set(&out->res, resp->outcome,
				  "the download from %s failed after %" PRIu64 " bytes: %s",
				  out->host, have, resp->error);
	if (req->expected_total >= 0 && have != (uint64_t)req->expected_total)
		return result_set(&out->res, outcome_from_curl(CURLE_PARTIAL_FILE),
				  "Zoom's answer ended at byte %" PRIu64 " of %" PRId64, have,
				  req->expected_total);
	return result_set(&out->res, OUTCOME_DONE, "%s", "");
}

/* ---- download_run --------------------------------------------------------- */

static void result_init(struct download_result *out)
{
	memset(out, 0, sizeof *out);
	out->total = -1;
	out->res.kind = OUTCOME_DONE;
}

/* Nothing left to fetch after a resume: DONE, or GIVEUP past the end;
 * RETRY (meaning "go on") otherwise. An empty file is still asked for: a
 * dead link or an HTML page must not pass for a recording. */
static enum outcome resume_end(const struct download_request *req, struct download_result *out)
{
	if (req->offset == 0 || req->expected_total < 0 ||
	    req->offset < (uint64_t)req->expected_total)
		return OUTCOME_RETRY;
	if (req->offset == (uint64_t)req->expected_total)
		return result_set(&out->res, OUTCOME_DONE, "%s", "");
	return result_set(&out->res, OUTCOME_GIVEUP, "resume offset %" PRIu64
			  " is past file_size %" PRId64, req->offset, req->expected_total);
}

enum outcome download_run(struct http_client *client, const struct download_request *req,
			  struct download_result *out)
{
	static const struct http_header accept = { "Accept", "*/*" };
	struct xfer x = { .req = req, .out = out };
	struct http_response resp;
	char why[URLPOLICY_HOST_MAX + 128], range[32], *bearer = NULL;
	struct http_request hreq = {
		.what = "Zoom's download", .method = HTTP_GET, .url = req->url,
		.headers = &accept, .n_headers = 1,
		.on_headers = decide, .sink = on_body, .ctx = &x, .max_body = DISCARD_MAX,
		.progress = on_progress, .progress_ctx = &x,
		.max_redirects = DOWNLOAD_MAX_REDIRECTS, .redirect = check_redirect,
		.redirect_ctx = req,
		.connect_timeout_ms = (req->connect_timeout > 0 ? req->connect_timeout : 30L) * 1000,
		.low_speed_limit = req->low_speed_limit, .low_speed_time = req->low_speed_time,
		.recv_buffer = DOWNLOAD_BUFFER_SIZE, .stop = req->stop,
	};

	result_init(out);
	if (urlpolicy_check(req->url, req->hosts, req->n_hosts, req->allow_http, why,
			    sizeof why) < 0) {
		urlpolicy_host(req->url, out->host, sizeof out->host);
		return result_set(&out->res, outcome_from_curl(CURLE_UNSUPPORTED_PROTOCOL),
				  "the download link is refused: %s", why);
	}
	if (resume_end(req, out) != OUTCOME_RETRY)
		return out->res.kind;
	if (req->offset > 0) {
		snprintf(range, sizeof range, "%" PRIu64 "-", req->offset);
		hreq.range = range;
	}
	/* The bearer goes only to the scheme, host and port of req->url
	 * (http.c drops it on a redirect elsewhere). */
	if (req->bearer && *req->bearer && asprintf(&bearer, "Bearer %s", req->bearer) < 0) {
		bearer = NULL;
		return result_set(&out->res, OUTCOME_RETRY, "out of memory");
	}
	hreq.authorization = bearer;
	http_run(client, &hreq, &resp);
	/* A body shorter than the sniff window is still held. */
	if (!resp.error[0] && x.fault == FAULT_NONE && x.sniffing)
		(void)release_held(&x);
	judge(&x, &resp);
	http_response_free(&resp);
	crypto_free_secret(bearer);
	return out->res.kind;
}
