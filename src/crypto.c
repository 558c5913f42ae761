#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

void crypto_sha256(const void *data, size_t len, unsigned char out[SHA256_LEN])
{
	unsigned int outlen = SHA256_LEN;

	/* EVP_Digest only fails on allocation failure inside OpenSSL. */
	if (!EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL))
		memset(out, 0, SHA256_LEN);
}

struct crypto_sha256_stream {
	EVP_MD_CTX *ctx;
};

struct crypto_sha256_stream *crypto_sha256_stream_new(void)
{
	struct crypto_sha256_stream *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->ctx = EVP_MD_CTX_new();
	if (!s->ctx || crypto_sha256_stream_reset(s) != 0) {
		crypto_sha256_stream_free(s);
		return NULL;
	}
	return s;
}

void crypto_sha256_stream_free(struct crypto_sha256_stream *s)
{
	if (!s)
		return;
	EVP_MD_CTX_free(s->ctx);
	free(s);
}

int crypto_sha256_stream_reset(struct crypto_sha256_stream *s)
{
	return EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) ? 0 : -1;
}

int crypto_sha256_stream_add(struct crypto_sha256_stream *s, const void *data, size_t len)
{
	return EVP_DigestUpdate(s->ctx, data, len) ? 0 : -1;
}

int crypto_sha256_stream_end(struct crypto_sha256_stream *s, unsigned char out[SHA256_LEN])
{
	unsigned int outlen = SHA256_LEN;

	if (!EVP_DigestFinal_ex(s->ctx, out, &outlen))
		return -1;
	return crypto_sha256_stream_reset(s);
}

void crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
			unsigned char out[SHA256_LEN])
{
	unsigned int outlen = SHA256_LEN;

	if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen))
		memset(out, 0, SHA256_LEN);
}

void crypto_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static size_t base64_with(const char *alphabet, int pad, const unsigned char *in, size_t len,
			  char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned long v = (unsigned long)in[i] << 16;
		size_t left = len - i;

		if (left > 1)
			v |= (unsigned long)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		if (left > 1)
			out[o++] = alphabet[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (left > 2)
			out[o++] = alphabet[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

size_t crypto_base64url(const unsigned char *in, size_t len, char *out)
{
	return base64_with("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 0,
			   in, len, out);
}

size_t crypto_base64(const unsigned char *in, size_t len, char *out)
{
	return base64_with("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 1,
			   in, len, out);
}

/* The length of a signature header is not secret; its content is. Compare
 * every byte of the expected value whatever the input's length. */
bool crypto_str_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;
	const char *other = la == lb ? a : b;

	return (CRYPTO_memcmp(other, b, lb) | diff) == 0;
}

void crypto_free_secret(char *secret)
{
	if (secret)
		explicit_bzero(secret, strlen(secret));
	free(secret);
}
