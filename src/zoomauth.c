/* Zoom API tokens (Server-to-Server OAuth, cached; or a legacy JWT) and
 * fresh download links from the recordings API. See zoomauth.h. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "pctenc.h"
#include "zoomauth.h"
#include "zoomjson.h"

#define OAUTH_TTL_UNKNOWN 600 /* when the answer has no expires_in: be cautious */
#define CACHE_MAGIC "zoom2s3-oauth-token 1\n"

struct zoomauth {
	const struct config *cfg;
	struct spool *sp;
	pthread_mutex_t lock;         /* guards everything below */
	char fingerprint[65];
	char token[ZOOMAUTH_TOKEN_MAX]; /* OAuth token or JWT, "" when none */
	time_t expires_at;
	bool file_tried;              /* the spool's cache file was read */
};

static bool set(const char *s)
{
	return s && *s;
}

/* ---- pure parts ---------------------------------------------------------- */

/* JSON string body of s (quotes and control characters escaped). */
static int json_escape(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int n;

		if (c == '"' || c == '\\')
			n = snprintf(out + o, outlen - o, "\\%c", c);
		else if (c < 0x20)
			n = snprintf(out + o, outlen - o, "\\u%04x", c);
		else
			n = snprintf(out + o, outlen - o, "%c", c);
		if (n < 0 || (size_t)n >= outlen - o)
			return -1;
		o += (size_t)n;
	}
	return 0;
}

/* base64url of data appended to out at *o, NUL-terminated. Encoded in a
 * buffer of the size crypto.h asks for, so out needs only the exact room. */
static int b64url_append(const void *data, size_t len, char *out, size_t outlen, size_t *o)
{
	char enc[1024];
	size_t n;

	if (4 * ((len + 2) / 3) + 1 > sizeof enc)
		return -1;
	n = crypto_base64url(data, len, enc);
	if (n + 1 > outlen - *o)
		return -1;
	memcpy(out + *o, enc, n + 1);
	*o += n;
	return 0;
}

int zoomauth_jwt(const char *api_key, const char *api_secret, time_t exp, char *out,
		 size_t outlen)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char key[512], payload[700];
	unsigned char mac[SHA256_LEN];
	size_t o = 0;
	int n;

	if (outlen == 0 || json_escape(api_key, key, sizeof key) < 0)
		return -1;
	n = snprintf(payload, sizeof payload, "{\"iss\":\"%s\",\"exp\":%lld}", key, (long long)exp);
	if (n < 0 || (size_t)n >= sizeof payload)
		return -1;
	if (b64url_append(header, strlen(header), out, outlen, &o) < 0 || o + 1 >= outlen)
		return -1;
	out[o++] = '.';
	if (b64url_append(payload, (size_t)n, out, outlen, &o) < 0)
		return -1;
	crypto_hmac_sha256(api_secret, strlen(api_secret), out, o, mac);
	if (o + 1 >= outlen)
		return -1;
	out[o++] = '.';
	if (b64url_append(mac, sizeof mac, out, outlen, &o) < 0)
		return -1;
	return 0;
}

void zoomauth_fingerprint(const char *oauth_url, const char *account_id, const char *client_id,
			  char out[65])
{
	unsigned char digest[SHA256_LEN];
	char *text = NULL;

	if (asprintf(&text, "%s\n%s\n%s", oauth_url ? oauth_url : "",
		     account_id ? account_id : "", client_id ? client_id : "") < 0) {
		/* Out of memory: a fingerprint no file carries, so no cache. */
		memset(out, 'x', 64);
		out[64] = '\0';
		return;
	}
	crypto_sha256(text, strlen(text), digest);
	crypto_hex(digest, sizeof digest, out);
	free(text);
}

int zoomauth_cache_format(const char *fingerprint, const char *token, time_t expires_at,
			  char *out, size_t outlen)
{
	int n;

	if (strpbrk(token, "\r\n") || strpbrk(fingerprint, "\r\n"))
		return -1;
	n = snprintf(out, outlen, CACHE_MAGIC "app %s\nexpires %lld\ntoken %s\n", fingerprint,
		     (long long)expires_at, token);
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}

/* The value of line "NAME VALUE\n" at *p; advances *p past it. */
static int cache_line(const char **p, const char *end, const char *name, const char **value,
		      size_t *vlen)
{
	size_t n = strlen(name);
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));

	if (!nl || (size_t)(nl - *p) <= n || strncmp(*p, name, n) != 0 || (*p)[n] != ' ')
		return -1;
	*value = *p + n + 1;
	*vlen = (size_t)(nl - *value);
	*p = nl + 1;
	return 0;
}

int zoomauth_cache_parse(const char *text, size_t len, const char *fingerprint, char *token,
			 size_t tokenlen, time_t *expires_at)
{
	const char *p = text, *end = text + len, *v;
	char num[24];
	size_t vlen;
	char *stop;
	long long exp;

	if (len < strlen(CACHE_MAGIC) || memcmp(text, CACHE_MAGIC, strlen(CACHE_MAGIC)) != 0)
		return -1;
	p += strlen(CACHE_MAGIC);
	if (cache_line(&p, end, "app", &v, &vlen) < 0 || vlen != strlen(fingerprint) ||
	    memcmp(v, fingerprint, vlen) != 0)
		return -1;
	if (cache_line(&p, end, "expires", &v, &vlen) < 0 || vlen == 0 || vlen >= sizeof num)
		return -1;
	memcpy(num, v, vlen);
	num[vlen] = '\0';
	exp = strtoll(num, &stop, 10);
	if (*stop != '\0' || exp <= 0)
		return -1;
	if (cache_line(&p, end, "token", &v, &vlen) < 0 || vlen == 0 || vlen >= tokenlen ||
	    p != end || memchr(v, '\0', vlen))
		return -1;
	memcpy(token, v, vlen);
	token[vlen] = '\0';
	*expires_at = (time_t)exp;
	return 0;
}

bool zoomauth_token_fresh(time_t expires_at, time_t now)
{
	return expires_at - ZOOMAUTH_EARLY > now;
}

/* ---- the object ----------------------------------------------------------- */

struct zoomauth *zoomauth_new(const struct config *cfg, struct spool *sp)
{
	struct zoomauth *za = calloc(1, sizeof *za);

	if (!za)
		return NULL;
	if (pthread_mutex_init(&za->lock, NULL) != 0) {
		free(za);
		return NULL;
	}
	za->cfg = cfg;
	za->sp = sp;
	zoomauth_fingerprint(cfg->zoom_oauth_url, cfg->zoom_account_id, cfg->zoom_client_id,
			     za->fingerprint);
	return za;
}

void zoomauth_free(struct zoomauth *za)
{
	if (!za)
		return;
	explicit_bzero(za->token, sizeof za->token);
	pthread_mutex_destroy(&za->lock);
	free(za);
}

bool zoomauth_has_oauth(const struct zoomauth *za)
{
	const struct config *cfg = za->cfg;

	return set(cfg->zoom_account_id) && set(cfg->zoom_client_id) &&
	       set(cfg->zoom_client_secret);
}

bool zoomauth_has_jwt(const struct zoomauth *za)
{
	return set(za->cfg->zoom_api_key) && set(za->cfg->zoom_api_secret);
}

void zoomauth_note_token(const char *token)
{
	if (set(token))
		log_add_secret(token);
}

/* ---- OAuth ------------------------------------------------------------------ */

/* Takes the token the last run left in the spool, when it is still good. */
static void cache_load(struct zoomauth *za, time_t now)
{
	char text[ZOOMAUTH_TOKEN_MAX + 256], token[ZOOMAUTH_TOKEN_MAX];
	time_t exp;
	size_t n = 0;

	za->file_tried = true;
	if (!za->sp)
		return;
	if (spool_read_private(za->sp, ZOOMAUTH_CACHE_NAME, text, sizeof text, &n) != SPOOL_OK ||
	    n == 0)
		goto out;
	if (zoomauth_cache_parse(text, n, za->fingerprint, token, sizeof token, &exp) < 0 ||
	    !zoomauth_token_fresh(exp, now))
		goto out;
	log_add_secret(token);
	snprintf(za->token, sizeof za->token, "%s", token);
	za->expires_at = exp;
out:
	explicit_bzero(text, sizeof text);
	explicit_bzero(token, sizeof token);
}

static void cache_store(struct zoomauth *za)
{
	char text[ZOOMAUTH_TOKEN_MAX + 256];
	int n;

	if (!za->sp)
		return;
	n = zoomauth_cache_format(za->fingerprint, za->token, za->expires_at, text, sizeof text);
	if (n < 0 ||
	    spool_write_private(za->sp, ZOOMAUTH_CACHE_NAME, text, (size_t)n) != SPOOL_OK)
		log_event(LOG_WARNING, "zoomauth.cache_not_written",
			  "note=\"the next run asks Zoom for a token again\"");
	explicit_bzero(text, sizeof text);
}

/* "Basic base64(client_id:client_secret)", registered as a secret. */
static char *basic_auth(const struct config *cfg)
{
	char *pair = NULL, *header = NULL;
	size_t len;

	if (asprintf(&pair, "%s:%s", cfg->zoom_client_id, cfg->zoom_client_secret) < 0)
		return NULL;
	len = strlen(pair);
	header = malloc(6 + 4 * ((len + 2) / 3) + 1);
	if (header) {
		memcpy(header, "Basic ", 6);
		crypto_base64((const unsigned char *)pair, len, header + 6);
		log_add_secret(header + 6);
	}
	explicit_bzero(pair, len);
	free(pair);
	return header;
}

/* One request to one of Zoom's endpoints, answer kept in memory. DONE
 * whenever an answer came, whatever its status (the caller reads
 * resp->status); otherwise the transport's outcome with res->why. */
static enum outcome api_call(struct http_client *client, struct http_request *req,
			     struct http_response *resp, struct result *res)
{
	static const struct http_header headers[] = {
		{ "Accept", "application/json" },
		{ "Content-Type", "application/x-www-form-urlencoded" }, /* of a POST's body */
	};

	if (req->body)
		req->method = HTTP_POST;
	req->headers = headers;
	req->n_headers = req->body ? 2 : 1;
	req->connect_timeout_ms = 30000;
	req->timeout_ms = 60000;
	req->max_body = ZOOMAUTH_ANSWER_MAX;
	http_run(client, req, resp);
	if (resp->answered && !resp->error[0])
		return result_set(res, OUTCOME_DONE, "%s", "");
	return http_result(resp, req->what, res);
}

/* Words for a refusal of the OAuth endpoint, with Zoom's reason. */
static enum outcome oauth_refused(const struct http_response *resp, struct result *res)
{
	char text[64], err[300] = "";
	char *token = NULL;
	long ttl;
	/* A credentials problem is the operator's to fix; retrying until then
	 * loses nothing. Any other status goes by the one table. */
	enum outcome kind = resp->status == 400 || resp->status == 401 || resp->status == 403
				    ? OUTCOME_RETRY
				    : outcome_from_http(resp->status);

	if (resp->body && zoomjson_parse_oauth(resp->body, resp->body_len, &token, &ttl, err,
					       sizeof err) == 0)
		err[0] = '\0';
	crypto_free_secret(token);
	return result_set(res, kind, "Zoom's OAuth endpoint answered %s%s%s: check zoom_account_id,"
			  " zoom_client_id and zoom_client_secret",
			  http_status_text(resp->status, text, sizeof text), err[0] ? "; " : "",
			  err);
}

static enum outcome oauth_fetch(struct zoomauth *za, struct http_client *client, time_t now,
				struct result *res)
{
	const struct config *cfg = za->cfg;
	struct http_request req = { .what = "Zoom's OAuth endpoint", .url = cfg->zoom_oauth_url };
	struct http_response resp = { 0 };
	char account[512], body[600], err[300];
	char *auth = basic_auth(cfg), *token = NULL;
	long ttl = 0;
	enum outcome kind;
	int n;

	kind = result_set(res, OUTCOME_GIVEUP, "zoom_account_id is too long, or out of memory");
	if (!auth || pctenc_encode(cfg->zoom_account_id, PCTENC_SIGV4, account, sizeof account) < 0)
		goto out;
	n = snprintf(body, sizeof body, "grant_type=account_credentials&account_id=%s", account);
	if (n < 0 || (size_t)n >= sizeof body)
		goto out;
	req.authorization = auth;
	req.body = body;
	req.body_len = (size_t)n;
	kind = api_call(client, &req, &resp, res);
	if (kind != OUTCOME_DONE)
		goto out;
	if (resp.status != 200) {
		kind = oauth_refused(&resp, res);
		goto out;
	}
	if (zoomjson_parse_oauth(resp.body, resp.body_len, &token, &ttl, err, sizeof err) < 0 ||
	    strlen(token) >= sizeof za->token || strpbrk(token, "\r\n")) {
		kind = result_set(res, OUTCOME_RETRY, "Zoom's OAuth endpoint sent an unusable answer: %s",
				  token ? "the token is malformed" : err);
		goto out;
	}
	log_add_secret(token);
	snprintf(za->token, sizeof za->token, "%s", token);
	za->expires_at = now + (ttl > 0 ? ttl : OAUTH_TTL_UNKNOWN);
	cache_store(za);
	log_event(LOG_INFO, "zoomauth.oauth_token", "expires_in=%ld", ttl);
out:
	crypto_free_secret(auth);
	crypto_free_secret(token);
	http_response_free(&resp);
	return kind;
}

/* Replaces the in-memory token by a JWT of the legacy app. Zoom retired JWT
 * apps in September 2023; the path stays for accounts and API proxies that
 * still accept them. */
static enum outcome jwt_make(struct zoomauth *za, time_t now, struct result *res)
{
	const struct config *cfg = za->cfg;

	za->expires_at = now + ZOOMAUTH_JWT_TTL;
	if (zoomauth_jwt(cfg->zoom_api_key, cfg->zoom_api_secret, za->expires_at, za->token,
			 sizeof za->token) < 0) {
		za->token[0] = '\0';
		return result_set(res, OUTCOME_GIVEUP, "zoom_api_key is too long for a JWT");
	}
	log_add_secret(za->token);
	return OUTCOME_DONE;
}

/* The cached token is good for this caller: fresh, and not the one it saw
 * refused. */
static bool cached_usable(const struct zoomauth *za, const char *refused, time_t now)
{
	return za->token[0] && zoomauth_token_fresh(za->expires_at, now) &&
	       !(refused && strcmp(refused, za->token) == 0);
}

enum outcome zoomauth_api_token(struct zoomauth *za, struct http_client *client,
				const char *refused, char *buf, size_t size, struct result *res)
{
	time_t now = time(NULL);
	enum outcome kind = OUTCOME_DONE;
	bool oauth = zoomauth_has_oauth(za);

	if (!oauth && !zoomauth_has_jwt(za))
		return result_set(res, OUTCOME_GIVEUP, "no Zoom app is configured to renew the "
				  "download token (zoom_account_id, zoom_client_id, "
				  "zoom_client_secret)");
	/* One fetch at a time: the other threads wait for its token. */
	pthread_mutex_lock(&za->lock);
	if (oauth && !za->file_tried)
		cache_load(za, now);
	if (!cached_usable(za, refused, now))
		kind = oauth ? oauth_fetch(za, client, now, res) : jwt_make(za, now, res);
	if (kind == OUTCOME_DONE && strlen(za->token) >= size)
		kind = result_set(res, OUTCOME_GIVEUP, "the Zoom token is too long");
	if (kind == OUTCOME_DONE) {
		snprintf(buf, size, "%s", za->token);
		result_set(res, OUTCOME_DONE, "%s", "");
	}
	pthread_mutex_unlock(&za->lock);
	return kind;
}

/* ---- fresh links ------------------------------------------------------------- */

static char *recordings_url(const char *api_url, const char *uuid)
{
	char encoded[1024];
	char *url = NULL;
	size_t len = strlen(api_url);

	if (pctenc_zoom_uuid(uuid, encoded, sizeof encoded) < 0)
		return NULL;
	while (len && api_url[len - 1] == '/')
		len--;
	if (asprintf(&url, "%.*s/meetings/%s/recordings?include_fields=download_access_token",
		     (int)len, api_url, encoded) < 0)
		return NULL;
	return url;
}

/* A body that is a JSON object: a "file not listed" from zoomjson then
 * means Zoom's answer, not a garbled one. */
static bool looks_like_object(const char *body, size_t len)
{
	size_t i = 0;

	while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
		i++;
	while (len > i && (body[len - 1] == ' ' || body[len - 1] == '\n' || body[len - 1] == '\r' ||
			   body[len - 1] == '\t'))
		len--;
	return len - i >= 2 && body[i] == '{' && body[len - 1] == '}';
}

static enum outcome link_from_answer(const struct http_response *resp,
				     const char *file_id, char **download_url,
				     char **download_token, struct result *res)
{
	char err[300];

	if (zoomjson_find_recording(resp->body ? resp->body : "", resp->body_len, file_id,
				    download_url, download_token, err, sizeof err) < 0)
		return result_set(res, looks_like_object(resp->body ? resp->body : "", resp->body_len)
					       ? OUTCOME_GIVEUP
					       : OUTCOME_RETRY,
				  "Zoom's recordings API: %s", err);
	zoomauth_note_token(*download_token);
	if (!*download_url || !**download_url) {
		free(*download_url);
		free(*download_token);
		*download_url = *download_token = NULL;
		return result_set(res, OUTCOME_GIVEUP,
				  "Zoom's recordings API lists the file without a download_url");
	}
	return result_set(res, OUTCOME_DONE, "%s", "");
}

static enum outcome link_refused(const struct http_response *resp, bool oauth,
				 struct result *res)
{
	char text[64];

	http_status_text(resp->status, text, sizeof text);
	if (resp->status == 404)
		return result_set(res, outcome_from_http(404),
				  "Zoom no longer has this recording (the recordings API answered %s)",
				  text);
	if (resp->status == 401 || resp->status == 403)
		return result_set(res, OUTCOME_GIVEUP, "Zoom's recordings API refused the %s (%s)%s",
				  oauth ? "OAuth token even after a refresh" : "JWT", text,
				  resp->status == 403 ? ": does the app have the recording:read scope?"
						      : "");
	return result_set(res, outcome_from_http(resp->status),
			  "Zoom's recordings API answered %s", text);
}

/* One request with the current API token; token keeps the token used,
 * for a refresh after a 401. */
static enum outcome api_ask(struct zoomauth *za, struct http_client *client,
			    struct http_request *req, char *token, size_t tokensize,
			    struct http_response *resp, struct result *res)
{
	char *auth = NULL, *refused = NULL;
	enum outcome kind;

	if (token[0] && !(refused = strdup(token)))
		return result_set(res, OUTCOME_RETRY, "out of memory");
	kind = zoomauth_api_token(za, client, refused, token, tokensize, res);
	if (kind != OUTCOME_DONE)
		goto out;
	kind = result_set(res, OUTCOME_RETRY, "out of memory");
	if (asprintf(&auth, "Bearer %s", token) < 0) {
		auth = NULL;
		goto out;
	}
	req->authorization = auth;
	kind = api_call(client, req, resp, res);
	req->authorization = NULL;
out:
	crypto_free_secret(auth);
	crypto_free_secret(refused);
	return kind;
}

enum outcome zoomauth_api_request(struct zoomauth *za, struct http_client *client,
				  enum http_method method, const char *url, const char *what,
				  struct http_response *resp, struct result *res)
{
	struct http_request req = { .what = what, .method = method, .url = url };
	char token[ZOOMAUTH_TOKEN_MAX] = "";
	enum outcome kind;

	memset(resp, 0, sizeof *resp);
	kind = api_ask(za, client, &req, token, sizeof token, resp, res);
	if (kind == OUTCOME_DONE && resp->status == 401 && zoomauth_has_oauth(za)) {
		http_response_free(resp);
		/* token now names the refused one: the next call replaces it. */
		kind = api_ask(za, client, &req, token, sizeof token, resp, res);
	}
	explicit_bzero(token, sizeof token);
	return kind;
}

enum outcome zoomauth_fresh_link(struct zoomauth *za, struct http_client *client,
				 const char *meeting_uuid, const char *file_id,
				 char **download_url, char **download_token, struct result *res)
{
	struct http_response resp = { 0 };
	char *url = NULL;
	enum outcome kind;

	*download_url = *download_token = NULL;
	kind = result_set(res, OUTCOME_GIVEUP, "the job has no meeting_uuid or recording_file_id");
	if (!set(meeting_uuid) || !set(file_id))
		goto out;
	kind = result_set(res, OUTCOME_GIVEUP, "the meeting uuid is too long");
	url = recordings_url(za->cfg->zoom_api_url, meeting_uuid);
	if (!url)
		goto out;
	kind = zoomauth_api_request(za, client, HTTP_GET, url, "Zoom's recordings API", &resp,
				    res);
	if (kind != OUTCOME_DONE)
		goto out;
	if (resp.status == 200)
		kind = link_from_answer(&resp, file_id, download_url, download_token, res);
	else
		kind = link_refused(&resp, zoomauth_has_oauth(za), res);
out:
	http_response_free(&resp);
	free(url);
	return kind;
}
