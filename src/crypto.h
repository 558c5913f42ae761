/* The few digests the project needs, over OpenSSL. */
#ifndef ZOOM2S3_CRYPTO_H
#define ZOOM2S3_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64

void crypto_sha256(const void *data, size_t len, unsigned char out[SHA256_LEN]);
/* SHA-256 of a stream of pieces: a body hashed while it is copied in, its
 * bytes still in the cache, instead of read again from memory later. */
struct crypto_sha256_stream;
struct crypto_sha256_stream *crypto_sha256_stream_new(void);
void crypto_sha256_stream_free(struct crypto_sha256_stream *s);
/* Starts over: the digest of nothing. 0, or -1 (OpenSSL failed). */
int crypto_sha256_stream_reset(struct crypto_sha256_stream *s);
int crypto_sha256_stream_add(struct crypto_sha256_stream *s, const void *data, size_t len);
/* The digest of what was added since the last reset; then starts over. */
int crypto_sha256_stream_end(struct crypto_sha256_stream *s, unsigned char out[SHA256_LEN]);
void crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
			unsigned char out[SHA256_LEN]);
/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void crypto_hex(const unsigned char *in, size_t len, char *out);
/* Base64url without padding (for JWT); out needs 4*((len+2)/3)+1 bytes. */
size_t crypto_base64url(const unsigned char *in, size_t len, char *out);
/* Standard base64 with padding. */
size_t crypto_base64(const unsigned char *in, size_t len, char *out);
/* Constant-time comparison of two strings of possibly different length. */
bool crypto_str_equal(const char *a, const char *b);
/* Wipes a malloc'd NUL-terminated secret (a token, a key, a header that
 * holds one) and frees it, so no copy is left in freed memory. NULL is a
 * no-op. */
void crypto_free_secret(char *secret);

#endif
