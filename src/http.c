/* The one HTTP layer over libcurl. See http.h. */
#include <ctype.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"
#include "log.h"

#define CONNECT_TIMEOUT_MS 30000L
#define LOW_SPEED_LIMIT 1024L   /* bytes/s ... */
#define LOW_SPEED_TIME 60L      /* ... for this long: a stalled transfer, not a slow one */
#define DISCARD_MAX (1024 * 1024) /* a followed redirect's body is read at most this far */
#define RETRY_AFTER_MAX (86400L * 7)

struct http_client {
	CURL *curl;
	stop_flag_t *stop;
	char errbuf[CURL_ERROR_SIZE];
};

/* One request of a chain of redirects. */
struct exchange {
	struct http_client *client;
	const struct http_request *req;
	struct http_response *resp;
	const char *url;
	bool follow;            /* a 3xx of this request would be followed */
	bool headers_told;      /* on_headers was called for this answer */
	const unsigned char *mem; /* the in-memory body being sent */
	size_t mem_off;
	size_t body_cap;
	size_t discarded;
};

struct http_client *http_client_new(stop_flag_t *stop)
{
	struct http_client *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->stop = stop;
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return NULL;
	}
	return c;
}

void http_client_free(struct http_client *client)
{
	if (!client)
		return;
	curl_easy_cleanup(client->curl);
	free(client);
}

void http_response_free(struct http_response *resp)
{
	if (resp->body)
		explicit_bzero(resp->body, resp->body_len);
	free(resp->body);
	free(resp->url);
	free(resp->headers_raw);
	resp->body = resp->url = resp->headers_raw = NULL;
	resp->body_len = resp->headers_len = 0;
}

static bool stop_requested(const struct exchange *x)
{
	return (x->req->stop && *x->req->stop) || (x->client->stop && *x->client->stop);
}

static bool is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static bool is_success(long status)
{
	return status >= 200 && status < 300;
}

/* ---- pure helpers --------------------------------------------------------- */

const char *http_status_text(long status, char *buf, size_t size)
{
	static const struct {
		long code;
		const char *text;
	} texts[] = {
		{ 200, "OK" }, { 201, "Created" }, { 204, "No Content" },
		{ 206, "Partial Content" }, { 301, "Moved Permanently" }, { 302, "Found" },
		{ 303, "See Other" }, { 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
		{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" }, { 408, "Request Timeout" },
		{ 409, "Conflict" }, { 410, "Gone" }, { 413, "Content Too Large" },
		{ 416, "Range Not Satisfiable" }, { 429, "Too Many Requests" },
		{ 500, "Internal Server Error" }, { 502, "Bad Gateway" },
		{ 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
	};

	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		if (texts[i].code == status) {
			snprintf(buf, size, "%ld %s", status, texts[i].text);
			return buf;
		}
	snprintf(buf, size, "%ld", status);
	return buf;
}

long http_parse_retry_after(const char *value, long now)
{
	struct tm tm = { 0 };
	const char *end;
	long secs = 0;
	time_t when;

	while (*value == ' ' || *value == '\t')
		value++;
	if (isdigit((unsigned char)*value)) {
		for (; isdigit((unsigned char)*value); value++) {
			secs = secs * 10 + (*value - '0');
			if (secs > RETRY_AFTER_MAX)
				return 0;
		}
		return *value == '\0' || isspace((unsigned char)*value) ? secs : 0;
	}
	end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end)
		return 0;
	when = timegm(&tm);
	if (when == (time_t)-1 || when <= now || when - now > RETRY_AFTER_MAX)
		return 0;
	return (long)(when - now);
}

/* Reads scheme, host (lower case) and port (explicit or the scheme's). */
static int origin_of(const char *url, char **scheme, char **host, char **port)
{
	CURLU *u = curl_url();
	int rc = -1;

	*scheme = *host = *port = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) == CURLUE_OK)
		rc = 0;
	curl_url_cleanup(u);
	return rc;
}

bool http_same_origin(const char *a, const char *b)
{
	char *sa = NULL, *ha = NULL, *pa = NULL, *sb = NULL, *hb = NULL, *pb = NULL;
	bool same = false;
	size_t la, lb;

	if (origin_of(a, &sa, &ha, &pa) == 0 && origin_of(b, &sb, &hb, &pb) == 0) {
		/* One trailing dot names the same host. */
		la = strlen(ha);
		lb = strlen(hb);
		if (la > 1 && ha[la - 1] == '.')
			la--;
		if (lb > 1 && hb[lb - 1] == '.')
			lb--;
		same = strcasecmp(sa, sb) == 0 && la == lb && strncasecmp(ha, hb, la) == 0 &&
		       strcmp(pa, pb) == 0;
	}
	curl_free(sa);
	curl_free(ha);
	curl_free(pa);
	curl_free(sb);
	curl_free(hb);
	curl_free(pb);
	return same;
}

/* The host of url, for a log line ("?" when unreadable). */
static void host_of(const char *url, char *buf, size_t size)
{
	char *scheme, *host, *port;

	if (origin_of(url, &scheme, &host, &port) == 0)
		snprintf(buf, size, "%s", host);
	else
		snprintf(buf, size, "?");
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
}

const char *http_header(const struct http_response *resp, const char *name)
{
	const char *p = resp->headers_raw, *end = p ? p + resp->headers_len : NULL;

	while (p && p < end) {
		const char *value = p + strlen(p) + 1;

		if (strcasecmp(p, name) == 0)
			return value;
		p = value + strlen(value) + 1;
	}
	return NULL;
}

const char *http_request_id_note(const struct http_response *resp, char *buf, size_t size)
{
	if (resp->request_id[0])
		snprintf(buf, size, " (request id %s)", resp->request_id);
	else if (size)
		buf[0] = '\0';
	return buf;
}

enum outcome http_result(const struct http_response *resp, const char *what,
			 struct result *r)
{
	char text[64], id[HTTP_REQUEST_ID_MAX + 16];

	if (resp->outcome == OUTCOME_DONE)
		return result_set(r, OUTCOME_DONE, "%s", "");
	if (resp->stopped)
		return result_set(r, resp->outcome, "stopped while asking %s (the program is "
				  "shutting down)", what);
	if (resp->error[0])
		return result_set(r, resp->outcome, "%s could not be reached: %s", what,
				  resp->error);
	return result_set(r, resp->outcome, "%s answered %s%s", what,
			  http_status_text(resp->status, text, sizeof text),
			  http_request_id_note(resp, id, sizeof id));
}

/* ---- the answer's headers ------------------------------------------------- */

static void answer_reset(struct exchange *x)
{
	struct http_response *resp = x->resp;

	resp->answered = false;
	resp->status = 0;
	resp->content_type[0] = '\0';
	resp->content_length = -1;
	resp->retry_after = 0;
	resp->request_id[0] = '\0';
	resp->headers_len = 0;
	resp->body_len = 0;
	x->headers_told = false;
	x->discarded = 0;
}

/* Keeps "name\0value\0" (bounded: later headers of a huge answer are lost). */
static void keep_header(struct http_response *resp, const char *name, size_t nlen,
			const char *value, size_t vlen)
{
	size_t need = resp->headers_len + nlen + vlen + 2;
	char *grown;

	if (need > HTTP_HEADERS_MAX)
		return;
	grown = realloc(resp->headers_raw, need);
	if (!grown)
		return;
	resp->headers_raw = grown;
	memcpy(grown + resp->headers_len, name, nlen);
	grown[resp->headers_len + nlen] = '\0';
	memcpy(grown + resp->headers_len + nlen + 1, value, vlen);
	grown[need - 1] = '\0';
	resp->headers_len = need;
}

static void note_request_id(struct http_response *resp, const char *name, const char *value)
{
	char was[HTTP_REQUEST_ID_MAX];
	bool first = strcasecmp(name, "x-amz-request-id") == 0 ||
		     strcasecmp(name, "x-zm-trackingid") == 0;

	if (!first && strcasecmp(name, "x-amz-id-2") != 0)
		return;
	memcpy(was, resp->request_id, sizeof was);
	/* The request id leads; x-amz-id-2, longer, follows it. */
	if (first)
		snprintf(resp->request_id, sizeof resp->request_id, "%.120s%s%.120s", value,
			 was[0] ? " " : "", was);
	else
		snprintf(resp->request_id, sizeof resp->request_id, "%.120s%s%.120s", was,
			 was[0] ? " " : "", value);
}

static void parse_field(struct http_response *resp, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len), *v;
	char name[64], value[512];
	size_t nlen, vlen;

	if (!colon || colon == line)
		return;
	nlen = (size_t)(colon - line);
	v = colon + 1;
	vlen = len - nlen - 1;
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && isspace((unsigned char)v[vlen - 1]))
		vlen--;
	keep_header(resp, line, nlen, v, vlen);
	if (nlen >= sizeof name)
		return;
	memcpy(name, line, nlen);
	name[nlen] = '\0';
	snprintf(value, sizeof value, "%.*s", (int)vlen, v);
	if (strcasecmp(name, "Content-Type") == 0) {
		snprintf(resp->content_type, sizeof resp->content_type, "%.127s", value);
	} else if (strcasecmp(name, "Content-Length") == 0) {
		char *end;
		unsigned long long n = strtoull(value, &end, 10);

		if (value[0] >= '0' && value[0] <= '9' && *end == '\0' && n <= INT64_MAX)
			resp->content_length = (int64_t)n;
	} else if (strcasecmp(name, "Retry-After") == 0) {
		resp->retry_after = http_parse_retry_after(value, (long)time(NULL));
	} else {
		note_request_id(resp, name, value);
	}
}

/* The end of an answer's headers: a final answer is told to the caller. */
static int headers_complete(struct exchange *x)
{
	struct http_response *resp = x->resp;

	if (resp->status < 200)
		return 0; /* 100 Continue: the answer follows */
	resp->answered = true;
	if (x->follow && is_redirect(resp->status))
		return 0;
	x->headers_told = true;
	if (x->req->on_headers && x->req->on_headers(x->req->ctx, resp) != 0) {
		resp->refused = true;
		return -1;
	}
	return 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *vp)
{
	struct exchange *x = vp;
	size_t len = size * nmemb;

	if (len <= 2 && (data[0] == '\r' || data[0] == '\n')) {
		if (headers_complete(x) < 0)
			return 0;
	} else if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
		const char *sp = memchr(data, ' ', len);

		answer_reset(x); /* a new answer: after a 1xx */
		if (sp && data + len - sp > 3)
			x->resp->status = strtol(sp + 1, NULL, 10);
	} else {
		parse_field(x->resp, data, len);
	}
	return len;
}

/* ---- the answer's body ---------------------------------------------------- */

static size_t body_limit(const struct http_request *req)
{
	return req->max_body ? req->max_body : HTTP_BODY_MAX_DEFAULT;
}

/* Appends to the captured body; -1 past the limit. */
static int capture(struct exchange *x, const char *data, size_t len)
{
	struct http_response *resp = x->resp;
	size_t max = body_limit(x->req), cap = x->body_cap ? x->body_cap : 4096;
	char *grown;

	if (resp->body_len + len > max) {
		resp->body_over = true;
		return -1;
	}
	if (resp->body_len + len + 1 > x->body_cap || !resp->body) {
		while (resp->body_len + len + 1 > cap)
			cap *= 2;
		grown = realloc(resp->body, cap);
		if (!grown)
			return -1;
		resp->body = grown;
		x->body_cap = cap;
	}
	memcpy(resp->body + resp->body_len, data, len);
	resp->body_len += len;
	resp->body[resp->body_len] = '\0';
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *vp)
{
	struct exchange *x = vp;
	struct http_response *resp = x->resp;
	size_t len = size * nmemb;

	if (stop_requested(x)) {
		resp->stopped = true;
		return 0;
	}
	if (!x->headers_told) { /* a redirect to follow: its body is not wanted */
		x->discarded += len;
		if (x->discarded > DISCARD_MAX)
			return 0;
		return len;
	}
	if (is_success(resp->status) && x->req->sink) {
		if (x->req->sink(x->req->ctx, resp, data, len) != 0) {
			resp->sink_failed = true;
			return 0;
		}
		resp->body_bytes += len;
		return len;
	}
	return capture(x, data, len) < 0 ? 0 : len;
}

/* ---- the request's body --------------------------------------------------- */

static size_t on_read(char *buf, size_t size, size_t nmemb, void *vp)
{
	struct exchange *x = vp;
	const struct http_request *req = x->req;
	size_t n = size * nmemb, got;

	if (stop_requested(x)) {
		x->resp->stopped = true;
		return CURL_READFUNC_ABORT;
	}
	if (!req->source) {
		if (n > req->body_len - x->mem_off)
			n = req->body_len - x->mem_off;
		if (n)
			memcpy(buf, x->mem + x->mem_off, n);
		x->mem_off += n;
		return n;
	}
	got = req->source(req->source_ctx, buf, n);
	if (got == HTTP_SOURCE_ABORT || got > n) {
		x->resp->source_failed = true;
		return CURL_READFUNC_ABORT;
	}
	return got;
}

/* curl goes back to the start when it resends on a fresh connection. */
static int on_seek(void *vp, curl_off_t offset, int origin)
{
	struct exchange *x = vp;
	const struct http_request *req = x->req;

	if (origin != SEEK_SET || offset != 0) {
		if (req->source || origin != SEEK_SET || offset < 0 ||
		    (uint64_t)offset > req->body_len)
			return CURL_SEEKFUNC_CANTSEEK;
		x->mem_off = (size_t)offset;
		return CURL_SEEKFUNC_OK;
	}
	if (!req->source) {
		x->mem_off = 0;
		return CURL_SEEKFUNC_OK;
	}
	if (!req->rewind || req->rewind(req->source_ctx) != 0)
		return CURL_SEEKFUNC_FAIL;
	return CURL_SEEKFUNC_OK;
}

static int on_progress(void *vp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct exchange *x = vp;

	(void)dltotal, (void)ultotal;
	if (stop_requested(x)) {
		x->resp->stopped = true;
		return 1;
	}
	if (x->req->progress)
		x->req->progress(x->req->progress_ctx, (uint64_t)dlnow, (uint64_t)ulnow);
	return 0;
}

/* ---- one request ----------------------------------------------------------- */

/* A header value curl can send as is: a CR or LF would add lines. */
static bool value_ok(const char *value)
{
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return false;
	return true;
}

static int append_line(struct curl_slist **list, const char *name, const char *value)
{
	struct curl_slist *next;
	char *line = NULL;
	int n = asprintf(&line, "%s: %s", name, value);

	if (n < 0)
		return -1;
	next = curl_slist_append(*list, line);
	explicit_bzero(line, (size_t)n);
	free(line);
	if (!next)
		return -1;
	*list = next;
	return 0;
}

/* The header list of one hop; NULL with x->resp->error set on failure. */
static struct curl_slist *hop_headers(struct exchange *x, bool *failed)
{
	const struct http_request *req = x->req;
	struct curl_slist *list = NULL;

	*failed = true;
	for (size_t i = 0; i < req->n_headers; i++) {
		if (!value_ok(req->headers[i].value) || !value_ok(req->headers[i].name)) {
			snprintf(x->resp->error, sizeof x->resp->error,
				 "the %s header holds bytes a header cannot carry",
				 req->headers[i].name);
			goto fail;
		}
		if (append_line(&list, req->headers[i].name, req->headers[i].value) < 0)
			goto oom;
	}
	if (req->authorization && req->authorization[0]) {
		if (!value_ok(req->authorization))
			log_event(LOG_WARNING, "http_authorization_refused",
				  "reason=\"the credential holds bytes a header cannot carry: "
				  "not sent\"");
		else if ((x->url == req->url || strcmp(x->url, req->url) == 0 ||
			  http_same_origin(x->url, req->url)) &&
			 append_line(&list, "Authorization", req->authorization) < 0)
			goto oom;
	}
	*failed = false;
	return list;
oom:
	snprintf(x->resp->error, sizeof x->resp->error, "out of memory");
fail:
	curl_slist_free_all(list);
	return NULL;
}

#define SET(opt, val)                                                      \
	do {                                                               \
		if ((rc = curl_easy_setopt(h, opt, val)) != CURLE_OK)      \
			goto out;                                          \
	} while (0)

static CURLcode set_common(struct exchange *x, struct curl_slist *headers)
{
	const struct http_request *req = x->req;
	CURL *h = x->client->curl;
	CURLcode rc;

	curl_easy_reset(h); /* options only: the connection cache stays */
	x->client->errbuf[0] = '\0';
	SET(CURLOPT_URL, x->url);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SET(CURLOPT_ERRORBUFFER, x->client->errbuf);
	SET(CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_CONNECTTIMEOUT_MS,
	    req->connect_timeout_ms > 0 ? req->connect_timeout_ms : CONNECT_TIMEOUT_MS);
	if (req->timeout_ms > 0)
		SET(CURLOPT_TIMEOUT_MS, req->timeout_ms);
	SET(CURLOPT_LOW_SPEED_LIMIT, req->low_speed_limit > 0 ? req->low_speed_limit
							       : LOW_SPEED_LIMIT);
	SET(CURLOPT_LOW_SPEED_TIME, req->low_speed_time > 0 ? req->low_speed_time
							     : LOW_SPEED_TIME);
	if (req->ca_file && req->ca_file[0])
		SET(CURLOPT_CAINFO, req->ca_file);
	if (req->no_proxy)
		SET(CURLOPT_NOPROXY, "*");
	if (req->recv_buffer > 0)
		SET(CURLOPT_BUFFERSIZE, req->recv_buffer);
	if (req->range)
		SET(CURLOPT_RANGE, req->range);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, x);
out:
	return rc;
}

static CURLcode set_upload(struct exchange *x, curl_off_t len)
{
	CURL *h = x->client->curl;
	CURLcode rc;

	SET(CURLOPT_READFUNCTION, on_read);
	SET(CURLOPT_READDATA, x);
	SET(CURLOPT_SEEKFUNCTION, on_seek);
	SET(CURLOPT_SEEKDATA, x);
	if (x->req->send_buffer > 0)
		SET(CURLOPT_UPLOAD_BUFFERSIZE, x->req->send_buffer);
	if (x->req->method == HTTP_PUT) {
		/* Expect: 100-continue is left to curl: a server can then
		 * refuse the body before it is sent. */
		SET(CURLOPT_UPLOAD, 1L);
		SET(CURLOPT_INFILESIZE_LARGE, len);
	} else {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, len);
	}
out:
	return rc;
}

static CURLcode set_method(struct exchange *x, enum http_method method)
{
	const struct http_request *req = x->req;
	CURL *h = x->client->curl;
	CURLcode rc = CURLE_OK;

	x->mem = req->body;
	x->mem_off = 0;
	switch (method) {
	case HTTP_HEAD:
		SET(CURLOPT_NOBODY, 1L);
		break;
	case HTTP_GET:
		SET(CURLOPT_HTTPGET, 1L);
		break;
	case HTTP_DELETE:
		SET(CURLOPT_CUSTOMREQUEST, "DELETE");
		break;
	case HTTP_POST:
		if (!req->source) { /* in memory: curl sends it from there */
			SET(CURLOPT_POST, 1L);
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
			SET(CURLOPT_POSTFIELDS, req->body_len ? (const char *)req->body : "");
			break;
		}
		rc = set_upload(x, (curl_off_t)req->source_len);
		break;
	case HTTP_PUT:
		rc = set_upload(x, (curl_off_t)(req->source ? req->source_len : req->body_len));
		break;
	}
out:
	return rc;
}

static const char *method_name(enum http_method m)
{
	static const char *const names[] = { "GET", "HEAD", "POST", "PUT", "DELETE" };

	return names[m];
}

/* One request of the chain; method may have become GET after a 303. */
static CURLcode run_hop(struct exchange *x, enum http_method method)
{
	struct http_response *resp = x->resp;
	struct curl_slist *headers;
	char host[256], what[128], id[HTTP_REQUEST_ID_MAX + 8];
	bool failed;
	CURLcode rc;

	answer_reset(x);
	headers = hop_headers(x, &failed);
	if (failed)
		return CURLE_BAD_FUNCTION_ARGUMENT;
	rc = set_common(x, headers);
	if (rc == CURLE_OK)
		rc = set_method(x, method);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(x->client->curl);
	/* curl takes an answer whose connection closed inside its headers as
	 * whole: a redirect cut before its Location, a 200 before its length,
	 * a HEAD before the metadata that names the object's file. */
	if (rc == CURLE_OK && !resp->answered) {
		rc = CURLE_RECV_ERROR;
		snprintf(x->client->errbuf, CURL_ERROR_SIZE, "the answer's headers were cut short");
	}
	host_of(x->url, host, sizeof host);
	log_event(LOG_DEBUG, "http_request", "what=%s method=%s host=%s status=%ld curl=%d%s%s",
		  log_q(x->req->what ? x->req->what : "?", what, sizeof what), method_name(method),
		  host, resp->status, (int)rc, resp->request_id[0] ? " request_id=" : "",
		  log_q(resp->request_id, id, sizeof id));
	curl_slist_free_all(headers);
	return rc;
}

/* ---- the chain ------------------------------------------------------------- */

static void fail(struct http_response *resp, enum outcome o, const char *why)
{
	resp->outcome = o;
	snprintf(resp->error, sizeof resp->error, "%s", why);
}

/* The outcome of the last hop, by the one table. */
static void judge(struct exchange *x, CURLcode rc)
{
	struct http_response *resp = x->resp;
	const char *err = x->client->errbuf;
	char limit[64];

	resp->curl_code = (int)rc;
	if (stop_requested(x))
		resp->stopped = true;
	if (resp->stopped) {
		fail(resp, outcome_from_curl(CURLE_ABORTED_BY_CALLBACK), "stopped");
	} else if (resp->refused || resp->sink_failed) {
		fail(resp, outcome_from_curl(CURLE_WRITE_ERROR),
		     resp->refused ? "the answer was refused" : "the receiver stopped taking data");
	} else if (resp->source_failed) {
		fail(resp, outcome_from_curl(CURLE_READ_ERROR), "the body to send failed");
	} else if (resp->body_over && (is_success(resp->status) || !resp->answered)) {
		snprintf(limit, sizeof limit, "an answer over %zu bytes", body_limit(x->req));
		fail(resp, OUTCOME_RETRY, limit);
	} else if (rc != CURLE_OK &&
		   !(resp->answered && (resp->body_over || x->discarded > DISCARD_MAX))) {
		fail(resp, outcome_from_curl((int)rc), err[0] ? err : curl_easy_strerror(rc));
	} else {
		resp->outcome = outcome_from_http(resp->status);
		resp->error[0] = '\0';
	}
}

/* The next URL of a redirect, or NULL when this answer stands. */
static char *next_hop(struct exchange *x, CURLcode rc)
{
	const struct http_request *req = x->req;
	struct http_response *resp = x->resp;
	char *next = NULL, why[HTTP_ERROR_MAX - 16], msg[HTTP_ERROR_MAX], *copy;

	if (!x->follow || !resp->answered || !is_redirect(resp->status) || resp->stopped ||
	    (rc != CURLE_OK && x->discarded <= DISCARD_MAX))
		return NULL;
	if (curl_easy_getinfo(x->client->curl, CURLINFO_REDIRECT_URL, &next) != CURLE_OK || !next)
		return NULL; /* the 3xx is the answer */
	if (resp->redirects >= req->max_redirects) {
		resp->curl_code = CURLE_TOO_MANY_REDIRECTS;
		snprintf(why, sizeof why, "more than %d redirects", req->max_redirects);
		fail(resp, outcome_from_curl(CURLE_TOO_MANY_REDIRECTS), why);
		return NULL;
	}
	why[0] = '\0';
	if (req->redirect && req->redirect(req->redirect_ctx, next, why, sizeof why) != 0) {
		resp->redirect_refused = true;
		resp->curl_code = CURLE_UNSUPPORTED_PROTOCOL;
		snprintf(msg, sizeof msg, "redirect to %s", why);
		fail(resp, outcome_from_curl(CURLE_UNSUPPORTED_PROTOCOL), msg);
		return NULL;
	}
	copy = strdup(next);
	if (!copy)
		fail(resp, OUTCOME_RETRY, "out of memory");
	return copy;
}

enum outcome http_run(struct http_client *client, const struct http_request *req,
		      struct http_response *resp)
{
	struct exchange x = { .client = client, .req = req, .resp = resp };
	enum http_method method = req->method;
	CURLcode rc;
	char *next;

	memset(resp, 0, sizeof *resp);
	resp->content_length = -1;
	resp->url = req->url ? strdup(req->url) : NULL;
	if (!resp->url) {
		fail(resp, req->url ? OUTCOME_RETRY : OUTCOME_GIVEUP,
		     req->url ? "out of memory" : "no URL");
		return resp->outcome;
	}
	for (;;) {
		x.url = resp->url;
		x.follow = req->max_redirects > 0;
		rc = run_hop(&x, method);
		if (rc == CURLE_BAD_FUNCTION_ARGUMENT && resp->error[0]) {
			resp->outcome = OUTCOME_GIVEUP;
			return resp->outcome;
		}
		resp->outcome = OUTCOME_DONE;
		resp->error[0] = '\0';
		next = next_hop(&x, rc);
		if (!next)
			break;
		free(resp->url);
		resp->url = next;
		resp->redirects++;
		if (resp->status == 303 || (method == HTTP_POST && resp->status <= 302))
			method = HTTP_GET;
	}
	if (resp->outcome == OUTCOME_DONE && !resp->error[0])
		judge(&x, rc);
	return resp->outcome;
}
