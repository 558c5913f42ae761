/* AWS Signature Version 4 (header form) for S3, computed by us: libcurl
 * 7.88's CURLOPT_AWS_SIGV4 canonicalises neither the path, nor the query,
 * nor the payload hash. Pure: no I/O, no clock, no globals.
 *
 * S3 differs from the other services in two ways this module follows: the
 * path is encoded once (never twice) and never normalised ("a//b", "..").
 * The caller signs exactly the headers it sends (host, x-amz-date,
 * x-amz-content-sha256, x-amz-security-token, content-type, x-amz-*). */
#ifndef ZOOM2S3_SIGV4_H
#define ZOOM2S3_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_AMZ_DATE_LEN 16 /* "20130524T000000Z" */
#define SIGV4_AUTH_MAX 1024   /* room for an Authorization value */

/* A name and a value: a query parameter or a header. */
struct sigv4_kv {
	const char *name;
	const char *value; /* "" for a valueless query parameter ("?uploads") */
};

struct sigv4_request {
	const char *method;             /* "GET", "PUT", "POST", "HEAD", "DELETE" */
	const char *canonical_uri;      /* the path as sent, already encoded with
					 * sigv4_uri_encode(..., true); "/" at least */
	const struct sigv4_kv *query;   /* raw (not encoded) parameters, any order */
	size_t n_query;
	const struct sigv4_kv *headers; /* every header to sign, as sent: any case,
					 * any order; a repeated name joins its values
					 * with ",". Must hold host and x-amz-date. */
	size_t n_headers;
	const char *payload_hash;       /* lower-case hex SHA-256 of the body, or
					 * SIGV4_UNSIGNED_PAYLOAD */
	const char *amz_date;           /* the x-amz-date value */
	const char *region;             /* "us-east-1" */
	const char *service;            /* "s3" */
};

/* What sigv4_sign computed on the way, for the tests (NULL when not asked). */
struct sigv4_debug {
	char *canonical_request;
	char *string_to_sign;
};

/* Percent-encodes in with AWS's rules: A-Z a-z 0-9 - _ . ~ are kept, '/'
 * too when keep_slash (an S3 key's path), every other byte becomes %XX in
 * upper-case hex. Returns the length written, or -1 when out (size bytes,
 * NUL included) is too small. */
int sigv4_uri_encode(const char *in, bool keep_slash, char *out, size_t size);

/* The canonical query string, which is also the one to send: each name and
 * value encoded, sorted by name then value, always "name=value", joined by
 * "&". "" when n is 0. Returns 0, or -1 when out is too small. */
int sigv4_canonical_query(const struct sigv4_kv *params, size_t n, char *out, size_t size);

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
 * "aws4_request"); date is "YYYYMMDD". */
void sigv4_signing_key(const char *secret, const char *date, const char *region,
		       const char *service, unsigned char out[32]);

/* t as "YYYYMMDDTHHMMSSZ" (UTC) into out (SIGV4_AMZ_DATE_LEN + 1 bytes).
 * Returns 0, -1 when t cannot be represented. */
int sigv4_amz_date(time_t t, char out[SIGV4_AMZ_DATE_LEN + 1]);

/* Signs req: writes the Authorization header's value ("AWS4-HMAC-SHA256
 * Credential=AK/DATE/REGION/SERVICE/aws4_request, SignedHeaders=...,
 * Signature=...") into authorization (size bytes). When dbg is not NULL it
 * receives malloc'd copies of the canonical request and the string to sign
 * (free with sigv4_debug_free). Returns 0, or -1 on a malformed request
 * (missing field, bad amz_date, a header value with CR or LF), a buffer too
 * small, or out of memory. */
int sigv4_sign(const struct sigv4_request *req, const char *access_key_id,
	       const char *secret_access_key, char *authorization, size_t size,
	       struct sigv4_debug *dbg);

void sigv4_debug_free(struct sigv4_debug *dbg);

#endif
