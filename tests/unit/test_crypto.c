#include <string.h>

#include "crypto.h"
#include "tap.h"

int main(void)
{
	unsigned char d[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1], b64[64];

	crypto_sha256("", 0, d);
	crypto_hex(d, sizeof d, hex);
	is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	       "sha256 of the empty string");

	{
		/* The stream gives the one-shot digest however the bytes are cut,
		 * and starts over after each end. */
		struct crypto_sha256_stream *st = crypto_sha256_stream_new();
		unsigned char one[SHA256_LEN], e[SHA256_LEN];
		const char *text = "The quick brown fox jumps over the lazy dog";

		crypto_sha256(text, strlen(text), one);
		ok(st && crypto_sha256_stream_add(st, text, 4) == 0 &&
			   crypto_sha256_stream_add(st, text + 4, 0) == 0 &&
			   crypto_sha256_stream_add(st, text + 4, strlen(text) - 4) == 0 &&
			   crypto_sha256_stream_end(st, d) == 0 && memcmp(d, one, sizeof d) == 0,
		   "a stream hashed in pieces gives the one-shot digest");
		crypto_sha256("", 0, e);
		ok(st && crypto_sha256_stream_end(st, d) == 0 && memcmp(d, e, sizeof d) == 0,
		   "after an end the stream starts over");
		ok(st && crypto_sha256_stream_add(st, "junk", 4) == 0 &&
			   crypto_sha256_stream_reset(st) == 0 &&
			   crypto_sha256_stream_add(st, text, strlen(text)) == 0 &&
			   crypto_sha256_stream_end(st, d) == 0 && memcmp(d, one, sizeof d) == 0,
		   "a reset drops what was added");
		crypto_sha256_stream_free(st);
	}

	/* RFC 4231 test case 2 */
	crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
	crypto_hex(d, sizeof d, hex);
	is_str(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	       "HMAC-SHA256, RFC 4231 case 2");

	crypto_base64((const unsigned char *)"foob", 4, b64);
	is_str(b64, "Zm9vYg==", "base64 pads");
	crypto_base64((const unsigned char *)"fooba", 5, b64);
	is_str(b64, "Zm9vYmE=", "base64 pads one");
	crypto_base64url((const unsigned char *)"\xfb\xff", 2, b64);
	is_str(b64, "-_8", "base64url: url alphabet, no padding");

	ok(crypto_str_equal("v0=abc", "v0=abc"), "equal strings compare equal");
	ok(!crypto_str_equal("v0=abc", "v0=abd"), "one byte differs");
	ok(!crypto_str_equal("v0=ab", "v0=abc"), "prefix is not equal");
	ok(!crypto_str_equal("v0=abcd", "v0=abc"), "longer is not equal");
	ok(!crypto_str_equal("", "x"), "empty vs non-empty");
	return done_testing();
}
