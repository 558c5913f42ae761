/* The one percent-encoder. Each set of bytes kept as they are is named for
 * who asks for it; every other byte becomes %XX in upper-case hex. Pure. */
#ifndef ZOOM2S3_PCTENC_H
#define ZOOM2S3_PCTENC_H

#include <stddef.h>

enum pctenc_set {
	/* A-Z a-z 0-9 - . _ ~ (RFC 3986's unreserved): AWS SigV4's UriEncode
	 * of a query name or value, a form value, one segment of a Zoom path. */
	PCTENC_SIGV4,
	/* The same and '/': an S3 key in a SigV4 canonical URI (S3 encodes the
	 * path once and keeps its slashes). */
	PCTENC_SIGV4_S3_KEY,
	/* '!'..'~' but '%': an S3 metadata value a header can carry (CR, LF,
	 * space and UTF-8 are encoded, so nothing can break or bend it). */
	PCTENC_S3_META,
};

/* in encoded into out (size bytes, NUL included). Returns the length
 * written, or -1 when out is too small. */
int pctenc_encode(const char *in, enum pctenc_set set, char *out, size_t size);

/* Reverses pctenc_encode: %XX (either hex case) becomes its byte; a '%' not
 * followed by two hex digits stays as it is. 0, or -1 when out is too
 * small. */
int pctenc_decode(const char *in, char *out, size_t size);

/* A Zoom meeting uuid as one path segment of Zoom's API: encoded twice with
 * PCTENC_SIGV4's set, always ("/ab+c==" -> "%252Fab%252Bc%253D%253D"), as
 * Zoom asks for uuids that start with '/' or hold "//", and accepts for the
 * others. Returns the length, or -1 when out is too small. */
int pctenc_zoom_uuid(const char *uuid, char *out, size_t size);

#endif
