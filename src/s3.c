#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto.h"
#include "log.h"
#include "s3.h"
#include "sigv4.h"

#define BODY_MAX (8u << 20)     /* the largest answer body kept (ListParts: ~200 KB) */
#define CONNECT_TIMEOUT 30L
#define LOW_SPEED_LIMIT 1024L   /* bytes/s ... */
#define LOW_SPEED_TIME 60L      /* ... for this long: a stalled transfer, not a slow one */
#define COMPLETE_QUIET_TIME 900L /* Complete may work for minutes before answering */
#define MAX_QUERY 6
#define MAX_HEADERS 16
#define URI_MAX 8192
#define QUERY_MAX 4096
#define KEY_SHOWN 120           /* bytes of a key quoted in a message */
#define LIST_PAGES_MAX 100      /* guards a server whose markers do not advance */
/* curl's send buffer for a PUT body (its default is 64 KiB): half the read
 * callbacks, send() calls and polls per part. Each uploader thread has one,
 * so larger costs memory per worker for little CPU (docs/BENCHMARKS.md). */
#define UPLOAD_BUFFER_SIZE (128L * 1024)

struct s3_client {
	const struct config *cfg;
	struct awscreds *creds;
	stop_flag_t *stop;
	CURL *curl;
	const char *scheme;        /* "http" or "https" */
	char host[600];            /* the Host header: "[bucket.]host[:port]" */
	char base_path[600];       /* endpoint prefix [+ "/bucket"], no trailing '/' */
	char *ca_bundle;           /* $AWS_CA_BUNDLE, as the AWS SDKs read it; or NULL */
	struct aws_credentials cred;
	long status;               /* about the last call */
	char code[64];
	bool gone;
};

/* One request: the standard headers (host, x-amz-date,
 * x-amz-content-sha256, x-amz-security-token) are added by perform(). */
struct s3_req {
	const char *op;            /* for messages: "PutObject", "UploadPart", ... */
	const char *method;
	const char *key;           /* NULL: the bucket itself */
	struct sigv4_kv query[MAX_QUERY];
	size_t nq;
	struct sigv4_kv headers[MAX_HEADERS];
	size_t nh;
	const void *body;
	size_t len;
	const unsigned char *body_sha256; /* its digest when known; NULL: computed here */
	bool upload_op;            /* names an upload id */
	long quiet_time;           /* seconds below LOW_SPEED_LIMIT allowed; 0: default */
};

struct s3_resp {
	CURLcode cc;
	long status;
	char *body;
	size_t len, cap;
	bool overflow;
	char etag[S3_ETAG_MAX];
	char meta_file_id[S3_META_MAX], meta_uuid[S3_META_MAX];
	char region[64];           /* x-amz-bucket-region */
	uint64_t content_length;
	char code[64], message[256];
	bool headers_done;         /* the blank line that ends the headers came */
};

struct reader {
	const unsigned char *buf;
	size_t len, off;
};

/* ---- pure helpers ---- */

const char *s3_content_type(const char *ext)
{
	static const char *const map[][2] = {
		{"mp4", "video/mp4"},         {"m4a", "audio/mp4"}, {"vtt", "text/vtt"},
		{"txt", "text/plain"},        {"json", "application/json"},
		{"csv", "text/csv"},
	};

	if (ext && ext[0] == '.')
		ext++;
	for (size_t i = 0; ext && i < sizeof map / sizeof map[0]; i++)
		if (strcasecmp(ext, map[i][0]) == 0)
			return map[i][1];
	return "application/octet-stream";
}

int s3_meta_encode(const char *in, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		bool plain = *p >= '!' && *p <= '~' && *p != '%';

		if (o + (plain ? 1 : 3) >= size)
			return -1;
		if (plain) {
			out[o++] = (char)*p;
			continue;
		}
		out[o++] = '%';
		out[o++] = hex[*p >> 4];
		out[o++] = hex[*p & 15];
	}
	if (o >= size)
		return -1;
	out[o] = '\0';
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int s3_meta_decode(const char *in, char *out, size_t size)
{
	size_t o = 0;

	for (const char *p = in; *p; p++) {
		char ch = *p;

		if (ch == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
			ch = (char)(hexval(p[1]) << 4 | hexval(p[2]));
			p += 2;
		}
		if (o + 1 >= size)
			return -1;
		out[o++] = ch;
	}
	if (size == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

static bool code_in(const char *code, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(code, *list) == 0)
			return true;
	return false;
}

enum outcome s3_error_outcome(long status, const char *code, bool upload_op, bool *gone)
{
	static const char *const retry[] = {
		"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable",
		"Throttling", "OperationAborted", "RequestTimeTooSkewed",
		"XAmzContentSHA256Mismatch", "BadDigest", "IncompleteBody",
		"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
		"ExpiredToken", "InvalidToken", "TokenRefreshRequired", "AccountProblem",
		"NoSuchBucket", "PermanentRedirect", "TemporaryRedirect",
		"AuthorizationHeaderMalformed", "IllegalLocationConstraintException", NULL,
	};
	static const char *const giveup[] = {
		"EntityTooLarge", "EntityTooSmall", "KeyTooLongError", "InvalidArgument",
		"InvalidRequest", "MalformedXML", "MetadataTooLarge", "InvalidStorageClass",
		"InvalidBucketName", "InvalidObjectName", "MethodNotAllowed", "NotImplemented",
		"InvalidEncryptionAlgorithmError", "KMS.NotFoundException", NULL,
	};

	*gone = false;
	if (status >= 200 && status < 300)
		return OUTCOME_DONE;
	if (strcmp(code, "NoSuchUpload") == 0 ||
	    (upload_op && (strcmp(code, "NoSuchKey") == 0 || strcmp(code, "InvalidPart") == 0 ||
			   strcmp(code, "InvalidPartOrder") == 0))) {
		*gone = true;
		return OUTCOME_RETRY;
	}
	if (code_in(code, retry) || status == 301 || status == 307)
		return OUTCOME_RETRY; /* 301/307: a region or DNS matter */
	if (code_in(code, giveup))
		return OUTCOME_GIVEUP;
	return outcome_from_http(status);
}

/* ---- XML: S3 answers are small flat documents; we read the text of
 * named elements and decode the five entities and numeric references. */

static int xml_decode(const char *in, size_t len, char *out, size_t size)
{
	static const char *const ent[][2] = {
		{"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}, {"&quot;", "\""}, {"&apos;", "'"},
	};
	size_t o = 0, i = 0;

	while (i < len) {
		char ch = in[i];
		size_t step = 1;

		if (ch == '&') {
			for (size_t e = 0; e < 5; e++)
				if (len - i >= strlen(ent[e][0]) &&
				    memcmp(in + i, ent[e][0], strlen(ent[e][0])) == 0) {
					ch = ent[e][1][0];
					step = strlen(ent[e][0]);
				}
			if (step == 1 && i + 3 < len && in[i + 1] == '#') {
				char *end;
				bool x = in[i + 2] == 'x';
				unsigned long v = strtoul(in + i + (x ? 3 : 2), &end, x ? 16 : 10);

				/* Only ASCII references: S3 uses them for control bytes. */
				if (*end == ';' && v > 0 && v < 0x80 && end < in + len) {
					ch = (char)v;
					step = (size_t)(end + 1 - (in + i));
				}
			}
		}
		if (o + 1 >= size)
			return -1;
		out[o++] = ch;
		i += step;
	}
	if (size == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

/* The text of the first <tag>...</tag> in [from, to) into out. Returns a
 * pointer past the closing tag, NULL when absent or too long. */
static const char *xml_text(const char *from, const char *to, const char *tag, char *out,
			    size_t size)
{
	char open[80], close[80];
	const char *a, *b;

	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	a = memmem(from, (size_t)(to - from), open, strlen(open));
	if (!a)
		return NULL;
	a += strlen(open);
	b = memmem(a, (size_t)(to - a), close, strlen(close));
	if (!b || xml_decode(a, (size_t)(b - a), out, size) < 0)
		return NULL;
	return b + strlen(close);
}

/* The next <tag>...</tag> block in [*from, to): sets *start and *end to its
 * inside and advances *from. false when there is none. */
static bool xml_block(const char **from, const char *to, const char *tag, const char **start,
		      const char **end)
{
	char open[80], close[80];
	const char *a, *b;

	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	a = memmem(*from, (size_t)(to - *from), open, strlen(open));
	if (!a)
		return false;
	a += strlen(open);
	b = memmem(a, (size_t)(to - a), close, strlen(close));
	if (!b)
		return false;
	*start = a;
	*end = b;
	*from = b + strlen(close);
	return true;
}

static void strip_quotes(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = '\0';
	}
}

/* ---- the client ---- */

static bool is_ip_literal(const char *host)
{
	return host[0] == '[' || strspn(host, "0123456789.") == strcspn(host, ":");
}

/* A name that can lead a host name, under TLS too (no dots). */
static bool dns_bucket(const char *bucket, bool tls)
{
	size_t n = strlen(bucket);

	if (n < 3 || n > 63 || bucket[0] == '-' || bucket[n - 1] == '-')
		return false;
	for (const char *p = bucket; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      (*p == '.' && !tls)))
			return false;
	return true;
}

/* scheme://authority[/prefix] -> c->scheme, authority, c->base_path. */
static int parse_endpoint(struct s3_client *c, const char *url, char *authority, size_t size,
			  char *err, size_t errlen)
{
	const char *rest, *slash;
	size_t alen, plen;

	if (strncasecmp(url, "https://", 8) == 0) {
		c->scheme = "https";
		rest = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		c->scheme = "http";
		rest = url + 7;
	} else {
		snprintf(err, errlen, "s3_endpoint must start with http:// or https://");
		return -1;
	}
	slash = strchr(rest, '/');
	alen = slash ? (size_t)(slash - rest) : strlen(rest);
	if (alen == 0 || alen >= size || memchr(rest, '@', alen) || strpbrk(rest, "?# ")) {
		snprintf(err, errlen, "s3_endpoint is not a plain scheme://host[:port][/path] URL");
		return -1;
	}
	memcpy(authority, rest, alen);
	authority[alen] = '\0';
	plen = slash ? strlen(slash) : 0;
	while (plen > 0 && slash[plen - 1] == '/')
		plen--;
	if (plen >= sizeof c->base_path) {
		snprintf(err, errlen, "s3_endpoint's path is too long");
		return -1;
	}
	memcpy(c->base_path, slash ? slash : "", plen);
	c->base_path[plen] = '\0';
	return 0;
}

static int setup_addressing(struct s3_client *c, char *err, size_t errlen)
{
	const struct config *cfg = c->cfg;
	const char *region = cfg->s3_region ? cfg->s3_region : "us-east-1";
	char authority[512];
	bool path_style = cfg->s3_path_style;
	size_t n;
	int w;

	if (cfg->s3_endpoint) {
		if (parse_endpoint(c, cfg->s3_endpoint, authority, sizeof authority, err,
				   errlen) < 0)
			return -1;
	} else {
		c->scheme = "https";
		w = snprintf(authority, sizeof authority, "s3.%s.amazonaws.com%s", region,
			     strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
		if (w < 0 || (size_t)w >= sizeof authority) {
			snprintf(err, errlen, "s3_region is too long");
			return -1;
		}
	}
	if (!path_style && !dns_bucket(cfg->s3_bucket, strcmp(c->scheme, "https") == 0)) {
		log_event(LOG_INFO, "s3_path_style", "why=\"bucket name cannot be a host name\"");
		path_style = true;
	}
	if (!path_style && is_ip_literal(authority)) {
		snprintf(err, errlen, "virtual-host addressing needs a host name in s3_endpoint, "
				      "not an IP address: set s3_path_style = true");
		return -1;
	}
	w = path_style ? snprintf(c->host, sizeof c->host, "%s", authority)
		       : snprintf(c->host, sizeof c->host, "%s.%s", cfg->s3_bucket, authority);
	if (w < 0 || (size_t)w >= sizeof c->host) {
		snprintf(err, errlen, "s3_bucket or s3_endpoint is too long");
		return -1;
	}
	n = strlen(c->base_path);
	if (path_style) {
		w = snprintf(c->base_path + n, sizeof c->base_path - n, "/%s", cfg->s3_bucket);
		if (w < 0 || (size_t)w >= sizeof c->base_path - n) {
			snprintf(err, errlen, "s3_bucket is too long");
			return -1;
		}
	}
	return 0;
}

struct s3_client *s3_client_new(const struct config *cfg, struct awscreds *creds,
				stop_flag_t *stop, char *err, size_t errlen)
{
	struct s3_client *c = calloc(1, sizeof *c);

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->cfg = cfg;
	c->creds = creds;
	c->stop = stop;
	if (!cfg->s3_bucket || !cfg->s3_bucket[0]) {
		snprintf(err, errlen, "s3_bucket is not set");
		goto fail;
	}
	if (setup_addressing(c, err, errlen) < 0)
		goto fail;
	if (getenv("AWS_CA_BUNDLE") && getenv("AWS_CA_BUNDLE")[0] &&
	    !(c->ca_bundle = strdup(getenv("AWS_CA_BUNDLE")))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	c->curl = curl_easy_init();
	if (!c->curl) {
		snprintf(err, errlen, "curl_easy_init failed");
		goto fail;
	}
	return c;
fail:
	s3_client_free(c);
	return NULL;
}

void s3_client_free(struct s3_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	awscreds_clear(&c->cred);
	free(c->ca_bundle);
	free(c);
}

bool s3_upload_gone(const struct s3_client *c)
{
	return c->gone;
}

long s3_last_status(const struct s3_client *c)
{
	return c->status;
}

const char *s3_last_code(const struct s3_client *c)
{
	return c->code;
}

/* ---- curl callbacks ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct s3_resp *resp = userp;
	size_t n = size * nmemb;

	if (resp->len + n + 1 > resp->cap) {
		size_t cap = resp->cap ? resp->cap : 4096;
		char *grown;

		while (resp->len + n + 1 > cap)
			cap *= 2;
		if (cap > BODY_MAX) {
			resp->overflow = true;
			return 0;
		}
		grown = realloc(resp->body, cap);
		if (!grown)
			return 0;
		resp->body = grown;
		resp->cap = cap;
	}
	memcpy(resp->body + resp->len, data, n);
	resp->len += n;
	resp->body[resp->len] = '\0';
	return n;
}

/* Copies a header's value (trimmed) if line is "name: value". */
static bool header_value(const char *line, size_t len, const char *name, char *out,
			 size_t size)
{
	size_t n = strlen(name);

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return false;
	line += n + 1;
	len -= n + 1;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	if (len >= size)
		len = size - 1;
	memcpy(out, line, len);
	out[len] = '\0';
	return true;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *userp)
{
	struct s3_resp *resp = userp;
	size_t len = size * nmemb;
	char value[S3_META_MAX * 3];

	if (len <= 2 && (line[0] == '\r' || line[0] == '\n')) {
		resp->headers_done = true;
	} else if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after "100 Continue"): forget the last one. */
		resp->etag[0] = resp->meta_file_id[0] = resp->meta_uuid[0] = '\0';
		resp->region[0] = '\0';
		resp->content_length = 0;
		resp->headers_done = false;
	} else if (header_value(line, len, "ETag", resp->etag, sizeof resp->etag)) {
		strip_quotes(resp->etag);
	} else if (header_value(line, len, "x-amz-meta-zoom-file-id", value, sizeof value)) {
		if (s3_meta_decode(value, resp->meta_file_id, sizeof resp->meta_file_id) < 0)
			resp->meta_file_id[0] = '\0';
	} else if (header_value(line, len, "x-amz-meta-zoom-meeting-uuid", value, sizeof value)) {
		if (s3_meta_decode(value, resp->meta_uuid, sizeof resp->meta_uuid) < 0)
			resp->meta_uuid[0] = '\0';
	} else if (header_value(line, len, "x-amz-bucket-region", resp->region,
				sizeof resp->region)) {
		/* kept for the message */
	} else if (header_value(line, len, "Content-Length", value, sizeof value)) {
		resp->content_length = strtoull(value, NULL, 10);
	}
	return len;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *userp)
{
	struct reader *rd = userp;
	size_t n = size * nmemb;

	if (n > rd->len - rd->off)
		n = rd->len - rd->off;
	memcpy(buf, rd->buf + rd->off, n);
	rd->off += n;
	return n;
}

/* curl rewinds when it resends on a fresh connection. */
static int on_seek(void *userp, curl_off_t offset, int origin)
{
	struct reader *rd = userp;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > rd->len)
		return CURL_SEEKFUNC_FAIL;
	rd->off = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	stop_flag_t *stop = userp;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return stop && *stop ? 1 : 0;
}

/* ---- one request ---- */

/* path (already encoded) and URL of the request. */
static int build_target(const struct s3_client *c, const struct s3_req *req,
			const char *query, char *uri, size_t urisize, char *url, size_t urlsize)
{
	size_t n;
	int w;

	w = snprintf(uri, urisize, "%s", c->base_path);
	if (w < 0 || (size_t)w >= urisize)
		return -1;
	n = (size_t)w;
	if (req->key) {
		if (n + 1 >= urisize)
			return -1;
		uri[n++] = '/';
		if (sigv4_uri_encode(req->key, true, uri + n, urisize - n) < 0)
			return -1;
	} else if (n == 0) {
		snprintf(uri, urisize, "/");
	}
	w = snprintf(url, urlsize, "%s://%s%s%s%s", c->scheme, c->host, uri, query[0] ? "?" : "",
		     query);
	return w < 0 || (size_t)w >= urlsize ? -1 : 0;
}

/* The headers to send and sign: the standard ones, then the request's. */
static void build_headers(const struct s3_client *c, const struct s3_req *req,
			  const char *amz_date, const char *payload_hash, struct sigv4_kv *all,
			  size_t *n)
{
	size_t k = 0;

	all[k++] = (struct sigv4_kv){"Host", c->host};
	all[k++] = (struct sigv4_kv){"x-amz-date", amz_date};
	all[k++] = (struct sigv4_kv){"x-amz-content-sha256", payload_hash};
	if (c->cred.session_token[0])
		all[k++] = (struct sigv4_kv){"x-amz-security-token", c->cred.session_token};
	for (size_t i = 0; i < req->nh; i++)
		all[k++] = req->headers[i];
	*n = k;
}

static struct curl_slist *to_slist(const struct sigv4_kv *all, size_t n, const char *auth)
{
	struct curl_slist *list = NULL, *grown;
	char line[AWSCREDS_TOKEN_MAX + 64];

	for (size_t i = 0; i <= n; i++) {
		int w = i < n ? snprintf(line, sizeof line, "%s: %s", all[i].name, all[i].value)
			      : snprintf(line, sizeof line, "Authorization: %s", auth);

		if (w < 0 || (size_t)w >= sizeof line ||
		    !(grown = curl_slist_append(list, line))) {
			curl_slist_free_all(list);
			return NULL;
		}
		list = grown;
	}
	explicit_bzero(line, sizeof line);
	return list;
}

static void set_method(CURL *h, const struct s3_req *req, struct reader *rd)
{
	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "PUT") == 0) {
		/* Expect: 100-continue is left to curl (unsigned, as the SDKs
		 * do): S3 can then refuse a part before its bytes are sent. */
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, UPLOAD_BUFFER_SIZE);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->len);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, rd);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, rd);
	} else if (strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->len ? req->body : "");
	} else if (strcmp(req->method, "DELETE") == 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
}

/* 0, or -1 when curl cannot take the URL (out of memory). */
static int set_common(struct s3_client *c, const struct s3_req *req, const char *url,
		      struct curl_slist *hdrs, struct s3_resp *resp, char *errbuf)
{
	CURL *h = c->curl;

	curl_easy_reset(h); /* keeps the connection cache: keep-alive */
	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK)
		return -1;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_LIMIT);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
			 req->quiet_time ? req->quiet_time : LOW_SPEED_TIME);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)c->stop);
	if (c->ca_bundle && curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_bundle) != CURLE_OK)
		return -1;
	return 0;
}

static const char *region_of(const struct s3_client *c)
{
	return c->cfg->s3_region ? c->cfg->s3_region : "us-east-1";
}

/* "foo/bar" or "foo/b..." for a message. */
static const char *shown_key(const char *key, char *buf, size_t size)
{
	if (!key)
		return "(bucket)";
	snprintf(buf, size, "%.*s%s", KEY_SHOWN, key, strlen(key) > KEY_SHOWN ? "..." : "");
	return buf;
}

static const char *hint(const struct s3_client *c, const struct s3_resp *resp, bool gone,
			char *buf, size_t size)
{
	const char *code = resp->code;

	if (gone)
		return " (the multipart upload is gone: it will be started again)";
	if (resp->region[0] && strcmp(resp->region, region_of(c)) != 0)
		snprintf(buf, size, " (the bucket is in region %s: fix s3_region)", resp->region);
	else if (strcmp(code, "SignatureDoesNotMatch") == 0)
		snprintf(buf, size, " (the secret access key does not belong to the key id %.64s, "
				    "from the %s)", c->cred.access_key_id, c->cred.source);
	else if (!strcmp(code, "AccessDenied") || !strcmp(code, "InvalidAccessKeyId") ||
		 !strcmp(code, "ExpiredToken") || !strcmp(code, "InvalidToken") ||
		 (!code[0] && (resp->status == 401 || resp->status == 403)))
		snprintf(buf, size,
			 " (check the AWS credentials, key id %.64s from the %s, and the "
				    "bucket policy)", c->cred.access_key_id, c->cred.source);
	else if (strcmp(code, "NoSuchBucket") == 0)
		snprintf(buf, size, " (create bucket %s, or fix s3_bucket)", c->cfg->s3_bucket);
	else if (!strcmp(code, "PermanentRedirect") ||
		 !strcmp(code, "AuthorizationHeaderMalformed") ||
		 resp->status == 301)
		snprintf(buf, size, " (the bucket is in another region: fix s3_region)");
	else if (strcmp(code, "RequestTimeTooSkewed") == 0)
		snprintf(buf, size, " (check this machine's clock)");
	else if (!strcmp(code, "XAmzContentSHA256Mismatch") || !strcmp(code, "BadDigest"))
		snprintf(buf, size, " (the data changed on the way to S3)");
	else
		buf[0] = '\0';
	return buf;
}

/* Sets r (and c->gone) for a failed exchange. */
static enum outcome fail_http(struct s3_client *c, const struct s3_req *req,
			      struct s3_resp *resp, long status_for_table, struct result *r)
{
	char keybuf[KEY_SHOWN + 4], hintbuf[400];
	enum outcome o = s3_error_outcome(status_for_table, resp->code, req->upload_op, &c->gone);

	/* A wrong s3_region is the operator's to fix, whatever the status
	 * (HEAD answers 301 or 400 with no body, only this header). */
	if (resp->region[0] && strcmp(resp->region, region_of(c)) != 0 && !c->gone)
		o = OUTCOME_RETRY;

	return result_set(r, o == OUTCOME_DONE ? OUTCOME_RETRY : o,
			  "S3 %s %s: HTTP %ld%s%s%s%s%s", req->op,
			  shown_key(req->key, keybuf, sizeof keybuf), resp->status,
			  resp->code[0] ? " " : "", resp->code, resp->message[0] ? ": " : "",
			  resp->message, hint(c, resp, c->gone, hintbuf, sizeof hintbuf));
}

static void parse_error_body(struct s3_resp *resp)
{
	const char *end = resp->body ? resp->body + resp->len : NULL;
	char region[64];

	resp->code[0] = resp->message[0] = '\0';
	if (!resp->body || !strstr(resp->body, "<Error>"))
		return;
	if (!xml_text(resp->body, end, "Code", resp->code, sizeof resp->code))
		resp->code[0] = '\0';
	if (!xml_text(resp->body, end, "Message", resp->message, sizeof resp->message))
		resp->message[0] = '\0';
	if (!resp->region[0] && xml_text(resp->body, end, "Region", region, sizeof region))
		snprintf(resp->region, sizeof resp->region, "%s", region);
}

/* The signed request: its URL and its header list (host, x-amz-date,
 * x-amz-content-sha256, x-amz-security-token, the request's own, then
 * Authorization). DONE, or r set. */
static enum outcome prepare(struct s3_client *c, const struct s3_req *req, char *url,
			    size_t urlsize, struct curl_slist **hdrs, struct result *r)
{
	char query[QUERY_MAX], *uri = malloc(URI_MAX), auth[SIGV4_AUTH_MAX];
	char amz_date[SIGV4_AMZ_DATE_LEN + 1], hash[SHA256_HEX_LEN + 1], keybuf[KEY_SHOWN + 4];
	unsigned char digest[SHA256_LEN];
	struct sigv4_kv all[MAX_HEADERS + 4];
	struct sigv4_request sreq;
	size_t nall;
	enum outcome o = OUTCOME_DONE;

	*hdrs = NULL;
	if (!uri)
		return result_set(r, OUTCOME_RETRY, "out of memory");
	if (sigv4_canonical_query(req->query, req->nq, query, sizeof query) < 0 ||
	    build_target(c, req, query, uri, URI_MAX, url, urlsize) < 0) {
		o = result_set(r, OUTCOME_GIVEUP, "S3 %s %s: the key is too long for a request",
			       req->op, shown_key(req->key, keybuf, sizeof keybuf));
		goto out;
	}
	if (req->body_sha256)
		memcpy(digest, req->body_sha256, sizeof digest);
	else
		crypto_sha256(req->len ? req->body : "", req->len, digest);
	crypto_hex(digest, sizeof digest, hash);
	if (sigv4_amz_date(time(NULL), amz_date) < 0) {
		o = result_set(r, OUTCOME_RETRY, "S3 %s: the clock cannot be read", req->op);
		goto out;
	}
	build_headers(c, req, amz_date, hash, all, &nall);
	sreq = (struct sigv4_request){req->method, uri, req->query, req->nq, all, nall,
				      hash, amz_date, region_of(c), "s3"};
	if (sigv4_sign(&sreq, c->cred.access_key_id, c->cred.secret_access_key, auth,
		       sizeof auth, NULL) < 0 ||
	    !(*hdrs = to_slist(all, nall, auth)))
		o = result_set(r, OUTCOME_GIVEUP, "S3 %s %s: the request cannot be signed "
						  "(a header value holds CR or LF, or is too long)",
			       req->op, shown_key(req->key, keybuf, sizeof keybuf));
out:
	explicit_bzero(auth, sizeof auth);
	free(uri);
	return o;
}

/* The outcome of a finished exchange; r set unless DONE. */
static enum outcome classify(struct s3_client *c, const struct s3_req *req,
			     struct s3_resp *resp, const char *errbuf, struct result *r)
{
	char keybuf[KEY_SHOWN + 4];

	if (resp->cc == CURLE_ABORTED_BY_CALLBACK && c->stop && *c->stop)
		return result_set(r, OUTCOME_RETRY, "stopped");
	if (resp->cc != CURLE_OK)
		return result_set(r, resp->overflow ? OUTCOME_RETRY : outcome_from_curl(resp->cc),
				  "S3 %s %s: %s%s%s", req->op,
				  shown_key(req->key, keybuf, sizeof keybuf),
				  resp->overflow ? "answer too long" : curl_easy_strerror(resp->cc),
				  errbuf[0] ? ": " : "", errbuf);
	if (resp->status >= 200 && resp->status < 300)
		return OUTCOME_DONE;
	parse_error_body(resp);
	snprintf(c->code, sizeof c->code, "%s", resp->code);
	return fail_http(c, req, resp, resp->status, r);
}

/* Signs and sends req with the credentials of this moment. DONE on a 2xx
 * answer; otherwise r is set. The caller frees resp->body. */
static enum outcome perform(struct s3_client *c, const struct s3_req *req,
			    struct s3_resp *resp, struct result *r)
{
	size_t urlsize = URI_MAX + QUERY_MAX + 700;
	char errbuf[CURL_ERROR_SIZE] = "", *url = malloc(urlsize);
	struct curl_slist *hdrs = NULL;
	struct reader rd = {req->body, req->len, 0};
	enum outcome o;

	memset(resp, 0, sizeof *resp);
	c->status = 0;
	c->code[0] = '\0';
	c->gone = false;
	if (!url)
		o = result_set(r, OUTCOME_RETRY, "out of memory");
	else if (c->stop && *c->stop)
		o = result_set(r, OUTCOME_RETRY, "stopped");
	else
		o = awscreds_get(c->creds, &c->cred, r);
	if (o == OUTCOME_DONE)
		o = prepare(c, req, url, urlsize, &hdrs, r);
	if (o == OUTCOME_DONE && set_common(c, req, url, hdrs, resp, errbuf) < 0)
		o = result_set(r, OUTCOME_RETRY, "S3 %s: out of memory", req->op);
	if (o == OUTCOME_DONE) {
		set_method(c->curl, req, &rd);
		resp->cc = curl_easy_perform(c->curl);
		/* curl takes an answer whose connection closed inside its headers
		 * as whole: a HEAD cut before our metadata would make our own
		 * object look like another file's. */
		if (resp->cc == CURLE_OK && !resp->headers_done) {
			resp->cc = CURLE_RECV_ERROR;
			snprintf(errbuf, sizeof errbuf, "the answer's headers were cut short");
		}
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
		c->status = resp->status;
		log_event(LOG_DEBUG, "s3_request", "op=%s status=%ld curl=%d", req->op,
			  resp->status, (int)resp->cc);
		o = classify(c, req, resp, errbuf, r);
	}
	curl_slist_free_all(hdrs);
	free(url);
	return o;
}

/* ---- operations ---- */

static void add_query(struct s3_req *req, const char *name, const char *value)
{
	if (req->nq < MAX_QUERY)
		req->query[req->nq++] = (struct sigv4_kv){name, value};
}

static void add_header(struct s3_req *req, const char *name, const char *value)
{
	if (req->nh < MAX_HEADERS)
		req->headers[req->nh++] = (struct sigv4_kv){name, value};
}

/* The extension of the key's last segment, "" when none. */
static const char *key_ext(const char *key)
{
	const char *slash = strrchr(key, '/'), *dot = strrchr(key, '.');

	return dot && (!slash || dot > slash) ? dot + 1 : "";
}

/* Headers of a new object: type, metadata, storage class, SSE. The values
 * live in bufs (two S3_META_MAX buffers). */
static int object_headers(const struct s3_client *c, struct s3_req *req,
			  const struct s3_meta *meta, char (*bufs)[S3_META_MAX], struct result *r)
{
	const struct config *cfg = c->cfg;
	char keybuf[KEY_SHOWN + 4];

	add_header(req, "Content-Type", meta && meta->content_type && meta->content_type[0]
						? meta->content_type
						: s3_content_type(key_ext(req->key)));
	/* An empty value is not sent: curl would drop "name: " unsigned. */
	if (meta && meta->meeting_uuid && meta->meeting_uuid[0]) {
		if (s3_meta_encode(meta->meeting_uuid, bufs[0], S3_META_MAX) < 0)
			goto too_long;
		add_header(req, "x-amz-meta-zoom-meeting-uuid", bufs[0]);
	}
	if (meta && meta->file_id && meta->file_id[0]) {
		if (s3_meta_encode(meta->file_id, bufs[1], S3_META_MAX) < 0)
			goto too_long;
		add_header(req, "x-amz-meta-zoom-file-id", bufs[1]);
	}
	if (cfg->s3_storage_class)
		add_header(req, "x-amz-storage-class", cfg->s3_storage_class);
	if (cfg->s3_sse)
		add_header(req, "x-amz-server-side-encryption", cfg->s3_sse);
	if (cfg->s3_sse_kms_key_id)
		add_header(req, "x-amz-server-side-encryption-aws-kms-key-id",
			   cfg->s3_sse_kms_key_id);
	return 0;
too_long:
	result_set(r, OUTCOME_GIVEUP, "S3 %s %s: a metadata value is too long", req->op,
		   shown_key(req->key, keybuf, sizeof keybuf));
	return -1;
}

static enum outcome need_etag(const struct s3_req *req, const struct s3_resp *resp,
			      char etag[S3_ETAG_MAX], struct result *r)
{
	char keybuf[KEY_SHOWN + 4];

	if (!resp->etag[0])
		return result_set(r, OUTCOME_RETRY, "S3 %s %s: the answer carries no ETag",
				  req->op, shown_key(req->key, keybuf, sizeof keybuf));
	snprintf(etag, S3_ETAG_MAX, "%s", resp->etag);
	return OUTCOME_DONE;
}

enum outcome s3_head(struct s3_client *c, const char *key, struct s3_object *out,
		     struct result *r)
{
	struct s3_req req = {.op = "HeadObject", .method = "HEAD", .key = key};
	struct s3_resp resp;
	enum outcome o;

	memset(out, 0, sizeof *out);
	o = perform(c, &req, &resp, r);
	if (o != OUTCOME_DONE && resp.status == 404 && resp.cc == CURLE_OK) {
		c->gone = false;
		o = OUTCOME_DONE; /* no such object: an answer, not a failure */
		r->kind = OUTCOME_DONE;
		r->why[0] = '\0';
	} else if (o == OUTCOME_DONE) {
		out->exists = true;
		out->size = resp.content_length;
		snprintf(out->etag, sizeof out->etag, "%s", resp.etag);
		snprintf(out->file_id, sizeof out->file_id, "%s", resp.meta_file_id);
		snprintf(out->meeting_uuid, sizeof out->meeting_uuid, "%s", resp.meta_uuid);
	}
	free(resp.body);
	return o;
}

enum outcome s3_head_bucket(struct s3_client *c, bool *exists, struct result *r)
{
	struct s3_object obj;
	enum outcome o = s3_head(c, NULL, &obj, r); /* no key: the bucket */

	*exists = obj.exists;
	return o;
}

enum outcome s3_put(struct s3_client *c, const char *key, const void *buf, size_t len,
		    const struct s3_meta *meta, char etag[S3_ETAG_MAX], struct result *r)
{
	return s3_put_hashed(c, key, buf, len, NULL, meta, etag, r);
}

enum outcome s3_put_hashed(struct s3_client *c, const char *key, const void *buf, size_t len,
			   const unsigned char *sha256, const struct s3_meta *meta,
			   char etag[S3_ETAG_MAX], struct result *r)
{
	struct s3_req req = {.op = "PutObject", .method = "PUT", .key = key, .body = buf,
			     .len = len, .body_sha256 = sha256};
	char bufs[2][S3_META_MAX];
	struct s3_resp resp = {0};
	enum outcome o;

	etag[0] = '\0';
	if (object_headers(c, &req, meta, bufs, r) < 0)
		return r->kind;
	o = perform(c, &req, &resp, r);
	if (o == OUTCOME_DONE)
		o = need_etag(&req, &resp, etag, r);
	free(resp.body);
	return o;
}

enum outcome s3_mpu_create(struct s3_client *c, const char *key, const struct s3_meta *meta,
			   char upload_id[S3_UPLOAD_ID_MAX], struct result *r)
{
	struct s3_req req = {.op = "CreateMultipartUpload", .method = "POST", .key = key};
	char bufs[2][S3_META_MAX], keybuf[KEY_SHOWN + 4];
	struct s3_resp resp = {0};
	enum outcome o;

	upload_id[0] = '\0';
	add_query(&req, "uploads", "");
	if (object_headers(c, &req, meta, bufs, r) < 0)
		return r->kind;
	o = perform(c, &req, &resp, r);
	if (o == OUTCOME_DONE &&
	    (!resp.body || !xml_text(resp.body, resp.body + resp.len, "UploadId", upload_id,
				     S3_UPLOAD_ID_MAX) ||
	     !upload_id[0]))
		o = result_set(r, OUTCOME_RETRY, "S3 %s %s: the answer carries no UploadId",
			       req.op, shown_key(key, keybuf, sizeof keybuf));
	free(resp.body);
	return o;
}

enum outcome s3_mpu_upload_part(struct s3_client *c, const char *key, const char *upload_id,
				int number, const void *buf, size_t len,
				char etag[S3_ETAG_MAX], struct result *r)
{
	return s3_mpu_upload_part_hashed(c, key, upload_id, number, buf, len, NULL, etag, r);
}

enum outcome s3_mpu_upload_part_hashed(struct s3_client *c, const char *key,
				       const char *upload_id, int number, const void *buf,
				       size_t len, const unsigned char *sha256,
				       char etag[S3_ETAG_MAX], struct result *r)
{
	struct s3_req req = {.op = "UploadPart", .method = "PUT", .key = key, .body = buf,
			     .len = len, .body_sha256 = sha256, .upload_op = true};
	char num[16];
	struct s3_resp resp = {0};
	enum outcome o;

	etag[0] = '\0';
	snprintf(num, sizeof num, "%d", number);
	add_query(&req, "partNumber", num);
	add_query(&req, "uploadId", upload_id);
	o = perform(c, &req, &resp, r);
	if (o == OUTCOME_DONE)
		o = need_etag(&req, &resp, etag, r);
	free(resp.body);
	return o;
}

static int cmp_part(const void *a, const void *b)
{
	const struct s3_part *x = a, *y = b;

	return (x->number > y->number) - (x->number < y->number);
}

/* The CompleteMultipartUpload document, parts sorted. NULL when out of
 * memory. */
static char *complete_xml(const struct s3_part *parts, size_t n, size_t *len)
{
	struct s3_part *sorted = malloc((n ? n : 1) * sizeof *sorted);
	size_t size = 128 + n * (64 + 6 * S3_ETAG_MAX), o = 0; /* "&quot;" is 6 */
	char *xml = malloc(size);

	if (!sorted || !xml)
		goto fail;
	memcpy(sorted, parts, n * sizeof *sorted);
	qsort(sorted, n, sizeof *sorted, cmp_part);
	o += (size_t)snprintf(xml + o, size - o,
			      "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/"
			      "2006-03-01/\">");
	for (size_t i = 0; i < n; i++) {
		o += (size_t)snprintf(xml + o, size - o,
				      "<Part><PartNumber>%d</PartNumber><ETag>\"",
				      sorted[i].number);
		/* ETags are hex and '-'; anything else is escaped all the same. */
		for (const char *p = sorted[i].etag; *p; p++)
			o += (size_t)snprintf(xml + o, size - o, "%s",
					      *p == '&'   ? "&amp;"
					      : *p == '<' ? "&lt;"
					      : *p == '>' ? "&gt;"
					      : *p == '"' ? "&quot;"
							  : (char[]){*p, '\0'});
		o += (size_t)snprintf(xml + o, size - o, "\"</ETag></Part>");
	}
	o += (size_t)snprintf(xml + o, size - o, "</CompleteMultipartUpload>");
	free(sorted);
	*len = o;
	return xml;
fail:
	free(sorted);
	free(xml);
	return NULL;
}

enum outcome s3_mpu_complete(struct s3_client *c, const char *key, const char *upload_id,
			     const struct s3_part *parts, size_t n, char etag[S3_ETAG_MAX],
			     struct result *r)
{
	struct s3_req req = {.op = "CompleteMultipartUpload", .method = "POST", .key = key,
			     .upload_op = true, .quiet_time = COMPLETE_QUIET_TIME};
	char keybuf[KEY_SHOWN + 4];
	struct s3_resp resp = {0};
	enum outcome o;
	size_t len;
	char *xml;

	etag[0] = '\0';
	if (n == 0 || n > 10000)
		return result_set(r, OUTCOME_GIVEUP, "S3 %s %s: %zu parts", req.op,
				  shown_key(key, keybuf, sizeof keybuf), n);
	xml = complete_xml(parts, n, &len);
	if (!xml)
		return result_set(r, OUTCOME_RETRY, "out of memory");
	add_query(&req, "uploadId", upload_id);
	add_header(&req, "Content-Type", "application/xml");
	req.body = xml;
	req.len = len;
	o = perform(c, &req, &resp, r);
	if (o == OUTCOME_DONE && resp.body && strstr(resp.body, "<Error>")) {
		/* S3 answers 200 at once and may still fail while it works. */
		parse_error_body(&resp);
		snprintf(c->code, sizeof c->code, "%s", resp.code);
		o = fail_http(c, &req, &resp, 500, r);
	} else if (o == OUTCOME_DONE &&
		   (!resp.body || !xml_text(resp.body, resp.body + resp.len, "ETag", etag,
					    S3_ETAG_MAX))) {
		o = result_set(r, OUTCOME_RETRY, "S3 %s %s: the answer carries no ETag", req.op,
			       shown_key(key, keybuf, sizeof keybuf));
	}
	strip_quotes(etag);
	if (o == OUTCOME_DONE && !etag[0]) {
		/* RGW 16 answers <ETag></ETag>: ask the object. The upload is
		 * complete either way, so a failed HEAD leaves etag empty but
		 * still reports DONE (a retry of Complete would find no upload). */
		struct s3_object obj;
		struct result hr;

		if (s3_head(c, key, &obj, &hr) == OUTCOME_DONE && obj.exists)
			snprintf(etag, S3_ETAG_MAX, "%s", obj.etag);
	}
	free(resp.body);
	free(xml);
	return o;
}

enum outcome s3_mpu_abort(struct s3_client *c, const char *key, const char *upload_id,
			  struct result *r)
{
	struct s3_req req = {.op = "AbortMultipartUpload", .method = "DELETE", .key = key,
			     .upload_op = true};
	struct s3_resp resp = {0};
	enum outcome o;

	add_query(&req, "uploadId", upload_id);
	o = perform(c, &req, &resp, r);
	if (o != OUTCOME_DONE && c->gone) {
		o = OUTCOME_DONE; /* already gone: what abort wanted */
		r->kind = OUTCOME_DONE;
		r->why[0] = '\0';
	}
	free(resp.body);
	return o;
}

/* Reads the <Part> blocks of one ListParts page into the growing array. */
static int read_parts(const struct s3_resp *resp, struct s3_part **parts, size_t *n,
		      size_t *cap)
{
	const char *from = resp->body, *end = resp->body + resp->len, *a, *b;
	char num[32], size[32];

	while (xml_block(&from, end, "Part", &a, &b)) {
		struct s3_part p = {0};

		if (!xml_text(a, b, "PartNumber", num, sizeof num) ||
		    !xml_text(a, b, "ETag", p.etag, sizeof p.etag) ||
		    !xml_text(a, b, "Size", size, sizeof size))
			return -1;
		p.number = atoi(num);
		p.size = strtoull(size, NULL, 10);
		strip_quotes(p.etag);
		if (*n == *cap) {
			size_t grown_cap = *cap ? *cap * 2 : 64;
			struct s3_part *grown = realloc(*parts, grown_cap * sizeof *grown);

			if (!grown)
				return -1;
			*parts = grown;
			*cap = grown_cap;
		}
		(*parts)[(*n)++] = p;
	}
	return 0;
}

static bool truncated(const struct s3_resp *resp)
{
	char flag[16];

	return xml_text(resp->body, resp->body + resp->len, "IsTruncated", flag, sizeof flag) &&
	       strcmp(flag, "true") == 0;
}

enum outcome s3_mpu_list_parts(struct s3_client *c, const char *key, const char *upload_id,
			       struct s3_part **parts, size_t *n, struct result *r)
{
	char marker[32] = "", keybuf[KEY_SHOWN + 4];
	size_t cap = 0;
	enum outcome o = OUTCOME_DONE;

	*parts = NULL;
	*n = 0;
	for (int page = 0;; page++) {
		struct s3_req req = {.op = "ListParts", .method = "GET", .key = key,
				     .upload_op = true};
		struct s3_resp resp = {0};
		char next[32] = "";
		bool more;

		add_query(&req, "uploadId", upload_id);
		if (marker[0])
			add_query(&req, "part-number-marker", marker);
		o = perform(c, &req, &resp, r);
		if (o == OUTCOME_DONE && (!resp.body || read_parts(&resp, parts, n, &cap) < 0))
			o = result_set(r, OUTCOME_RETRY, "S3 %s %s: unreadable answer", req.op,
				       shown_key(key, keybuf, sizeof keybuf));
		more = o == OUTCOME_DONE && truncated(&resp);
		if (more && (!xml_text(resp.body, resp.body + resp.len, "NextPartNumberMarker",
				       next, sizeof next) ||
			     atoi(next) <= atoi(marker) || page >= LIST_PAGES_MAX))
			o = result_set(r, OUTCOME_RETRY, "S3 %s %s: the listing does not advance",
				       req.op, shown_key(key, keybuf, sizeof keybuf));
		snprintf(marker, sizeof marker, "%s", next);
		free(resp.body);
		if (!more || o != OUTCOME_DONE)
			break;
	}
	if (o != OUTCOME_DONE) {
		free(*parts);
		*parts = NULL;
		*n = 0;
	} else if (*n > 1) {
		qsort(*parts, *n, sizeof **parts, cmp_part);
	}
	return o;
}

/* Keeps the uploads of one ListMultipartUploads page whose key is key. */
static int read_uploads(const struct s3_resp *resp, const char *key, struct s3_upload **ups,
			size_t *n, size_t *cap)
{
	const char *from = resp->body, *end = resp->body + resp->len, *a, *b;
	char *ukey = malloc(4096);
	int rc = -1;

	if (!ukey)
		return -1;
	while (xml_block(&from, end, "Upload", &a, &b)) {
		struct s3_upload u;

		if (!xml_text(a, b, "Key", ukey, 4096) ||
		    !xml_text(a, b, "UploadId", u.upload_id, sizeof u.upload_id))
			goto out;
		if (strcmp(ukey, key) != 0)
			continue;
		if (*n == *cap) {
			size_t grown_cap = *cap ? *cap * 2 : 4;
			struct s3_upload *grown = realloc(*ups, grown_cap * sizeof *grown);

			if (!grown)
				goto out;
			*ups = grown;
			*cap = grown_cap;
		}
		(*ups)[(*n)++] = u;
	}
	rc = 0;
out:
	free(ukey);
	return rc;
}

enum outcome s3_mpu_list_uploads(struct s3_client *c, const char *key,
				 struct s3_upload **uploads, size_t *n, struct result *r)
{
	char *key_marker = calloc(1, 4096), id_marker[S3_UPLOAD_ID_MAX] = "";
	char keybuf[KEY_SHOWN + 4];
	size_t cap = 0;
	enum outcome o = key_marker ? OUTCOME_DONE : result_set(r, OUTCOME_RETRY, "out of memory");

	*uploads = NULL;
	*n = 0;
	for (int page = 0; o == OUTCOME_DONE; page++) {
		struct s3_req req = {.op = "ListMultipartUploads", .method = "GET"};
		struct s3_resp resp = {0};
		bool more;

		add_query(&req, "uploads", "");
		add_query(&req, "prefix", key);
		if (key_marker[0])
			add_query(&req, "key-marker", key_marker);
		if (id_marker[0])
			add_query(&req, "upload-id-marker", id_marker);
		o = perform(c, &req, &resp, r);
		if (o == OUTCOME_DONE &&
		    (!resp.body || read_uploads(&resp, key, uploads, n, &cap) < 0))
			o = result_set(r, OUTCOME_RETRY, "S3 %s %s: unreadable answer", req.op,
				       shown_key(key, keybuf, sizeof keybuf));
		more = o == OUTCOME_DONE && truncated(&resp);
		if (more && (!xml_text(resp.body, resp.body + resp.len, "NextKeyMarker", key_marker,
				       4096) ||
			     !xml_text(resp.body, resp.body + resp.len, "NextUploadIdMarker",
				       id_marker, sizeof id_marker) ||
			     page >= LIST_PAGES_MAX))
			o = result_set(r, OUTCOME_RETRY, "S3 %s %s: the listing does not advance",
				       req.op, shown_key(key, keybuf, sizeof keybuf));
		free(resp.body);
		if (!more)
			break;
	}
	free(key_marker);
	if (o != OUTCOME_DONE) {
		free(*uploads);
		*uploads = NULL;
		*n = 0;
	}
	return o;
}
