/* AWS credentials in the order the AWS SDKs look for them (zoom2s3.conf(5)):
 *
 *  1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *     AWS_SESSION_TOKEN;
 *  2. the config file's aws_access_key_id / aws_secret_access_key /
 *     aws_session_token;
 *  3. a web identity: AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN (and
 *     AWS_ROLE_SESSION_NAME), exchanged at STS (AssumeRoleWithWebIdentity)
 *     for temporary credentials; STS is AWS_ENDPOINT_URL_STS, else
 *     AWS_ENDPOINT_URL, else the regional https://sts.REGION.amazonaws.com;
 *  4. the profile (AWS_PROFILE, else "default"): its keys in the shared
 *     credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials),
 *     else its credential_process (either file), else its keys in the shared
 *     config file (AWS_CONFIG_FILE, else ~/.aws/config; sections
 *     "[profile NAME]", and "[default]");
 *  5. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on
 *     http://169.254.170.2), else AWS_CONTAINER_CREDENTIALS_FULL_URI (https,
 *     or http to a loopback address or the ECS/EKS agent's), with
 *     AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read at each fetch), else
 *     AWS_CONTAINER_AUTHORIZATION_TOKEN, as the Authorization header;
 *  6. an EC2 instance role through IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT
 *     overrides http://169.254.169.254; AWS_EC2_METADATA_DISABLED=true skips
 *     it).
 *
 * As in the SDKs, a source that is configured but fails (a partial key
 * pair, STS refusing the token, a credential process that exits 1, a
 * container endpoint that is down) stops the chain with its reason; an
 * absent one passes to the next. Only the instance role, the last, is
 * always tried.
 *
 * One struct awscreds serves every worker thread (a mutex guards it; one
 * fetch at a time, the others wait for its result). The S3 client asks for
 * credentials before signing each request, so temporary credentials (STS,
 * credential_process with an Expiration, container, instance role) are
 * fetched again AWSCREDS_REFRESH_MARGIN seconds before they expire, also in
 * the middle of a long upload; when that refresh fails, the old ones serve
 * while they are valid. The shared files are read again on each ask, so an
 * operator who fixes them needs no restart. Every secret key, session
 * token, web identity token and container token is registered with
 * log_add_secret and never written into a message.
 *
 * The environment is read once, by awscreds_new. The program must have
 * called curl_global_init. */
#ifndef ZOOM2S3_AWSCREDS_H
#define ZOOM2S3_AWSCREDS_H

#include <stdbool.h>
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
						 * "web identity",
						 * "shared credentials file",
						 * "credential_process",
						 * "shared config file",
						 * "container", "instance role"
						 * (static text) */
};

struct awscreds;

/* cfg (may be NULL) must outlive the object. Its s3_region (else the
 * environment's, else us-east-1) picks the regional STS. NULL only when out
 * of memory. */
struct awscreds *awscreds_new(const struct config *cfg);
void awscreds_free(struct awscreds *ac);

/* Current credentials into *out. DONE, or RETRY with r->why telling the
 * operator what was looked at and what to fix (no credentials anywhere, a
 * partial pair, an unreadable file, STS or a credential endpoint refusing
 * or unreachable): credentials can be fixed without losing jobs. Never
 * GIVEUP. */
enum outcome awscreds_get(struct awscreds *ac, struct aws_credentials *out, struct result *r);

/* Wipes c (explicit_bzero). */
void awscreds_clear(struct aws_credentials *c);

/* ---- region and endpoint, for config.c when the config file sets none ---- */

/* The region the AWS SDKs would use: AWS_REGION, else AWS_DEFAULT_REGION,
 * else the profile's `region` in the shared config file. 1 with the value
 * in out and where it came from in from (for messages), 0 when none. */
int awscreds_env_region(char *out, size_t size, char *from, size_t fromsize);

/* AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL (neither when
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true); *name gets the variable's name.
 * NULL when none. */
const char *awscreds_env_endpoint(const char **name);

/* ---- the pure parts, exposed for the tests ---- */

enum awscreds_ini {
	AWSCREDS_INI_FOUND = 0,      /* the profile has a key id and a secret */
	AWSCREDS_INI_NO_PROFILE = 1, /* no such [profile] section */
	AWSCREDS_INI_PARTIAL = 2,    /* the profile lacks the key id or the secret */
	AWSCREDS_INI_NO_KEY = 3,     /* the profile holds no such key (awscreds_ini_value) */
	AWSCREDS_INI_TOO_LONG = 4,   /* the value does not fit (awscreds_ini_value) */
};

/* The value of key in profile of an INI text ("[name]" sections, "key =
 * value" lines, '#' and ';' comment lines, CRLF tolerated, later lines win,
 * indented lines under a key without value are that key's sub-settings and
 * skipped). config_file: the shared config file's naming, "[profile NAME]",
 * and "[default]" for default; else the credentials file's "[NAME]". */
enum awscreds_ini awscreds_ini_value(const char *text, bool config_file, const char *profile,
				     const char *key, char *out, size_t size);

/* The key pair and session token of profile in a shared credentials file's
 * text (config_file false) or shared config file's (true). */
enum awscreds_ini awscreds_parse_ini(const char *text, const char *profile,
				     struct aws_credentials *out);
enum awscreds_ini awscreds_parse_profile(const char *text, bool config_file,
					 const char *profile, struct aws_credentials *out);

/* A credential_process's output (Version 1, AccessKeyId, SecretAccessKey,
 * optional SessionToken and Expiration). 0, or -1 with why. */
int awscreds_parse_process(const char *json, struct aws_credentials *out, char *why,
			   size_t whylen);

/* An STS AssumeRoleWithWebIdentity answer's Credentials. 0, or -1 with why. */
int awscreds_parse_sts(const char *xml, size_t len, struct aws_credentials *out, char *why,
		       size_t whylen);

/* The container credentials URL from the RELATIVE_URI and FULL_URI
 * variables' values (either may be NULL; RELATIVE_URI first): 1 with it in
 * out, 0 when neither is set, -1 with why when FULL_URI names a host the
 * SDKs refuse: plain http to a host that is not, or a name that does not
 * resolve only to, loopback, 169.254.170.2, 169.254.170.23 or fd00:ec2::23. */
int awscreds_container_url(const char *relative, const char *full, char *out, size_t size,
			   char *why, size_t whylen);

/* The STS endpoint for region with the environment's overrides
 * (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL). 0, or -1 when out is too small. */
int awscreds_sts_url(const char *region, char *out, size_t size);

#endif
