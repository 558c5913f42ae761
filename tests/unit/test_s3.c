/* s3.c against a stub S3 on loopback: what is sent (path, query, headers,
 * payload hash, metadata) and that it is exactly what is signed; how each
 * kind of answer maps to an outcome (including Complete's "200 with an
 * error" and RGW's NoSuchKey for a gone upload); pagination; SIGTERM. The
 * signature itself is checked by test_sigv4 (AWS's vectors) and, for real,
 * by tests/e2e/s3_rgw.sh against Ceph RGW. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "httpstub.h"
#include "log.h"
#include "s3.h"
#include "sigv4.h"
#include "tap.h"

#define AK "AKIDSTUBTEST"
#define SK "stub-secret-key-0123456789"
#define TOKEN "stub-session-token-abcdef"

/* ---- the stub ---- */

struct stub {
	pthread_mutex_t lock;
	/* the canned answer for the next requests */
	int status;
	const char *headers;
	const char *body;
	int delay_ms;
	stop_flag_t *stop_on_request; /* set to 1 once the next request is in */
	const char *raw;       /* when set: these bytes instead of an answer */
	/* when first_n > 0: the next first_n requests get this answer instead */
	int first_n, first_status;
	const char *first_headers, *first_body;
	char first_sent[128];  /* x-amz-date sent with the first of them */
	/* the last request, and whether its signature and hash held */
	char method[16], target[2048];
	char *req_headers, *req_body;
	size_t req_body_len;
	int sig_ok, hash_ok, all_signed;
	int requests;
};

static int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c - 'a' + 10;
}

static void url_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%' && s[1] && s[2]) {
			*o++ = (char)(unhex(s[1]) << 4 | unhex(s[2]));
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* Recomputes the signature from the request as received: the path and the
 * query as sent, the headers named by SignedHeaders with their received
 * values. Sent and signed must agree for this to hold. */
static int verify(const struct httpstub_request *req)
{
	char auth[2048], names[1024], path[2048], query[2048], want[SIGV4_AUTH_MAX];
	char values[16][1024], date[64], hash[128], *q, *save = NULL;
	struct sigv4_kv qkv[8], hkv[16];
	size_t nq = 0, nh = 0;
	const char *sh;

	if (!httpstub_header(req, "Authorization", auth, sizeof auth) ||
	    !httpstub_header(req, "x-amz-date", date, sizeof date) ||
	    !httpstub_header(req, "x-amz-content-sha256", hash, sizeof hash) ||
	    !(sh = strstr(auth, "SignedHeaders=")))
		return 0;
	snprintf(names, sizeof names, "%.*s", (int)strcspn(sh + 14, ","), sh + 14);
	snprintf(path, sizeof path, "%.*s", (int)strcspn(req->target, "?"), req->target);
	snprintf(query, sizeof query, "%s", strchr(req->target, '?') ? strchr(req->target, '?') + 1 : "");
	for (q = strtok_r(query, "&", &save); q && nq < 8; q = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(q, '=');

		if (!eq)
			return 0; /* we always send k=v */
		*eq = '\0';
		url_decode(q);
		url_decode(eq + 1);
		qkv[nq++] = (struct sigv4_kv){q, eq + 1};
	}
	save = NULL;
	for (char *n = strtok_r(names, ";", &save); n && nh < 16; n = strtok_r(NULL, ";", &save)) {
		if (!httpstub_header(req, n, values[nh], sizeof values[nh]))
			return 0;
		hkv[nh] = (struct sigv4_kv){n, values[nh]};
		nh++;
	}
	{
		struct sigv4_request s = {req->method, path, qkv, nq, hkv, nh, hash, date,
					  "us-east-1", "s3"};

		if (sigv4_sign(&s, AK, SK, want, sizeof want, NULL) < 0)
			return 0;
	}
	return strcmp(want, auth) == 0;
}

/* Every header S3 requires signed (x-amz-*, content-type, host) is. */
static int all_signed(const struct httpstub_request *req)
{
	char auth[2048], line[256];
	const char *sh;

	if (!httpstub_header(req, "Authorization", auth, sizeof auth) ||
	    !(sh = strstr(auth, "SignedHeaders=")))
		return 0;
	for (const char *l = req->headers; l && *l;) {
		size_t n = strcspn(l, ":");
		char needle[300];

		snprintf(line, sizeof line, "%.*s", (int)n, l);
		for (char *p = line; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		snprintf(needle, sizeof needle, "%s;", line);
		if ((strncmp(line, "x-amz-", 6) == 0 || strcmp(line, "content-type") == 0 ||
		     strcmp(line, "host") == 0) &&
		    !strstr(sh, needle) && !strstr(sh, line))
			return 0;
		l = strstr(l, "\r\n");
		l = l ? l + 2 : NULL;
	}
	return 1;
}

static void stub_handler(void *ctx, const struct httpstub_request *req, int fd)
{
	struct stub *st = ctx;
	unsigned char d[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1], sent[128];
	int status, delay;
	const char *headers, *body, *raw;

	crypto_sha256(req->body, req->body_len, d);
	crypto_hex(d, sizeof d, hex);
	pthread_mutex_lock(&st->lock);
	st->requests++;
	snprintf(st->method, sizeof st->method, "%s", req->method);
	snprintf(st->target, sizeof st->target, "%s", req->target);
	free(st->req_headers);
	free(st->req_body);
	st->req_headers = strdup(req->headers);
	st->req_body = malloc(req->body_len + 1);
	memcpy(st->req_body, req->body, req->body_len + 1);
	st->req_body_len = req->body_len;
	st->sig_ok = verify(req);
	st->all_signed = all_signed(req);
	st->hash_ok = httpstub_header(req, "x-amz-content-sha256", sent, sizeof sent) &&
		      strcmp(sent, hex) == 0;
	status = st->status;
	headers = st->headers;
	body = st->body ? st->body : "";
	if (st->first_n > 0) {
		st->first_n--;
		status = st->first_status;
		headers = st->first_headers;
		body = st->first_body ? st->first_body : "";
		httpstub_header(req, "x-amz-date", st->first_sent, sizeof st->first_sent);
	}
	delay = st->delay_ms;
	raw = st->raw;
	/* a SIGTERM that lands while the request is surely in flight */
	if (st->stop_on_request) {
		*st->stop_on_request = 1;
		st->stop_on_request = NULL;
	}
	/* the second ListParts page */
	if (strstr(req->target, "part-number-marker=2"))
		body = "<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>3"
		       "</PartNumber><ETag>&quot;e3&quot;</ETag><Size>7</Size></Part>"
		       "</ListPartsResult>";
	pthread_mutex_unlock(&st->lock);
	if (delay)
		usleep((useconds_t)delay * 1000);
	if (raw) {
		ssize_t n = write(fd, raw, strlen(raw));

		(void)n; /* the test sees what arrived */
		return;
	}
	httpstub_reply(fd, status, headers, body, strcmp(req->method, "HEAD") ? strlen(body) : 0);
}

/* Answers cut inside their headers by a closed connection, which curl
 * reports as success (found by tests/soak/soak.py through faultproxy.py). */
static void test_cut_headers(struct stub *st, struct s3_client *c)
{
	struct s3_object obj;
	char etag[S3_ETAG_MAX];
	struct result r;

	pthread_mutex_lock(&st->lock);
	st->raw = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nETag: \"e1\"\r\nx-amz-meta-zoo";
	pthread_mutex_unlock(&st->lock);
	ok(s3_head(c, "k.mp4", &obj, &r) == OUTCOME_RETRY && strstr(r.why, "cut short"),
	   "a HEAD answer cut before our metadata: retry (not another file's object)");
	tap_diag(r.why);
	pthread_mutex_lock(&st->lock);
	st->raw = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nETa";
	pthread_mutex_unlock(&st->lock);
	ok(s3_put(c, "k", "x", 1, NULL, etag, &r) == OUTCOME_RETRY && strstr(r.why, "cut short"),
	   "a PUT answer cut in its headers: retry");
	pthread_mutex_lock(&st->lock);
	st->raw = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nETag: \"e2\"\r\n\r\n";
	pthread_mutex_unlock(&st->lock);
	ok(s3_put(c, "k", "x", 1, NULL, etag, &r) == OUTCOME_DONE && strcmp(etag, "e2") == 0,
	   "the same answer whole, then closed: done");
	pthread_mutex_lock(&st->lock);
	st->raw = NULL;
	pthread_mutex_unlock(&st->lock);
}

static void answer(struct stub *st, int status, const char *headers, const char *body)
{
	pthread_mutex_lock(&st->lock);
	st->status = status;
	st->headers = headers;
	st->body = body;
	pthread_mutex_unlock(&st->lock);
}

static const char *sent_header(struct stub *st, const char *name, char *out, size_t size)
{
	struct httpstub_request r;

	snprintf(r.headers, sizeof r.headers, "%s", st->req_headers ? st->req_headers : "");
	return httpstub_header(&r, name, out, size);
}

static bool sent_has(struct stub *st, const char *name, const char *needle)
{
	char v[2048];

	return sent_header(st, name, v, sizeof v) && strstr(v, needle);
}

/* ---- pure parts ---- */

static void test_pure(void)
{
	bool gone;
	time_t t;

	ok(s3_again_after(false, OUTCOME_RETRY, 0, "") == S3_AGAIN_BACKOFF,
	   "again: a reset or timed-out connection");
	ok(s3_again_after(false, OUTCOME_GIVEUP, 0, "") == S3_AGAIN_NO, "again: not a bad URL");
	ok(s3_again_after(true, OUTCOME_RETRY, 503, "SlowDown") == S3_AGAIN_BACKOFF &&
		   s3_again_after(true, OUTCOME_RETRY, 500, "") == S3_AGAIN_BACKOFF &&
		   s3_again_after(true, OUTCOME_RETRY, 500, "InternalError") == S3_AGAIN_BACKOFF &&
		   s3_again_after(true, OUTCOME_RETRY, 400, "RequestTimeout") == S3_AGAIN_BACKOFF &&
		   s3_again_after(true, OUTCOME_RETRY, 429, "") == S3_AGAIN_BACKOFF,
	   "again: 5xx, SlowDown, InternalError, RequestTimeout, 429");
	ok(s3_again_after(true, OUTCOME_RETRY, 403, "RequestTimeTooSkewed") == S3_AGAIN_CLOCK,
	   "again: RequestTimeTooSkewed corrects the clock");
	ok(s3_again_after(true, OUTCOME_GIVEUP, 501, "NotImplemented") == S3_AGAIN_NO &&
		   s3_again_after(true, OUTCOME_RETRY, 403, "AccessDenied") == S3_AGAIN_NO &&
		   s3_again_after(true, OUTCOME_GIVEUP, 404, "NoSuchKey") == S3_AGAIN_NO,
	   "again: not 501, 403, 404");
	ok(s3_backoff_ms(0, 0) == 125 && s3_backoff_ms(0, 1) == 250 && s3_backoff_ms(1, 0) == 250 &&
		   s3_backoff_ms(3, 1) == 2000 && s3_backoff_ms(10, 1) == 4000 &&
		   s3_backoff_ms(30, 0) == 2000,
	   "backoff: doubles from 250 ms, half jittered, capped at 4 s");
	ok(s3_parse_http_date("Sun, 06 Dec 2026 22:10:29 GMT", &t) == 0 && t == 1796595029,
	   "an HTTP date");
	ok(s3_parse_http_date("Sun, 06 Dek 2026 22:10:29 GMT", &t) < 0 &&
		   s3_parse_http_date("yesterday", &t) < 0 && s3_parse_http_date(NULL, &t) < 0,
	   "  an unreadable one");

	is_str(s3_content_type("mp4"), "video/mp4", "type: mp4");
	is_str(s3_content_type("MP4"), "video/mp4", "type: any case");
	is_str(s3_content_type(".m4a"), "audio/mp4", "type: m4a, leading dot");
	is_str(s3_content_type("vtt"), "text/vtt", "type: vtt");
	is_str(s3_content_type("txt"), "text/plain", "type: txt");
	is_str(s3_content_type("json"), "application/json", "type: json");
	is_str(s3_content_type("csv"), "text/csv", "type: csv");
	is_str(s3_content_type("exe"), "application/octet-stream", "type: other");
	is_str(s3_content_type(NULL), "application/octet-stream", "type: none");

	ok(s3_error_outcome(200, "", false, &gone) == OUTCOME_DONE, "200: done");
	ok(s3_error_outcome(503, "SlowDown", false, &gone) == OUTCOME_RETRY && !gone,
	   "SlowDown: retry");
	ok(s3_error_outcome(500, "", false, &gone) == OUTCOME_RETRY, "500: retry");
	ok(s3_error_outcome(429, "", false, &gone) == OUTCOME_RETRY, "429: retry");
	ok(s3_error_outcome(400, "RequestTimeout", false, &gone) == OUTCOME_RETRY,
	   "RequestTimeout (400): retry");
	ok(s3_error_outcome(404, "NoSuchUpload", true, &gone) == OUTCOME_RETRY && gone,
	   "NoSuchUpload: retry, upload gone");
	ok(s3_error_outcome(404, "NoSuchKey", true, &gone) == OUTCOME_RETRY && gone,
	   "NoSuchKey on an upload id (RGW): upload gone");
	ok(s3_error_outcome(404, "NoSuchKey", false, &gone) == OUTCOME_GIVEUP && !gone,
	   "NoSuchKey elsewhere: give up");
	ok(s3_error_outcome(400, "InvalidPart", true, &gone) == OUTCOME_RETRY && gone,
	   "InvalidPart on Complete: start the upload again");
	ok(s3_error_outcome(403, "SignatureDoesNotMatch", false, &gone) == OUTCOME_RETRY,
	   "SignatureDoesNotMatch: retry (the operator fixes the credentials)");
	ok(s3_error_outcome(403, "AccessDenied", false, &gone) == OUTCOME_RETRY, "AccessDenied: retry");
	ok(s3_error_outcome(404, "NoSuchBucket", false, &gone) == OUTCOME_RETRY, "NoSuchBucket: retry");
	ok(s3_error_outcome(400, "XAmzContentSHA256Mismatch", true, &gone) == OUTCOME_RETRY && !gone,
	   "payload hash mismatch: retry");
	ok(s3_error_outcome(400, "EntityTooLarge", false, &gone) == OUTCOME_GIVEUP,
	   "EntityTooLarge: give up");
	ok(s3_error_outcome(400, "KeyTooLongError", false, &gone) == OUTCOME_GIVEUP,
	   "KeyTooLongError: give up");
	ok(s3_error_outcome(400, "InvalidArgument", false, &gone) == OUTCOME_GIVEUP,
	   "InvalidArgument: give up");
	ok(s3_error_outcome(501, "NotImplemented", false, &gone) == OUTCOME_GIVEUP,
	   "NotImplemented: give up");
	ok(s3_error_outcome(400, "Whatever", false, &gone) == OUTCOME_GIVEUP, "unknown 400: give up");
}

/* ---- against the stub ---- */

static struct config base_config(char *endpoint, char *bucket, bool path_style)
{
	static char region[] = "us-east-1";
	struct config cfg;

	memset(&cfg, 0, sizeof cfg);
	cfg.s3_endpoint = endpoint;
	cfg.s3_bucket = bucket;
	cfg.s3_region = region;
	cfg.s3_path_style = path_style;
	return cfg;
}

static void test_put_and_head(struct stub *st, struct s3_client *c)
{
	struct s3_meta meta = {"uu/id+==", "file \xc3\xbc", NULL, false};
	char etag[S3_ETAG_MAX], v[512];
	struct s3_object obj;
	struct result r;

	answer(st, 200, "ETag: \"abc123\"\r\n", "");
	ok(s3_put(c, "rec (1)/a+b=c \xc3\xbc.MP4", "hello", 5, &meta, etag, &r) == OUTCOME_DONE,
	   "put: done");
	is_str(etag, "abc123", "put: ETag without quotes");
	is_str(st->method, "PUT", "put: method");
	is_str(st->target, "/bkt/rec%20%281%29/a%2Bb%3Dc%20%C3%BC.MP4",
	       "put: path-style, key encoded once with AWS's rules");
	ok(st->sig_ok, "put: the signature covers exactly what was sent");
	ok(st->all_signed, "put: every x-amz-* and content-type header is signed");
	ok(st->hash_ok, "put: x-amz-content-sha256 is the body's SHA-256");
	ok(st->req_body_len == 5 && memcmp(st->req_body, "hello", 5) == 0, "put: body sent");
	is_str(sent_header(st, "Content-Type", v, sizeof v), "video/mp4", "put: type from extension");
	is_str(sent_header(st, "x-amz-meta-zoom-meeting-uuid", v, sizeof v), "uu/id+==",
	       "put: uuid metadata");
	is_str(sent_header(st, "x-amz-meta-zoom-file-id", v, sizeof v), "file%20%C3%BC",
	       "put: file id metadata, header-safe");
	is_str(sent_header(st, "x-amz-security-token", v, sizeof v), TOKEN,
	       "put: the session token is sent");
	is_str(sent_header(st, "x-amz-storage-class", v, sizeof v), "STANDARD_IA",
	       "put: storage class from config");
	is_str(sent_header(st, "x-amz-server-side-encryption", v, sizeof v), "AES256",
	       "put: SSE from config");

	answer(st, 200, "ETag: \"e\"\r\n", "");
	ok(s3_put(c, "empty.bin", "", 0, NULL, etag, &r) == OUTCOME_DONE && st->hash_ok &&
		   st->req_body_len == 0,
	   "put: a 0-byte object, with the empty body's hash");
	is_str(sent_header(st, "Content-Type", v, sizeof v), "application/octet-stream",
	       "put: unknown extension");

	answer(st, 200,
	       "ETag: \"x-2\"\r\nContent-Length: 12345678901\r\n"
	       "x-amz-meta-zoom-file-id: file%20%C3%BC\r\nx-amz-meta-zoom-meeting-uuid: u/1==\r\n",
	       "");
	ok(s3_head(c, "k.mp4", &obj, &r) == OUTCOME_DONE && obj.exists, "head: exists");
	ok(obj.size == 12345678901ULL, "head: size beyond 4 GiB");
	is_str(obj.etag, "x-2", "head: ETag");
	is_str(obj.file_id, "file \xc3\xbc", "head: file id decoded");
	is_str(obj.meeting_uuid, "u/1==", "head: uuid");
	is_str(st->method, "HEAD", "head: method");
	ok(st->sig_ok, "head: signed as sent");
	answer(st, 404, NULL, "");
	ok(s3_head(c, "k.mp4", &obj, &r) == OUTCOME_DONE && !obj.exists && r.kind == OUTCOME_DONE,
	   "head: 404 is an answer: no such object");
	answer(st, 403, NULL, "");
	ok(s3_head(c, "k.mp4", &obj, &r) == OUTCOME_RETRY && strstr(r.why, "check the AWS credentials"),
	   "head: 403 retries and points at the credentials");
	tap_diag(r.why);
}

static void test_multipart(struct stub *st, struct s3_client *c)
{
	char id[S3_UPLOAD_ID_MAX], etag[S3_ETAG_MAX], v[256];
	struct s3_part parts[3] = {{2, 5, "e2", ""}, {1, 5, "e1", ""}, {3, 7, "e3", ""}}, *listed = NULL;
	struct s3_upload *ups = NULL;
	struct result r;
	size_t n = 0;

	answer(st, 200, NULL,
	       "<?xml version=\"1.0\"?><InitiateMultipartUploadResult><Bucket>bkt</Bucket>"
	       "<Key>v.m4a</Key><UploadId>2~a/b+c</UploadId></InitiateMultipartUploadResult>");
	ok(s3_mpu_create(c, "v.m4a", NULL, id, &r) == OUTCOME_DONE, "create: done");
	is_str(id, "2~a/b+c", "create: upload id");
	is_str(st->target, "/bkt/v.m4a?uploads=", "create: POST ?uploads= (always k=v)");
	is_str(st->method, "POST", "create: method");
	is_str(sent_header(st, "Content-Type", v, sizeof v), "audio/mp4",
	       "create: the object's type, signed");
	ok(st->sig_ok && st->all_signed, "create: signed as sent");

	answer(st, 200, "ETag: \"p1\"\r\n", "");
	ok(s3_mpu_upload_part(c, "v.m4a", id, 1, "12345", 5, etag, &r) == OUTCOME_DONE,
	   "upload part: done");
	is_str(st->target, "/bkt/v.m4a?partNumber=1&uploadId=2~a%2Fb%2Bc",
	       "upload part: query sorted and encoded");
	ok(st->sig_ok && st->hash_ok, "upload part: signed, real payload hash");
	is_str(etag, "p1", "upload part: ETag");
	{
		/* The digest the caller computed as the bytes came in is the one
		 * sent: a right one passes, a wrong one is what S3 would refuse. */
		unsigned char d[SHA256_LEN];

		crypto_sha256("12345", 5, d);
		answer(st, 200, "ETag: \"p1\"\r\n", "");
		ok(s3_mpu_upload_part_hashed(c, "v.m4a", id, 1, "12345", 5, d, etag, &r) ==
				   OUTCOME_DONE && st->sig_ok && st->hash_ok,
		   "upload part with its digest given: signed, that digest sent");
		d[0] ^= 1;
		answer(st, 200, "ETag: \"p1\"\r\n", "");
		ok(s3_mpu_upload_part_hashed(c, "v.m4a", id, 1, "12345", 5, d, etag, &r) ==
				   OUTCOME_DONE && st->sig_ok && !st->hash_ok,
		   "upload part: a given digest is sent as it is, not computed again");
		crypto_sha256("hello", 5, d);
		answer(st, 200, "ETag: \"e\"\r\n", "");
		ok(s3_put_hashed(c, "h.txt", "hello", 5, d, NULL, etag, &r) == OUTCOME_DONE &&
			   st->sig_ok && st->hash_ok && strcmp(etag, "e") == 0,
		   "put with its digest given: signed, that digest sent");
	}

	answer(st, 404, NULL, "<Error><Code>NoSuchUpload</Code><Message>gone</Message></Error>");
	ok(s3_mpu_upload_part(c, "v.m4a", id, 2, "x", 1, etag, &r) == OUTCOME_RETRY &&
		   s3_upload_gone(c),
	   "upload part, NoSuchUpload: retry with the upload gone");
	is_str(s3_last_code(c), "NoSuchUpload", "  the code is kept");
	answer(st, 404, NULL, "<Error><Code>NoSuchKey</Code></Error>");
	ok(s3_mpu_upload_part(c, "v.m4a", id, 2, "x", 1, etag, &r) == OUTCOME_RETRY &&
		   s3_upload_gone(c),
	   "upload part, RGW's NoSuchKey: the upload is gone");

	answer(st, 200, NULL,
	       "<CompleteMultipartUploadResult><Location>x</Location><ETag>&quot;abc-3&quot;"
	       "</ETag></CompleteMultipartUploadResult>");
	ok(s3_mpu_complete(c, "v.m4a", id, parts, 3, false, etag, &r) == OUTCOME_DONE, "complete: done");
	is_str(etag, "abc-3", "complete: the object's ETag, entities decoded, no quotes");
	ok(strstr(st->req_body, "<Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag></Part>"
				"<Part><PartNumber>2</PartNumber>") != NULL,
	   "complete: parts in ascending order");
	is_str(sent_header(st, "Content-Type", v, sizeof v), "application/xml",
	       "complete: Content-Type application/xml");
	ok(st->sig_ok && st->hash_ok && st->all_signed, "complete: body hash signed");
	is_str(st->target, "/bkt/v.m4a?uploadId=2~a%2Fb%2Bc", "complete: target");

	answer(st, 200, NULL,
	       "<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code><Message>We encountered "
	       "an internal error. Please try again.</Message></Error>");
	ok(s3_mpu_complete(c, "v.m4a", id, parts, 3, false, etag, &r) == OUTCOME_RETRY &&
		   !s3_upload_gone(c),
	   "complete: 200 with an InternalError in the body retries");
	tap_diag(r.why);
	ok(strstr(r.why, "InternalError") != NULL, "  and says so");
	answer(st, 400, NULL, "<Error><Code>InvalidPart</Code><Message>m</Message></Error>");
	ok(s3_mpu_complete(c, "v.m4a", id, parts, 3, false, etag, &r) == OUTCOME_RETRY &&
		   s3_upload_gone(c),
	   "complete: InvalidPart starts the upload again");

	answer(st, 200, NULL,
	       "<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>2"
	       "</NextPartNumberMarker><Part><PartNumber>2</PartNumber><ETag>\"e2\"</ETag>"
	       "<Size>5</Size></Part><Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag>"
	       "<Size>5242880</Size></Part></ListPartsResult>");
	ok(s3_mpu_list_parts(c, "v.m4a", id, &listed, &n, &r) == OUTCOME_DONE && n == 3,
	   "list parts: both pages read");
	ok(n == 3 && listed[0].number == 1 && listed[0].size == 5242880 &&
		   strcmp(listed[0].etag, "e1") == 0 && listed[1].number == 2 &&
		   listed[2].number == 3 && listed[2].size == 7 && strcmp(listed[2].etag, "e3") == 0,
	   "list parts: numbers, sizes, ETags, in order");
	is_str(st->target, "/bkt/v.m4a?part-number-marker=2&uploadId=2~a%2Fb%2Bc",
	       "list parts: the second page asks from the marker");
	free(listed);

	answer(st, 200, NULL,
	       "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
	       "<Upload><Key>v.m4a</Key><UploadId>u1</UploadId></Upload>"
	       "<Upload><Key>v.m4a.old</Key><UploadId>u2</UploadId></Upload>"
	       "<Upload><Key>v.m4a</Key><UploadId>u3</UploadId></Upload>"
	       "</ListMultipartUploadsResult>");
	ok(s3_mpu_list_uploads(c, "v.m4a", &ups, &n, &r) == OUTCOME_DONE && n == 2 &&
		   strcmp(ups[0].upload_id, "u1") == 0 && strcmp(ups[1].upload_id, "u3") == 0,
	   "list uploads: only those of exactly this key");
	is_str(st->target, "/bkt?prefix=v.m4a&uploads=", "list uploads: bucket-level, prefix");
	ok(st->sig_ok, "list uploads: signed as sent");
	free(ups);

	answer(st, 204, NULL, "");
	ok(s3_mpu_abort(c, "v.m4a", id, &r) == OUTCOME_DONE && strcmp(st->method, "DELETE") == 0,
	   "abort: DELETE, done");
	answer(st, 404, NULL, "<Error><Code>NoSuchUpload</Code></Error>");
	ok(s3_mpu_abort(c, "v.m4a", id, &r) == OUTCOME_DONE, "abort: already gone is done");
}

static void answer_first(struct stub *st, int n, int status, const char *headers,
			 const char *body)
{
	pthread_mutex_lock(&st->lock);
	st->first_n = n;
	st->first_status = status;
	st->first_headers = headers;
	st->first_body = body;
	st->requests = 0;
	pthread_mutex_unlock(&st->lock);
}

/* In-transfer retries, permissions named, conditional writes, the clock. */
static void test_retries(struct stub *st, struct s3_client *c)
{
	static const char part[] = "the bytes of a part";
	char etag[S3_ETAG_MAX], sent[128], skewed[128], upload_id[S3_UPLOAD_ID_MAX];
	struct s3_upload *ups = NULL;
	size_t nups = 0;
	struct s3_meta meta = {"u", "f1", NULL, true};
	struct result r;

	answer(st, 200, "ETag: \"e1\"\r\n", "");
	answer_first(st, 1, 503, NULL, "<Error><Code>SlowDown</Code><Message>m</Message></Error>");
	ok(s3_mpu_upload_part(c, "k", "up1", 3, part, sizeof part - 1, etag, &r) == OUTCOME_DONE &&
		   st->requests == 2 && strcmp(etag, "e1") == 0,
	   "one 503 SlowDown on a part: sent again at once, done");
	ok(st->hash_ok && st->req_body_len == sizeof part - 1 &&
		   memcmp(st->req_body, part, st->req_body_len) == 0,
	   "  the retry carries the same bytes, signed");
	answer_first(st, 1, 500, NULL, "");
	ok(s3_put(c, "k", "x", 1, NULL, etag, &r) == OUTCOME_DONE && st->requests == 2,
	   "a bodiless 500: sent again, done");
	answer_first(st, 1, 400, NULL,
		     "<Error><Code>RequestTimeout</Code><Message>idle</Message></Error>");
	ok(s3_put(c, "k", "x", 1, NULL, etag, &r) == OUTCOME_DONE && st->requests == 2,
	   "400 RequestTimeout: sent again");
	answer_first(st, 99, 503, NULL, "");
	ok(s3_put(c, "k", "x", 1, NULL, etag, &r) == OUTCOME_RETRY && st->requests == 5,
	   "a 503 that lasts: five tries, then the job's retry");
	answer_first(st, 99, 501, NULL, "<Error><Code>NotImplemented</Code></Error>");
	ok(s3_put(c, "k", "x", 1, NULL, etag, &r) == OUTCOME_GIVEUP && st->requests == 1,
	   "501 NotImplemented: not sent again");
	answer_first(st, 1, 400, NULL, "<Error><Code>EntityTooSmall</Code></Error>");
	ok(s3_put(c, "k", "x", 1, NULL, etag, &r) == OUTCOME_GIVEUP && st->requests == 1,
	   "a refusal is not sent again");

	/* CreateMultipartUpload: a lost answer may hide a new upload */
	answer(st, 200, NULL,
	       "<InitiateMultipartUploadResult><UploadId>u9</UploadId></InitiateMultipartUploadResult>");
	answer_first(st, 1, 503, NULL, "<Error><Code>SlowDown</Code></Error>");
	ok(s3_mpu_create(c, "k", NULL, upload_id, &r) == OUTCOME_DONE && st->requests == 2 &&
		   strcmp(upload_id, "u9") == 0,
	   "CreateMultipartUpload refused with 503: sent again");
	pthread_mutex_lock(&st->lock);
	st->raw = "HTTP/1.1 200 OK\r\nContent-Length: 90\r\nx-amz-req";
	st->requests = 0;
	pthread_mutex_unlock(&st->lock);
	ok(s3_mpu_create(c, "k", NULL, upload_id, &r) == OUTCOME_RETRY && st->requests == 1,
	   "CreateMultipartUpload whose answer is lost: not sent again (it may have opened one)");
	pthread_mutex_lock(&st->lock);
	st->requests = 0;
	pthread_mutex_unlock(&st->lock);
	ok(s3_mpu_upload_part(c, "k", "up1", 1, part, sizeof part - 1, etag, &r) == OUTCOME_RETRY &&
		   st->requests == 5,
	   "an UploadPart whose answer is lost: sent again (the same part twice is harmless)");
	pthread_mutex_lock(&st->lock);
	st->raw = NULL;
	pthread_mutex_unlock(&st->lock);
	answer(st, 200, "ETag: \"e1\"\r\n", "");

	/* permissions */
	answer_first(st, 1, 403, NULL, "");
	ok(s3_put(c, "a/b.mp4", "x", 1, NULL, etag, &r) == OUTCOME_RETRY &&
		   strstr(r.why, "s3:PutObject denied on bkt/a/b.mp4 (PutObject)") == r.why,
	   "a bodiless 403 names the permission");
	tap_diag(r.why);
	answer_first(st, 1, 403, "x-amz-request-id: RID7\r\nx-amz-id-2: HID7\r\n",
		     "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>");
	ok(s3_mpu_create(c, "a/b.mp4", NULL, upload_id, &r) == OUTCOME_RETRY &&
		   strstr(r.why, "s3:PutObject denied on bkt/a/b.mp4 (CreateMultipartUpload)") &&
		   strstr(r.why, "RID7") && strstr(r.why, "HID7"),
	   "AccessDenied on CreateMultipartUpload: s3:PutObject, with request and host id");
	tap_diag(r.why);
	answer_first(st, 1, 403, NULL, "<Error><Code>AccessDenied</Code></Error>");
	ok(s3_mpu_abort(c, "k", "up", &r) == OUTCOME_RETRY &&
		   strstr(r.why, "s3:AbortMultipartUpload denied"),
	   "AbortMultipartUpload: s3:AbortMultipartUpload");
	{
		struct s3_object obj;

		answer_first(st, 1, 400, NULL, "");
		ok(s3_head(c, "k", &obj, &r) == OUTCOME_RETRY && st->requests == 1 &&
			   s3_last_status(c) == 400,
		   "a bodiless 400 on HEAD: retry (not a verdict on the job), not sent again");
		answer_first(st, 1, 403, NULL, "");
		ok(s3_head(c, "a/b.mp4", &obj, &r) == OUTCOME_RETRY &&
			   strstr(r.why, "s3:GetObject denied on bkt/a/b.mp4 (HeadObject)") == r.why,
		   "a bodiless 403 on HEAD: s3:GetObject named");
		answer_first(st, 1, 501, NULL, "<Error><Code>NotImplemented</Code></Error>");
		ok(s3_mpu_list_uploads(c, "k", &ups, &nups, &r) == OUTCOME_GIVEUP &&
			   st->requests == 1 && s3_last_status(c) == 501,
		   "501 for ListMultipartUploads: not sent again (the caller goes on without it)");
	}
	ok(!strcmp(s3_op_permission("ListParts"), "s3:ListMultipartUploadParts") &&
		   !strcmp(s3_op_permission("ListMultipartUploads"), "s3:ListBucketMultipartUploads") &&
		   !strcmp(s3_op_permission("HeadObject"), "s3:GetObject") &&
		   !strcmp(s3_op_permission("UploadPart"), "s3:PutObject") &&
		   s3_op_permission("Nope") == NULL,
	   "each operation's permission");

	/* conditional writes */
	answer_first(st, 0, 0, NULL, NULL);
	ok(s3_put(c, "k", "x", 1, &meta, etag, &r) == OUTCOME_DONE &&
		   sent_header(st, "If-None-Match", sent, sizeof sent) && !strcmp(sent, "*") &&
		   st->all_signed,
	   "if_absent: If-None-Match: * sent, and signed");
	answer_first(st, 1, 412, NULL, "<Error><Code>PreconditionFailed</Code></Error>");
	ok(s3_put(c, "k", "x", 1, &meta, etag, &r) == OUTCOME_RETRY && s3_key_taken(c) &&
		   st->requests == 1,
	   "412: the key is taken (not sent again)");
	answer_first(st, 1, 501, NULL, "<Error><Code>NotImplemented</Code></Error>");
	ok(s3_put(c, "k", "x", 1, &meta, etag, &r) == OUTCOME_DONE && st->requests == 2 &&
		   !sent_header(st, "If-None-Match", sent, sizeof sent),
	   "a server that refuses If-None-Match: sent again without it");
	ok(s3_put(c, "k", "x", 1, &meta, etag, &r) == OUTCOME_DONE &&
		   !sent_header(st, "If-None-Match", sent, sizeof sent),
	   "  and never again from this client");

	/* the clock: RGW and S3 refuse beyond 15 minutes */
	{
		char date[64], head[128];
		time_t ahead = time(NULL) + 3600;
		struct tm tm;

		gmtime_r(&ahead, &tm);
		strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		snprintf(head, sizeof head, "Date: %s\r\n", date);
		answer_first(st, 1, 403, head,
			     "<Error><Code>RequestTimeTooSkewed</Code><Message>m</Message></Error>");
		ok(s3_put(c, "k", "x", 1, NULL, etag, &r) == OUTCOME_DONE && st->requests == 2,
		   "RequestTimeTooSkewed: corrected and sent again");
		ok(labs(s3_clock_offset() - 3600) <= 2, "  the offset is the server's Date minus ours");
		snprintf(skewed, sizeof skewed, "%s", st->first_sent);
		ok(sent_header(st, "x-amz-date", sent, sizeof sent) && strcmp(sent, skewed) > 0 &&
			   strncmp(sent, skewed, 8) >= 0,
		   "  the retry is dated by the server's clock");
		answer_first(st, 1, 403, NULL,
			     "<Error><Code>RequestTimeTooSkewed</Code><Message>m</Message></Error>");
		ok(s3_put(c, "k", "x", 1, NULL, etag, &r) == OUTCOME_RETRY && st->requests == 1 &&
			   strstr(r.why, "clock"),
		   "  without a Date to correct it by: the job's retry, naming the clock");
	}
	answer(st, 200, NULL, "");
	answer_first(st, 0, 0, NULL, NULL);
}

static void test_errors(struct stub *st, struct s3_client *c)
{
	struct s3_object obj;
	char etag[S3_ETAG_MAX];
	struct result r;

	answer(st, 503, NULL, "<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>");
	ok(s3_put(c, "k", "x", 1, NULL, etag, &r) == OUTCOME_RETRY, "503 SlowDown: retry");
	ok(strstr(r.why, "HTTP 503 SlowDown: Reduce your rate") != NULL, "  why has status, code, message");
	answer(st, 403, NULL,
	       "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated "
	       "does not match</Message><StringToSign>AWS4-HMAC-SHA256 ...</StringToSign>"
	       "<SignatureProvided>deadbeef</SignatureProvided></Error>");
	ok(s3_put(c, "k", "x", 1, NULL, etag, &r) == OUTCOME_RETRY, "SignatureDoesNotMatch: retry");
	tap_diag(r.why);
	ok(strstr(r.why, "secret access key") && strstr(r.why, "environment"),
	   "  why points at the secret and where it came from");
	ok(!strstr(r.why, SK) && !strstr(r.why, "deadbeef") && !strstr(r.why, TOKEN),
	   "  and holds no secret, token or signature");
	answer(st, 404, NULL, "<Error><Code>NoSuchBucket</Code><Message>m</Message></Error>");
	ok(s3_put(c, "k", "x", 1, NULL, etag, &r) == OUTCOME_RETRY && strstr(r.why, "create bucket bkt"),
	   "NoSuchBucket: retry, asks for the bucket");
	answer(st, 400, NULL, "<Error><Code>EntityTooLarge</Code></Error>");
	ok(s3_put(c, "k", "x", 1, NULL, etag, &r) == OUTCOME_GIVEUP, "EntityTooLarge: give up");
	answer(st, 400, NULL,
	       "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region 'us-east-1' is "
	       "wrong; expecting 'eu-west-1'</Message><Region>eu-west-1</Region></Error>");
	ok(s3_put(c, "k", "x", 1, NULL, etag, &r) == OUTCOME_RETRY &&
		   strstr(r.why, "region eu-west-1: fix s3_region"),
	   "wrong region: retry, names the bucket's region from the error body");
	answer(st, 301, "x-amz-bucket-region: eu-west-1\r\n", "");
	ok(s3_head(c, "k", &obj, &r) == OUTCOME_RETRY &&
		   strstr(r.why, "in region eu-west-1: fix s3_region"),
	   "HEAD 301 with x-amz-bucket-region: retry, names the region");
	tap_diag(r.why);
	answer(st, 400, "x-amz-bucket-region: eu-west-1\r\n", "");
	ok(s3_head(c, "k", &obj, &r) == OUTCOME_RETRY, "HEAD 400 from another region: retry");
	answer(st, 200, NULL, "");
	ok(s3_put(c, "k", "x", 1, NULL, etag, &r) == OUTCOME_RETRY && strstr(r.why, "no ETag"),
	   "a PUT answer without ETag is not success");
}

static void test_stop(struct stub *st, struct s3_client *c, stop_flag_t *flag)
{
	char etag[S3_ETAG_MAX];
	struct result r;
	int before;

	answer(st, 200, "ETag: \"e\"\r\n", "");
	pthread_mutex_lock(&st->lock);
	st->delay_ms = 3000; /* the answer is held; the stop must not wait for it */
	st->stop_on_request = flag;
	pthread_mutex_unlock(&st->lock);
	ok(s3_put(c, "slow", "x", 1, NULL, etag, &r) == OUTCOME_RETRY && strcmp(r.why, "stopped") == 0,
	   "SIGTERM during a request: it is aborted, retry \"stopped\"");
	pthread_mutex_lock(&st->lock);
	st->delay_ms = 0;
	pthread_mutex_unlock(&st->lock);
	before = st->requests;
	ok(s3_put(c, "k", "x", 1, NULL, etag, &r) == OUTCOME_RETRY && strcmp(r.why, "stopped") == 0,
	   "after SIGTERM no request starts");
	usleep(100 * 1000);
	ok(st->requests == before, "  none reached the server");
	*flag = 0;
}

static void test_addressing(struct stub *st, struct awscreds *creds, int port)
{
	char endpoint[64], bucket[] = "bkt", dotted[] = "my.bucket", err[256], etag[S3_ETAG_MAX];
	char v[128], want[128];
	struct config cfg;
	struct s3_client *c;
	struct result r;

	snprintf(endpoint, sizeof endpoint, "http://localhost:%d/", port);
	cfg = base_config(endpoint, bucket, false);
	c = s3_client_new(&cfg, creds, NULL, err, sizeof err);
	ok(c != NULL, "virtual-host client");
	answer(st, 200, "ETag: \"v\"\r\n", "");
	ok(c && s3_put(c, "dir/k.txt", "abc", 3, NULL, etag, &r) == OUTCOME_DONE,
	   "virtual-host put (bkt.localhost resolves to loopback)");
	snprintf(want, sizeof want, "bkt.localhost:%d", port);
	is_str(sent_header(st, "Host", v, sizeof v), want, "virtual-host: Host is bucket.endpoint");
	is_str(st->target, "/dir/k.txt", "virtual-host: the path is the key alone");
	ok(st->sig_ok, "virtual-host: signed as sent");
	s3_client_free(c);

	snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/prefix", port);
	cfg = base_config(endpoint, bucket, false);
	c = s3_client_new(&cfg, creds, NULL, err, sizeof err);
	ok(!c && strstr(err, "s3_path_style"), "virtual-host with an IP endpoint is refused");
	tap_diag(err);
	cfg.s3_path_style = true;
	c = s3_client_new(&cfg, creds, NULL, err, sizeof err);
	ok(c && s3_put(c, "k", "abc", 3, NULL, etag, &r) == OUTCOME_DONE &&
		   strcmp(st->target, "/prefix/bkt/k") == 0,
	   "an endpoint path prefix is kept");
	s3_client_free(c);

	snprintf(endpoint, sizeof endpoint, "https://s3.example.com");
	cfg = base_config(endpoint, dotted, false);
	c = s3_client_new(&cfg, creds, NULL, err, sizeof err);
	ok(c != NULL, "a dotted bucket over https falls back to path style");
	s3_client_free(c);
	cfg = base_config(NULL, bucket, false);
	cfg.s3_endpoint = NULL;
	c = s3_client_new(&cfg, creds, NULL, err, sizeof err);
	ok(c != NULL, "AWS's default endpoint needs no config");
	s3_client_free(c);
	snprintf(endpoint, sizeof endpoint, "ftp://x");
	cfg = base_config(endpoint, bucket, true);
	ok(!s3_client_new(&cfg, creds, NULL, err, sizeof err), "a non-http endpoint is refused");
}

static void write_creds(const char *path, const char *key)
{
	FILE *f = fopen(path, "w");

	fprintf(f, "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", key, SK);
	fclose(f);
}

/* The client asks awscreds before each request: credentials that change
 * between two parts of one upload are picked up at once. */
static void test_creds_per_request(struct stub *st, struct config *cfg)
{
	char path[] = "/tmp/test_s3_creds.XXXXXX", etag[S3_ETAG_MAX], v[512], err[256];
	struct awscreds *creds;
	struct s3_client *c;
	struct result r;
	int fd = mkstemp(path);

	if (fd < 0)
		return;
	close(fd);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	write_creds(path, "AKIDFIRST");
	creds = awscreds_new(cfg);
	c = s3_client_new(cfg, creds, NULL, err, sizeof err);
	answer(st, 200, "ETag: \"p\"\r\n", "");
	ok(c && s3_mpu_upload_part(c, "k", "id", 1, "a", 1, etag, &r) == OUTCOME_DONE &&
		   sent_has(st, "Authorization", "Credential=AKIDFIRST/"),
	   "part 1 is signed with the credentials of that moment");
	ok(!sent_header(st, "x-amz-security-token", v, sizeof v), "  no token, none sent");
	write_creds(path, "AKIDSECOND");
	ok(c && s3_mpu_upload_part(c, "k", "id", 2, "b", 1, etag, &r) == OUTCOME_DONE &&
		   sent_has(st, "Authorization", "Credential=AKIDSECOND/"),
	   "part 2, after the credentials changed, is signed with the new ones");
	s3_client_free(c);
	awscreds_free(creds);
	unlink(path);
}

int main(void)
{
	static stop_flag_t stop_flag;
	char endpoint[64], bucket[] = "bkt", sc[] = "STANDARD_IA", sse[] = "AES256", err[256];
	struct stub st = {.status = 200};
	struct httpstub srv;
	struct config cfg;
	struct awscreds *creds;
	struct s3_client *c;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	setenv("NO_PROXY", "127.0.0.1,localhost", 1); /* the stubs are on loopback */
	log_init("test_s3", LOG_DEST_STDERR, false);
	setenv("AWS_ACCESS_KEY_ID", AK, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SK, 1);
	setenv("AWS_SESSION_TOKEN", TOKEN, 1);
	pthread_mutex_init(&st.lock, NULL);
	test_pure();
	if (!ok(httpstub_start(&srv, stub_handler, &st) == 0, "stub S3 starts"))
		return done_testing();
	snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", srv.port);
	cfg = base_config(endpoint, bucket, true);
	cfg.s3_storage_class = sc;
	cfg.s3_sse = sse;
	creds = awscreds_new(&cfg);
	c = s3_client_new(&cfg, creds, &stop_flag, err, sizeof err);
	if (!ok(c != NULL, "client for a path-style endpoint"))
		tap_diag(err);
	if (c) {
		test_put_and_head(&st, c);
		test_multipart(&st, c);
		test_errors(&st, c);
		test_retries(&st, c);
		test_cut_headers(&st, c);
		test_stop(&st, c, &stop_flag);
	}
	s3_client_free(c);
	test_addressing(&st, creds, srv.port);
	test_creds_per_request(&st, &cfg);
	awscreds_free(creds);
	httpstub_stop(&srv);
	free(st.req_headers);
	free(st.req_body);
	curl_global_cleanup();
	return done_testing();
}
