/* zoomauth's pure parts (JWT, double encoding, the OAuth cache file) and
 * the token cache's decisions, with no Zoom to talk to: a token endpoint
 * that refuses connections shows whether a network fetch was tried. The
 * exchanges with Zoom are in tests/e2e/download_fakezoom.py. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "httpstub.h"
#include "log.h"
#include "pctenc.h"
#include "spool.h"
#include "tap.h"
#include "zoomauth.h"

/* Vectors computed independently with python3:
 *   b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
 *   h = b(b'{"alg":"HS256","typ":"JWT"}')
 *   p = b(json.dumps({"iss": KEY, "exp": EXP}, separators=(",", ":")).encode())
 *   h + "." + p + "." + b(hmac.new(SECRET, (h + "." + p).encode(), sha256).digest()) */
static void test_jwt_vectors(void)
{
	char jwt[1024];

	is_int(zoomauth_jwt("abc", "xyz", 1700000000, jwt, sizeof jwt), 0, "JWT made");
	is_str(jwt,
	       "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJhYmMiLCJleHAiOjE3MDAwMDAwMDB9."
	       "me-6LmGjH-X4H53rD4JXqGsmGo5YOo5tNjvjWzNmyCo",
	       "JWT matches the python vector");
	is_int(zoomauth_jwt("Kq\"\\x", "s3cr3t-With-Long-Secret-Value", 4102444800, jwt,
			    sizeof jwt), 0, "JWT with quote and backslash in the key");
	is_str(jwt,
	       "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJLcVwiXFx4IiwiZXhwIjo0MTAyNDQ0ODAwfQ."
	       "kRO2QUl6LZnL0JghIREqUaq2HIr2uOJnmFXysNX6JUs",
	       "JSON escaping in iss matches the python vector");
}

/* The structure, checked with crypto.h directly: header, payload and an
 * HMAC over "header.payload", base64url without padding. */
static void test_jwt_structure(void)
{
	const char *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	const char *payload = "{\"iss\":\"my-key\",\"exp\":1234567890}";
	char jwt[1024], want[1024], part[256];
	unsigned char mac[SHA256_LEN];
	size_t o = 0;

	o += crypto_base64url((const unsigned char *)header, strlen(header), want + o);
	want[o++] = '.';
	o += crypto_base64url((const unsigned char *)payload, strlen(payload), want + o);
	crypto_hmac_sha256("my-secret", 9, want, o, mac);
	crypto_base64url(mac, sizeof mac, part);
	want[o++] = '.';
	strcpy(want + o, part);
	is_int(zoomauth_jwt("my-key", "my-secret", 1234567890, jwt, sizeof jwt), 0, "JWT made");
	is_str(jwt, want, "JWT = b64url(header).b64url(payload).b64url(HMAC(secret, both))");
	ok(!strpbrk(jwt, "=+/"), "base64url, no padding");
	is_int(zoomauth_jwt("my-key", "my-secret", 1234567890, jwt, strlen(want)), -1,
	       "one byte short of room: -1");
	is_int(zoomauth_jwt("my-key", "my-secret", 1234567890, jwt, strlen(want) + 1), 0,
	       "exactly enough room");
	is_str(jwt, want, "and the same token");
}

static void test_fingerprint(void)
{
	char fp[65], other[65];

	/* python3 -c 'import hashlib;
	 *   print(hashlib.sha256(b"https://zoom.us/oauth/token\nacc\ncid").hexdigest())' */
	zoomauth_fingerprint("https://zoom.us/oauth/token", "acc", "cid", fp);
	is_str(fp, "80d49a4b7df5c39bd811fd5c46e3e2297db47d5a91a8dbef70bb300bf34f6eab",
	       "fingerprint = sha256(url \\n account \\n client)");
	zoomauth_fingerprint("https://zoom.us/oauth/token", "acc", "cid2", other);
	ok(strcmp(fp, other) != 0, "another client: another fingerprint");
}

static void test_cache_text(void)
{
	const char *fp = "aa11";
	char text[512], token[64];
	time_t exp = 0;
	int n;

	n = zoomauth_cache_format(fp, "tok.en-1", 1800000000, text, sizeof text);
	is_str(text, "zoom2s3-oauth-token 1\napp aa11\nexpires 1800000000\ntoken tok.en-1\n",
	       "cache file text");
	is_int(n, (long long)strlen(text), "returns its length");
	is_int(zoomauth_cache_parse(text, (size_t)n, fp, token, sizeof token, &exp), 0,
	       "parses back");
	is_str(token, "tok.en-1", "token back");
	is_int(exp, 1800000000, "expiry back");
	is_int(zoomauth_cache_parse(text, (size_t)n, "bb22", token, sizeof token, &exp), -1,
	       "another app's file is not used");
	is_int(zoomauth_cache_parse(text, (size_t)n - 1, fp, token, sizeof token, &exp), -1,
	       "a cut file is not used");
	is_int(zoomauth_cache_parse(text, (size_t)n, fp, token, 8, &exp), -1,
	       "a token longer than the buffer is not used");
	is_int(zoomauth_cache_format(fp, "bad\ntoken", 1, text, sizeof text), -1,
	       "a token with a newline cannot be cached");
	is_int(zoomauth_cache_format(fp, "tok", 1, text, 20), -1, "small buffer: -1");

	static const char *const bad[] = {
		"",
		"zoom2s3-oauth-token 2\napp aa11\nexpires 1800000000\ntoken t\n",
		"zoom2s3-oauth-token 1\napp aa11\nexpires 18000x0000\ntoken t\n",
		"zoom2s3-oauth-token 1\napp aa11\nexpires -5\ntoken t\n",
		"zoom2s3-oauth-token 1\napp aa11\nexpires \ntoken t\n",
		"zoom2s3-oauth-token 1\napp aa11\nexpires 1800000000\ntoken \n",
		"zoom2s3-oauth-token 1\napp aa11\nexpires 1800000000\ntoken t\nextra\n",
		"zoom2s3-oauth-token 1\napp aa11\ntoken t\nexpires 1800000000\n",
		"zoom2s3-oauth-token 1\napp aa11\nexpires 1800000000\ntoken t",
		"zoom2s3-oauth-token 1\nappaa11\nexpires 1800000000\ntoken t\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		is_int(zoomauth_cache_parse(bad[i], strlen(bad[i]), fp, token, sizeof token, &exp),
		       -1, "a malformed cache file is not used");
}

static void test_fresh(void)
{
	ok(zoomauth_token_fresh(1000, 1000 - 61), "61 s before expiry: still handed out");
	ok(!zoomauth_token_fresh(1000, 1000 - 60), "60 s before expiry: renewed");
	ok(!zoomauth_token_fresh(1000, 2000), "expired: renewed");
}

/* ---- the cache, with a token endpoint that is never there --------------- */

struct rig {
	char dir[64];
	struct spool sp;
	struct config cfg;
	struct http_client *client;
};

static int rig_open(struct rig *r)
{
	char err[256];

	memset(r, 0, sizeof *r);
	strcpy(r->dir, "/tmp/test_zoomauth.XXXXXX");
	if (!mkdtemp(r->dir) || spool_open(&r->sp, r->dir, true, err, sizeof err) < 0)
		return -1;
	/* Port 9 (discard) on loopback: connection refused, at once. */
	r->cfg.zoom_oauth_url = "http://127.0.0.1:9/oauth/token";
	r->cfg.zoom_api_url = "http://127.0.0.1:9/v2";
	r->cfg.zoom_account_id = "acc";
	r->cfg.zoom_client_id = "cid";
	r->cfg.zoom_client_secret = "csecret";
	r->client = http_client_new(NULL);
	return r->client ? 0 : -1;
}

static void rig_close(struct rig *r)
{
	char path[128];

	http_client_free(r->client);
	spool_close(&r->sp);
	snprintf(path, sizeof path, "rm -rf '%s'", r->dir);
	if (system(path) != 0)
		tap_diag("could not remove the test spool");
}

static void put_cache(struct rig *r, const char *token, time_t exp)
{
	char fp[65], text[512];
	int n;

	zoomauth_fingerprint(r->cfg.zoom_oauth_url, r->cfg.zoom_account_id, r->cfg.zoom_client_id,
			     fp);
	n = zoomauth_cache_format(fp, token, exp, text, sizeof text);
	ok(n > 0 && spool_write_private(&r->sp, ZOOMAUTH_CACHE_NAME, text, (size_t)n) == 0,
	   "cache file written");
}

static void test_cache_use(void)
{
	struct rig r;
	struct zoomauth *za;
	struct result res;
	char tok[ZOOMAUTH_TOKEN_MAX], line[256];

	if (!ok(rig_open(&r) == 0, "test spool made"))
		return;
	put_cache(&r, "cached-token-AAAA", time(NULL) + 3000);
	za = zoomauth_new(&r.cfg, &r.sp);
	ok(zoomauth_has_oauth(za) && !zoomauth_has_jwt(za), "an OAuth app");
	is_int(zoomauth_api_token(za, r.client, NULL, tok, sizeof tok, &res), OUTCOME_DONE,
	       "a fresh cached token is used without asking Zoom");
	is_str(tok, "cached-token-AAAA", "it is the file's token");
	snprintf(line, sizeof line, "bearer cached-token-AAAA here");
	is_str(log_scrub(line, sizeof line), "bearer *** here", "and it is registered as a secret");
	is_int(zoomauth_api_token(za, r.client, "some-older-token", tok, sizeof tok, &res),
	       OUTCOME_DONE, "a refusal of another (older) token keeps the cached one");
	is_str(tok, "cached-token-AAAA", "same token");
	is_int(zoomauth_api_token(za, r.client, "cached-token-AAAA", tok, sizeof tok, &res),
	       OUTCOME_RETRY, "its own refusal makes it ask Zoom (which is not there: retry)");
	ok(strstr(res.why, "Zoom's OAuth endpoint could not be reached") != NULL,
	   "why names the OAuth endpoint");
	zoomauth_free(za);

	put_cache(&r, "stale-token-BBBB", time(NULL) + 30);
	za = zoomauth_new(&r.cfg, &r.sp);
	is_int(zoomauth_api_token(za, r.client, NULL, tok, sizeof tok, &res), OUTCOME_RETRY,
	       "a token 30 s from expiry is not used");
	zoomauth_free(za);

	put_cache(&r, "other-app-CCCC", time(NULL) + 3000);
	r.cfg.zoom_client_id = "another-client";
	za = zoomauth_new(&r.cfg, &r.sp);
	is_int(zoomauth_api_token(za, r.client, NULL, tok, sizeof tok, &res), OUTCOME_RETRY,
	       "another app's cached token is not used");
	zoomauth_free(za);

	za = zoomauth_new(&r.cfg, NULL);
	is_int(zoomauth_api_token(za, r.client, NULL, tok, sizeof tok, &res), OUTCOME_RETRY,
	       "no spool: no file cache, Zoom is asked");
	ok(!strstr(res.why, "csecret"), "the client secret is not in why");
	zoomauth_free(za);
	rig_close(&r);
}

static void test_jwt_app(void)
{
	struct config cfg = { .zoom_api_key = "key-1", .zoom_api_secret = "jwt-secret",
			      .zoom_oauth_url = "http://127.0.0.1:9/", .zoom_api_url = "x" };
	struct http_client *client = http_client_new(NULL);
	struct zoomauth *za = zoomauth_new(&cfg, NULL);
	struct result res;
	char tok[ZOOMAUTH_TOKEN_MAX], again[ZOOMAUTH_TOKEN_MAX], want[1024], line[ZOOMAUTH_TOKEN_MAX + 8];
	time_t before = time(NULL);

	ok(zoomauth_has_jwt(za) && !zoomauth_has_oauth(za), "a JWT app");
	is_int(zoomauth_api_token(za, client, NULL, tok, sizeof tok, &res), OUTCOME_DONE,
	       "a JWT is the API token");
	/* exp is now + ZOOMAUTH_JWT_TTL for a now between before and after. */
	bool found = false;
	for (time_t t = before; t <= time(NULL) && !found; t++) {
		zoomauth_jwt("key-1", "jwt-secret", t + ZOOMAUTH_JWT_TTL, want, sizeof want);
		found = strcmp(want, tok) == 0;
	}
	ok(found, "it is the JWT for exp = now + %d s", ZOOMAUTH_JWT_TTL);
	is_int(zoomauth_api_token(za, client, NULL, again, sizeof again, &res), OUTCOME_DONE,
	       "asked again");
	is_str(again, tok, "the same JWT while it is fresh");
	snprintf(line, sizeof line, "x %s y", tok);
	is_str(log_scrub(line, sizeof line), "x *** y", "the JWT is registered as a secret");
	zoomauth_free(za);

	cfg.zoom_api_key = NULL;
	za = zoomauth_new(&cfg, NULL);
	is_int(zoomauth_api_token(za, client, NULL, tok, sizeof tok, &res), OUTCOME_GIVEUP,
	       "no app configured: give up");
	ok(strstr(res.why, "no Zoom app is configured") != NULL, "and say so");
	is_int(zoomauth_api_token(za, client, NULL, tok, 0, &res), OUTCOME_GIVEUP,
	       "(also with no room)");
	{
		char *url = (char *)1, *dtok = (char *)1;

		is_int(zoomauth_fresh_link(za, client, "", "f1", &url, &dtok, &res),
		       OUTCOME_GIVEUP, "fresh link without a meeting uuid: give up");
		ok(url == NULL && dtok == NULL, "and both outputs are NULL");
	}
	zoomauth_free(za);
	http_client_free(client);
}

static void test_note_token(void)
{
	char line[128];

	zoomauth_note_token(NULL);
	zoomauth_note_token("");
	zoomauth_note_token("job-download-token-XYZ");
	snprintf(line, sizeof line, "t=job-download-token-XYZ");
	is_str(log_scrub(line, sizeof line), "t=***", "a job's download_token is registered");
}

/* ---- zoomauth_api_request against a stub Zoom ---- */

struct zoom_stub {
	int tokens;          /* OAuth tokens handed out */
	int api_calls;
	char method[16], target[2048], auth[256];
};

static void zoom_handler(void *ctx, const struct httpstub_request *req, int fd)
{
	struct zoom_stub *z = ctx;
	char body[128];
	int n;

	if (strcmp(req->target, "/oauth/token") == 0) {
		z->tokens++;
		n = snprintf(body, sizeof body, "{\"access_token\":\"tok-%d\",\"expires_in\":3600}",
			     z->tokens);
		httpstub_reply(fd, 200, "Content-Type: application/json\r\n", body, (size_t)n);
		return;
	}
	z->api_calls++;
	snprintf(z->method, sizeof z->method, "%s", req->method);
	snprintf(z->target, sizeof z->target, "%s", req->target);
	if (!httpstub_header(req, "Authorization", z->auth, sizeof z->auth))
		z->auth[0] = '\0';
	if (strstr(req->target, "/busy"))
		httpstub_reply(fd, 429, "Retry-After: 9\r\nx-zm-trackingid: ZM42\r\n", "", 0);
	else if (strcmp(z->auth, "Bearer tok-1") == 0) /* the first token is refused */
		httpstub_reply(fd, 401, NULL, "{\"code\":124}", 12);
	else
		httpstub_reply(fd, 204, NULL, "", 0);
}

static void test_api_request(void)
{
	struct zoom_stub z = { 0 };
	struct config cfg = { .zoom_account_id = "acc", .zoom_client_id = "cid",
			      .zoom_client_secret = "csecret" };
	struct http_client *client = http_client_new(NULL);
	struct http_response resp;
	struct httpstub srv;
	struct zoomauth *za;
	struct result res;
	char oauth[96], api[96], url[512], enc[128];

	if (!ok(client && httpstub_start(&srv, zoom_handler, &z) == 0, "stub Zoom starts")) {
		http_client_free(client);
		return;
	}
	snprintf(oauth, sizeof oauth, "http://127.0.0.1:%d/oauth/token", srv.port);
	snprintf(api, sizeof api, "http://127.0.0.1:%d/v2", srv.port);
	cfg.zoom_oauth_url = oauth;
	cfg.zoom_api_url = api;
	za = zoomauth_new(&cfg, NULL);
	ok(pctenc_zoom_uuid("/ab+c==", enc, sizeof enc) > 0, "uuid encoded");
	snprintf(url, sizeof url, "%s/meetings/%s/recordings/F1?action=trash", api, enc);
	is_int(zoomauth_api_request(za, client, HTTP_DELETE, url, "Zoom's recordings API", &resp,
				    &res), OUTCOME_DONE, "DELETE: an answer came");
	is_int(resp.status, 204, "after one 401, the renewed token was taken");
	is_int(z.tokens, 2, "two OAuth tokens were asked for");
	is_str(z.method, "DELETE", "the method");
	is_str(z.target, "/v2/meetings/%252Fab%252Bc%253D%253D/recordings/F1?action=trash",
	       "the double-encoded uuid in the path");
	is_str(z.auth, "Bearer tok-2", "the renewed token as Bearer");
	http_response_free(&resp);

	snprintf(url, sizeof url, "%s/busy", api);
	is_int(zoomauth_api_request(za, client, HTTP_GET, url, "Zoom's users API", &resp, &res),
	       OUTCOME_DONE, "GET answered 429: an answer");
	ok(resp.status == 429 && resp.retry_after == 9, "429 with its Retry-After");
	is_str(resp.request_id, "ZM42", "Zoom's tracking id kept for the log");
	is_int(z.tokens, 2, "the cached token served");
	http_response_free(&resp);
	zoomauth_free(za);
	httpstub_stop(&srv);

	za = zoomauth_new(&cfg, NULL); /* nothing listens there now */
	is_int(zoomauth_api_request(za, client, HTTP_GET, url, "Zoom's users API", &resp, &res),
	       OUTCOME_RETRY, "no Zoom: retry");
	ok(strstr(res.why, "Zoom's OAuth endpoint could not be reached") != NULL,
	   "why says what could not be reached");
	http_response_free(&resp);
	zoomauth_free(za);
	http_client_free(client);
}

int main(void)
{
	log_init("test_zoomauth", LOG_DEST_STDERR, false);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_jwt_vectors();
	test_jwt_structure();
	test_fingerprint();
	test_cache_text();
	test_fresh();
	test_cache_use();
	test_jwt_app();
	test_note_token();
	setenv("NO_PROXY", "127.0.0.1,localhost", 1); /* the stub is on loopback */
	test_api_request();
	curl_global_cleanup();
	return done_testing();
}
