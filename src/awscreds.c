#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>

#include "awscreds.h"
#include "http.h"
#include "jsonget.h"
#include "log.h"

#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_TOKEN_TTL "21600"
#define IMDS_BODY_MAX 16384
#define FILE_MAX (1 << 20)
/* After a failed refresh, or one that brought the same credentials back,
 * IMDS is asked again only after this long (while the old ones still
 * work): a request per S3 call would slow every upload. */
#define IMDS_BACKOFF 30

struct awscreds {
	pthread_mutex_t lock;
	const struct config *cfg;
	char *env_key, *env_secret, *env_token; /* copied at creation */
	char *cred_file;                        /* NULL when no path could be made */
	char *profile;
	char *imds_base;                        /* NULL when disabled */
	struct aws_credentials imds;            /* the last instance-role answer */
	struct http_client *http;               /* IMDS's, made at its first use */
	time_t imds_next_try;
};

/* ---- small helpers ---- */

static char *env_dup(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] ? strdup(v) : NULL;
}

static int copy_text(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
			   end[-1] == '\n'))
		*--end = '\0';
	return s;
}

/* Appends ", text" (or text first) to a fixed note buffer; a full buffer
 * keeps what it has. */
static void note_add(char *note, size_t size, const char *text)
{
	size_t len = strlen(note);

	snprintf(note + len, size - len, "%s%s", len ? "; " : "", text);
}

void awscreds_clear(struct aws_credentials *c)
{
	explicit_bzero(c, sizeof *c);
}

/* ---- the shared credentials file ---- */

static void ini_set(struct aws_credentials *out, const char *key, const char *value,
		    bool *too_long)
{
	char *dst = NULL;
	size_t size = 0;

	if (strcasecmp(key, "aws_access_key_id") == 0) {
		dst = out->access_key_id;
		size = sizeof out->access_key_id;
	} else if (strcasecmp(key, "aws_secret_access_key") == 0) {
		dst = out->secret_access_key;
		size = sizeof out->secret_access_key;
	} else if (strcasecmp(key, "aws_session_token") == 0 ||
		   strcasecmp(key, "aws_security_token") == 0) {
		dst = out->session_token;
		size = sizeof out->session_token;
	}
	if (dst && copy_text(dst, size, value) < 0)
		*too_long = true;
}

enum awscreds_ini awscreds_parse_ini(const char *text, const char *profile,
				     struct aws_credentials *out)
{
	char *copy = strdup(text), *save = NULL;
	bool in_profile = false, found = false, too_long = false;

	awscreds_clear(out);
	if (!copy)
		return AWSCREDS_INI_PARTIAL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *s = trim(line), *eq;

		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');

			if (close)
				*close = '\0';
			in_profile = close && strcmp(trim(s + 1), profile) == 0;
			found = found || in_profile;
			continue;
		}
		eq = strchr(s, '=');
		if (!in_profile || !eq)
			continue;
		*eq = '\0';
		ini_set(out, trim(s), trim(eq + 1), &too_long);
	}
	explicit_bzero(copy, strlen(text));
	free(copy);
	if (!found)
		return AWSCREDS_INI_NO_PROFILE;
	if (too_long || !out->access_key_id[0] || !out->secret_access_key[0])
		return AWSCREDS_INI_PARTIAL;
	out->source = "shared credentials file";
	return AWSCREDS_INI_FOUND;
}

/* ---- construction ---- */

static char *default_cred_file(void)
{
	const char *home = getenv("HOME");
	struct passwd pw, *found = NULL;
	char buf[4096], path[4096];
	int n;

	if ((!home || !home[0]) && getpwuid_r(getuid(), &pw, buf, sizeof buf, &found) == 0 &&
	    found)
		home = found->pw_dir;
	if (!home || !home[0])
		return NULL;
	n = snprintf(path, sizeof path, "%s/.aws/credentials", home);
	if (n < 0 || (size_t)n >= sizeof path)
		return NULL;
	return strdup(path);
}

static bool imds_disabled(void)
{
	const char *off = getenv("AWS_EC2_METADATA_DISABLED");

	return off && strcasecmp(off, "true") == 0;
}

static char *imds_base_url(void)
{
	char *base = env_dup("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	size_t len;

	if (!base)
		return strdup(IMDS_DEFAULT);
	len = strlen(base);
	while (len > 0 && base[len - 1] == '/')
		base[--len] = '\0';
	return base;
}

struct awscreds *awscreds_new(const struct config *cfg)
{
	struct awscreds *ac = calloc(1, sizeof *ac);
	bool imds_off = imds_disabled();

	if (!ac)
		return NULL;
	if (pthread_mutex_init(&ac->lock, NULL) != 0) {
		free(ac);
		return NULL;
	}
	ac->cfg = cfg;
	ac->env_key = env_dup("AWS_ACCESS_KEY_ID");
	ac->env_secret = env_dup("AWS_SECRET_ACCESS_KEY");
	ac->env_token = env_dup("AWS_SESSION_TOKEN");
	ac->cred_file = env_dup("AWS_SHARED_CREDENTIALS_FILE");
	if (!ac->cred_file)
		ac->cred_file = default_cred_file();
	ac->profile = env_dup("AWS_PROFILE");
	if (!ac->profile)
		ac->profile = strdup("default");
	ac->imds_base = imds_off ? NULL : imds_base_url();
	if (!ac->profile || (!imds_off && !ac->imds_base)) {
		awscreds_free(ac);
		return NULL;
	}
	log_add_secret(ac->env_secret);
	log_add_secret(ac->env_token);
	return ac;
}

static void free_secret(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void awscreds_free(struct awscreds *ac)
{
	if (!ac)
		return;
	free_secret(ac->env_key);
	free_secret(ac->env_secret);
	free_secret(ac->env_token);
	free(ac->cred_file);
	free(ac->profile);
	free(ac->imds_base);
	awscreds_clear(&ac->imds);
	http_client_free(ac->http);
	pthread_mutex_destroy(&ac->lock);
	free(ac);
}

/* ---- the static sources ---- */

/* 1 found, 0 absent, -1 partial or too long (r set). */
static int from_pair(const char *key, const char *secret, const char *token, const char *source,
		     const char *key_name, const char *secret_name, struct aws_credentials *out,
		     struct result *r)
{
	if (!key && !secret)
		return 0;
	if (!key || !secret) {
		result_set(r, OUTCOME_RETRY,
			   "AWS credentials in the %s are incomplete: %s is set but %s is not",
			   source, key ? key_name : secret_name, key ? secret_name : key_name);
		return -1;
	}
	if (copy_text(out->access_key_id, sizeof out->access_key_id, key) < 0 ||
	    copy_text(out->secret_access_key, sizeof out->secret_access_key, secret) < 0 ||
	    copy_text(out->session_token, sizeof out->session_token, token ? token : "") < 0) {
		result_set(r, OUTCOME_RETRY, "AWS credentials in the %s are too long", source);
		return -1;
	}
	out->expires = 0;
	out->source = source;
	return 1;
}

static char *read_small_file(const char *path, int *err)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t n;

	*err = 0;
	if (!f) {
		*err = errno;
		return NULL;
	}
	text = malloc(FILE_MAX + 1);
	if (!text) {
		*err = ENOMEM;
		goto out;
	}
	n = fread(text, 1, FILE_MAX, f);
	if (ferror(f) || !feof(f)) {
		*err = ferror(f) ? EIO : EFBIG;
		free(text);
		text = NULL;
		goto out;
	}
	text[n] = '\0';
out:
	fclose(f);
	return text;
}

/* 1 found, 0 absent (note says why), -1 unusable (r set). */
static int from_file(struct awscreds *ac, struct aws_credentials *out, struct result *r,
		     char *note, size_t notelen)
{
	char line[600];
	int err, rc = -1;
	char *text;

	if (!ac->cred_file) {
		note_add(note, notelen, "no home directory for ~/.aws/credentials");
		return 0;
	}
	text = read_small_file(ac->cred_file, &err);
	if (!text && err == ENOENT) {
		snprintf(line, sizeof line, "%s does not exist", ac->cred_file);
		note_add(note, notelen, line);
		return 0;
	}
	if (!text) {
		result_set(r, OUTCOME_RETRY, "cannot read the AWS shared credentials file %s: %s",
			   ac->cred_file, strerror(err));
		return -1;
	}
	switch (awscreds_parse_ini(text, ac->profile, out)) {
	case AWSCREDS_INI_FOUND:
		rc = 1;
		break;
	case AWSCREDS_INI_NO_PROFILE:
		snprintf(line, sizeof line, "%s has no profile [%s]", ac->cred_file, ac->profile);
		note_add(note, notelen, line);
		rc = 0;
		break;
	case AWSCREDS_INI_PARTIAL:
		result_set(r, OUTCOME_RETRY,
			   "profile [%s] of %s lacks aws_access_key_id or aws_secret_access_key "
			   "(or a value is too long)",
			   ac->profile, ac->cred_file);
		break;
	}
	explicit_bzero(text, strlen(text));
	free(text);
	return rc;
}

/* ---- the instance role (IMDSv2) ---- */

/* One IMDS request; body (size bytes) receives the answer. 0 on HTTP 200,
 * -1 with a reason in why otherwise. */
static int imds_call(struct awscreds *ac, const char *url, bool put,
		     const struct http_header *header, char *body, size_t size, char *why,
		     size_t whylen)
{
	struct http_request req = {
		.what = "the EC2 instance metadata service", .method = put ? HTTP_PUT : HTTP_GET,
		.url = url, .headers = header, .n_headers = 1, .max_body = size - 1,
		.connect_timeout_ms = 2000, .timeout_ms = 5000,
		.no_proxy = true, /* IMDS is link-local: never via a proxy */
	};
	struct http_response resp;
	int rc = -1;

	body[0] = '\0';
	if (!ac->http && !(ac->http = http_client_new(NULL))) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	http_run(ac->http, &req, &resp);
	if (resp.error[0]) {
		snprintf(why, whylen, "%s", resp.body_over ? "answer too long" : resp.error);
	} else if (resp.status != 200) {
		snprintf(why, whylen, "HTTP %ld", resp.status);
	} else {
		if (resp.body_len)
			memcpy(body, resp.body, resp.body_len);
		body[resp.body_len] = '\0';
		rc = 0;
	}
	http_response_free(&resp);
	return rc;
}

static bool valid_role(const char *role)
{
	if (!role[0])
		return false;
	for (const char *p = role; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || strchr("+=,.@_-", *p)))
			return false;
	return true;
}

static int parse_expiration(const char *text, time_t *out)
{
	struct tm tm = {0};
	const char *end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);

	if (!end)
		return -1;
	if (*end == '.')
		end += strspn(end + 1, "0123456789") + 1;
	if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0)
		return -1;
	*out = timegm(&tm);
	return *out == (time_t)-1 ? -1 : 0;
}

/* Copies the string member name of obj into dst. 0, or -1. */
static int copy_member(struct json_object *obj, const char *name, char *dst, size_t size)
{
	const char *v = jsonget_string(obj, name);

	return v ? copy_text(dst, size, v) : -1;
}

/* Reads the role's JSON into out. 0, or -1 with why. */
static int imds_parse(const char *json, struct aws_credentials *out, char *why, size_t whylen)
{
	char err[128], expiration[64];
	struct json_object *root = jsonget_parse_object(json, strlen(json), err, sizeof err);
	const char *code = jsonget_string(root, "Code");
	int rc = -1;

	if (!root) {
		snprintf(why, whylen, "the instance role's answer is unreadable: %s", err);
		return -1;
	}
	if (code && strcmp(code, "Success") != 0) {
		snprintf(why, whylen, "the instance role answered Code %.60s", code);
		goto out;
	}
	if (copy_member(root, "AccessKeyId", out->access_key_id, sizeof out->access_key_id) < 0 ||
	    copy_member(root, "SecretAccessKey", out->secret_access_key,
			sizeof out->secret_access_key) < 0 ||
	    copy_member(root, "Token", out->session_token, sizeof out->session_token) < 0 ||
	    copy_member(root, "Expiration", expiration, sizeof expiration) < 0 ||
	    parse_expiration(expiration, &out->expires) < 0) {
		snprintf(why, whylen, "the instance role's credentials are malformed");
		goto out;
	}
	out->source = "instance role";
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

/* Token, role name, then the role's credentials. 0, or -1 with why. */
static int imds_fetch(struct awscreds *ac, struct aws_credentials *out, char *why,
		      size_t whylen)
{
	static const struct http_header ttl = { "X-aws-ec2-metadata-token-ttl-seconds",
						IMDS_TOKEN_TTL };
	const char *base = ac->imds_base;
	char url[1024], token[1024], role[256];
	struct http_header with_token = { "X-aws-ec2-metadata-token", token };
	char *json = malloc(IMDS_BODY_MAX);
	int n, rc = -1;

	if (!json) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	n = snprintf(url, sizeof url, "%s/latest/api/token", base);
	if (n < 0 || (size_t)n >= sizeof url ||
	    imds_call(ac, url, true, &ttl, token, sizeof token, why, whylen) < 0)
		goto out;
	with_token.value = trim(token);
	log_add_secret(with_token.value);
	n = snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/", base);
	if (n < 0 || (size_t)n >= sizeof url ||
	    imds_call(ac, url, false, &with_token, role, sizeof role, why, whylen) < 0)
		goto out;
	role[strcspn(role, "\r\n")] = '\0';
	if (!valid_role(trim(role))) {
		snprintf(why, whylen, "no IAM role is attached to this instance");
		goto out;
	}
	n = snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/%s", base,
		     trim(role));
	if (n < 0 || (size_t)n >= sizeof url ||
	    imds_call(ac, url, false, &with_token, json, IMDS_BODY_MAX, why, whylen) < 0)
		goto out;
	rc = imds_parse(json, out, why, whylen);
out:
	explicit_bzero(json, IMDS_BODY_MAX);
	explicit_bzero(token, sizeof token);
	free(json);
	return rc;
}

static bool fresh(const struct aws_credentials *c, time_t now)
{
	return c->access_key_id[0] &&
	       (c->expires == 0 || c->expires - now > AWSCREDS_REFRESH_MARGIN);
}

/* 1 found, 0 absent (note says why). */
static int from_imds(struct awscreds *ac, struct aws_credentials *out, char *note,
		     size_t notelen)
{
	struct aws_credentials got = {0};
	char why[256], line[400];
	time_t now = time(NULL);
	bool have = ac->imds.access_key_id[0] && ac->imds.expires > now;

	if (!ac->imds_base) {
		note_add(note, notelen, "the EC2 instance metadata service is disabled "
					"(AWS_EC2_METADATA_DISABLED)");
		return 0;
	}
	if (fresh(&ac->imds, now) || (have && now < ac->imds_next_try)) {
		*out = ac->imds;
		return 1;
	}
	if (imds_fetch(ac, &got, why, sizeof why) < 0) {
		ac->imds_next_try = now + IMDS_BACKOFF;
		awscreds_clear(&got);
		if (have) {
			log_event(LOG_WARNING, "aws_credentials_refresh_failed",
				  "source=imds why=\"%s\" expires_in=%lld", why,
				  (long long)(ac->imds.expires - now));
			*out = ac->imds;
			return 1;
		}
		snprintf(line, sizeof line,
			 "the EC2 instance metadata service at %s gave none (%s)",
			 ac->imds_base, why);
		note_add(note, notelen, line);
		return 0;
	}
	if (strcmp(got.access_key_id, ac->imds.access_key_id) == 0 &&
	    got.expires == ac->imds.expires)
		ac->imds_next_try = now + IMDS_BACKOFF; /* not rotated yet */
	ac->imds = got;
	awscreds_clear(&got);
	log_event(LOG_INFO, "aws_credentials", "source=imds expires_in=%lld",
		  (long long)(ac->imds.expires - now));
	*out = ac->imds;
	return 1;
}

/* ---- the chain ---- */

static int try_static(struct awscreds *ac, struct aws_credentials *out, struct result *r,
		      char *note, size_t notelen)
{
	const struct config *cfg = ac->cfg;
	int rc;

	rc = from_pair(ac->env_key, ac->env_secret, ac->env_token, "environment",
		       "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", out, r);
	if (rc != 0)
		return rc;
	note_add(note, notelen, "AWS_ACCESS_KEY_ID is not set");
	if (cfg) {
		rc = from_pair(cfg->aws_access_key_id, cfg->aws_secret_access_key,
			       cfg->aws_session_token, "config file", "aws_access_key_id",
			       "aws_secret_access_key", out, r);
		if (rc != 0)
			return rc;
	}
	note_add(note, notelen, "the config file has no aws_access_key_id");
	return from_file(ac, out, r, note, notelen);
}

enum outcome awscreds_get(struct awscreds *ac, struct aws_credentials *out, struct result *r)
{
	char note[1024] = "";
	int rc;

	awscreds_clear(out);
	pthread_mutex_lock(&ac->lock);
	rc = try_static(ac, out, r, note, sizeof note);
	if (rc == 0)
		rc = from_imds(ac, out, note, sizeof note);
	pthread_mutex_unlock(&ac->lock);
	if (rc == 0)
		result_set(r, OUTCOME_RETRY, "no AWS credentials: %s", note);
	if (rc <= 0) {
		awscreds_clear(out);
		return OUTCOME_RETRY;
	}
	log_add_secret(out->secret_access_key);
	log_add_secret(out->session_token);
	r->kind = OUTCOME_DONE;
	r->why[0] = '\0';
	return OUTCOME_DONE;
}
