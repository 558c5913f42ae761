/* S3's protocol: addressing, signing, the operations and their error
 * codes. The XML is s3xml.c's, the HTTP http.c's. See s3.h. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "crypto.h"
#include "http.h"
#include "log.h"
#include "pctenc.h"
#include "s3.h"
#include "s3xml.h"
#include "sigv4.h"

#define BODY_MAX (8u << 20)     /* the largest answer body kept (ListParts: ~200 KB) */
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
/* In-transfer retries of a transient answer: tries of one request in all,
 * and the backoff between them (full jitter over a doubling step, capped):
 * at most about 0.25 + 0.5 + 1 + 2 s, well inside what S3 asks of clients,
 * and small beside a job's own retry_delay. */
#define TRIES 5
#define BACKOFF_FIRST_MS 250
#define BACKOFF_CAP_MS 4000

/* The server's clock minus ours, from the Date of a RequestTimeTooSkewed
 * answer: every signature after it is dated by the server's clock.
 * Process-wide, as the clock is. */
static _Atomic long clock_offset;
static atomic_bool clock_offset_logged;
static atomic_bool conditional_refused_logged;

struct s3_client {
	const struct config *cfg;
	struct awscreds *creds;
	stop_flag_t *stop;
	struct http_client *http;
	const char *scheme;        /* "http" or "https" */
	char host[600];            /* the Host header: "[bucket.]host[:port]" */
	char base_path[600];       /* endpoint prefix [+ "/bucket"], no trailing '/' */
	char *ca_bundle;           /* $AWS_CA_BUNDLE, as the AWS SDKs read it; or NULL */
	struct aws_credentials cred;
	long status;               /* about the last call */
	char code[64];
	bool gone;
	bool key_taken;            /* a conditional write found the key taken (412) */
	bool conditional_refused;  /* this server refuses If-None-Match: not sent again */
	unsigned int rand_state;   /* the backoff's jitter */
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
	bool send_checksum;        /* x-amz-checksum-sha256 of the body, when s3_checksum says */
	bool if_absent;            /* If-None-Match: *: only where the key holds nothing */
	bool absent_ok;            /* a 404 is an answer (HEAD), not a failure to log */
	/* Sending it twice can do it twice (CreateMultipartUpload: a second
	 * upload): not sent again once it may have reached S3 unanswered; the
	 * job's next try finds and aborts what it left (transfer.c). */
	bool not_idempotent;
	long quiet_time;           /* seconds of a stalled transfer allowed; 0: http.c's */
};

/* The answer: http.c's, and what S3 says in it. */
struct s3_resp {
	struct http_response h;
	char etag[S3_ETAG_MAX];
	char meta_file_id[S3_META_MAX], meta_uuid[S3_META_MAX];
	char region[64];           /* x-amz-bucket-region, or the error's <Region> */
	char code[64], message[256];
};

/* A request ready to send: its URL, signed headers and Authorization. */
struct s3_signed {
	char *url;
	char amz_date[SIGV4_AMZ_DATE_LEN + 1];
	char hash[SHA256_HEX_LEN + 1];
	char auth[SIGV4_AUTH_MAX];
	char checksum[S3_CHECKSUM_MAX];
	struct http_header headers[MAX_HEADERS + 6];
	size_t n;
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

const char *s3_op_permission(const char *op)
{
	static const char *const map[][2] = {
		{"HeadObject", "s3:GetObject"},
		{"PutObject", "s3:PutObject"},
		{"CreateMultipartUpload", "s3:PutObject"},
		{"UploadPart", "s3:PutObject"},
		{"CompleteMultipartUpload", "s3:PutObject"},
		{"AbortMultipartUpload", "s3:AbortMultipartUpload"},
		{"ListParts", "s3:ListMultipartUploadParts"},
		{"ListMultipartUploads", "s3:ListBucketMultipartUploads"},
		{"HeadBucket", "s3:ListBucket"},
	};

	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(op, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

enum s3_again s3_again_after(bool answered, enum outcome o, long status, const char *code)
{
	static const char *const busy[] = {
		"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable",
		"Throttling", "ThrottlingException", "RequestLimitExceeded",
		"ConditionalRequestConflict", NULL,
	};

	if (!answered) /* reset, timeout, refused connection: not a refusal */
		return o == OUTCOME_RETRY ? S3_AGAIN_BACKOFF : S3_AGAIN_NO;
	if (strcmp(code, "RequestTimeTooSkewed") == 0)
		return S3_AGAIN_CLOCK;
	if (code_in(code, busy))
		return S3_AGAIN_BACKOFF;
	if (status == 501 || strcmp(code, "NotImplemented") == 0)
		return S3_AGAIN_NO; /* the server cannot: asking again will not help */
	if (status >= 500 || status == 429 || status == 408)
		return S3_AGAIN_BACKOFF;
	return S3_AGAIN_NO;
}

long s3_backoff_ms(int retry, double jitter01)
{
	long step = BACKOFF_FIRST_MS;

	for (int i = 0; i < retry && step < BACKOFF_CAP_MS; i++)
		step *= 2;
	if (step > BACKOFF_CAP_MS)
		step = BACKOFF_CAP_MS;
	if (jitter01 < 0)
		jitter01 = 0;
	if (jitter01 > 1)
		jitter01 = 1;
	/* Half fixed, half random: never a zero wait, never in lockstep. */
	return step / 2 + (long)(jitter01 * (double)(step / 2));
}

int s3_parse_http_date(const char *value, time_t *out)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char mon[4];
	struct tm tm = {0};
	const char *m;
	time_t t;

	/* IMF-fixdate, as S3 and RGW send it: "Sun, 06 Dec 2026 22:10:29 GMT". */
	if (!value || sscanf(value, "%*3[A-Za-z], %d %3[A-Za-z] %d %d:%d:%d GMT", &tm.tm_mday, mon,
			     &tm.tm_year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	m = strlen(mon) == 3 ? strstr(months, mon) : NULL;
	if (!m || (m - months) % 3 != 0 || tm.tm_year < 1970 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_mon = (int)((m - months) / 3);
	tm.tm_year -= 1900;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = t;
	return 0;
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
	const char *ca_bundle = getenv("AWS_CA_BUNDLE");

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->cfg = cfg;
	c->creds = creds;
	c->stop = stop;
	c->rand_state = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)c;
	if (!cfg->s3_bucket || !cfg->s3_bucket[0]) {
		snprintf(err, errlen, "s3_bucket is not set");
		goto fail;
	}
	if (setup_addressing(c, err, errlen) < 0)
		goto fail;
	if (ca_bundle && ca_bundle[0] && !(c->ca_bundle = strdup(ca_bundle))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	c->http = http_client_new(stop);
	if (!c->http) {
		snprintf(err, errlen, "out of memory");
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
	http_client_free(c->http);
	awscreds_clear(&c->cred);
	free(c->ca_bundle);
	free(c);
}

bool s3_upload_gone(const struct s3_client *c)
{
	return c->gone;
}

bool s3_key_taken(const struct s3_client *c)
{
	return c->key_taken;
}


long s3_last_status(const struct s3_client *c)
{
	return c->status;
}

const char *s3_last_code(const struct s3_client *c)
{
	return c->code;
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
		if (pctenc_encode(req->key, PCTENC_SIGV4_S3_KEY, uri + n, urisize - n) < 0)
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
			  const char *amz_date, const char *payload_hash, const char *checksum,
			  struct sigv4_kv *all, size_t *n)
{
	size_t k = 0;

	all[k++] = (struct sigv4_kv){"Host", c->host};
	all[k++] = (struct sigv4_kv){"x-amz-date", amz_date};
	all[k++] = (struct sigv4_kv){"x-amz-content-sha256", payload_hash};
	if (c->cred.session_token[0])
		all[k++] = (struct sigv4_kv){"x-amz-security-token", c->cred.session_token};
	for (size_t i = 0; i < req->nh; i++)
		all[k++] = req->headers[i];
	if (checksum && checksum[0])
		all[k++] = (struct sigv4_kv){"x-amz-checksum-sha256", checksum};
	if (req->if_absent && !c->conditional_refused)
		all[k++] = (struct sigv4_kv){"If-None-Match", "*"};
	*n = k;
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

/* A conditional write answered 412: the key holds an object. */
static enum outcome check_taken(struct s3_client *c, const struct s3_req *req,
				const struct s3_resp *resp, enum outcome o, struct result *r)
{
	char keybuf[KEY_SHOWN + 4];

	if (o == OUTCOME_DONE || !req->if_absent || resp->h.status != 412)
		return o;
	c->key_taken = true;
	return result_set(r, OUTCOME_RETRY, "S3 %s %s: the key already holds an object", req->op,
			  shown_key(req->key, keybuf, sizeof keybuf));
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
		 (!code[0] && (resp->h.status == 401 || resp->h.status == 403)))
		snprintf(buf, size,
			 " (check the AWS credentials, key id %.64s from the %s, and the "
				    "bucket policy)", c->cred.access_key_id, c->cred.source);
	else if (strcmp(code, "NoSuchBucket") == 0)
		snprintf(buf, size, " (create bucket %s, or fix s3_bucket)", c->cfg->s3_bucket);
	else if (!strcmp(code, "PermanentRedirect") ||
		 !strcmp(code, "AuthorizationHeaderMalformed") ||
		 resp->h.status == 301)
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
	char keybuf[KEY_SHOWN + 4], hintbuf[400], id[HTTP_REQUEST_ID_MAX + 16];
	enum outcome o = s3_error_outcome(status_for_table, resp->code, req->upload_op, &c->gone);

	const char *perm = s3_op_permission(req->op);

	/* A wrong s3_region is the operator's to fix, whatever the status
	 * (HEAD answers 301 or 400 with no body, only this header). A HEAD
	 * answer has no body to say what else a 400 means: not a verdict on
	 * the job either. */
	if ((resp->region[0] && strcmp(resp->region, region_of(c)) != 0 && !c->gone) ||
	    (strcmp(req->method, "HEAD") == 0 && resp->h.status == 400 && !resp->code[0]))
		o = OUTCOME_RETRY;
	/* A refusal names what was refused, also when it comes without a body
	 * (HEAD, some cross-account answers). */
	if (resp->h.status == 403 && perm &&
	    (!resp->code[0] || strcmp(resp->code, "AccessDenied") == 0 ||
	     strcmp(resp->code, "AllAccessDisabled") == 0))
		return result_set(r, o == OUTCOME_DONE ? OUTCOME_RETRY : o,
				  "%s denied on %s/%s (%s): HTTP 403%s%s%s%s%s%s", perm,
				  c->cfg->s3_bucket, shown_key(req->key, keybuf, sizeof keybuf),
				  req->op, resp->code[0] ? " " : "", resp->code,
				  resp->message[0] ? ": " : "", resp->message,
				  hint(c, resp, c->gone, hintbuf, sizeof hintbuf),
				  http_request_id_note(&resp->h, id, sizeof id));
	return result_set(r, o == OUTCOME_DONE ? OUTCOME_RETRY : o,
			  "S3 %s %s: HTTP %ld%s%s%s%s%s%s", req->op,
			  shown_key(req->key, keybuf, sizeof keybuf), resp->h.status,
			  resp->code[0] ? " " : "", resp->code, resp->message[0] ? ": " : "",
			  resp->message, hint(c, resp, c->gone, hintbuf, sizeof hintbuf),
			  http_request_id_note(&resp->h, id, sizeof id));
}

static void parse_error_body(struct s3_resp *resp)
{
	char region[64];

	if (!s3xml_error(resp->h.body, resp->h.body_len, resp->code, sizeof resp->code,
			 resp->message, sizeof resp->message, region, sizeof region))
		return;
	if (!resp->region[0] && region[0])
		snprintf(resp->region, sizeof resp->region, "%s", region);
}

/* The signed request: its URL and its headers (host, x-amz-date,
 * x-amz-content-sha256, x-amz-security-token, the request's own) and the
 * Authorization value. DONE, or r set; free sr->url either way. */
static enum outcome prepare(struct s3_client *c, const struct s3_req *req, struct s3_signed *sr,
			    struct result *r)
{
	size_t urlsize = URI_MAX + QUERY_MAX + 700;
	char query[QUERY_MAX], *uri = malloc(URI_MAX), keybuf[KEY_SHOWN + 4];
	unsigned char digest[SHA256_LEN];
	struct sigv4_kv all[MAX_HEADERS + 6];
	struct sigv4_request sreq;
	enum outcome o = OUTCOME_DONE;

	sr->url = malloc(urlsize);
	if (!uri || !sr->url) {
		o = result_set(r, OUTCOME_RETRY, "out of memory");
		goto out;
	}
	if (sigv4_canonical_query(req->query, req->nq, query, sizeof query) < 0 ||
	    build_target(c, req, query, uri, URI_MAX, sr->url, urlsize) < 0) {
		o = result_set(r, OUTCOME_GIVEUP, "S3 %s %s: the key is too long for a request",
			       req->op, shown_key(req->key, keybuf, sizeof keybuf));
		goto out;
	}
	if (req->body_sha256)
		memcpy(digest, req->body_sha256, sizeof digest);
	else
		crypto_sha256(req->len ? req->body : "", req->len, digest);
	crypto_hex(digest, sizeof digest, sr->hash);
	sr->checksum[0] = '\0';
	if (req->send_checksum && c->cfg->s3_checksum_sha256)
		crypto_base64(digest, sizeof digest, sr->checksum);
	if (sigv4_amz_date(time(NULL) + atomic_load(&clock_offset), sr->amz_date) < 0) {
		o = result_set(r, OUTCOME_RETRY, "S3 %s: the clock cannot be read", req->op);
		goto out;
	}
	build_headers(c, req, sr->amz_date, sr->hash, sr->checksum, all, &sr->n);
	sreq = (struct sigv4_request){req->method, uri, req->query, req->nq, all, sr->n,
				      sr->hash, sr->amz_date, region_of(c), "s3"};
	if (sigv4_sign(&sreq, c->cred.access_key_id, c->cred.secret_access_key, sr->auth,
		       sizeof sr->auth, NULL) < 0) {
		o = result_set(r, OUTCOME_GIVEUP, "S3 %s %s: the request cannot be signed "
						  "(a header value holds CR or LF, or is too long)",
			       req->op, shown_key(req->key, keybuf, sizeof keybuf));
		goto out;
	}
	for (size_t i = 0; i < sr->n; i++)
		sr->headers[i] = (struct http_header){all[i].name, all[i].value};
out:
	free(uri);
	return o;
}

/* The outcome of a finished exchange; r set unless DONE. */
static enum outcome classify(struct s3_client *c, const struct s3_req *req,
			     struct s3_resp *resp, struct result *r)
{
	const struct http_response *h = &resp->h;
	char keybuf[KEY_SHOWN + 4];

	if (h->stopped)
		return result_set(r, OUTCOME_RETRY, "stopped");
	if (h->error[0])
		return result_set(r, h->outcome, "S3 %s %s: %s", req->op,
				  shown_key(req->key, keybuf, sizeof keybuf), h->error);
	if (h->status >= 200 && h->status < 300)
		return OUTCOME_DONE;
	parse_error_body(resp);
	snprintf(c->code, sizeof c->code, "%s", resp->code);
	return fail_http(c, req, resp, h->status, r);
}

/* What the answer's headers say about the object. */
static void read_headers(struct s3_resp *resp)
{
	const char *v;

	if ((v = http_header(&resp->h, "ETag"))) {
		snprintf(resp->etag, sizeof resp->etag, "%s", v);
		s3xml_strip_quotes(resp->etag);
	}
	if ((v = http_header(&resp->h, "x-amz-meta-zoom-file-id")) &&
	    pctenc_decode(v, resp->meta_file_id, sizeof resp->meta_file_id) < 0)
		resp->meta_file_id[0] = '\0';
	if ((v = http_header(&resp->h, "x-amz-meta-zoom-meeting-uuid")) &&
	    pctenc_decode(v, resp->meta_uuid, sizeof resp->meta_uuid) < 0)
		resp->meta_uuid[0] = '\0';
	if ((v = http_header(&resp->h, "x-amz-bucket-region")))
		snprintf(resp->region, sizeof resp->region, "%s", v);
}

static enum http_method method_of(const char *method)
{
	if (strcmp(method, "HEAD") == 0)
		return HTTP_HEAD;
	if (strcmp(method, "PUT") == 0)
		return HTTP_PUT;
	if (strcmp(method, "POST") == 0)
		return HTTP_POST;
	if (strcmp(method, "DELETE") == 0)
		return HTTP_DELETE;
	return HTTP_GET;
}

static void resp_free(struct s3_resp *resp)
{
	http_response_free(&resp->h);
}

/* Signs and sends req once, with the credentials of this moment. DONE on
 * a 2xx answer; otherwise r is set. The caller calls resp_free. */
static enum outcome perform_once(struct s3_client *c, const struct s3_req *req,
				 struct s3_resp *resp, struct result *r)
{
	struct s3_signed *sr = calloc(1, sizeof *sr);
	char id[HTTP_REQUEST_ID_MAX + 8];
	enum outcome o;

	memset(resp, 0, sizeof *resp);
	c->status = 0;
	c->code[0] = '\0';
	c->gone = false;
	c->key_taken = false;
	if (!sr)
		return result_set(r, OUTCOME_RETRY, "out of memory");
	if (c->stop && *c->stop)
		o = result_set(r, OUTCOME_RETRY, "stopped");
	else
		o = awscreds_get(c->creds, &c->cred, r);
	if (o == OUTCOME_DONE)
		o = prepare(c, req, sr, r);
	if (o == OUTCOME_DONE) {
		struct http_request hr = {
			.what = "S3", .method = method_of(req->method), .url = sr->url,
			.authorization = sr->auth, .headers = sr->headers, .n_headers = sr->n,
			.body = req->body, .body_len = req->len, .max_body = BODY_MAX,
			.low_speed_time = req->quiet_time, .send_buffer = UPLOAD_BUFFER_SIZE,
			.ca_file = c->ca_bundle,
		};

		http_run(c->http, &hr, &resp->h);
		read_headers(resp);
		c->status = resp->h.status;
		log_event(LOG_DEBUG, "s3_request", "op=%s status=%ld curl=%d%s%s", req->op,
			  resp->h.status, resp->h.curl_code,
			  resp->h.request_id[0] ? " request_id=" : "",
			  log_q(resp->h.request_id, id, sizeof id));
		o = classify(c, req, resp, r);
	}
	explicit_bzero(sr->auth, sizeof sr->auth);
	free(sr->url);
	free(sr);
	return o;
}

long s3_clock_offset(void)
{
	return atomic_load(&clock_offset);
}

/* After RequestTimeTooSkewed: the server's Date says how far off this
 * host's clock is; signatures are dated by the server's clock from now on.
 * -1 when the answer carries no readable Date. */
static int correct_clock(const struct s3_resp *resp)
{
	time_t server, now = time(NULL);
	long offset;

	if (s3_parse_http_date(http_header(&resp->h, "Date"), &server) < 0)
		return -1;
	offset = (long)(server - now);
	atomic_store(&clock_offset, offset);
	if (!atomic_exchange(&clock_offset_logged, true))
		log_event(LOG_WARNING, "s3.clock_offset",
			  "offset=%ld why=RequestTimeTooSkewed (this host's clock is %ld s %s S3's: "
			  "fix its time synchronisation)",
			  offset, labs(offset), offset > 0 ? "behind" : "ahead of");
	return 0;
}

/* Waits ms, in slices, unless the stop flag rises. -1 when it did. */
static int pause_ms(const struct s3_client *c, long ms)
{
	while (ms > 0) {
		long slice = ms < 100 ? ms : 100;
		struct timespec ts = {0, slice * 1000000L};

		if (c->stop && *c->stop)
			return -1;
		nanosleep(&ts, NULL);
		ms -= slice;
	}
	return c->stop && *c->stop ? -1 : 0;
}

/* The request cannot have reached the server: no connection was made. */
static bool never_sent(const struct http_response *h)
{
	return h->curl_code == CURLE_COULDNT_RESOLVE_HOST || h->curl_code == CURLE_COULDNT_CONNECT ||
	       h->curl_code == CURLE_COULDNT_RESOLVE_PROXY;
}

/* The server refuses If-None-Match (501 NotImplemented): conditional
 * writes are off for this client, and the caller's HEAD-first check is
 * what guards the key. */
static bool refuses_conditional(const struct s3_client *c, const struct s3_req *req,
				const struct s3_resp *resp)
{
	return req->if_absent && !c->conditional_refused && resp->h.answered &&
	       (resp->h.status == 501 || strcmp(resp->code, "NotImplemented") == 0);
}

/* Sends req until it is answered for good: a transient failure is sent
 * again (the body is in memory: nothing is fetched again), with backoff;
 * RequestTimeTooSkewed corrects the clock first. Each failed try is a log
 * line with S3's request id and host id. */
static enum outcome perform(struct s3_client *c, const struct s3_req *req,
			    struct s3_resp *resp, struct result *r)
{
	char keybuf[KEY_SHOWN + 4], keyq[4 * KEY_SHOWN + 8], id[HTTP_REQUEST_ID_MAX + 8];
	char whyq[4 * sizeof r->why];
	enum outcome o;

	for (int try = 1;; try++) {
		enum s3_again again;
		long wait_ms = 0;

		o = perform_once(c, req, resp, r);
		if (o == OUTCOME_DONE || resp->h.stopped)
			return o;
		if (refuses_conditional(c, req, resp)) {
			c->conditional_refused = true;
			if (!atomic_exchange(&conditional_refused_logged, true))
				log_event(LOG_NOTICE, "s3.conditional_refused",
					  "op=%s status=%ld (the server does not take "
					  "If-None-Match: the HEAD before each upload guards keys)",
					  req->op, resp->h.status);
			resp_free(resp);
			try--; /* not a failure of the request */
			continue;
		}
		if ((resp->h.status == 404 && req->absent_ok) ||
		    (resp->h.status == 412 && req->if_absent))
			return o; /* an answer the caller asked for, not a failure */
		again = s3_again_after(resp->h.answered && !resp->h.error[0], resp->h.outcome,
				       resp->h.status, resp->code);
		if (req->not_idempotent && !never_sent(&resp->h) &&
		    !(resp->h.answered && resp->h.status >= 300))
			again = S3_AGAIN_NO; /* it may have been done: not twice */
		/* A HEAD refused is what S3 answers for a missing key without
		 * s3:ListBucket: routine under the least-privilege policy. */
		log_event(req->absent_ok && (resp->h.status == 403 || resp->h.status == 400)
				  ? LOG_INFO
				  : LOG_WARNING,
			  "s3.failed",
			  "op=%s key=%s status=%ld code=%s try=%d/%d%s%s error=%s", req->op,
			  log_q(shown_key(req->key, keybuf, sizeof keybuf), keyq, sizeof keyq),
			  resp->h.status, resp->code[0] ? resp->code : "-", try, TRIES,
			  resp->h.request_id[0] ? " request_id=" : "",
			  resp->h.request_id[0] ? log_q(resp->h.request_id, id, sizeof id) : "",
			  log_q(r->why, whyq, sizeof whyq));
		if (again == S3_AGAIN_NO || try >= TRIES)
			return o;
		if (again == S3_AGAIN_CLOCK && correct_clock(resp) < 0)
			return o; /* no Date to correct it with: the operator's to fix */
		if (again == S3_AGAIN_BACKOFF) {
			int draw = rand_r(&c->rand_state);

			wait_ms = s3_backoff_ms(try - 1, (double)draw / RAND_MAX);
		}
		resp_free(resp);
		if (pause_ms(c, wait_ms) < 0) {
			memset(resp, 0, sizeof *resp);
			return result_set(r, OUTCOME_RETRY, "stopped");
		}
	}
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
		if (pctenc_encode(meta->meeting_uuid, PCTENC_S3_META, bufs[0], S3_META_MAX) < 0)
			goto too_long;
		add_header(req, "x-amz-meta-zoom-meeting-uuid", bufs[0]);
	}
	if (meta && meta->file_id && meta->file_id[0]) {
		if (pctenc_encode(meta->file_id, PCTENC_S3_META, bufs[1], S3_META_MAX) < 0)
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
	if (cfg->s3_acl)
		add_header(req, "x-amz-acl", cfg->s3_acl);
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
	struct s3_req req = {.op = key ? "HeadObject" : "HeadBucket", .method = "HEAD",
			     .key = key, .absent_ok = true};
	struct s3_resp resp;
	enum outcome o;

	memset(out, 0, sizeof *out);
	o = perform(c, &req, &resp, r);
	if (o != OUTCOME_DONE && resp.h.status == 404 && !resp.h.error[0]) {
		c->gone = false;
		o = OUTCOME_DONE; /* no such object: an answer, not a failure */
		r->kind = OUTCOME_DONE;
		r->why[0] = '\0';
	} else if (o == OUTCOME_DONE) {
		out->exists = true;
		out->size = resp.h.content_length > 0 ? (uint64_t)resp.h.content_length : 0;
		snprintf(out->etag, sizeof out->etag, "%s", resp.etag);
		snprintf(out->file_id, sizeof out->file_id, "%s", resp.meta_file_id);
		snprintf(out->meeting_uuid, sizeof out->meeting_uuid, "%s", resp.meta_uuid);
	}
	resp_free(&resp);
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
			     .len = len, .body_sha256 = sha256, .send_checksum = true,
			     .if_absent = meta && meta->if_absent};
	char bufs[2][S3_META_MAX];
	struct s3_resp resp;
	enum outcome o;

	etag[0] = '\0';
	if (object_headers(c, &req, meta, bufs, r) < 0)
		return r->kind;
	o = check_taken(c, &req, &resp, perform(c, &req, &resp, r), r);
	if (o == OUTCOME_DONE)
		o = need_etag(&req, &resp, etag, r);
	resp_free(&resp);
	return o;
}

enum outcome s3_mpu_create(struct s3_client *c, const char *key, const struct s3_meta *meta,
			   char upload_id[S3_UPLOAD_ID_MAX], struct result *r)
{
	struct s3_req req = {.op = "CreateMultipartUpload", .method = "POST", .key = key,
			     .not_idempotent = true};
	char bufs[2][S3_META_MAX], keybuf[KEY_SHOWN + 4];
	struct s3_resp resp;
	enum outcome o;

	upload_id[0] = '\0';
	add_query(&req, "uploads", "");
	if (object_headers(c, &req, meta, bufs, r) < 0)
		return r->kind;
	if (c->cfg->s3_checksum_sha256)
		add_header(&req, "x-amz-checksum-algorithm", "SHA256");
	o = perform(c, &req, &resp, r);
	if (o == OUTCOME_DONE &&
	    (!resp.h.body || !s3xml_text(resp.h.body, resp.h.body + resp.h.body_len, "UploadId",
					 upload_id, S3_UPLOAD_ID_MAX) ||
	     !upload_id[0]))
		o = result_set(r, OUTCOME_RETRY, "S3 %s %s: the answer carries no UploadId",
			       req.op, shown_key(key, keybuf, sizeof keybuf));
	resp_free(&resp);
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
			     .len = len, .body_sha256 = sha256, .upload_op = true,
			     .send_checksum = true};
	char num[16];
	struct s3_resp resp;
	enum outcome o;

	etag[0] = '\0';
	snprintf(num, sizeof num, "%d", number);
	add_query(&req, "partNumber", num);
	add_query(&req, "uploadId", upload_id);
	o = perform(c, &req, &resp, r);
	if (o == OUTCOME_DONE)
		o = need_etag(&req, &resp, etag, r);
	resp_free(&resp);
	return o;
}

enum outcome s3_mpu_complete(struct s3_client *c, const char *key, const char *upload_id,
			     const struct s3_part *parts, size_t n, bool if_absent,
			     char etag[S3_ETAG_MAX], struct result *r)
{
	struct s3_req req = {.op = "CompleteMultipartUpload", .method = "POST", .key = key,
			     .upload_op = true, .quiet_time = COMPLETE_QUIET_TIME,
			     .if_absent = if_absent};
	char keybuf[KEY_SHOWN + 4];
	struct s3_resp resp;
	enum outcome o;
	size_t len;
	char *xml;

	etag[0] = '\0';
	if (n == 0 || n > 10000)
		return result_set(r, OUTCOME_GIVEUP, "S3 %s %s: %zu parts", req.op,
				  shown_key(key, keybuf, sizeof keybuf), n);
	xml = s3xml_complete(parts, n, &len);
	if (!xml)
		return result_set(r, OUTCOME_RETRY, "out of memory");
	add_query(&req, "uploadId", upload_id);
	add_header(&req, "Content-Type", "application/xml");
	req.body = xml;
	req.len = len;
	o = check_taken(c, &req, &resp, perform(c, &req, &resp, r), r);
	if (o == OUTCOME_DONE && resp.h.body && strstr(resp.h.body, "<Error>")) {
		/* S3 answers 200 at once and may still fail while it works. */
		parse_error_body(&resp);
		snprintf(c->code, sizeof c->code, "%s", resp.code);
		o = fail_http(c, &req, &resp, 500, r);
	} else if (o == OUTCOME_DONE &&
		   (!resp.h.body || !s3xml_text(resp.h.body, resp.h.body + resp.h.body_len, "ETag",
						etag, S3_ETAG_MAX))) {
		o = result_set(r, OUTCOME_RETRY, "S3 %s %s: the answer carries no ETag", req.op,
			       shown_key(key, keybuf, sizeof keybuf));
	}
	s3xml_strip_quotes(etag);
	if (o == OUTCOME_DONE && !etag[0]) {
		/* RGW 16 answers <ETag></ETag>: ask the object. The upload is
		 * complete either way, so a failed HEAD leaves etag empty but
		 * still reports DONE (a retry of Complete would find no upload). */
		struct s3_object obj;
		struct result hr;

		if (s3_head(c, key, &obj, &hr) == OUTCOME_DONE && obj.exists)
			snprintf(etag, S3_ETAG_MAX, "%s", obj.etag);
	}
	resp_free(&resp);
	free(xml);
	return o;
}

enum outcome s3_mpu_abort(struct s3_client *c, const char *key, const char *upload_id,
			  struct result *r)
{
	struct s3_req req = {.op = "AbortMultipartUpload", .method = "DELETE", .key = key,
			     .upload_op = true};
	struct s3_resp resp;
	enum outcome o;

	add_query(&req, "uploadId", upload_id);
	o = perform(c, &req, &resp, r);
	if (o != OUTCOME_DONE && c->gone) {
		o = OUTCOME_DONE; /* already gone: what abort wanted */
		r->kind = OUTCOME_DONE;
		r->why[0] = '\0';
	}
	resp_free(&resp);
	return o;
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
		struct s3_resp resp;
		char next[32] = "";
		bool more;

		add_query(&req, "uploadId", upload_id);
		if (marker[0])
			add_query(&req, "part-number-marker", marker);
		o = perform(c, &req, &resp, r);
		if (o == OUTCOME_DONE &&
		    (!resp.h.body || s3xml_parts(resp.h.body, resp.h.body_len, parts, n, &cap) < 0))
			o = result_set(r, OUTCOME_RETRY, "S3 %s %s: unreadable answer", req.op,
				       shown_key(key, keybuf, sizeof keybuf));
		more = o == OUTCOME_DONE && s3xml_truncated(resp.h.body, resp.h.body_len);
		if (more && (!s3xml_text(resp.h.body, resp.h.body + resp.h.body_len,
					 "NextPartNumberMarker", next, sizeof next) ||
			     atoi(next) <= atoi(marker) || page >= LIST_PAGES_MAX))
			o = result_set(r, OUTCOME_RETRY, "S3 %s %s: the listing does not advance",
				       req.op, shown_key(key, keybuf, sizeof keybuf));
		snprintf(marker, sizeof marker, "%s", next);
		resp_free(&resp);
		if (!more || o != OUTCOME_DONE)
			break;
	}
	if (o != OUTCOME_DONE) {
		free(*parts);
		*parts = NULL;
		*n = 0;
	} else {
		s3xml_sort_parts(*parts, *n);
	}
	return o;
}

enum outcome s3_mpu_list_uploads(struct s3_client *c, const char *key,
				 struct s3_upload **uploads, size_t *n, struct result *r)
{
	char *key_marker = calloc(1, 4096), id_marker[S3_UPLOAD_ID_MAX] = "";
	char keybuf[KEY_SHOWN + 4];
	size_t cap = 0;
	enum outcome o = OUTCOME_DONE;

	*uploads = NULL;
	*n = 0;
	if (!key_marker)
		return result_set(r, OUTCOME_RETRY, "out of memory");
	for (int page = 0; o == OUTCOME_DONE; page++) {
		struct s3_req req = {.op = "ListMultipartUploads", .method = "GET"};
		struct s3_resp resp;
		bool more;

		add_query(&req, "uploads", "");
		add_query(&req, "prefix", key);
		if (key_marker[0])
			add_query(&req, "key-marker", key_marker);
		if (id_marker[0])
			add_query(&req, "upload-id-marker", id_marker);
		o = perform(c, &req, &resp, r);
		if (o == OUTCOME_DONE &&
		    (!resp.h.body ||
		     s3xml_uploads(resp.h.body, resp.h.body_len, key, uploads, n, &cap) < 0))
			o = result_set(r, OUTCOME_RETRY, "S3 %s %s: unreadable answer", req.op,
				       shown_key(key, keybuf, sizeof keybuf));
		more = o == OUTCOME_DONE && s3xml_truncated(resp.h.body, resp.h.body_len);
		if (more && (!s3xml_text(resp.h.body, resp.h.body + resp.h.body_len, "NextKeyMarker",
					 key_marker, 4096) ||
			     !s3xml_text(resp.h.body, resp.h.body + resp.h.body_len,
					 "NextUploadIdMarker", id_marker, sizeof id_marker) ||
			     page >= LIST_PAGES_MAX))
			o = result_set(r, OUTCOME_RETRY, "S3 %s %s: the listing does not advance",
				       req.op, shown_key(key, keybuf, sizeof keybuf));
		resp_free(&resp);
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
