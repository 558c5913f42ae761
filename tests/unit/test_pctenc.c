/* pctenc.c, the one percent-encoder: AWS's SigV4 test suite (the canonical
 * URI and query of get-utf8, get-space-unnormalized, get-unreserved,
 * get-vanilla-utf8-query, get-vanilla-query-unreserved,
 * post-vanilla-query-nonunreserved), S3 keys and metadata values, and
 * Zoom's double-encoded meeting uuids. */
#include <string.h>

#include "pctenc.h"
#include "tap.h"

#define UNRESERVED "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

struct vector {
	const char *name, *in;
	enum pctenc_set set;
	const char *want;
};

static const struct vector aws[] = {
	{ "get-utf8: path", "/\xe1\x88\xb4", PCTENC_SIGV4_S3_KEY, "/%E1%88%B4" },
	{ "get-space-unnormalized: path", "/example space/", PCTENC_SIGV4_S3_KEY,
	  "/example%20space/" },
	{ "get-unreserved: path", "/" UNRESERVED, PCTENC_SIGV4_S3_KEY, "/" UNRESERVED },
	{ "get-slashes-unnormalized: path kept", "//example//", PCTENC_SIGV4_S3_KEY,
	  "//example//" },
	{ "get-vanilla-utf8-query: name", "\xe1\x88\xb4", PCTENC_SIGV4, "%E1%88%B4" },
	{ "get-vanilla-query-unreserved: name and value", UNRESERVED, PCTENC_SIGV4, UNRESERVED },
	{ "post-vanilla-query-nonunreserved: name", "@#$%^", PCTENC_SIGV4, "%40%23%24%25%5E" },
	{ "post-vanilla-query-nonunreserved: name", "+", PCTENC_SIGV4, "%2B" },
	{ "post-vanilla-query-nonunreserved: value", "/,?><`\";:\\|][{}", PCTENC_SIGV4,
	  "%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D" },
	{ "S3 key: slash kept, the rest in upper-case hex", "rec (1)/a+b=c \xc3\xbc.mp4",
	  PCTENC_SIGV4_S3_KEY, "rec%20%281%29/a%2Bb%3Dc%20%C3%BC.mp4" },
	{ "query value: slash encoded", "a/b", PCTENC_SIGV4, "a%2Fb" },
	{ "meta: a Zoom uuid passes unchanged", "4444AAAiAAAAAiAiAiiAii/+==", PCTENC_S3_META,
	  "4444AAAiAAAAAiAiAiiAii/+==" },
	{ "meta: space, CR LF, '%' and UTF-8 encoded", "a b\r\nX: y%\xc3\xbc", PCTENC_S3_META,
	  "a%20b%0D%0AX:%20y%25%C3%BC" },
};

/* Zoom's meeting uuids, double-encoded as python's quote(quote(x, safe='')):
 * the examples Zoom's API reference gives (a uuid that starts with '/' or
 * holds "//" must be; the others may be). */
static const struct {
	const char *in, *want;
} zoom[] = {
	{ "/ajXp112QmuoKj4854875==", "%252FajXp112QmuoKj4854875%253D%253D" },
	{ "/ab+c==", "%252Fab%252Bc%253D%253D" },
	{ "WEz4RT2lSyKx2MD9Z+lYfA==", "WEz4RT2lSyKx2MD9Z%252BlYfA%253D%253D" },
	{ "//a/b+c", "%252F%252Fa%252Fb%252Bc" },
	{ "abc-._~", "abc-._~" },
	{ "\xc3\xa9", "%25C3%25A9" },
	{ "a b", "a%2520b" },
	{ "", "" },
};

static void test_aws(void)
{
	char out[512];

	for (size_t i = 0; i < sizeof aws / sizeof aws[0]; i++) {
		int n = pctenc_encode(aws[i].in, aws[i].set, out, sizeof out);

		is_str(out, aws[i].want, aws[i].name);
		is_int(n, strlen(aws[i].want), "  its length");
	}
}

static void test_zoom(void)
{
	char out[256];

	for (size_t i = 0; i < sizeof zoom / sizeof zoom[0]; i++) {
		ok(pctenc_zoom_uuid(zoom[i].in, out, sizeof out) >= 0, "uuid '%s' encodes",
		   zoom[i].in);
		is_str(out, zoom[i].want, "  twice, as Zoom's API wants it");
	}
	ok(pctenc_zoom_uuid("/", out, 6) == 5 && strcmp(out, "%252F") == 0, "'/' fits in 6 bytes");
	is_int(pctenc_zoom_uuid("/", out, 5), -1, "and not in 5");
}

static void test_bounds_and_decode(void)
{
	char out[64], back[64];

	is_int(pctenc_encode("abc", PCTENC_SIGV4, out, 3), -1, "too small a buffer is refused");
	is_int(pctenc_encode("abc", PCTENC_SIGV4, out, 4), 3, "an exact buffer is enough");
	is_int(pctenc_encode(" ", PCTENC_SIGV4, out, 3), -1, "no room for the escape is refused");
	is_int(pctenc_encode("", PCTENC_S3_META, out, 1), 0, "the empty string");
	pctenc_encode("a b\r\nX: y%\xc3\xbc", PCTENC_S3_META, out, sizeof out);
	ok(pctenc_decode(out, back, sizeof back) == 0 && strcmp(back, "a b\r\nX: y%\xc3\xbc") == 0,
	   "decode reverses encode");
	ok(pctenc_decode("%e1%88%B4", back, sizeof back) == 0 &&
		   strcmp(back, "\xe1\x88\xb4") == 0, "decode: either hex case");
	ok(pctenc_decode("100%-%4", back, sizeof back) == 0 && strcmp(back, "100%-%4") == 0,
	   "decode: a '%%' without two hex digits stays");
	is_int(pctenc_decode("abc", back, 3), -1, "decode: too small a buffer is refused");
}

int main(void)
{
	test_aws();
	test_zoom();
	test_bounds_and_decode();
	return done_testing();
}
