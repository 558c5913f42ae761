/* AWS credentials in the order the AWS SDKs use: the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then the
 * config file's aws_access_key_id / aws_secret_access_key /
 * aws_session_token, then the shared credentials file
 * (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials; profile AWS_PROFILE,
 * else "default"), then an EC2 instance role through IMDSv2.
 *
 * One struct awscreds serves every worker thread (a mutex guards it). The
 * S3 client asks for credentials before signing each request, so instance
 * role credentials are refreshed 5 minutes before they expire, also in the
 * middle of a long upload; the shared credentials file is read again on
 * each ask, so an operator who fixes it needs no restart. Every secret key
 * and session token handed out is registered with log_add_secret.
 *
 * IMDS: AWS_EC2_METADATA_SERVICE_ENDPOINT overrides the base URL
 * (http://169.254.169.254, as in the AWS SDKs; a test points it at a stub);
 * AWS_EC2_METADATA_DISABLED=true skips it. The environment is read once, by
 * awscreds_new. The program must have called curl_global_init. */
#ifndef ZOOM2S3_AWSCREDS_H
#define ZOOM2S3_AWSCREDS_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "outcome.h"

#define AWSCREDS_KEY_MAX 256
#define AWSCREDS_TOKEN_MAX 8192
#define AWSCREDS_REFRESH_MARGIN 300 /* seconds before expiry */

struct aws_credentials {
	char access_key_id[AWSCREDS_KEY_MAX];
	char secret_access_key[AWSCREDS_KEY_MAX];
	char session_token[AWSCREDS_TOKEN_MAX]; /* "" when none */
	time_t expires;                         /* 0: they do not expire */
	const char *source;                     /* "environment", "config file",
						 * "shared credentials file",
						 * "instance role" (static text) */
};

struct awscreds;

/* cfg (may be NULL) must outlive the object. NULL only when out of memory. */
struct awscreds *awscreds_new(const struct config *cfg);
void awscreds_free(struct awscreds *ac);

/* Current credentials into *out. DONE, or RETRY with r->why telling the
 * operator what was looked at and what to fix (no credentials anywhere, a
 * partial pair, an unreadable file, IMDS unreachable): credentials can be
 * fixed without losing jobs. Never GIVEUP. */
enum outcome awscreds_get(struct awscreds *ac, struct aws_credentials *out, struct result *r);

/* Wipes c (explicit_bzero). */
void awscreds_clear(struct aws_credentials *c);

/* ---- the pure parts, exposed for the tests ---- */

enum awscreds_ini {
	AWSCREDS_INI_FOUND = 0,      /* the profile has a key id and a secret */
	AWSCREDS_INI_NO_PROFILE = 1, /* no such [profile] section */
	AWSCREDS_INI_PARTIAL = 2,    /* the profile lacks the key id or the secret */
};

/* Reads a shared credentials file's text (INI: "[name]" sections, "key =
 * value" lines, '#' and ';' comment lines, CRLF tolerated) for profile. */
enum awscreds_ini awscreds_parse_ini(const char *text, const char *profile,
				     struct aws_credentials *out);

/* The string value of member field of the flat JSON object json (IMDS's
 * answer), unescaped, into out. 0, or -1 when json is not an object, the
 * member is absent or not a string, or out is too small. */
int awscreds_json_string(const char *json, const char *field, char *out, size_t size);

#endif
