/* Tokens for Zoom's APIs and fresh download links.
 *
 * A Server-to-Server OAuth app (zoom_account_id, zoom_client_id,
 * zoom_client_secret) gets a token from zoom_oauth_url; it is cached until
 * 60 s before it expires, in memory for all worker threads and in a 0600
 * file of the spool (ZOOMAUTH_CACHE_NAME) for the next cron run. A legacy
 * JWT app (zoom_api_key, zoom_api_secret) signs an HS256 token instead.
 * Either token is the Bearer of the recordings API, which gives a fresh
 * download link and download_access_token when the job's token is refused
 * or expired. Every token is registered with log_add_secret as soon as it
 * is known. */
#ifndef ZOOM2S3_ZOOMAUTH_H
#define ZOOM2S3_ZOOMAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "http.h"
#include "outcome.h"
#include "spool.h"

#define ZOOMAUTH_CACHE_NAME ".zoom-oauth-token"
#define ZOOMAUTH_EARLY 60        /* a token is renewed this long before it expires */
#define ZOOMAUTH_JWT_TTL 3600    /* seconds a generated JWT is valid */
#define ZOOMAUTH_TOKEN_MAX 4096
/* The longest answer of Zoom's APIs kept (a page of 300 meetings' recordings
 * is a few MB); a longer one is an error, RETRY. */
#define ZOOMAUTH_ANSWER_MAX (16 * 1024 * 1024)

struct zoomauth; /* one per process, shared by the worker threads */

/* cfg must outlive the object. sp may be NULL: no file cache. NULL when out
 * of memory. */
struct zoomauth *zoomauth_new(const struct config *cfg, struct spool *sp);
void zoomauth_free(struct zoomauth *za);

/* Which app the config describes (OAuth wins when both are complete). */
bool zoomauth_has_oauth(const struct zoomauth *za);
bool zoomauth_has_jwt(const struct zoomauth *za);

/* A Bearer token for the Zoom API, copied to buf: the cached OAuth token,
 * a new one when none is fresh, or a JWT. refused: the token a 401 was just
 * answered to, or NULL; when it is the cached one, a new token replaces it
 * (when another thread already replaced it, that one is returned). */
enum outcome zoomauth_api_token(struct zoomauth *za, struct http_client *client,
				const char *refused, char *buf, size_t size, struct result *res);

/* One request to Zoom's API (GET, DELETE, ...) at url with the app's
 * token (zoomauth_api_token); a 401 renews the OAuth token and asks once
 * more. DONE whenever an answer came, whatever its status (the caller reads
 * resp->status, resp->retry_after, resp->body); otherwise the transport's
 * outcome with res->why naming what ("Zoom's users API"). resp needs
 * http_response_free either way. Build paths with pctenc_zoom_uuid. */
enum outcome zoomauth_api_request(struct zoomauth *za, struct http_client *client,
				  enum http_method method, const char *url, const char *what,
				  struct http_response *resp, struct result *res);

/* Asks GET {zoom_api_url}/meetings/{uuid, double-encoded}/recordings
 * ?include_fields=download_access_token for the file's current link.
 * On OUTCOME_DONE *download_url is set and *download_token is the
 * download_access_token, or NULL when Zoom gave none (then the API token
 * itself may serve as Bearer). Both malloc'd. A 401 refreshes the OAuth
 * token once; still refused, or 404, or the file not listed: give up. */
enum outcome zoomauth_fresh_link(struct zoomauth *za, struct http_client *client,
				 const char *meeting_uuid, const char *file_id,
				 char **download_url, char **download_token, struct result *res);

/* log_add_secret for a token that came with a job (its download_token);
 * NULL is fine. */
void zoomauth_note_token(const char *token);

/* ---- the pure parts (tested on their own) ------------------------------ */

/* HS256 JWT {"alg":"HS256","typ":"JWT"}.{"iss":api_key,"exp":exp} signed
 * with api_secret, base64url without padding. -1 when out is too small. */
int zoomauth_jwt(const char *api_key, const char *api_secret, time_t exp, char *out,
		 size_t outlen);

/* Names the app a cached token belongs to: hex SHA-256 of
 * oauth_url "\n" account_id "\n" client_id (65 bytes with the NUL). */
void zoomauth_fingerprint(const char *oauth_url, const char *account_id, const char *client_id,
			  char out[65]);

/* The cache file's text: "zoom2s3-oauth-token 1\napp FP\nexpires EPOCH\n
 * token TOKEN\n". -1 when out is too small or the token holds a newline. */
int zoomauth_cache_format(const char *fingerprint, const char *token, time_t expires_at,
			  char *out, size_t outlen);

/* Reads the cache file's text: 0 with token and expiry when it is well
 * formed and names this fingerprint, else -1. */
int zoomauth_cache_parse(const char *text, size_t len, const char *fingerprint, char *token,
			 size_t tokenlen, time_t *expires_at);

/* True while a token expiring at expires_at may still be handed out. */
bool zoomauth_token_fresh(time_t expires_at, time_t now);

#endif
