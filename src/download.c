/* Downloads from Zoom over libcurl: the host policy, the hand-followed
 * redirects, the checks that keep anything but the recording out of the
 * sink, and the small API calls of zoomauth.c. See download.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "download.h"
#include "log.h"

#define URL_MAX 8192
#define SNIFF_LEN 512             /* body bytes held back until vetted */
#define DISCARD_MAX (1024 * 1024) /* error/redirect bodies read at most */
#define API_MAX_DEFAULT (1024 * 1024)
/* curl's receive buffer for a download (its default is 16 KiB): each
 * recv() and each call of the sink takes up to this much, so a GiB costs
 * ~4,000 system calls and callbacks instead of ~65,000. Larger saves little
 * more CPU and costs memory per worker (docs/BENCHMARKS.md). */
#define DOWNLOAD_BUFFER_SIZE (256L * 1024)

/* ---- host policy ------------------------------------------------------- */

/* A host or pattern in comparable form: lower case, no brackets, no port,
 * no trailing dot, with its address when it is one. */
struct hostkey {
	char name[DOWNLOAD_HOST_MAX];
	int family;               /* AF_INET, AF_INET6, or 0 for a name */
	unsigned char addr[16];
	bool numeric;             /* an address, or a name curl may read as one */
};

static bool name_char_ok(int c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '*';
}

/* Splits off brackets and a port. Returns -1 on a malformed bracket. */
static int strip_port(const char *in, char *out, size_t outlen)
{
	const char *end, *colon;
	size_t len;

	if (in[0] == '[') {
		end = strchr(in, ']');
		if (!end || (end[1] != '\0' && end[1] != ':'))
			return -1;
		in++;
		len = (size_t)(end - in);
	} else {
		colon = strchr(in, ':');
		/* Two colons without brackets: a bare IPv6 address, no port. */
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;
		len = colon ? (size_t)(colon - in) : strlen(in);
	}
	if (len == 0 || len >= outlen)
		return -1;
	memcpy(out, in, len);
	out[len] = '\0';
	return 0;
}

/* True when the last label is all digits: no TLD is, so curl or the
 * resolver may take the name as an IPv4 number ("127.1", "2130706434"). */
static bool last_label_numeric(const char *name)
{
	const char *dot = strrchr(name, '.');
	const char *label = dot ? dot + 1 : name;

	if (*label == '\0')
		return false;
	for (; *label; label++)
		if (!isdigit((unsigned char)*label))
			return false;
	return true;
}

static int hostkey_make(const char *in, struct hostkey *k)
{
	size_t len;

	memset(k, 0, sizeof *k);
	if (!in || strip_port(in, k->name, sizeof k->name) < 0)
		return -1;
	for (char *p = k->name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (inet_pton(AF_INET6, k->name, k->addr) == 1) {
		k->family = AF_INET6;
		k->numeric = true;
		return 0;
	}
	if (in[0] == '[') /* brackets hold IPv6 only */
		return -1;
	len = strlen(k->name);
	if (len > 1 && k->name[len - 1] == '.')
		k->name[--len] = '\0';
	for (const char *p = k->name; *p; p++)
		if (!name_char_ok((unsigned char)*p))
			return -1;
	if (k->name[0] == '.' || strstr(k->name, ".."))
		return -1;
	if (inet_pton(AF_INET, k->name, k->addr) == 1)
		k->family = AF_INET;
	k->numeric = k->family != 0 || last_label_numeric(k->name);
	return 0;
}

static bool hostkey_equal(const struct hostkey *a, const struct hostkey *b)
{
	if (a->family != b->family)
		return false;
	if (a->family)
		return memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
	return strcmp(a->name, b->name) == 0;
}

static bool pattern_matches(const char *pattern, const struct hostkey *host)
{
	struct hostkey pat;
	size_t hlen, slen;
	const char *suffix;

	if (hostkey_make(pattern, &pat) < 0)
		return false;
	if (host->numeric || strncmp(pat.name, "*.", 2) != 0)
		return hostkey_equal(&pat, host);
	suffix = pat.name + 1; /* ".zoom.us" */
	slen = strlen(suffix);
	hlen = strlen(host->name);
	return slen > 1 && !strchr(suffix, '*') && hlen > slen &&
	       strcmp(host->name + hlen - slen, suffix) == 0;
}

bool download_host_allowed(char *const *patterns, size_t n, const char *host)
{
	struct hostkey key;

	if (hostkey_make(host, &key) < 0 || strchr(key.name, '*'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (patterns[i] && pattern_matches(patterns[i], &key))
			return true;
	return false;
}

/* ---- URL reading ------------------------------------------------------- */

struct url_parts {
	bool https;
	char host[DOWNLOAD_HOST_MAX]; /* as written, without brackets */
	bool bracketed;               /* an IPv6 literal */
	long port;                    /* explicit or the scheme's */
	bool explicit_port;
	const char *path;             /* from the first '/', '?' or '#' on */
	size_t path_len;              /* up to the query or fragment */
};

static int parse_port(const char *p, size_t len, long *port)
{
	long v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = v;
	return 0;
}

/* The authority "host[:port]" or "[v6][:port]" (no '@': checked before). */
static int parse_authority(const char *a, size_t len, struct url_parts *u, const char **why)
{
	const char *host = a, *port = NULL, *close;
	size_t hlen = len;
	struct hostkey key;

	*why = "a URL without a host";
	if (len == 0)
		return -1;
	*why = "a URL whose host or port cannot be read";
	if (a[0] == '[') {
		close = memchr(a, ']', len);
		if (!close)
			return -1;
		host = a + 1;
		hlen = (size_t)(close - host);
		if (close + 1 < a + len) {
			if (close[1] != ':')
				return -1;
			port = close + 2;
		}
		u->bracketed = true;
	} else {
		port = memchr(a, ':', len);
		if (port)
			hlen = (size_t)(port++ - a);
	}
	if (hlen == 0 || hlen >= sizeof u->host)
		return -1;
	memcpy(u->host, host, hlen);
	u->host[hlen] = '\0';
	if (hostkey_make(u->host, &key) < 0 || strchr(u->host, '*') ||
	    u->bracketed != (key.family == AF_INET6))
		return -1;
	u->port = u->https ? 443 : 80;
	if (port) {
		u->explicit_port = true;
		if (parse_port(port, (size_t)(a + len - port), &u->port) < 0)
			return -1;
	}
	return 0;
}

/* A strict reading: a URL this accepts is one where every parser agrees on
 * the host. why is a phrase ("a URL with a user name in it"). */
static int url_parse(const char *url, struct url_parts *u, const char **why)
{
	const char *sep, *auth;
	size_t len, alen;

	memset(u, 0, sizeof *u);
	*why = "an empty or over-long URL";
	len = url ? strlen(url) : 0;
	if (len == 0 || len > URL_MAX)
		return -1;
	*why = "a URL with spaces, control or non-ASCII characters";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f || url[i] == '\\')
			return -1;
	*why = "a URL that is not http(s)";
	sep = strstr(url, "://");
	if (!sep)
		return -1;
	if (sep - url == 5 && strncasecmp(url, "https", 5) == 0)
		u->https = true;
	else if (!(sep - url == 4 && strncasecmp(url, "http", 4) == 0))
		return -1;
	auth = sep + 3;
	alen = strcspn(auth, "/?#");
	*why = "a URL with a user name in it";
	if (memchr(auth, '@', alen))
		return -1;
	if (parse_authority(auth, alen, u, why) < 0)
		return -1;
	u->path = auth + alen;
	u->path_len = strcspn(u->path, "?#");
	return 0;
}

/* curl must read the same scheme, host and port, and no user. */
static bool curl_agrees(const char *url, const struct url_parts *u)
{
	CURLU *h = curl_url();
	char *host = NULL, *port = NULL, *user = NULL;
	struct hostkey mine, theirs;
	bool same = false;

	if (!h || curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(h, CURLUPART_USER, &user, 0) != CURLUE_NO_USER)
		goto out;
	if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	if (hostkey_make(u->host, &mine) < 0 || hostkey_make(host, &theirs) < 0)
		goto out;
	same = hostkey_equal(&mine, &theirs) && u->port == strtol(port, NULL, 10);
out:
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_url_cleanup(h);
	return same;
}

int download_url_check(const char *url, char *const *patterns, size_t n, bool allow_http,
		       char *why, size_t whylen)
{
	struct url_parts u;
	const char *phrase;

	if (url_parse(url, &u, &phrase) < 0)
		goto refuse;
	phrase = "a plain-http URL (allow_http is off)";
	if (!u.https && !allow_http)
		goto refuse;
	if (!download_host_allowed(patterns, n, u.host)) {
		snprintf(why, whylen, "a host outside download_hosts: %s", u.host);
		return -1;
	}
	phrase = "a URL that curl would read differently";
	if (!curl_agrees(url, &u))
		goto refuse;
	return 0;
refuse:
	snprintf(why, whylen, "%s", phrase);
	return -1;
}

const char *download_url_display(const char *url, char *buf, size_t size)
{
	struct url_parts u;
	const char *why;
	char port[8] = "";
	int n;

	if (url_parse(url, &u, &why) < 0) {
		snprintf(buf, size, "(unparsable URL)");
		return buf;
	}
	if (u.explicit_port)
		snprintf(port, sizeof port, ":%ld", u.port);
	n = snprintf(buf, size, "%s://%s%s%s%s%.*s", u.https ? "https" : "http",
		     u.bracketed ? "[" : "", u.host, u.bracketed ? "]" : "", port,
		     (int)u.path_len, u.path);
	if (n < 0 || (size_t)n >= size)
		snprintf(buf, size, "%s://%s/...", u.https ? "https" : "http", u.host);
	return buf;
}

/* scheme, host and port: where the bearer may go. */
static bool same_origin(const char *a, const char *b)
{
	struct url_parts ua, ub;
	struct hostkey ka, kb;
	const char *why;

	if (url_parse(a, &ua, &why) < 0 || url_parse(b, &ub, &why) < 0)
		return false;
	if (hostkey_make(ua.host, &ka) < 0 || hostkey_make(ub.host, &kb) < 0)
		return false;
	return ua.https == ub.https && ua.port == ub.port && hostkey_equal(&ka, &kb);
}

static void url_host(const char *url, char *buf, size_t size)
{
	struct url_parts u;
	const char *why;

	if (url_parse(url, &u, &why) < 0)
		snprintf(buf, size, "?");
	else
		snprintf(buf, size, "%s", u.host);
}

/* ---- status texts -------------------------------------------------------- */

const char *download_status_text(long status, char *buf, size_t size)
{
	static const struct {
		long code;
		const char *text;
	} texts[] = {
		{ 200, "OK" }, { 204, "No Content" }, { 206, "Partial Content" },
		{ 301, "Moved Permanently" }, { 302, "Found" }, { 303, "See Other" },
		{ 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
		{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 408, "Request Timeout" }, { 410, "Gone" },
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

/* ---- one transfer's state ------------------------------------------------ */

struct download_client {
	CURL *curl;
	stop_flag_t *stop;
	char errbuf[CURL_ERROR_SIZE];
};

/* What the headers of the current response said. */
struct response {
	long status;
	char content_type[128];
	int64_t content_length;     /* -1 absent */
	bool has_range;
	uint64_t range_first, range_last;
	int64_t range_total;        /* -1 for "*" */
	long retry_after;
	bool complete;              /* the blank line that ends the headers came */
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
	stop_flag_t *client_stop;
	struct download_result *out;
	struct response resp;
	bool decided;              /* the headers of a 200/206 were judged */
	bool deliver;              /* this body goes to the sink */
	bool sniffing;             /* holding the first bytes back */
	uint64_t skip;             /* raw bytes still to drop (200 to a Range) */
	size_t discarded;
	unsigned char held[SNIFF_LEN];
	size_t held_len;
	enum fault fault;
	char fault_why[256];
};

static void response_reset(struct response *r)
{
	memset(r, 0, sizeof *r);
	r->content_length = -1;
	r->range_total = -1;
}

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

static bool stop_requested(const struct xfer *x)
{
	return (x->req->stop && *x->req->stop) || (x->client_stop && *x->client_stop);
}

/* ---- header parsing ----------------------------------------------------- */

static bool header_is(const char *line, size_t len, const char *name, const char **value,
		      size_t *vlen)
{
	size_t n = strlen(name);

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return false;
	line += n + 1;
	len -= n + 1;
	while (len && (*line == ' ' || *line == '\t'))
		line++, len--;
	while (len && isspace((unsigned char)line[len - 1]))
		len--;
	*value = line;
	*vlen = len;
	return true;
}

/* Parses a non-negative decimal of exactly len bytes. */
static int parse_u64(const char *p, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 19)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return 0;
}

/* "bytes FIRST-LAST/TOTAL", or with "*" for the total. */
static void parse_content_range(struct response *r, const char *v, size_t len)
{
	const char *dash, *slash, *end = v + len;
	uint64_t total;

	if (len < 6 || strncasecmp(v, "bytes ", 6) != 0)
		return;
	v += 6;
	dash = memchr(v, '-', (size_t)(end - v));
	slash = dash ? memchr(dash, '/', (size_t)(end - dash)) : NULL;
	if (!slash)
		return;
	if (parse_u64(v, (size_t)(dash - v), &r->range_first) < 0 ||
	    parse_u64(dash + 1, (size_t)(slash - dash - 1), &r->range_last) < 0 ||
	    r->range_last < r->range_first)
		return;
	if (end - slash == 2 && slash[1] == '*')
		r->range_total = -1;
	else if (parse_u64(slash + 1, (size_t)(end - slash - 1), &total) == 0 && total <= INT64_MAX)
		r->range_total = (int64_t)total;
	else
		return;
	r->has_range = true;
}

static void parse_header_line(struct response *r, const char *line, size_t len)
{
	const char *v;
	size_t vlen;
	uint64_t n;

	if (len <= 2 && (line[0] == '\r' || line[0] == '\n')) {
		r->complete = true;
	} else if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
		const char *sp = memchr(line, ' ', len);

		response_reset(r); /* a new response: 1xx, or the next hop */
		if (sp && line + len - sp > 3)
			r->status = strtol(sp + 1, NULL, 10);
	} else if (header_is(line, len, "Content-Type", &v, &vlen)) {
		snprintf(r->content_type, sizeof r->content_type, "%.*s", (int)vlen, v);
	} else if (header_is(line, len, "Content-Length", &v, &vlen)) {
		if (parse_u64(v, vlen, &n) == 0 && n <= INT64_MAX)
			r->content_length = (int64_t)n;
	} else if (header_is(line, len, "Content-Range", &v, &vlen)) {
		parse_content_range(r, v, vlen);
	} else if (header_is(line, len, "Retry-After", &v, &vlen)) {
		if (parse_u64(v, vlen, &n) == 0 && n < 86400 * 7)
			r->retry_after = (long)n;
	}
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *vp)
{
	struct xfer *x = vp;
	size_t len = size * nmemb;

	parse_header_line(&x->resp, data, len);
	return len;
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
	const struct response *r = &x->resp;

	if (r->status == 200)
		return 0;
	if (!r->has_range) {
		set_fault(x, FAULT_RANGE, "Zoom answered 206 without a usable Content-Range");
		return -1;
	}
	if (r->range_first != x->req->offset) {
		set_fault(x, FAULT_RANGE, "Zoom answered a range starting at byte %" PRIu64
			  " instead of %" PRIu64, r->range_first, x->req->offset);
		return -1;
	}
	return (int64_t)r->range_first;
}

/* The file's full length as announced: Content-Range's total, else the
 * Content-Length of a whole-file answer. */
static int64_t announced_total(const struct response *r)
{
	if (r->status == 206)
		return r->range_total;
	return r->content_length;
}

/* Judges the headers of a 200/206 before any byte reaches the sink.
 * 0 to go on, -1 to stop (fault set). */
static int decide(struct xfer *x)
{
	const struct response *r = &x->resp;
	int64_t start, total, expected = x->req->expected_total;

	x->decided = true;
	x->deliver = false;
	if (r->status != 200 && r->status != 206)
		return 0;
	if (content_type_is_html(r->content_type)) {
		set_fault(x, FAULT_HTML, "Zoom answered with an HTML page instead of the recording "
			  "(the file was deleted, or the token was refused)");
		return -1;
	}
	start = body_start(x);
	if (start < 0)
		return -1;
	total = announced_total(r);
	x->out->total = total;
	if (expected >= 0 && total >= 0 && total != expected) {
		set_fault(x, total > expected ? FAULT_LONG : FAULT_SHORT,
			  "Zoom announced %" PRId64 " bytes but file_size is %" PRId64, total,
			  expected);
		return -1;
	}
	if (r->status == 200 && x->req->offset > 0) {
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

static size_t on_body(char *data, size_t size, size_t nmemb, void *vp)
{
	struct xfer *x = vp;
	const unsigned char *p = (const unsigned char *)data;
	size_t len = size * nmemb, take;

	if (stop_requested(x)) {
		set_fault(x, FAULT_STOPPED, "stopped");
		return 0;
	}
	if (!x->decided && decide(x) < 0)
		return 0;
	if (!x->deliver) {
		x->discarded += len;
		if (x->discarded <= DISCARD_MAX)
			return len;
		set_fault(x, FAULT_DISCARDED, "an over-long error body");
		return 0;
	}
	if (x->sniffing) {
		take = SNIFF_LEN - x->held_len < len ? SNIFF_LEN - x->held_len : len;
		memcpy(x->held + x->held_len, p, take);
		x->held_len += take;
		p += take;
		len -= take;
		if (x->held_len < SNIFF_LEN)
			return size * nmemb;
		if (release_held(x) < 0)
			return 0;
	}
	if (deliver(x, p, len) < 0)
		return 0;
	return size * nmemb;
}

static int on_progress(void *vp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct xfer *x = vp;
	const struct download_request *req = x->req;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (stop_requested(x)) {
		set_fault(x, FAULT_STOPPED, "stopped");
		return 1;
	}
	if (req->progress && x->deliver)
		req->progress(req->progress_ctx, req->offset + x->out->bytes, req->expected_total);
	return 0;
}

/* ---- client ---------------------------------------------------------------- */

struct download_client *download_client_new(stop_flag_t *stop)
{
	struct download_client *c = calloc(1, sizeof *c);

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

void download_client_free(struct download_client *client)
{
	if (!client)
		return;
	curl_easy_cleanup(client->curl);
	free(client);
}

#define SET(opt, val)                                                      \
	do {                                                               \
		if ((rc = curl_easy_setopt(c, opt, val)) != CURLE_OK)      \
			goto out;                                          \
	} while (0)

/* What every request gets: reset options (the connection cache stays), no
 * redirects, http(s) only, no signals (threads), our error buffer. */
static CURLcode set_common(struct download_client *client, const char *url)
{
	CURL *c = client->curl;
	CURLcode rc;

	curl_easy_reset(c);
	client->errbuf[0] = '\0';
	SET(CURLOPT_URL, url);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SET(CURLOPT_ERRORBUFFER, client->errbuf);
	SET(CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
out:
	return rc;
}

static CURLcode set_download(struct download_client *client, struct xfer *x, const char *url,
			     struct curl_slist *headers, const char *range)
{
	const struct download_request *req = x->req;
	CURL *c = client->curl;
	CURLcode rc;

	rc = set_common(client, url);
	if (rc != CURLE_OK)
		goto out;
	SET(CURLOPT_HTTPGET, 1L);
	SET(CURLOPT_HTTPHEADER, headers);
	if (range)
		SET(CURLOPT_RANGE, range);
	SET(CURLOPT_CONNECTTIMEOUT, req->connect_timeout > 0 ? req->connect_timeout : 30L);
	SET(CURLOPT_LOW_SPEED_TIME, req->low_speed_time > 0 ? req->low_speed_time : 60L);
	SET(CURLOPT_LOW_SPEED_LIMIT, req->low_speed_limit > 0 ? req->low_speed_limit : 1024L);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_BUFFERSIZE, DOWNLOAD_BUFFER_SIZE);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, x);
out:
	return rc;
}

/* A header value made of printable ASCII: curl sends a custom header as it
 * is, so a CR or LF in a token (from a webhook, an API answer or a hand-edited
 * job) would add header lines of its own. */
static bool header_value_ok(const char *value)
{
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return false;
	return true;
}

/* "Authorization: Bearer ..." only for the origin of the first URL, and
 * only a token a header can carry (else none: Zoom refuses, and a fresh
 * token is asked for where an app is configured). */
static int build_headers(const struct download_request *req, const char *url,
			 struct curl_slist **headers)
{
	struct curl_slist *list = NULL, *next;
	char *line = NULL;
	int ret = -1;

	*headers = NULL;
	if (req->bearer && *req->bearer && !header_value_ok(req->bearer)) {
		log_event(LOG_WARNING, "download_token_refused",
			  "reason=\"the token holds bytes a header cannot carry: not sent\"");
	} else if (req->bearer && *req->bearer && same_origin(url, req->url)) {
		if (asprintf(&line, "Authorization: Bearer %s", req->bearer) < 0) {
			line = NULL;
			goto out;
		}
		list = curl_slist_append(list, line);
		if (!list)
			goto out;
	}
	next = curl_slist_append(list, "Accept: */*");
	if (!next)
		goto out;
	*headers = next;
	list = NULL;
	ret = 0;
out:
	if (line) {
		explicit_bzero(line, strlen(line));
		free(line);
	}
	curl_slist_free_all(list);
	return ret;
}

/* One request of the chain; the response is judged by the caller. */
static CURLcode run_hop(struct download_client *client, struct xfer *x, const char *url)
{
	struct curl_slist *headers = NULL;
	char range[32], *rangep = NULL;
	CURLcode rc = CURLE_OUT_OF_MEMORY;

	response_reset(&x->resp);
	x->decided = x->deliver = x->sniffing = false;
	x->skip = 0;
	x->held_len = x->discarded = 0;
	if (build_headers(x->req, url, &headers) < 0)
		goto out;
	if (x->req->offset > 0) {
		snprintf(range, sizeof range, "%" PRIu64 "-", x->req->offset);
		rangep = range;
	}
	rc = set_download(client, x, url, headers, rangep);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(client->curl);
	/* curl takes an answer whose connection closed inside its headers as
	 * whole: a redirect cut before its Location, a 200 before its length. */
	if (rc == CURLE_OK && !x->resp.complete) {
		rc = CURLE_RECV_ERROR;
		snprintf(client->errbuf, CURL_ERROR_SIZE, "the answer's headers were cut short");
	}
	/* An empty body never reached on_body: judge it now; and a body
	 * shorter than the sniff window is still held. */
	if (rc == CURLE_OK && x->fault == FAULT_NONE && !x->decided)
		(void)decide(x);
	if (rc == CURLE_OK && x->fault == FAULT_NONE && x->sniffing)
		(void)release_held(x);
out:
	curl_slist_free_all(headers);
	return rc;
}

static bool is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
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

static enum outcome judge_status(struct xfer *x, const char *url)
{
	struct download_result *out = x->out;
	long status = x->resp.status;
	char text[64], where[DOWNLOAD_HOST_MAX + 64];

	download_status_text(status, text, sizeof text);
	if (same_origin(url, x->req->url))
		snprintf(where, sizeof where, "the download link");
	else
		snprintf(where, sizeof where, "the download's redirect to %s", out->host);
	out->retry_after = x->resp.retry_after;
	if (status == 401 || status == 403)
		out->auth_refused = true;
	if (status == 404 || status == 410)
		out->gone = true;
	if (is_redirect(status))
		return result_set(&out->res, outcome_from_http(status),
				  "Zoom answered %s without a usable Location for %s", text, where);
	if (status >= 200 && status < 300)
		return result_set(&out->res, outcome_from_curl(CURLE_WEIRD_SERVER_REPLY),
				  "Zoom answered %s for %s, not the file", text, where);
	return result_set(&out->res, outcome_from_http(status), "Zoom answered %s for %s", text,
			  where);
}

static enum outcome judge(struct xfer *x, CURLcode rc, const char *url, const char *errbuf)
{
	struct download_result *out = x->out;
	const struct download_request *req = x->req;
	long status = x->resp.status;
	uint64_t have = req->offset + out->bytes;

	out->curl_code = (int)rc;
	out->http_status = status;
	snprintf(out->content_type, sizeof out->content_type, "%s", x->resp.content_type);
	if (stop_requested(x))
		set_fault(x, FAULT_STOPPED, "stopped");
	if (x->fault != FAULT_NONE && x->fault != FAULT_DISCARDED)
		return judge_fault(x);
	if ((rc == CURLE_OK || x->fault == FAULT_DISCARDED) && status != 200 && status != 206 &&
	    status != 0)
		return judge_status(x, url);
	if (rc != CURLE_OK)
		return result_set(&out->res, outcome_from_curl(rc),
				  "the download from %s failed after %" PRIu64 " bytes: %s",
				  out->host, have, errbuf[0] ? errbuf : curl_easy_strerror(rc));
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

/* Checks the next hop; a refusal gives up (the one table's redirect-policy
 * row). */
static int check_hop(struct xfer *x, const char *url, bool first)
{
	const struct download_request *req = x->req;
	char why[DOWNLOAD_HOST_MAX + 128];

	if (download_url_check(url, req->hosts, req->n_hosts, req->allow_http, why,
			       sizeof why) == 0)
		return 0;
	result_set(&x->out->res, outcome_from_curl(CURLE_UNSUPPORTED_PROTOCOL), "%s%s",
		   first ? "the download link is refused: " : "redirect to ", why);
	return -1;
}

/* Follows the chain; returns the URL of the last request (malloc'd) and
 * leaves its outcome in x->out->res, or NULL when it already decided. */
static char *follow(struct download_client *client, struct xfer *x, CURLcode *rc)
{
	char *url = strdup(x->req->url), *next;

	if (!url) {
		result_set(&x->out->res, OUTCOME_RETRY, "out of memory");
		return NULL;
	}
	for (;;) {
		url_host(url, x->out->host, sizeof x->out->host);
		*rc = run_hop(client, x, url);
		if (*rc != CURLE_OK || x->fault != FAULT_NONE || !is_redirect(x->resp.status))
			return url;
		next = NULL;
		if (curl_easy_getinfo(client->curl, CURLINFO_REDIRECT_URL, &next) != CURLE_OK ||
		    !next)
			return url; /* judged as a redirect without Location */
		if (x->out->redirects == DOWNLOAD_MAX_REDIRECTS) {
			result_set(&x->out->res, outcome_from_curl(CURLE_TOO_MANY_REDIRECTS),
				   "Zoom redirected the download more than %d times",
				   DOWNLOAD_MAX_REDIRECTS);
			break;
		}
		if (check_hop(x, next, false) < 0)
			break;
		free(url);
		url = strdup(next);
		if (!url) {
			result_set(&x->out->res, OUTCOME_RETRY, "out of memory");
			return NULL;
		}
		x->out->redirects++;
		if (stop_requested(x)) {
			*rc = CURLE_ABORTED_BY_CALLBACK;
			return url;
		}
	}
	free(url);
	return NULL;
}

enum outcome download_run(struct download_client *client, const struct download_request *req,
			  struct download_result *out)
{
	struct xfer x = { .req = req, .out = out, .client_stop = client->stop };
	CURLcode rc = CURLE_OK;
	char *url = NULL;

	result_init(out);
	if (check_hop(&x, req->url, true) < 0)
		goto out;
	/* Nothing left to fetch after a resume. An empty file is still asked
	 * for: a dead link or an HTML page must not pass for a recording. */
	if (req->offset > 0 && req->expected_total >= 0 &&
	    req->offset >= (uint64_t)req->expected_total) {
		if (req->offset == (uint64_t)req->expected_total)
			result_set(&out->res, OUTCOME_DONE, "%s", "");
		else
			result_set(&out->res, OUTCOME_GIVEUP, "resume offset %" PRIu64
				   " is past file_size %" PRId64, req->offset,
				   req->expected_total);
		goto out;
	}
	url = follow(client, &x, &rc);
	if (url)
		judge(&x, rc, url, client->errbuf);
out:
	free(url);
	return out->res.kind;
}

/* ---- small API calls ---------------------------------------------------- */

struct api_buf {
	char *data;
	size_t len, max;
	bool over;
	stop_flag_t *stop, *client_stop;
	struct response resp;
};

static size_t on_api_body(char *data, size_t size, size_t nmemb, void *vp)
{
	struct api_buf *b = vp;
	size_t len = size * nmemb;
	char *grown;

	if (b->len + len > b->max) {
		b->over = true;
		return 0;
	}
	grown = realloc(b->data, b->len + len + 1);
	if (!grown)
		return 0;
	b->data = grown;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

static size_t on_api_header(char *data, size_t size, size_t nmemb, void *vp)
{
	struct api_buf *b = vp;

	parse_header_line(&b->resp, data, size * nmemb);
	return size * nmemb;
}

static int on_api_progress(void *vp, curl_off_t a, curl_off_t b_, curl_off_t c, curl_off_t d)
{
	struct api_buf *b = vp;

	(void)a, (void)b_, (void)c, (void)d;
	return (b->stop && *b->stop) || (b->client_stop && *b->client_stop);
}

static struct curl_slist *api_headers(const struct download_api_request *req)
{
	struct curl_slist *list = NULL, *next;
	char *line = NULL;

	next = curl_slist_append(list, "Accept: application/json");
	if (!next)
		goto fail;
	list = next;
	if (req->content_type) {
		if (asprintf(&line, "Content-Type: %s", req->content_type) < 0)
			goto fail;
		next = curl_slist_append(list, line);
		free(line);
		if (!next)
			goto fail;
		list = next;
	}
	if (req->authorization && header_value_ok(req->authorization)) {
		if (asprintf(&line, "Authorization: %s", req->authorization) < 0)
			goto fail;
		next = curl_slist_append(list, line);
		explicit_bzero(line, strlen(line));
		free(line);
		if (!next)
			goto fail;
		list = next;
	}
	return list;
fail:
	curl_slist_free_all(list);
	return NULL;
}

static CURLcode set_api(struct download_client *client, const struct download_api_request *req,
			struct curl_slist *headers, struct api_buf *b)
{
	CURL *c = client->curl;
	CURLcode rc = set_common(client, req->url);

	if (rc != CURLE_OK)
		goto out;
	SET(CURLOPT_HTTPHEADER, headers);
	if (strcmp(req->method, "POST") == 0) {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDSIZE, (long)req->body_len);
		SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
	} else {
		SET(CURLOPT_HTTPGET, 1L);
	}
	SET(CURLOPT_CONNECTTIMEOUT, 30L);
	SET(CURLOPT_TIMEOUT, req->timeout > 0 ? req->timeout : 60L);
	SET(CURLOPT_WRITEFUNCTION, on_api_body);
	SET(CURLOPT_WRITEDATA, b);
	SET(CURLOPT_HEADERFUNCTION, on_api_header);
	SET(CURLOPT_HEADERDATA, b);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_api_progress);
	SET(CURLOPT_XFERINFODATA, b);
out:
	return rc;
}

enum outcome download_api_call(struct download_client *client,
			       const struct download_api_request *req,
			       struct download_api_response *resp, struct result *res)
{
	struct api_buf b = { .max = req->max_response ? req->max_response : API_MAX_DEFAULT,
			     .stop = req->stop, .client_stop = client->stop };
	struct curl_slist *headers = api_headers(req);
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	enum outcome kind;

	memset(resp, 0, sizeof *resp);
	response_reset(&b.resp);
	if (headers)
		rc = set_api(client, req, headers, &b);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(client->curl);
	if (rc == CURLE_OK && !b.resp.complete) { /* see run_hop */
		rc = CURLE_RECV_ERROR;
		snprintf(client->errbuf, CURL_ERROR_SIZE, "the answer's headers were cut short");
	}
	if (rc == CURLE_OK)
		rc = curl_easy_getinfo(client->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	if (rc == CURLE_OK) {
		resp->body = b.data;
		resp->len = b.len;
		resp->retry_after = b.resp.retry_after;
		b.data = NULL;
		kind = result_set(res, OUTCOME_DONE, "%s", "");
	} else if (b.over) {
		kind = result_set(res, OUTCOME_RETRY, "%s sent an answer over %zu bytes", req->what,
				  b.max);
	} else if (on_api_progress(&b, 0, 0, 0, 0)) {
		kind = result_set(res, outcome_from_curl(CURLE_ABORTED_BY_CALLBACK),
				  "stopped while asking %s (the program is shutting down)", req->what);
	} else {
		kind = result_set(res, outcome_from_curl(rc), "%s could not be reached: %s",
				  req->what, client->errbuf[0] ? client->errbuf
							       : curl_easy_strerror(rc));
	}
	if (b.data) /* a cut answer may hold a token */
		explicit_bzero(b.data, b.len);
	free(b.data);
	curl_slist_free_all(headers);
	return kind;
}
