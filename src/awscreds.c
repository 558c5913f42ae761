#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "awscreds.h"
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

/* ---- the tiny JSON reader (IMDS answers with a flat object) ---- */

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Writes one code point as UTF-8; counts bytes even past size. */
static void put_utf8(unsigned cp, char *out, size_t size, size_t *o)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | cp >> 18);
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	for (size_t i = 0; i < n; i++, (*o)++)
		if (*o < size)
			out[*o] = (char)b[i];
}

/* An escape after the backslash at *pp; advances *pp past it. */
static int json_escape(const char **pp, char *out, size_t size, size_t *o)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *p = *pp, *hit;
	unsigned cp, lo;

	if (*p == 'u') {
		if (hex4(p + 1, &cp) < 0)
			return -1;
		p += 5;
		if (cp >= 0xd800 && cp < 0xdc00) {
			if (p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) < 0 || lo < 0xdc00 ||
			    lo > 0xdfff)
				return -1;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		} else if (cp >= 0xdc00 && cp < 0xe000) {
			return -1;
		}
		put_utf8(cp, out, size, o);
		*pp = p;
		return 0;
	}
	hit = *p ? strchr(from, *p) : NULL;
	if (!hit)
		return -1;
	put_utf8((unsigned char)to[hit - from], out, size, o);
	*pp = p + 1;
	return 0;
}

/* Reads the string starting at the quote *p into out (may be NULL with
 * size 0, to skip). *end is set past the closing quote. 0, -1 when
 * malformed, -2 when it did not fit. */
static int json_read_string(const char *p, char *out, size_t size, const char **end)
{
	size_t o = 0;

	if (*p++ != '"')
		return -1;
	while (*p != '"') {
		if (*p == '\0' || (unsigned char)*p < 0x20)
			return -1;
		if (*p == '\\') {
			p++;
			if (json_escape(&p, out, size, &o) < 0)
				return -1;
			continue;
		}
		if (o < size)
			out[o] = *p;
		o++;
		p++;
	}
	*end = p + 1;
	if (o >= size) {
		if (size)
			out[0] = '\0';
		return size ? -2 : 0;
	}
	out[o] = '\0';
	return 0;
}

/* Skips any JSON value; nested ones by counting brackets outside strings. */
static const char *json_skip_value(const char *p)
{
	int depth = 0;
	const char *end;

	do {
		p = skip_ws(p);
		if (*p == '"') {
			if (json_read_string(p, NULL, 0, &end) < 0)
				return NULL;
			p = end;
		} else if (*p == '{' || *p == '[') {
			depth++;
			p++;
		} else if (*p == '}' || *p == ']') {
			if (--depth < 0)
				return NULL;
			p++;
		} else if (*p == ',' || *p == ':') {
			if (depth == 0)
				return NULL;
			p++;
		} else if (*p) {
			while (*p && !strchr(",:{}[]\" \t\r\n", *p))
				p++;
		} else {
			return NULL;
		}
	} while (depth > 0);
	return p;
}

int awscreds_json_string(const char *json, const char *field, char *out, size_t size)
{
	char name[128];
	const char *p = skip_ws(json), *end;
	int rc;

	if (*p++ != '{')
		return -1;
	for (;;) {
		p = skip_ws(p);
		rc = json_read_string(p, name, sizeof name, &end);
		if (rc == -1)
			return -1;
		p = skip_ws(end);
		if (*p++ != ':')
			return -1;
		p = skip_ws(p);
		if (rc == 0 && strcmp(name, field) == 0) {
			if (*p != '"' || json_read_string(p, out, size, &end) < 0)
				return -1;
			return 0;
		}
		p = json_skip_value(p);
		if (!p)
			return -1;
		p = skip_ws(p);
		if (*p++ != ',')
			return -1; /* '}' (not found) or malformed */
	}
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

struct body {
	char *buf;
	size_t len, size;
	bool overflow;
};

static size_t body_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct body *b = userp;
	size_t n = size * nmemb;

	if (b->len + n >= b->size) {
		b->overflow = true;
		return 0;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return n;
}

static size_t no_body(char *buf, size_t size, size_t nmemb, void *userp)
{
	(void)buf, (void)size, (void)nmemb, (void)userp;
	return 0;
}

/* One IMDS request; body (size bytes) receives the answer. 0 on HTTP 200,
 * -1 with a reason in why otherwise. */
static int imds_call(const char *url, bool put, const char *header, char *body, size_t size,
		     char *why, size_t whylen)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	struct body b = {body, 0, size, false};
	long status = 0;
	CURLcode cc;
	int rc = -1;

	body[0] = '\0';
	if (!h || !(hdrs = curl_slist_append(NULL, header))) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*"); /* IMDS is link-local: never via a proxy */
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if (put) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, no_body);
	}
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK) {
		snprintf(why, whylen, "%s",
			 b.overflow ? "answer too long" : curl_easy_strerror(cc));
		goto out;
	}
	if (status != 200) {
		snprintf(why, whylen, "HTTP %ld", status);
		goto out;
	}
	rc = 0;
out:
	curl_slist_free_all(hdrs);
	if (h)
		curl_easy_cleanup(h);
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

/* Reads the role's JSON into out. 0, or -1 with why. */
static int imds_parse(const char *json, struct aws_credentials *out, char *why, size_t whylen)
{
	char code[64], expiration[64];

	if (awscreds_json_string(json, "Code", code, sizeof code) == 0 &&
	    strcmp(code, "Success") != 0) {
		snprintf(why, whylen, "the instance role answered Code %.60s", code);
		return -1;
	}
	if (awscreds_json_string(json, "AccessKeyId", out->access_key_id,
				 sizeof out->access_key_id) < 0 ||
	    awscreds_json_string(json, "SecretAccessKey", out->secret_access_key,
				 sizeof out->secret_access_key) < 0 ||
	    awscreds_json_string(json, "Token", out->session_token,
				 sizeof out->session_token) < 0 ||
	    awscreds_json_string(json, "Expiration", expiration, sizeof expiration) < 0 ||
	    parse_expiration(expiration, &out->expires) < 0) {
		snprintf(why, whylen, "the instance role's credentials are malformed");
		return -1;
	}
	out->source = "instance role";
	return 0;
}

/* Token, role name, then the role's credentials. 0, or -1 with why. */
static int imds_fetch(const char *base, struct aws_credentials *out, char *why, size_t whylen)
{
	char url[1024], header[256], token[1024], role[256];
	char *json = malloc(IMDS_BODY_MAX);
	int n, rc = -1;

	if (!json) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	n = snprintf(url, sizeof url, "%s/latest/api/token", base);
	if (n < 0 || (size_t)n >= sizeof url ||
	    imds_call(url, true, "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL, token,
		      sizeof token, why, whylen) < 0)
		goto out;
	n = snprintf(header, sizeof header, "X-aws-ec2-metadata-token: %s", trim(token));
	if (n < 0 || (size_t)n >= sizeof header) {
		snprintf(why, whylen, "its session token is too long");
		goto out;
	}
	log_add_secret(trim(token));
	n = snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/", base);
	if (n < 0 || (size_t)n >= sizeof url ||
	    imds_call(url, false, header, role, sizeof role, why, whylen) < 0)
		goto out;
	role[strcspn(role, "\r\n")] = '\0';
	if (!valid_role(trim(role))) {
		snprintf(why, whylen, "no IAM role is attached to this instance");
		goto out;
	}
	n = snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/%s", base,
		     trim(role));
	if (n < 0 || (size_t)n >= sizeof url ||
	    imds_call(url, false, header, json, IMDS_BODY_MAX, why, whylen) < 0)
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
	if (imds_fetch(ac->imds_base, &got, why, sizeof why) < 0) {
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
