#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "pctenc.h"
#include "sigv4.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

/* A growing string: every append after a failed one is a no-op, so callers
 * check once at the end. */
struct sbuf {
	char *s;
	size_t len, cap;
	bool failed;
};

static void sb_addn(struct sbuf *sb, const char *text, size_t n)
{
	if (sb->failed)
		return;
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = sb->cap ? sb->cap : 256;
		char *grown;

		while (sb->len + n + 1 > cap)
			cap *= 2;
		grown = realloc(sb->s, cap);
		if (!grown) {
			sb->failed = true;
			return;
		}
		sb->s = grown;
		sb->cap = cap;
	}
	memcpy(sb->s + sb->len, text, n);
	sb->len += n;
	sb->s[sb->len] = '\0';
}

static void sb_adds(struct sbuf *sb, const char *text)
{
	sb_addn(sb, text, strlen(text));
}

static void sb_free(struct sbuf *sb)
{
	free(sb->s);
	*sb = (struct sbuf){0};
}

/* One query parameter, encoded, for sorting. */
struct enc_param {
	char *name, *value;
};

static char *encode_dup(const char *in)
{
	size_t size = strlen(in) * 3 + 1;
	char *out = malloc(size);

	if (out && pctenc_encode(in, PCTENC_SIGV4, out, size) < 0) {
		free(out);
		out = NULL;
	}
	return out;
}

static int cmp_param(const void *a, const void *b)
{
	const struct enc_param *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

int sigv4_canonical_query(const struct sigv4_kv *params, size_t n, char *out, size_t size)
{
	struct enc_param *enc = calloc(n ? n : 1, sizeof *enc);
	size_t o = 0;
	int rc = -1;

	if (!enc || size == 0)
		goto out;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		enc[i].name = encode_dup(params[i].name);
		enc[i].value = encode_dup(params[i].value ? params[i].value : "");
		if (!enc[i].name || !enc[i].value)
			goto out;
	}
	qsort(enc, n, sizeof *enc, cmp_param);
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out + o, size - o, "%s%s=%s", i ? "&" : "", enc[i].name,
				 enc[i].value);

		if (w < 0 || (size_t)w >= size - o)
			goto out;
		o += (size_t)w;
	}
	rc = 0;
out:
	for (size_t i = 0; enc && i < n; i++) {
		free(enc[i].name);
		free(enc[i].value);
	}
	free(enc);
	return rc;
}

void sigv4_signing_key(const char *secret, const char *date, const char *region,
		       const char *service, unsigned char out[32])
{
	size_t klen = strlen(secret) + 5;
	char *k = malloc(klen);
	unsigned char a[SHA256_LEN], b[SHA256_LEN];

	if (!k) {
		/* No key can be derived: an all-zero key makes a signature
		 * that S3 refuses, never one that passes. */
		memset(out, 0, SHA256_LEN);
		return;
	}
	snprintf(k, klen, "AWS4%s", secret);
	crypto_hmac_sha256(k, klen - 1, date, strlen(date), a);
	crypto_hmac_sha256(a, sizeof a, region, strlen(region), b);
	crypto_hmac_sha256(b, sizeof b, service, strlen(service), a);
	crypto_hmac_sha256(a, sizeof a, "aws4_request", 12, out);
	explicit_bzero(k, klen);
	explicit_bzero(a, sizeof a);
	explicit_bzero(b, sizeof b);
	free(k);
}

int sigv4_amz_date(time_t t, char out[SIGV4_AMZ_DATE_LEN + 1])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		return -1;
	if (strftime(out, SIGV4_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != SIGV4_AMZ_DATE_LEN)
		return -1;
	return 0;
}

/* One header as signed: lower-case name, value trimmed with inner runs of
 * blanks collapsed to one space. */
struct canon_header {
	char *name, *value;
};

static bool valid_header(const struct sigv4_kv *h)
{
	if (!h->name || !h->value || !h->name[0])
		return false;
	for (const char *p = h->name; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == ':' || (unsigned char)*p >= 0x7f)
			return false;
	return strpbrk(h->value, "\r\n") == NULL;
}

static char *lower_dup(const char *in)
{
	char *out = strdup(in);

	for (char *p = out; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return out;
}

static char *trimall_dup(const char *in)
{
	char *out = malloc(strlen(in) + 1);
	size_t o = 0;
	bool blank = false;

	if (!out)
		return NULL;
	for (const char *p = in; *p; p++) {
		if (*p == ' ' || *p == '\t') {
			blank = o > 0;
			continue;
		}
		if (blank)
			out[o++] = ' ';
		blank = false;
		out[o++] = *p;
	}
	out[o] = '\0';
	return out;
}

/* Stable sort by name, so that the values of a repeated header keep the
 * order they were given in (the suite's get-header-value-order). */
static void sort_headers(struct canon_header *h, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct canon_header cur = h[i];
		size_t j = i;

		while (j > 0 && strcmp(h[j - 1].name, cur.name) > 0) {
			h[j] = h[j - 1];
			j--;
		}
		h[j] = cur;
	}
}

/* Appends "name:value\n" lines (repeated names joined) to canon and
 * "a;b;c" to signed_names. */
static int canonical_headers(const struct sigv4_request *req, struct sbuf *canon,
			     struct sbuf *signed_names)
{
	struct canon_header *h = calloc(req->n_headers ? req->n_headers : 1, sizeof *h);
	int rc = -1;

	if (!h)
		return -1;
	for (size_t i = 0; i < req->n_headers; i++) {
		if (!valid_header(&req->headers[i]))
			goto out;
		h[i].name = lower_dup(req->headers[i].name);
		h[i].value = trimall_dup(req->headers[i].value);
		if (!h[i].name || !h[i].value)
			goto out;
	}
	sort_headers(h, req->n_headers);
	for (size_t i = 0; i < req->n_headers; i++) {
		bool same = i > 0 && strcmp(h[i - 1].name, h[i].name) == 0;

		if (same) {
			sb_adds(canon, ",");
		} else {
			if (i > 0) {
				sb_adds(canon, "\n");
				sb_adds(signed_names, ";");
			}
			sb_adds(canon, h[i].name);
			sb_adds(canon, ":");
			sb_adds(signed_names, h[i].name);
		}
		sb_adds(canon, h[i].value);
	}
	sb_adds(canon, "\n");
	rc = canon->failed || signed_names->failed ? -1 : 0;
out:
	for (size_t i = 0; i < req->n_headers; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
	return rc;
}

static bool has_header(const struct sigv4_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (req->headers[i].name && strcasecmp(req->headers[i].name, name) == 0)
			return true;
	return false;
}

static bool valid_request(const struct sigv4_request *req)
{
	if (!req->method || !req->canonical_uri || req->canonical_uri[0] != '/' ||
	    !req->payload_hash || !req->amz_date || !req->region || !req->service ||
	    (req->n_query && !req->query) || (req->n_headers && !req->headers))
		return false;
	if (strlen(req->amz_date) != SIGV4_AMZ_DATE_LEN || req->amz_date[8] != 'T' ||
	    req->amz_date[15] != 'Z')
		return false;
	return has_header(req, "host") && has_header(req, "x-amz-date");
}

/* The canonical request of AWS's specification, into cr; signed header
 * names into names. */
static int canonical_request(const struct sigv4_request *req, struct sbuf *cr,
			     struct sbuf *names)
{
	/* The query is at most 3 bytes per input byte, plus separators. */
	size_t qsize = 1;
	char *query;
	int rc = -1;

	for (size_t i = 0; i < req->n_query; i++)
		qsize += 3 * (strlen(req->query[i].name) +
			      (req->query[i].value ? strlen(req->query[i].value) : 0)) + 2;
	query = malloc(qsize);
	if (!query || sigv4_canonical_query(req->query, req->n_query, query, qsize) < 0)
		goto out;
	sb_adds(cr, req->method);
	sb_adds(cr, "\n");
	sb_adds(cr, req->canonical_uri);
	sb_adds(cr, "\n");
	sb_adds(cr, query);
	sb_adds(cr, "\n");
	if (canonical_headers(req, cr, names) < 0)
		goto out;
	sb_adds(cr, "\n");
	sb_adds(cr, names->s ? names->s : "");
	sb_adds(cr, "\n");
	sb_adds(cr, req->payload_hash);
	rc = cr->failed ? -1 : 0;
out:
	free(query);
	return rc;
}

int sigv4_sign(const struct sigv4_request *req, const char *access_key_id,
	       const char *secret_access_key, char *authorization, size_t size,
	       struct sigv4_debug *dbg)
{
	struct sbuf cr = {0}, names = {0}, sts = {0};
	unsigned char digest[SHA256_LEN], key[SHA256_LEN], sig[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1], sighex[SHA256_HEX_LEN + 1], date[9], scope[256];
	int w, rc = -1;

	if (dbg)
		*dbg = (struct sigv4_debug){0};
	if (!valid_request(req) || !access_key_id || !secret_access_key)
		goto out;
	if (canonical_request(req, &cr, &names) < 0)
		goto out;
	memcpy(date, req->amz_date, 8);
	date[8] = '\0';
	w = snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, req->region,
		     req->service);
	if (w < 0 || (size_t)w >= sizeof scope)
		goto out;
	crypto_sha256(cr.s, cr.len, digest);
	crypto_hex(digest, sizeof digest, hex);
	sb_adds(&sts, ALGORITHM "\n");
	sb_adds(&sts, req->amz_date);
	sb_adds(&sts, "\n");
	sb_adds(&sts, scope);
	sb_adds(&sts, "\n");
	sb_adds(&sts, hex);
	if (sts.failed)
		goto out;
	sigv4_signing_key(secret_access_key, date, req->region, req->service, key);
	crypto_hmac_sha256(key, sizeof key, sts.s, sts.len, sig);
	explicit_bzero(key, sizeof key);
	crypto_hex(sig, sizeof sig, sighex);
	w = snprintf(authorization, size,
		     ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		     access_key_id, scope, names.s, sighex);
	if (w < 0 || (size_t)w >= size)
		goto out;
	if (dbg) {
		dbg->canonical_request = cr.s;
		dbg->string_to_sign = sts.s;
		cr = (struct sbuf){0};
		sts = (struct sbuf){0};
	}
	rc = 0;
out:
	if (rc < 0 && size > 0)
		authorization[0] = '\0';
	sb_free(&cr);
	sb_free(&names);
	sb_free(&sts);
	return rc;
}

void sigv4_debug_free(struct sigv4_debug *dbg)
{
	if (!dbg)
		return;
	free(dbg->canonical_request);
	free(dbg->string_to_sign);
	*dbg = (struct sigv4_debug){0};
}
