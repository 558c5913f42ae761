/* zoom2s3ctl test-webhook: two signed requests to the operator's own
 * endpoint, as Zoom sends them, through http.c. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "crypto.h"
#include "ctlwebhook.h"
#include "http.h"
#include "job.h"
#include "jsonget.h"
#include "log.h"
#include "spool.h"

#define ANSWER_MAX (64 * 1024)
#define ZOOM_WAITS_MS 3000 /* Zoom gives up on an answer after 3 s */
#define TIMEOUT_MS 10000L

void ctlwebhook_sign(const char *secret, const char *ts, const char *body, size_t len,
		     char sig[CTLWEBHOOK_SIG_LEN + 1])
{
	unsigned char mac[SHA256_LEN];
	size_t tslen = strlen(ts), n = 3 + tslen + 1 + len;
	char *msg = malloc(n ? n : 1);

	if (!msg) {
		snprintf(sig, CTLWEBHOOK_SIG_LEN + 1, "v0=");
		return;
	}
	memcpy(msg, "v0:", 3);
	memcpy(msg + 3, ts, tslen);
	msg[3 + tslen] = ':';
	memcpy(msg + 4 + tslen, body, len);
	crypto_hmac_sha256(secret, strlen(secret), msg, n, mac);
	free(msg);
	memcpy(sig, "v0=", 3);
	crypto_hex(mac, sizeof mac, sig + 3);
}

int ctlwebhook_validation_body(const char *plain, time_t now, char *out, size_t size)
{
	int n = snprintf(out, size,
			 "{\"payload\":{\"plainToken\":\"%s\"},\"event_ts\":%lld000,"
			 "\"event\":\"endpoint.url_validation\"}",
			 plain, (long long)now);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

bool ctlwebhook_validation_ok(const char *answer, const char *secret, const char *plain)
{
	unsigned char mac[SHA256_LEN];
	char want[SHA256_HEX_LEN + 1], err[128];
	struct json_object *root = jsonget_parse_object(answer, strlen(answer), err, sizeof err);
	const char *echoed = jsonget_string(root, "plainToken");
	const char *got = jsonget_string(root, "encryptedToken");
	bool right;

	crypto_hmac_sha256(secret, strlen(secret), plain, strlen(plain), mac);
	crypto_hex(mac, sizeof mac, want);
	right = echoed && got && strcmp(echoed, plain) == 0 && strcasecmp(got, want) == 0;
	json_object_put(root);
	return right;
}

static bool topic_ignored(const struct config *cfg, const char *topic)
{
	return cfg->topic_regex && regexec(&cfg->topic_re, topic, 0, NULL, 0) != 0;
}

static bool type_listed(const struct config *cfg, const char *type)
{
	for (size_t i = 0; i < cfg->n_file_types; i++)
		if (strcasecmp(cfg->file_types[i], type) == 0)
			return true;
	return false;
}

char *ctlwebhook_ignored_event(const struct config *cfg, time_t now, const char **note)
{
	static const char *const topics[] = { "zoom2s3ctl test-webhook: please ignore", "-" };
	static const char *const types[] = { "ZOOM2S3CTL_TEST", "ZOOM2S3CTL_TEST_2" };
	const char *topic = topics[0], *type = NULL;
	bool by_topic = false;
	char when[40], *body = NULL;

	for (size_t i = 0; i < sizeof topics / sizeof topics[0] && !by_topic; i++)
		if (topic_ignored(cfg, topics[i])) {
			topic = topics[i];
			by_topic = true;
		}
	for (size_t i = 0; i < sizeof types / sizeof types[0] && !type; i++)
		if (!type_listed(cfg, types[i]))
			type = types[i];
	if (!type)
		return NULL; /* file_types lists our made-up types: nothing safe to send */
	*note = by_topic ? "its topic does not match topic_regex, and its one file's file_type is "
			   "not in file_types"
			 : "its one file's file_type is not in file_types";
	if (job_format_time(now, when, sizeof when) != 0 ||
	    asprintf(&body,
		     "{\"event\":\"recording.completed\",\"event_ts\":%lld000,\"payload\":{"
		     "\"account_id\":\"zoom2s3ctl\",\"object\":{\"uuid\":\"zoom2s3ctl/test==\","
		     "\"id\":1,\"host_id\":\"zoom2s3ctl\",\"host_email\":\"zoom2s3ctl@invalid\","
		     "\"topic\":\"%s\",\"start_time\":\"%s\",\"duration\":1,"
		     "\"recording_count\":1,\"recording_files\":[{\"id\":\"" CTLWEBHOOK_FILE_ID "\","
		     "\"meeting_id\":\"zoom2s3ctl/test==\",\"recording_start\":\"%s\","
		     "\"recording_end\":\"%s\",\"file_type\":\"%s\",\"file_extension\":\"MP4\","
		     "\"file_size\":1,\"download_url\":"
		     "\"https://zoom.us/rec/download/zoom2s3ctl-test-webhook\","
		     "\"status\":\"completed\",\"recording_type\":\"shared_screen\"}]}},"
		     "\"download_token\":\"zoom2s3ctl-test-webhook\"}",
		     (long long)now, topic, when, when, when, type) < 0)
		return NULL;
	return body;
}

/* ---- the requests ------------------------------------------------------- */

struct answer {
	long status;
	char body[ANSWER_MAX + 1];
	size_t len;
	long ms;
	char error[HTTP_ERROR_MAX];
};

/* POSTs body signed with the secret, as Zoom does. 0 when an answer came. */
static int post_signed(const char *url, const char *secret, const char *body, struct answer *a)
{
	char ts[32], sig[CTLWEBHOOK_SIG_LEN + 1];
	struct http_header headers[] = {
		{ "Content-Type", "application/json; charset=utf-8" },
		{ "x-zm-request-timestamp", ts },
		{ "x-zm-signature", sig },
	};
	struct http_request req = {
		.what = url, .method = HTTP_POST, .url = url, .headers = headers,
		.n_headers = sizeof headers / sizeof headers[0], .body = body,
		.body_len = strlen(body), .max_body = ANSWER_MAX, .timeout_ms = TIMEOUT_MS,
		.ca_file = getenv("CURL_CA_BUNDLE"),
	};
	struct http_client *client = http_client_new(NULL);
	struct http_response resp;
	struct timespec t0, t1;
	int rc = -1;

	memset(a, 0, sizeof *a);
	if (!client) {
		snprintf(a->error, sizeof a->error, "out of memory");
		return -1;
	}
	snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
	ctlwebhook_sign(secret, ts, body, strlen(body), sig);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	http_run(client, &req, &resp);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	a->ms = (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	/* An over-long answer is cut at ANSWER_MAX: still an answer. */
	if (resp.answered && (!resp.error[0] || resp.body_over)) {
		a->status = resp.status;
		a->len = resp.body_len;
		if (a->len)
			memcpy(a->body, resp.body, a->len);
		a->body[a->len] = '\0';
		rc = 0;
	} else {
		snprintf(a->error, sizeof a->error, "%s", resp.error);
	}
	http_response_free(&resp);
	http_client_free(client);
	return rc;
}

/* What an answer other than 200 means, from docs/DEPLOY.md's table. */
static const char *meaning(long status)
{
	switch (status) {
	case 401:
		return "the signature was refused: the Secret Token in this config is not the "
		       "responder's, or the clocks differ by more than webhook_max_skew (run NTP)";
	case 404:
		return "nothing answers at this URL: check the web server's snippet (@URL_PATH@)";
	case 405:
		return "the request was not taken as a POST";
	case 413:
		return "the body was refused as too large";
	case 500:
		return "the responder's config is broken (its log names file:line), or the web "
		       "server refused the request";
	case 503:
		return "the responder cannot write the spool: permissions, a full disk, or a "
		       "missing spool_dir";
	default:
		return "not what the responder answers (is the URL the responder's?)";
	}
}

static void shown_body(const struct answer *a, char *buf, size_t size)
{
	snprintf(buf, size, "%.200s", a->body);
	log_scrub(buf, size);
}

static int check_answer(const struct answer *a, const char *what, FILE *out)
{
	char body[256];

	shown_body(a, body, sizeof body);
	if (a->status != 200) {
		fprintf(out, "FAIL %s: HTTP %ld in %ld ms: %s%s%s\n", what, a->status, a->ms,
			meaning(a->status), body[0] ? "; body: " : "", body);
		return 1;
	}
	if (a->ms > ZOOM_WAITS_MS) {
		fprintf(out, "FAIL %s: 200, but after %ld ms: Zoom waits only %d ms\n", what, a->ms,
			ZOOM_WAITS_MS);
		return 1;
	}
	return 0;
}

/* Posts the signed event what to url and checks that Zoom would take the
 * answer: 0, or 1 with the FAIL line written. */
static int post_checked(const struct config *cfg, const char *url, const char *what,
			const char *body, struct answer *a, FILE *out)
{
	if (post_signed(url, cfg->webhook_secret_token, body, a) != 0) {
		fprintf(out, "FAIL %s: no answer from %s: %s\n", what, url, a->error);
		return 1;
	}
	return check_answer(a, what, out);
}

static int validation(const struct config *cfg, const char *url, FILE *out)
{
	unsigned char rnd[12];
	char plain[32], body[512], shown[256];
	struct answer *a = calloc(1, sizeof *a);
	int rc = 1;

	if (a && getentropy(rnd, sizeof rnd) == 0)
		crypto_base64url(rnd, sizeof rnd, plain);
	else
		plain[0] = '\0';
	if (!a || !plain[0] || ctlwebhook_validation_body(plain, time(NULL), body, sizeof body) != 0) {
		fprintf(out, "FAIL endpoint.url_validation: cannot make the request\n");
		goto out;
	}
	if (post_checked(cfg, url, "endpoint.url_validation", body, a, out) != 0)
		goto out;
	if (!ctlwebhook_validation_ok(a->body, cfg->webhook_secret_token, plain)) {
		shown_body(a, shown, sizeof shown);
		fprintf(out, "FAIL endpoint.url_validation: 200, but not the answer Zoom checks "
			     "(plainToken and its encryptedToken): %s\n", shown);
		goto out;
	}
	fprintf(out, "ok   endpoint.url_validation: 200 in %ld ms, encryptedToken right\n", a->ms);
	rc = 0;
out:
	free(a);
	return rc;
}

/* 1 when the test event's job is in this host's spool, 0 when not, -1
 * when the spool cannot be looked at from here. */
static int spooled_here(const struct config *cfg)
{
	struct spool sp;
	char name[SPOOL_NAME_MAX], err[256];
	int found;

	if (spool_job_name(CTLWEBHOOK_FILE_ID, name, sizeof name) != SPOOL_OK ||
	    spool_open_inspect(&sp, cfg->spool_dir, err, sizeof err) != SPOOL_OK)
		return -1;
	found = spool_find(&sp, name) != SPOOL_NOWHERE;
	spool_close(&sp);
	return found;
}

static int ignored_event(const struct config *cfg, const char *url, FILE *out)
{
	const char *note = "";
	char *body = ctlwebhook_ignored_event(cfg, time(NULL), &note);
	struct answer *a = calloc(1, sizeof *a);
	int rc = 1, here;

	if (!body || !a) {
		fprintf(out, "FAIL recording.completed: cannot make an event this config ignores "
			     "(does file_types list ZOOM2S3CTL_TEST?)\n");
		goto out;
	}
	if (post_checked(cfg, url, "recording.completed", body, a, out) != 0)
		goto out;
	here = spooled_here(cfg);
	if (here == 1) {
		fprintf(out, "FAIL recording.completed: 200, but the test file was spooled (the "
			     "responder's config selects what this one ignores): remove %s.json "
			     "from the spool\n", CTLWEBHOOK_FILE_ID);
		goto out;
	}
	fprintf(out, "ok   recording.completed (%s): 200 in %ld ms%s\n", note, a->ms,
		here == 0 ? ", nothing spooled" : "");
	rc = 0;
out:
	free(body);
	free(a);
	return rc;
}

int ctlwebhook_run(const struct config *cfg, const char *url, FILE *out)
{
	int fails = validation(cfg, url, out);

	fails += ignored_event(cfg, url, out);
	fprintf(out, "test-webhook: %s\n", fails ? "FAILED" : "OK");
	return fails ? 1 : 0;
}
