/* S3's XML: see s3xml.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3xml.h"

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

const char *s3xml_text(const char *from, const char *to, const char *tag, char *out,
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

bool s3xml_block(const char **from, const char *to, const char *tag, const char **start,
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

void s3xml_strip_quotes(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = '\0';
	}
}


bool s3xml_error(const char *body, size_t len, char *code, size_t codesize, char *message,
		 size_t msgsize, char *region, size_t regionsize)
{
	const char *end = body ? body + len : NULL;

	code[0] = message[0] = region[0] = '\0';
	if (!body || !memmem(body, len, "<Error>", 7))
		return false;
	if (!s3xml_text(body, end, "Code", code, codesize))
		code[0] = '\0';
	if (!s3xml_text(body, end, "Message", message, msgsize))
		message[0] = '\0';
	if (!s3xml_text(body, end, "Region", region, regionsize))
		region[0] = '\0';
	return true;
}

bool s3xml_truncated(const char *body, size_t len)
{
	char flag[16];

	return body && s3xml_text(body, body + len, "IsTruncated", flag, sizeof flag) &&
	       strcmp(flag, "true") == 0;
}

int s3xml_parts(const char *body, size_t len, struct s3_part **parts, size_t *n, size_t *cap)
{
	const char *from = body, *end = body + len, *a, *b;
	char num[32], size[32];

	while (s3xml_block(&from, end, "Part", &a, &b)) {
		struct s3_part p = {0};

		if (!s3xml_text(a, b, "PartNumber", num, sizeof num) ||
		    !s3xml_text(a, b, "ETag", p.etag, sizeof p.etag) ||
		    !s3xml_text(a, b, "Size", size, sizeof size))
			return -1;
		/* Only where the upload was created with a checksum algorithm. */
		if (!s3xml_text(a, b, "ChecksumSHA256", p.checksum_sha256, sizeof p.checksum_sha256))
			p.checksum_sha256[0] = '\0';
		p.number = atoi(num);
		p.size = strtoull(size, NULL, 10);
		s3xml_strip_quotes(p.etag);
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

int s3xml_uploads(const char *body, size_t len, const char *key, struct s3_upload **uploads,
		  size_t *n, size_t *cap)
{
	const char *from = body, *end = body + len, *a, *b;
	char *ukey = malloc(4096);
	int rc = -1;

	if (!ukey)
		return -1;
	while (s3xml_block(&from, end, "Upload", &a, &b)) {
		struct s3_upload u;

		if (!s3xml_text(a, b, "Key", ukey, 4096) ||
		    !s3xml_text(a, b, "UploadId", u.upload_id, sizeof u.upload_id))
			goto out;
		if (strcmp(ukey, key) != 0)
			continue;
		if (*n == *cap) {
			size_t grown_cap = *cap ? *cap * 2 : 4;
			struct s3_upload *grown = realloc(*uploads, grown_cap * sizeof *grown);

			if (!grown)
				goto out;
			*uploads = grown;
			*cap = grown_cap;
		}
		(*uploads)[(*n)++] = u;
	}
	rc = 0;
out:
	free(ukey);
	return rc;
}

static int cmp_part(const void *a, const void *b)
{
	const struct s3_part *x = a, *y = b;

	return (x->number > y->number) - (x->number < y->number);
}

void s3xml_sort_parts(struct s3_part *parts, size_t n)
{
	if (n > 1)
		qsort(parts, n, sizeof *parts, cmp_part);
}

char *s3xml_complete(const struct s3_part *parts, size_t n, size_t *len)
{
	struct s3_part *sorted = malloc((n ? n : 1) * sizeof *sorted);
	/* "&quot;" is 6; a checksum is base64 (no escaping) */
	size_t size = 128 + n * (64 + 6 * S3_ETAG_MAX + 40 + S3_CHECKSUM_MAX), o = 0;
	char *xml = malloc(size);

	if (!sorted || !xml)
		goto fail;
	memcpy(sorted, parts, n * sizeof *sorted);
	s3xml_sort_parts(sorted, n);
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
		o += (size_t)snprintf(xml + o, size - o, "\"</ETag>");
		if (sorted[i].checksum_sha256[0])
			o += (size_t)snprintf(xml + o, size - o, "<ChecksumSHA256>%s</ChecksumSHA256>",
					      sorted[i].checksum_sha256);
		o += (size_t)snprintf(xml + o, size - o, "</Part>");
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
