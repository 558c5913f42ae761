#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "awscreds.h"
#include "crypto.h"
#include "http.h"
#include "jsonget.h"
#include "log.h"
#include "pctenc.h"
#include "s3xml.h"

extern char **environ;

#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_TOKEN_TTL "21600"
#define CONTAINER_HOST "http://169.254.170.2"
#define ANSWER_MAX 65536         /* IMDS, container, STS, credential_process */
#define FILE_MAX (1 << 20)
#define URL_MAX 2048
#define PROCESS_TIMEOUT_MS 60000 /* a credential_process that hangs longer is killed */
/* After a failed refresh, or one that brought the same credentials back, a
 * source is asked again only after this long (while the old ones still
 * work): a request per S3 call would slow every upload. */
#define REFRESH_BACKOFF 30

/* One source of temporary credentials: its last answer. */
struct cached {
	struct aws_credentials c;
	time_t next_try;
};

struct awscreds {
	pthread_mutex_t lock;
	const struct config *cfg;
	char *env_key, *env_secret, *env_token; /* copied at creation */
	char *cred_file, *config_file;          /* NULL when no path could be made */
	char *profile;
	/* web identity: set when AWS_WEB_IDENTITY_TOKEN_FILE is */
	char *wi_token_file, *wi_role_arn, *wi_session;
	char *sts_url;
	/* container: the URL, or why FULL_URI was refused */
	char *container_url, *container_error;
	char *container_token, *container_token_file;
	char *imds_base;                        /* NULL when disabled */
	char *process_cmd;                      /* what filled process */
	struct cached web, process, container, imds;
	struct http_client *http;               /* made at its first use */
};

typedef int (*fetch_fn)(struct awscreds *ac, struct aws_credentials *out, char *why,
			size_t whylen);

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

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char *trim(char *s)
{
	char *end;

	while (blank(*s))
		s++;
	end = s + strlen(s);
	while (end > s && blank(end[-1]))
		*--end = '\0';
	return s;
}

/* Appends "; text" (or text first) to a fixed note buffer; a full buffer
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

static char *read_small_file(const char *path, int *err)
{
	FILE *f = fopen(path, "re");
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

/* ---- the shared files (INI) ---- */

/* Whether the section header s (inside the brackets, trimmed) names profile. */
static bool section_is(const char *s, bool config_file, const char *profile)
{
	if (!config_file)
		return strcmp(s, profile) == 0;
	if (strcmp(profile, "default") == 0 && strcmp(s, "default") == 0)
		return true;
	if (strncmp(s, "profile", 7) != 0 || !blank(s[7]))
		return false;
	s += 7;
	while (blank(*s))
		s++;
	return strcmp(s, profile) == 0;
}

enum awscreds_ini awscreds_ini_value(const char *text, bool config_file, const char *profile,
				     const char *key, char *out, size_t size)
{
	char *copy = strdup(text), *save = NULL;
	bool in_profile = false, found = false, nested = false;
	enum awscreds_ini rc = AWSCREDS_INI_NO_KEY;

	if (size)
		out[0] = '\0';
	if (!copy)
		return AWSCREDS_INI_TOO_LONG;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		bool indented = blank(line[0]);
		char *s = trim(line), *eq;

		if (!*s || *s == '#' || *s == ';')
			continue;
		if (nested && indented)
			continue; /* "s3 =\n  addressing_style = path": not ours */
		nested = false;
		if (*s == '[') {
			char *close = strchr(s, ']');

			if (close)
				*close = '\0';
			in_profile = close && section_is(trim(s + 1), config_file, profile);
			found = found || in_profile;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq)
			continue;
		*eq = '\0';
		nested = !*trim(eq + 1);
		if (!in_profile || strcasecmp(trim(s), key) != 0)
			continue;
		rc = copy_text(out, size, trim(eq + 1)) < 0 ? AWSCREDS_INI_TOO_LONG
							    : AWSCREDS_INI_FOUND;
	}
	explicit_bzero(copy, strlen(text));
	free(copy);
	if (!found)
		return AWSCREDS_INI_NO_PROFILE;
	if (rc == AWSCREDS_INI_TOO_LONG && size)
		explicit_bzero(out, size);
	return rc;
}

enum awscreds_ini awscreds_parse_profile(const char *text, bool config_file,
					 const char *profile, struct aws_credentials *out)
{
	enum awscreds_ini key, secret, token;

	awscreds_clear(out);
	key = awscreds_ini_value(text, config_file, profile, "aws_access_key_id",
				 out->access_key_id, sizeof out->access_key_id);
	if (key == AWSCREDS_INI_NO_PROFILE)
		return key;
	secret = awscreds_ini_value(text, config_file, profile, "aws_secret_access_key",
				    out->secret_access_key, sizeof out->secret_access_key);
	token = awscreds_ini_value(text, config_file, profile, "aws_session_token",
				   out->session_token, sizeof out->session_token);
	if (token == AWSCREDS_INI_NO_KEY) /* boto's older name */
		token = awscreds_ini_value(text, config_file, profile, "aws_security_token",
					   out->session_token, sizeof out->session_token);
	if (key == AWSCREDS_INI_NO_KEY && secret == AWSCREDS_INI_NO_KEY &&
	    token != AWSCREDS_INI_TOO_LONG) {
		awscreds_clear(out);
		return AWSCREDS_INI_NO_KEY;
	}
	if (key != AWSCREDS_INI_FOUND || secret != AWSCREDS_INI_FOUND ||
	    token == AWSCREDS_INI_TOO_LONG || !out->access_key_id[0] ||
	    !out->secret_access_key[0]) {
		awscreds_clear(out);
		return AWSCREDS_INI_PARTIAL;
	}
	out->source = config_file ? "shared config file" : "shared credentials file";
	return AWSCREDS_INI_FOUND;
}

enum awscreds_ini awscreds_parse_ini(const char *text, const char *profile,
				     struct aws_credentials *out)
{
	enum awscreds_ini rc = awscreds_parse_profile(text, false, profile, out);

	return rc == AWSCREDS_INI_NO_KEY ? AWSCREDS_INI_PARTIAL : rc;
}

static char *home_file(const char *name)
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
	n = snprintf(path, sizeof path, "%s/.aws/%s", home, name);
	if (n < 0 || (size_t)n >= sizeof path)
		return NULL;
	return strdup(path);
}

static char *shared_file(const char *var, const char *name)
{
	char *path = env_dup(var);

	return path ? path : home_file(name);
}

/* ---- region and endpoint ---- */

int awscreds_env_region(char *out, size_t size, char *from, size_t fromsize)
{
	static const char *const vars[] = { "AWS_REGION", "AWS_DEFAULT_REGION" };
	char *file, *profile, *text;
	int err, rc = 0;

	for (size_t i = 0; i < 2; i++) {
		const char *v = getenv(vars[i]);

		if (v && v[0] && copy_text(out, size, v) == 0) {
			snprintf(from, fromsize, "%s", vars[i]);
			return 1;
		}
	}
	file = shared_file("AWS_CONFIG_FILE", "config");
	profile = env_dup("AWS_PROFILE");
	text = file ? read_small_file(file, &err) : NULL;
	if (text && awscreds_ini_value(text, true, profile ? profile : "default", "region", out,
				       size) == AWSCREDS_INI_FOUND && out[0]) {
		snprintf(from, fromsize, "region of profile %s in %s",
			 profile ? profile : "default", file);
		rc = 1;
	}
	crypto_free_secret(text);
	free(profile);
	free(file);
	return rc;
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);

	return v && strcasecmp(v, "true") == 0;
}

/* The service's endpoint variable, else AWS_ENDPOINT_URL, as the SDKs
 * read them. */
static const char *env_endpoint(const char *service_var, const char **name)
{
	const char *v;

	if (env_true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))
		return NULL;
	*name = service_var;
	v = getenv(service_var);
	if (v && v[0])
		return v;
	*name = "AWS_ENDPOINT_URL";
	v = getenv(*name);
	return v && v[0] ? v : NULL;
}

const char *awscreds_env_endpoint(const char **name)
{
	return env_endpoint("AWS_ENDPOINT_URL_S3", name);
}

int awscreds_sts_url(const char *region, char *out, size_t size)
{
	const char *name, *v = env_endpoint("AWS_ENDPOINT_URL_STS", &name);
	int n;

	if (v)
		n = snprintf(out, size, "%s", v);
	else
		n = snprintf(out, size, "https://sts.%s.amazonaws.com%s", region,
			     strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* ---- container credentials: which URLs ---- */

/* The host of an http(s) URL (brackets of an IPv6 literal dropped) into
 * out; 0, or -1. */
static int url_host(const char *url, char *out, size_t size)
{
	const char *p = strstr(url, "://"), *end;

	if (!p)
		return -1;
	p += 3;
	end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(end - p)))
		return -1; /* no user info */
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));

		if (!close)
			return -1;
		p++;
		end = close;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));

		if (colon)
			end = colon;
	}
	if (end == p || (size_t)(end - p) >= size)
		return -1;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return 0;
}

/* An address where the SDKs let plain http carry container credentials:
 * loopback (127.0.0.0/8, ::1), the ECS agent (169.254.170.2), EKS Pod
 * Identity (169.254.170.23, fd00:ec2::23). */
static bool container_addr_ok(int family, const void *addr)
{
	static const unsigned char eks6[16] = { 0xfd, 0x00, 0x0e, 0xc2, [15] = 0x23 };
	static const unsigned char loopback6[16] = { [15] = 1 };
	const unsigned char *a = addr;

	if (family == AF_INET)
		return a[0] == 127 || (a[0] == 169 && a[1] == 254 && a[2] == 170 &&
				       (a[3] == 2 || a[3] == 23));
	return family == AF_INET6 &&
	       (memcmp(a, loopback6, 16) == 0 || memcmp(a, eks6, 16) == 0);
}

/* host as an address literal, else every address it resolves to, is
 * allowed (as the SDKs check a name: all its addresses). */
static bool container_host_ok(const char *host)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *list = NULL;
	unsigned char addr[16];
	bool ok = true;

	if (inet_pton(AF_INET, host, addr) == 1)
		return container_addr_ok(AF_INET, addr);
	if (inet_pton(AF_INET6, host, addr) == 1)
		return container_addr_ok(AF_INET6, addr);
	if (getaddrinfo(host, NULL, &hints, &list) != 0)
		return false;
	/* The address read as bytes at its offset: container_addr_ok reads
	 * bytes, so no cast to a more aligned sockaddr type is needed. */
	for (const struct addrinfo *ai = list; ai && ok; ai = ai->ai_next) {
		const unsigned char *sa = (const unsigned char *)ai->ai_addr;

		ok = ai->ai_family == AF_INET
			     ? container_addr_ok(AF_INET,
						 sa + offsetof(struct sockaddr_in, sin_addr))
		     : ai->ai_family == AF_INET6
			     ? container_addr_ok(AF_INET6,
						 sa + offsetof(struct sockaddr_in6, sin6_addr))
			     : false;
	}
	freeaddrinfo(list);
	return ok;
}

int awscreds_container_url(const char *relative, const char *full, char *out, size_t size,
			   char *why, size_t whylen)
{
	char host[256];
	int n;

	if (relative && relative[0]) {
		n = snprintf(out, size, "%s%s%s", CONTAINER_HOST, relative[0] == '/' ? "" : "/",
			     relative);
		if (n < 0 || (size_t)n >= size) {
			snprintf(why, whylen, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is too long");
			return -1;
		}
		return 1;
	}
	if (!full || !full[0])
		return 0;
	if (strncasecmp(full, "https://", 8) != 0 && strncasecmp(full, "http://", 7) != 0) {
		snprintf(why, whylen, "AWS_CONTAINER_CREDENTIALS_FULL_URI is not an http(s) URL");
		return -1;
	}
	if (url_host(full, host, sizeof host) < 0) {
		snprintf(why, whylen, "AWS_CONTAINER_CREDENTIALS_FULL_URI has no usable host");
		return -1;
	}
	if (strncasecmp(full, "http://", 7) == 0 && !container_host_ok(host)) {
		snprintf(why, whylen,
			 "AWS_CONTAINER_CREDENTIALS_FULL_URI names host %.100s: plain http is "
			 "allowed only to a host whose addresses are all loopback, 169.254.170.2, "
			 "169.254.170.23 or fd00:ec2::23 (else use https)",
			 host);
		return -1;
	}
	if (copy_text(out, size, full) < 0) {
		snprintf(why, whylen, "AWS_CONTAINER_CREDENTIALS_FULL_URI is too long");
		return -1;
	}
	return 1;
}

/* ---- answers ---- */

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

/* AccessKeyId and SecretAccessKey, both present, fitting and not empty:
 * what every JSON source must give. */
static bool copy_key_pair(struct json_object *obj, struct aws_credentials *out)
{
	return copy_member(obj, "AccessKeyId", out->access_key_id, sizeof out->access_key_id) == 0 &&
	       copy_member(obj, "SecretAccessKey", out->secret_access_key,
			   sizeof out->secret_access_key) == 0 &&
	       out->access_key_id[0] && out->secret_access_key[0];
}

/* The one end of a JSON source's parse: the tree freed, and on failure no
 * half-filled credentials left behind. Returns rc. */
static int end_parse(struct json_object *root, struct aws_credentials *out, int rc)
{
	json_object_put(root);
	if (rc < 0)
		awscreds_clear(out);
	return rc;
}

/* The JSON of the instance role and of the container endpoint: AccessKeyId,
 * SecretAccessKey, Token, Expiration (and Code, when IMDS sends it). */
static int parse_role_json(const char *json, const char *source, struct aws_credentials *out,
			   char *why, size_t whylen)
{
	char err[128], expiration[64];
	struct json_object *root = jsonget_parse_object(json, strlen(json), err, sizeof err);
	const char *code = jsonget_string(root, "Code");
	int rc = -1;

	if (!root) {
		snprintf(why, whylen, "the %s's answer is unreadable: %s", source, err);
		return -1;
	}
	if (code && strcmp(code, "Success") != 0) {
		snprintf(why, whylen, "the %s answered Code %.60s", source, code);
		goto out;
	}
	if (!copy_key_pair(root, out) ||
	    copy_member(root, "Token", out->session_token, sizeof out->session_token) < 0 ||
	    copy_member(root, "Expiration", expiration, sizeof expiration) < 0 ||
	    parse_expiration(expiration, &out->expires) < 0) {
		snprintf(why, whylen, "the %s's credentials are malformed", source);
		goto out;
	}
	rc = 0;
out:
	return end_parse(root, out, rc);
}

int awscreds_parse_process(const char *json, struct aws_credentials *out, char *why,
			   size_t whylen)
{
	char err[128], expiration[64];
	struct json_object *root = jsonget_parse_object(json, strlen(json), err, sizeof err);
	int64_t version = 0;
	int rc = -1;

	awscreds_clear(out);
	if (!root) {
		snprintf(why, whylen, "its output is not a JSON object: %s", err);
		return -1;
	}
	if (jsonget_int64(root, "Version", &version) < 0 || version != 1) {
		snprintf(why, whylen, "its output has no \"Version\": 1");
		goto out;
	}
	if (!copy_key_pair(root, out)) {
		snprintf(why, whylen, "its output lacks AccessKeyId or SecretAccessKey");
		goto out;
	}
	if (jsonget_member(root, "SessionToken") &&
	    copy_member(root, "SessionToken", out->session_token, sizeof out->session_token) < 0) {
		snprintf(why, whylen, "its SessionToken is not a string of at most %d bytes",
			 AWSCREDS_TOKEN_MAX - 1);
		goto out;
	}
	if (jsonget_member(root, "Expiration") &&
	    (copy_member(root, "Expiration", expiration, sizeof expiration) < 0 ||
	     parse_expiration(expiration, &out->expires) < 0)) {
		snprintf(why, whylen, "its Expiration is not an ISO 8601 UTC time");
		goto out;
	}
	out->source = "credential_process";
	rc = 0;
out:
	return end_parse(root, out, rc);
}

int awscreds_parse_sts(const char *xml, size_t len, struct aws_credentials *out, char *why,
		       size_t whylen)
{
	const char *end = xml + len, *start, *stop, *from = xml;
	char expiration[64];

	awscreds_clear(out);
	if (!s3xml_block(&from, end, "Credentials", &start, &stop) ||
	    !s3xml_text(start, stop, "AccessKeyId", out->access_key_id,
			sizeof out->access_key_id) ||
	    !s3xml_text(start, stop, "SecretAccessKey", out->secret_access_key,
			sizeof out->secret_access_key) ||
	    !s3xml_text(start, stop, "SessionToken", out->session_token,
			sizeof out->session_token) ||
	    !s3xml_text(start, stop, "Expiration", expiration, sizeof expiration) ||
	    parse_expiration(expiration, &out->expires) < 0 || !out->access_key_id[0] ||
	    !out->secret_access_key[0]) {
		awscreds_clear(out);
		snprintf(why, whylen, "STS's answer holds no usable Credentials");
		return -1;
	}
	out->source = "web identity";
	return 0;
}

/* ---- fetching over HTTP ---- */

/* One request to a credential endpoint; the 2xx body (NUL-terminated) into
 * body. 0, or -1 with a reason in why (the status and, for STS, its error
 * code; never the body, which may hold a credential). */
static int fetch_http(struct awscreds *ac, const struct http_request *base, char *body,
		      size_t size, char *why, size_t whylen)
{
	struct http_request req = *base;
	struct http_response resp;
	char status[64], code[128], message[8], region[8];
	int rc = -1;

	body[0] = '\0';
	req.max_body = size - 1;
	if (!ac->http && !(ac->http = http_client_new(NULL))) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	http_run(ac->http, &req, &resp);
	if (resp.error[0]) {
		snprintf(why, whylen, "%s", resp.body_over ? "answer too long" : resp.error);
	} else if (resp.status < 200 || resp.status > 299) {
		if (s3xml_error(resp.body, resp.body_len, code, sizeof code, message,
				sizeof message, region, sizeof region) && code[0])
			snprintf(why, whylen, "HTTP %s, %s",
				 http_status_text(resp.status, status, sizeof status), code);
		else
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

/* ---- web identity (STS AssumeRoleWithWebIdentity) ---- */

/* "&name=" + value percent-encoded, appended at *len. 0, or -1. */
static int form_add(char *form, size_t size, size_t *len, const char *name, const char *value)
{
	int n = snprintf(form + *len, size - *len, "%s%s=", *len ? "&" : "", name), m;

	if (n < 0 || (size_t)n >= size - *len)
		return -1;
	*len += (size_t)n;
	m = pctenc_encode(value, PCTENC_SIGV4, form + *len, size - *len);
	if (m < 0)
		return -1;
	*len += (size_t)m;
	return 0;
}

static int sts_fetch(struct awscreds *ac, struct aws_credentials *out, char *why, size_t whylen)
{
	static const struct http_header form_type = { "Content-Type",
						      "application/x-www-form-urlencoded" };
	size_t form_size = 3 * FILE_MAX + 1024, len = 0;
	char *form = malloc(form_size), *answer = malloc(ANSWER_MAX), *token = NULL;
	int err, rc = -1;

	if (!form || !answer) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	token = read_small_file(ac->wi_token_file, &err);
	if (!token) {
		snprintf(why, whylen, "cannot read AWS_WEB_IDENTITY_TOKEN_FILE %s: %s",
			 ac->wi_token_file, strerror(err));
		goto out;
	}
	log_add_secret(trim(token));
	if (!*trim(token)) {
		snprintf(why, whylen, "AWS_WEB_IDENTITY_TOKEN_FILE %s is empty", ac->wi_token_file);
		goto out;
	}
	if (form_add(form, form_size, &len, "Action", "AssumeRoleWithWebIdentity") < 0 ||
	    form_add(form, form_size, &len, "Version", "2011-06-15") < 0 ||
	    form_add(form, form_size, &len, "RoleArn", ac->wi_role_arn) < 0 ||
	    form_add(form, form_size, &len, "RoleSessionName", ac->wi_session) < 0 ||
	    form_add(form, form_size, &len, "WebIdentityToken", trim(token)) < 0) {
		snprintf(why, whylen, "the web identity token or role is too long");
		goto out;
	}
	{
		/* Unsigned: the token is the proof. */
		struct http_request req = {
			.what = "STS", .method = HTTP_POST, .url = ac->sts_url,
			.headers = &form_type, .n_headers = 1, .body = form, .body_len = len,
			.connect_timeout_ms = 5000, .timeout_ms = 30000,
			.ca_file = getenv("AWS_CA_BUNDLE"),
		};
		char reason[256];

		if (fetch_http(ac, &req, answer, ANSWER_MAX, reason, sizeof reason) < 0) {
			snprintf(why, whylen, "STS at %s refused or failed AssumeRoleWithWebIdentity "
					      "for %s: %s",
				 ac->sts_url, ac->wi_role_arn, reason);
			goto out;
		}
	}
	rc = awscreds_parse_sts(answer, strlen(answer), out, why, whylen);
out:
	if (form)
		explicit_bzero(form, form_size);
	if (answer)
		explicit_bzero(answer, ANSWER_MAX);
	free(form);
	free(answer);
	crypto_free_secret(token);
	return rc;
}

/* ---- container credentials ---- */

static int container_fetch(struct awscreds *ac, struct aws_credentials *out, char *why,
			   size_t whylen)
{
	char *token = NULL, *answer = malloc(ANSWER_MAX), *value = NULL;
	int err, rc = -1;

	if (!answer) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (ac->container_token_file) {
		/* Read at each fetch: EKS rotates it. */
		token = read_small_file(ac->container_token_file, &err);
		if (!token) {
			snprintf(why, whylen, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE "
					      "%s: %s",
				 ac->container_token_file, strerror(err));
			goto out;
		}
		value = trim(token);
	} else if (ac->container_token) {
		value = ac->container_token;
	}
	if (value) {
		log_add_secret(value);
		if (strpbrk(value, "\r\n")) {
			snprintf(why, whylen, "the container authorization token holds a line "
					      "break");
			goto out;
		}
	}
	{
		struct http_request req = {
			.what = "the container credentials endpoint", .method = HTTP_GET,
			.url = ac->container_url, .authorization = value && *value ? value : NULL,
			.connect_timeout_ms = 2000, .timeout_ms = 10000,
			.no_proxy = true, /* link-local or loopback */
		};
		char reason[256];

		if (fetch_http(ac, &req, answer, ANSWER_MAX, reason, sizeof reason) < 0) {
			/* Its origin only: an ECS path names the task's credentials. */
			const char *host = strstr(ac->container_url, "://");
			int origin = (int)(host ? (size_t)(host + 3 - ac->container_url) +
							  strcspn(host + 3, "/?#")
						: 0);

			snprintf(why, whylen, "the container credentials endpoint %.*s gave none "
					      "(%s)",
				 origin, ac->container_url, reason);
			goto out;
		}
	}
	rc = parse_role_json(answer, "container credentials endpoint", out, why, whylen);
	out->source = "container";
out:
	explicit_bzero(answer, ANSWER_MAX);
	free(answer);
	crypto_free_secret(token);
	return rc;
}

/* ---- the instance role (IMDSv2) ---- */

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

static int imds_call(struct awscreds *ac, const char *url, bool put,
		     const struct http_header *header, char *body, size_t size, char *why,
		     size_t whylen)
{
	struct http_request req = {
		.what = "the EC2 instance metadata service", .method = put ? HTTP_PUT : HTTP_GET,
		.url = url, .headers = header, .n_headers = 1,
		.connect_timeout_ms = 2000, .timeout_ms = 5000,
		.no_proxy = true, /* IMDS is link-local: never via a proxy */
	};

	return fetch_http(ac, &req, body, size, why, whylen);
}

/* Token, role name, then the role's credentials. 0, or -1 with why. */
static int imds_fetch(struct awscreds *ac, struct aws_credentials *out, char *why,
		      size_t whylen)
{
	static const struct http_header ttl = { "X-aws-ec2-metadata-token-ttl-seconds",
						IMDS_TOKEN_TTL };
	const char *base = ac->imds_base;
	char url[URL_MAX], token[1024], role[256], reason[256];
	struct http_header with_token = { "X-aws-ec2-metadata-token", token };
	char *json = malloc(ANSWER_MAX);
	int n, rc = -1;

	if (!json) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	n = snprintf(url, sizeof url, "%s/latest/api/token", base);
	if (n < 0 || (size_t)n >= sizeof url ||
	    imds_call(ac, url, true, &ttl, token, sizeof token, reason, sizeof reason) < 0)
		goto fail;
	with_token.value = trim(token);
	log_add_secret(with_token.value);
	n = snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/", base);
	if (n < 0 || (size_t)n >= sizeof url ||
	    imds_call(ac, url, false, &with_token, role, sizeof role, reason, sizeof reason) < 0)
		goto fail;
	role[strcspn(role, "\r\n")] = '\0';
	if (!valid_role(trim(role))) {
		snprintf(reason, sizeof reason, "no IAM role is attached to this instance");
		goto fail;
	}
	n = snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/%s", base,
		     trim(role));
	if (n < 0 || (size_t)n >= sizeof url ||
	    imds_call(ac, url, false, &with_token, json, ANSWER_MAX, reason, sizeof reason) < 0)
		goto fail;
	rc = parse_role_json(json, "instance role", out, reason, sizeof reason);
	out->source = "instance role";
	if (rc == 0)
		goto out;
fail:
	snprintf(why, whylen, "the EC2 instance metadata service at %s gave none (%s)", base,
		 reason);
out:
	explicit_bzero(json, ANSWER_MAX);
	explicit_bzero(token, sizeof token);
	free(json);
	return rc;
}

/* ---- credential_process ---- */

/* Reads the child's stdout into buf until EOF, a full buffer or the
 * deadline. 0, or -1 with why. */
static int read_child(int fd, char *buf, size_t size, char *why, size_t whylen)
{
	size_t got = 0;
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct timespec now;
		long waited;
		ssize_t n;
		int ready;

		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (long)(now.tv_sec - start.tv_sec) * 1000 +
			 (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited >= PROCESS_TIMEOUT_MS) {
			snprintf(why, whylen, "it wrote no end of output within %d seconds",
				 PROCESS_TIMEOUT_MS / 1000);
			return -1;
		}
		ready = poll(&p, 1, (int)(PROCESS_TIMEOUT_MS - waited));
		if (ready < 0 && errno != EINTR) {
			snprintf(why, whylen, "poll: %s", strerror(errno));
			return -1;
		}
		if (ready <= 0) /* interrupted, or nothing yet: the deadline decides */
			continue;
		n = read(fd, buf + got, size - 1 - got);
		if (n < 0 && errno != EINTR) {
			snprintf(why, whylen, "reading its output: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		if (n < 0) /* interrupted */
			continue;
		got += (size_t)n;
		if (got == size - 1) {
			snprintf(why, whylen, "its output is over %zu bytes", size - 1);
			return -1;
		}
	}
	buf[got] = '\0';
	return 0;
}

/* Runs cmd with /bin/sh (stdin /dev/null, stdout captured, stderr the
 * spooler's) and waits for it. 0 with its output in buf, or -1 with why. */
static int run_process(char *cmd, char *buf, size_t size, char *why, size_t whylen)
{
	/* cmd is not const: posix_spawn's argv is char *const[] (it writes
	 * nothing there), and a cast would drop the qualifier. */
	char *argv[] = { "sh", "-c", cmd, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, pipe_only;
	int fds[2], status = 0, rc = -1, err, waited;
	pid_t pid = -1;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return -1;
	}
	sigemptyset(&none);
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE); /* the spooler ignores it; the process must not */
	if ((err = posix_spawn_file_actions_init(&fa)) != 0 ||
	    (err = posix_spawnattr_init(&attr)) != 0) {
		snprintf(why, whylen, "cannot start it: %s", strerror(err));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if ((err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) != 0 ||
	    (err = posix_spawn_file_actions_adddup2(&fa, fds[1], 1)) != 0 ||
	    (err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF |
						   POSIX_SPAWN_SETSIGMASK)) != 0 ||
	    (err = posix_spawnattr_setsigdefault(&attr, &pipe_only)) != 0 ||
	    (err = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (err = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ)) != 0) {
		snprintf(why, whylen, "cannot start it: %s", strerror(err));
		pid = -1;
	}
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (pid > 0) {
		rc = read_child(fds[0], buf, size, why, whylen);
		if (rc < 0)
			kill(pid, SIGKILL); /* our own child, by its pid */
		while ((waited = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
		if (rc == 0 && waited < 0) {
			snprintf(why, whylen, "cannot learn how it ended: %s", strerror(errno));
			rc = -1;
		} else if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			if (WIFEXITED(status))
				snprintf(why, whylen, "it exited with status %d",
					 WEXITSTATUS(status));
			else
				snprintf(why, whylen, "it was killed by signal %d",
					 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
			rc = -1;
		}
	}
	close(fds[0]);
	return rc;
}

static int process_fetch(struct awscreds *ac, struct aws_credentials *out, char *why,
			 size_t whylen)
{
	char *buf = malloc(ANSWER_MAX), reason[256];
	int rc = -1;

	if (!buf) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (run_process(ac->process_cmd, buf, ANSWER_MAX, reason, sizeof reason) == 0)
		rc = awscreds_parse_process(buf, out, reason, sizeof reason);
	if (rc < 0)
		snprintf(why, whylen, "the credential_process of profile %s gave none: %s",
			 ac->profile, reason);
	explicit_bzero(buf, ANSWER_MAX);
	free(buf);
	return rc;
}

/* ---- temporary credentials: cache and refresh ---- */

static bool fresh(const struct aws_credentials *c, time_t now)
{
	return c->access_key_id[0] &&
	       (c->expires == 0 || c->expires - now > AWSCREDS_REFRESH_MARGIN);
}

/* The slot's credentials, fetched again when they are near their expiry.
 * 1 found (into out), -1 none with why. */
static int from_cached(struct awscreds *ac, struct cached *slot, fetch_fn fetch,
		       const char *name, struct aws_credentials *out, char *why, size_t whylen)
{
	struct aws_credentials got = {0};
	time_t now = time(NULL);
	bool have = slot->c.access_key_id[0] && (slot->c.expires == 0 || slot->c.expires > now);

	if (fresh(&slot->c, now) || (have && now < slot->next_try)) {
		*out = slot->c;
		return 1;
	}
	if (fetch(ac, &got, why, whylen) < 0) {
		slot->next_try = now + REFRESH_BACKOFF;
		awscreds_clear(&got);
		if (!have)
			return -1;
		log_event(LOG_WARNING, "aws_credentials_refresh_failed",
			  "source=%s why=\"%s\" expires_in=%lld", name, why,
			  (long long)(slot->c.expires - now));
		*out = slot->c;
		return 1;
	}
	if (strcmp(got.access_key_id, slot->c.access_key_id) == 0 &&
	    got.expires == slot->c.expires)
		slot->next_try = now + REFRESH_BACKOFF; /* not rotated yet */
	slot->c = got;
	awscreds_clear(&got);
	log_event(LOG_INFO, "aws_credentials", "source=%s expires_in=%lld", name,
		  slot->c.expires ? (long long)(slot->c.expires - now) : -1LL);
	*out = slot->c;
	return 1;
}

/* ---- construction ---- */

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

/* The web identity settings; 0, or -1 when out of memory. */
static int setup_web_identity(struct awscreds *ac)
{
	char url[URL_MAX], region[128], from[8];
	const char *r = ac->cfg && ac->cfg->s3_region ? ac->cfg->s3_region : NULL;
	int n;

	ac->wi_token_file = env_dup("AWS_WEB_IDENTITY_TOKEN_FILE");
	if (!ac->wi_token_file)
		return 0;
	ac->wi_role_arn = env_dup("AWS_ROLE_ARN");
	ac->wi_session = env_dup("AWS_ROLE_SESSION_NAME");
	if (!ac->wi_session) {
		char name[64];

		n = snprintf(name, sizeof name, "zoom2s3-%lld", (long long)time(NULL));
		if (n < 0 || (size_t)n >= sizeof name || !(ac->wi_session = strdup(name)))
			return -1;
	}
	if (!r)
		r = awscreds_env_region(region, sizeof region, from, sizeof from) ? region
										    : "us-east-1";
	if (awscreds_sts_url(r, url, sizeof url) < 0)
		snprintf(url, sizeof url, "https://sts.amazonaws.com");
	ac->sts_url = strdup(url);
	return ac->sts_url ? 0 : -1;
}

/* The container settings; 0, or -1 when out of memory. */
static int setup_container(struct awscreds *ac)
{
	char url[URL_MAX], why[256];
	int rc = awscreds_container_url(getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
					getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"), url,
					sizeof url, why, sizeof why);

	if (rc < 0)
		return (ac->container_error = strdup(why)) ? 0 : -1;
	if (rc == 0)
		return 0;
	ac->container_token_file = env_dup("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	ac->container_token = env_dup("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	log_add_secret(ac->container_token);
	return (ac->container_url = strdup(url)) ? 0 : -1;
}

struct awscreds *awscreds_new(const struct config *cfg)
{
	struct awscreds *ac = calloc(1, sizeof *ac);
	bool imds_off = env_true("AWS_EC2_METADATA_DISABLED");

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
	ac->cred_file = shared_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	ac->config_file = shared_file("AWS_CONFIG_FILE", "config");
	ac->profile = env_dup("AWS_PROFILE");
	if (!ac->profile)
		ac->profile = strdup("default");
	ac->imds_base = imds_off ? NULL : imds_base_url();
	if (!ac->profile || (!imds_off && !ac->imds_base) || setup_web_identity(ac) < 0 ||
	    setup_container(ac) < 0) {
		awscreds_free(ac);
		return NULL;
	}
	log_add_secret(ac->env_secret);
	log_add_secret(ac->env_token);
	return ac;
}

void awscreds_free(struct awscreds *ac)
{
	if (!ac)
		return;
	crypto_free_secret(ac->env_key);
	crypto_free_secret(ac->env_secret);
	crypto_free_secret(ac->env_token);
	free(ac->cred_file);
	free(ac->config_file);
	free(ac->profile);
	free(ac->wi_token_file);
	free(ac->wi_role_arn);
	free(ac->wi_session);
	free(ac->sts_url);
	free(ac->container_url);
	free(ac->container_error);
	crypto_free_secret(ac->container_token);
	free(ac->container_token_file);
	free(ac->imds_base);
	free(ac->process_cmd);
	awscreds_clear(&ac->web.c);
	awscreds_clear(&ac->process.c);
	awscreds_clear(&ac->container.c);
	awscreds_clear(&ac->imds.c);
	http_client_free(ac->http);
	pthread_mutex_destroy(&ac->lock);
	free(ac);
}

/* ---- the chain ---- */

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

/* A configured source's answer: 1 found, -1 with r set. */
static int configured(struct awscreds *ac, struct cached *slot, fetch_fn fetch,
		      const char *name, struct aws_credentials *out, struct result *r)
{
	char why[768];

	if (from_cached(ac, slot, fetch, name, out, why, sizeof why) > 0)
		return 1;
	result_set(r, OUTCOME_RETRY, "%s", why);
	return -1;
}

static int from_web_identity(struct awscreds *ac, struct aws_credentials *out,
			     struct result *r, char *note, size_t notelen)
{
	if (!ac->wi_token_file) {
		note_add(note, notelen, "AWS_WEB_IDENTITY_TOKEN_FILE is not set");
		return 0;
	}
	if (!ac->wi_role_arn) {
		result_set(r, OUTCOME_RETRY,
			   "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
		return -1;
	}
	return configured(ac, &ac->web, sts_fetch, "web_identity", out, r);
}

/* Reads a shared file into *text: 1, 0 when it is absent (note says so),
 * -1 when it cannot be read (r set). */
static int load_shared(const char *path, const char *what, char **text, struct result *r,
		       char *note, size_t notelen)
{
	char line[600];
	int err;

	*text = NULL;
	if (!path) {
		snprintf(line, sizeof line, "no home directory for ~/.aws/%s", what);
		note_add(note, notelen, line);
		return 0;
	}
	*text = read_small_file(path, &err);
	if (*text)
		return 1;
	if (err == ENOENT) {
		snprintf(line, sizeof line, "%s does not exist", path);
		note_add(note, notelen, line);
		return 0;
	}
	result_set(r, OUTCOME_RETRY, "cannot read the AWS shared %s file %s: %s", what, path,
		   strerror(err));
	return -1;
}

/* The key pair of the profile in one shared file: 1, 0 (none), -1 (r). */
static int profile_keys(struct awscreds *ac, const char *text, bool config_file,
			const char *path, struct aws_credentials *out, struct result *r,
			char *note, size_t notelen)
{
	char line[600];

	switch (awscreds_parse_profile(text, config_file, ac->profile, out)) {
	case AWSCREDS_INI_FOUND:
		return 1;
	case AWSCREDS_INI_NO_PROFILE:
		snprintf(line, sizeof line, config_file ? "%s has no [profile %s]"
							: "%s has no profile [%s]",
			 path, ac->profile);
		note_add(note, notelen, line);
		return 0;
	case AWSCREDS_INI_PARTIAL:
	case AWSCREDS_INI_TOO_LONG:
		result_set(r, OUTCOME_RETRY,
			   "profile %s of %s lacks aws_access_key_id or aws_secret_access_key "
			   "(or a value is too long)",
			   ac->profile, path);
		return -1;
	case AWSCREDS_INI_NO_KEY:
		break;
	}
	return 0;
}

/* The profile's credential_process, when either file names one: 1, 0, -1. */
static int profile_process(struct awscreds *ac, const char *creds, const char *conf,
			   struct aws_credentials *out, struct result *r)
{
	char cmd[4096];
	enum awscreds_ini e = AWSCREDS_INI_NO_PROFILE;

	if (creds)
		e = awscreds_ini_value(creds, false, ac->profile, "credential_process", cmd,
				       sizeof cmd);
	if (e != AWSCREDS_INI_FOUND && e != AWSCREDS_INI_TOO_LONG && conf)
		e = awscreds_ini_value(conf, true, ac->profile, "credential_process", cmd,
				       sizeof cmd);
	if (e == AWSCREDS_INI_TOO_LONG) {
		result_set(r, OUTCOME_RETRY, "the credential_process of profile %s is too long",
			   ac->profile);
		return -1;
	}
	if (e != AWSCREDS_INI_FOUND || !cmd[0])
		return 0;
	if (!ac->process_cmd || strcmp(ac->process_cmd, cmd) != 0) {
		/* Another command now: what the old one gave is not its answer. */
		free(ac->process_cmd);
		awscreds_clear(&ac->process.c);
		ac->process.next_try = 0;
		if (!(ac->process_cmd = strdup(cmd))) {
			result_set(r, OUTCOME_RETRY, "out of memory");
			return -1;
		}
	}
	return configured(ac, &ac->process, process_fetch, "credential_process", out, r);
}

/* The profile: the credentials file's keys, else a credential_process,
 * else the config file's keys. 1, 0 (note says why), -1 (r set). */
static int from_profile(struct awscreds *ac, struct aws_credentials *out, struct result *r,
			char *note, size_t notelen)
{
	char *creds = NULL, *conf = NULL;
	int rc;

	rc = load_shared(ac->cred_file, "credentials", &creds, r, note, notelen);
	if (rc >= 0)
		rc = load_shared(ac->config_file, "config", &conf, r, note, notelen);
	if (rc < 0)
		goto out;
	rc = creds ? profile_keys(ac, creds, false, ac->cred_file, out, r, note, notelen) : 0;
	if (rc == 0)
		rc = profile_process(ac, creds, conf, out, r);
	if (rc == 0 && conf)
		rc = profile_keys(ac, conf, true, ac->config_file, out, r, note, notelen);
out:
	crypto_free_secret(creds);
	crypto_free_secret(conf);
	return rc;
}

static int from_container(struct awscreds *ac, struct aws_credentials *out, struct result *r,
			  char *note, size_t notelen)
{
	if (ac->container_error) {
		result_set(r, OUTCOME_RETRY, "%s", ac->container_error);
		return -1;
	}
	if (!ac->container_url) {
		note_add(note, notelen, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI "
					"are not set");
		return 0;
	}
	return configured(ac, &ac->container, container_fetch, "container", out, r);
}

/* The last source: its failure is a note of the "no credentials" message. */
static int from_imds(struct awscreds *ac, struct aws_credentials *out, char *note,
		     size_t notelen)
{
	char why[512];

	if (!ac->imds_base) {
		note_add(note, notelen, "the EC2 instance metadata service is disabled "
					"(AWS_EC2_METADATA_DISABLED)");
		return 0;
	}
	if (from_cached(ac, &ac->imds, imds_fetch, "imds", out, why, sizeof why) > 0)
		return 1;
	note_add(note, notelen, why);
	return 0;
}

static int run_chain(struct awscreds *ac, struct aws_credentials *out, struct result *r,
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
	if ((rc = from_web_identity(ac, out, r, note, notelen)) != 0 ||
	    (rc = from_profile(ac, out, r, note, notelen)) != 0 ||
	    (rc = from_container(ac, out, r, note, notelen)) != 0)
		return rc;
	return from_imds(ac, out, note, notelen);
}

/* Every failure says "AWS credentials", the phrase by which the operator's
 * table and the metrics (metrics.c) class it. */
static void name_the_problem(struct result *r)
{
	static const char prefix[] = "AWS credentials: ";
	size_t keep = sizeof r->why - sizeof prefix; /* the end of a long reason goes */

	if (strlen(r->why) < keep)
		keep = strlen(r->why);
	memmove(r->why + sizeof prefix - 1, r->why, keep);
	r->why[sizeof prefix - 1 + keep] = '\0';
	memcpy(r->why, prefix, sizeof prefix - 1);
}

enum outcome awscreds_get(struct awscreds *ac, struct aws_credentials *out, struct result *r)
{
	char note[2048] = "";
	int rc;

	awscreds_clear(out);
	pthread_mutex_lock(&ac->lock);
	rc = run_chain(ac, out, r, note, sizeof note);
	pthread_mutex_unlock(&ac->lock);
	if (rc == 0)
		result_set(r, OUTCOME_RETRY, "no AWS credentials: %s", note);
	if (rc < 0 && !strstr(r->why, "AWS credentials"))
		name_the_problem(r);
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
