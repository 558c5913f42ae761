/* The one percent-encoder: see pctenc.h. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pctenc.h"

static bool kept(unsigned char c, enum pctenc_set set)
{
	bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';

	switch (set) {
	case PCTENC_SIGV4:
		return unreserved;
	case PCTENC_SIGV4_S3_KEY:
		return unreserved || c == '/';
	case PCTENC_S3_META:
		return c >= '!' && c <= '~' && c != '%';
	}
	return false;
}

int pctenc_encode(const char *in, enum pctenc_set set, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (kept(*p, set)) {
			if (o + 1 >= size)
				return -1;
			out[o++] = (char)*p;
			continue;
		}
		if (o + 3 >= size)
			return -1;
		out[o++] = '%';
		out[o++] = hex[*p >> 4];
		out[o++] = hex[*p & 15];
	}
	if (o >= size)
		return -1;
	out[o] = '\0';
	return (int)o;
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

int pctenc_decode(const char *in, char *out, size_t size)
{
	size_t o = 0;

	if (size == 0)
		return -1;
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
	out[o] = '\0';
	return 0;
}

int pctenc_zoom_uuid(const char *uuid, char *out, size_t size)
{
	size_t once_size = strlen(uuid) * 3 + 1;
	char *once = malloc(once_size);
	int n = -1;

	if (once && pctenc_encode(uuid, PCTENC_SIGV4, once, once_size) >= 0)
		n = pctenc_encode(once, PCTENC_SIGV4, out, size);
	free(once);
	return n;
}
