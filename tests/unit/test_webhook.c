#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "job.h"
#include "keytmpl.h"
#include "tap.h"
#include "webhook.h"
#include "zoomjson.h"

#define SECRET "s3cr3t-t0ken-for-tests"
#define PREVIOUS "0ld-s3cr3t-before-rotation"
#define NOW ((time_t)1700000000)
#define DEFAULT_TEMPLATE "{topic}/{recording_start:%Y-%m-%d_%H%M%S}_{recording_type}.{ext}"
#define SEED_TEMPLATE "courses/uploads/{1}/GMT{recording_start:%Y%m%d_%H%M%S}_Recording.{ext}"

static struct config cfg;
static int secret_leaks;

/* A config as config.c would leave it with only the responder's keys set. */
static void cfg_default(void)
{
	if (cfg.topic_regex)
		regfree(&cfg.topic_re);
	memset(&cfg, 0, sizeof cfg);
	cfg.webhook_secret_token = SECRET;
	cfg.webhook_max_skew = 300;
	cfg.max_body_bytes = 1024 * 1024;
	cfg.file_types[0] = "MP4";
	cfg.n_file_types = 1;
	cfg.key_template = DEFAULT_TEMPLATE;
}

static void cfg_regex(const char *re)
{
	static char owned[256]; /* config's own type: a char * it may free */

	if (cfg.topic_regex)
		regfree(&cfg.topic_re);
	snprintf(owned, sizeof owned, "%s", re);
	cfg.topic_regex = owned;
	if (regcomp(&cfg.topic_re, re, REG_EXTENDED) != 0)
		abort();
}

/* The seed's own behaviour, as the contract gives it. */
static void cfg_seed(void)
{
	cfg_default();
	cfg_regex("\\[([A-Za-z0-9_]+)\\]");
	cfg.min_duration = 120;
	cfg.key_template = SEED_TEMPLATE;
}

/* tests/data/zoom/NAME, malloc'd. */
static char *sample(const char *name, size_t *len)
{
	char rel[256];

	snprintf(rel, sizeof rel, "zoom/%s", name);
	return tap_read_data(rel, len);
}

static void sign(const char *secret, const char *ts, const char *body, size_t len, char *out)
{
	size_t n = 3 + strlen(ts) + 1 + len;
	char *msg = malloc(n + 1);
	unsigned char mac[SHA256_LEN];

	if (!msg)
		abort();
	snprintf(msg, n + 1, "v0:%s:", ts);
	memcpy(msg + 4 + strlen(ts), body, len);
	crypto_hmac_sha256(secret, strlen(secret), msg, n, mac);
	memcpy(out, "v0=", 3);
	crypto_hex(mac, sizeof mac, out + 3);
	free(msg);
}

/* Nothing a request gets back (answer, notes, jobs) may hold a secret. */
static bool holds_secret(const char *text)
{
	return strstr(text, SECRET) || strstr(text, PREVIOUS);
}

static void check_no_secret(const struct webhook_reply *r)
{
	if ((r->body && holds_secret(r->body)) || holds_secret(r->note))
		secret_leaks++;
	for (size_t i = 0; i < r->n_notes; i++)
		if (holds_secret(r->notes[i]))
			secret_leaks++;
	for (size_t i = 0; i < r->n_jobs; i++) {
		size_t len;
		char *text = job_serialize(r->jobs[i], &len);

		if (!text || holds_secret(text))
			secret_leaks++;
		free(text);
	}
}

static void send_req(const char *method, const char *sig, const char *ts, const char *body,
		     size_t len, struct webhook_reply *r)
{
	struct webhook_request req = {
		.method = method, .signature = sig, .timestamp = ts,
		.body = body, .body_len = len, .now = NOW,
	};

	webhook_handle(&cfg, &req, r);
	check_no_secret(r);
}

/* POST with a good signature made at now + offset. */
static void post_at(const char *body, size_t len, long offset, struct webhook_reply *r)
{
	char ts[32], sig[3 + SHA256_HEX_LEN + 1];

	snprintf(ts, sizeof ts, "%lld", (long long)NOW + offset);
	sign(SECRET, ts, body, len, sig);
	send_req("POST", sig, ts, body, len, r);
}

static void post(const char *body, struct webhook_reply *r)
{
	post_at(body, strlen(body), 0, r);
}

/* send_req; checks only the answer's status. */
static void req_answers(const char *method, const char *sig, const char *ts, const char *body,
			size_t len, int status, const char *name)
{
	struct webhook_reply r;

	send_req(method, sig, ts, body, len, &r);
	is_int(r.status, status, name);
	webhook_reply_free(&r);
}

/* Posts body; checks only the answer's status. */
static void answers(const char *body, int status, const char *name)
{
	struct webhook_reply r;

	post(body, &r);
	is_int(r.status, status, name);
	webhook_reply_free(&r);
}

static void post_sample(const char *name, struct webhook_reply *r)
{
	size_t len;
	char *body = sample(name, &len);

	post_at(body, len, 0, r);
	free(body);
}

static const char *str(const struct webhook_reply *r, size_t i, const char *field)
{
	return i < r->n_jobs ? job_get_str(r->jobs[i], field) : NULL;
}

static int64_t num(const struct webhook_reply *r, size_t i, const char *field)
{
	int64_t v = -1;

	if (i >= r->n_jobs || job_get_int(r->jobs[i], field, &v) < 0)
		return -1;
	return v;
}

static bool any_note(const struct webhook_reply *r, const char *needle)
{
	for (size_t i = 0; i < r->n_notes; i++)
		if (strstr(r->notes[i], needle))
			return true;
	return false;
}

/* ---- the contract's table ------------------------------------------------ */

static void test_answers(void)
{
	struct webhook_reply r;
	size_t len;
	char *body = sample("sample-5-ZoomNet-docs-example.json", &len);
	char ts[32], sig[128];

	cfg_default();
	post_at(body, len, 0, &r);
	is_int(r.status, 200, "recording.completed, good signature: 200");
	is_int(r.n_jobs, 1, "one MP4 spooled");
	ok(r.body == NULL, "empty answer body");
	webhook_reply_free(&r);

	req_answers("GET", NULL, NULL, "", 0, 405, "GET: 405");
	req_answers(NULL, NULL, NULL, "", 0, 405, "no method: 405");
	snprintf(ts, sizeof ts, "%lld", (long long)NOW);
	sign(SECRET, ts, body, len, sig);
	send_req("PUT", sig, ts, body, len, &r);
	is_int(r.status, 405, "PUT with a good signature: 405");
	is_int(r.n_jobs, 0, "nothing spooled");
	webhook_reply_free(&r);
	req_answers("post", sig, ts, body, len, 405, "method is case-sensitive");

	cfg.max_body_bytes = len - 1;
	post_at(body, len, 0, &r);
	is_int(r.status, 413, "body one byte over max_body_bytes: 413");
	is_int(r.n_jobs, 0, "nothing spooled");
	webhook_reply_free(&r);
	req_answers("POST", NULL, NULL, body, len, 413, "the size is checked before the signature");
	cfg.max_body_bytes = len;
	post_at(body, len, 0, &r);
	is_int(r.status, 200, "body of exactly max_body_bytes: accepted");
	webhook_reply_free(&r);
	cfg_default();

	post("{\"event\":\"recording.trashed\",\"payload\":{\"object\":{}}}", &r);
	is_int(r.status, 200, "another event: 200");
	is_int(r.n_jobs, 0, "another event: nothing spooled");
	ok(strstr(r.note, "recording.trashed") != NULL, "note names the event");
	webhook_reply_free(&r);
	post_sample("sample-recording_deleted-ZoomNet-docs-example.json", &r);
	ok(r.status == 200 && r.n_jobs == 0, "recording.deleted sample: 200, nothing");
	webhook_reply_free(&r);
	post("{\"payload\":{}}", &r);
	ok(r.status == 200 && r.n_jobs == 0, "no event at all: 200, nothing");
	webhook_reply_free(&r);
	post("{\"event\":\"recording_completed\",\"payload\":{\"meeting\":{}}}", &r);
	ok(r.status == 200 && r.n_jobs == 0, "legacy pre-2019 event name: 200, nothing");
	webhook_reply_free(&r);

	static const char *const not_json[] = {
		"", "not json", "[]", "[{\"event\":\"recording.completed\"}]", "\"x\"", "{",
		"{\"event\":\"recording.completed\"} trailing",
	};
	for (size_t i = 0; i < sizeof not_json / sizeof not_json[0]; i++) {
		post(not_json[i], &r);
		is_int(r.status, 400, "not a JSON object: 400");
		is_int(r.n_jobs, 0, "nothing spooled");
		webhook_reply_free(&r);
	}
	static const char *const bad_shape[] = {
		"{\"event\":\"recording.completed\"}",
		"{\"event\":\"recording.completed\",\"payload\":{}}",
		"{\"event\":\"recording.completed\",\"payload\":{\"object\":[]}}",
		"{\"event\":\"recording.completed\",\"payload\":{\"object\":\"x\"}}",
		"{\"event\":\"recording.completed\",\"payload\":{\"object\":{}}}",
		"{\"event\":\"recording.completed\",\"payload\":{\"object\":{\"recording_files\":{}}}}",
		("{\"event\":\"recording.transcript_completed\",\"payload\":{\"object\":"
		 "{\"recording_files\":null}}}"),
	};
	for (size_t i = 0; i < sizeof bad_shape / sizeof bad_shape[0]; i++) {
		post(bad_shape[i], &r);
		is_int(r.status, 400, "recording event without object or files array: 400");
		webhook_reply_free(&r);
	}
	post("{\"event\":\"recording.completed\",\"payload\":{\"object\":{\"recording_files\":[]}}}",
	     &r);
	ok(r.status == 200 && r.n_jobs == 0, "empty recording_files: 200, nothing");
	ok(strstr(r.note, "no eligible file") != NULL, "note says no eligible file");
	webhook_reply_free(&r);
	free(body);
}

/* ---- signature ---------------------------------------------------------- */

static void test_signature(void)
{
	struct webhook_reply r;
	size_t len;
	char *body = sample("sample-5-ZoomNet-docs-example.json", &len);
	char *vbody;
	size_t vlen;
	char ts[32], sig[128], other[128];

	cfg_default();
	snprintf(ts, sizeof ts, "%lld", (long long)NOW);
	sign(SECRET, ts, body, len, sig);

	send_req("POST", NULL, ts, body, len, &r);
	ok(r.status == 401 && r.n_jobs == 0, "signature missing: 401, nothing spooled");
	webhook_reply_free(&r);
	req_answers("POST", sig, NULL, body, len, 401, "timestamp missing: 401");
	req_answers("POST", NULL, NULL, body, len,
		    401, "legacy authorization header alone (no signature): 401");

	strcpy(other, sig);
	other[10] = other[10] == '0' ? '1' : '0';
	send_req("POST", other, ts, body, len, &r);
	ok(r.status == 401 && r.n_jobs == 0, "one hex digit wrong: 401");
	webhook_reply_free(&r);
	strcpy(other, sig);
	other[strlen(other) - 1] = '\0';
	req_answers("POST", other, ts, body, len, 401, "signature one character short: 401");
	req_answers("POST", sig + 3, ts, body, len, 401, "signature without v0=: 401");
	req_answers("POST", "", ts, body, len, 401, "empty signature: 401");
	sign(SECRET, ts, "{}", 2, other);
	req_answers("POST", other, ts, body, len, 401, "signature over a different body: 401");
	sign("another-secret", ts, body, len, other);
	req_answers("POST", other, ts, body, len, 401, "signature with another secret: 401");
	snprintf(other, sizeof other, "%lld", (long long)NOW - 1);
	req_answers("POST", sig, other, body, len,
		    401, "signature made for another timestamp: 401");

	post_at(body, len, 301, &r);
	ok(r.status == 401 && r.n_jobs == 0, "timestamp 301 s ahead: 401");
	webhook_reply_free(&r);
	post_at(body, len, -301, &r);
	ok(r.status == 401 && r.n_jobs == 0, "timestamp 301 s old: 401");
	webhook_reply_free(&r);
	post_at(body, len, 300, &r);
	is_int(r.status, 200, "timestamp 300 s ahead: accepted");
	webhook_reply_free(&r);
	post_at(body, len, -300, &r);
	is_int(r.status, 200, "timestamp 300 s old: accepted");
	webhook_reply_free(&r);
	post_at(body, len, -(long)NOW, &r);
	is_int(r.status, 401, "timestamp 0: 401");
	webhook_reply_free(&r);

	static const char *const bad_ts[] = {
		"", "12a", "+1700000000", "-1700000000", " 1700000000", "1700000000 ",
		"1700000000.5", "0x6553f100", "17000000000000000000000000",
	};
	for (size_t i = 0; i < sizeof bad_ts / sizeof bad_ts[0]; i++) {
		sign(SECRET, bad_ts[i], body, len, other);
		send_req("POST", other, bad_ts[i], body, len, &r);
		if (!ok(r.status == 401, "timestamp '%s' (signed): 401", bad_ts[i]))
			printf("#   status %d\n", r.status);
		webhook_reply_free(&r);
	}
	/* Millisecond timestamps (like event_ts) are far off as seconds. */
	snprintf(ts, sizeof ts, "%lld000", (long long)NOW);
	sign(SECRET, ts, body, len, other);
	req_answers("POST", other, ts, body, len, 401, "timestamp in milliseconds: 401");

	/* A fixed vector, computed apart from this code (Python hmac). */
	vbody = sample("sample-url_validation-ZoomNet-docs-example.json", &vlen);
	req_answers("POST",
		    "v0=3454dd9b1c65344f3ea0b53d656024c5baed489617f68a38812ae98b9bbe226c",
		    "1700000000", vbody, vlen, 200, "signature vector from Python's hmac accepted");
	req_answers("POST",
		    "V0=3454DD9B1C65344F3EA0B53D656024C5BAED489617F68A38812AE98B9BBE226C",
		    "1700000000", vbody, vlen, 401, "upper-case signature is not Zoom's: 401");

	cfg.webhook_secret_token = "";
	snprintf(ts, sizeof ts, "%lld", (long long)NOW);
	sign("", ts, body, len, other);
	req_answers("POST", other, ts, body, len, 401, "empty secret configured: nothing verifies");
	cfg.webhook_secret_token = NULL;
	req_answers("POST", other, ts, body, len, 401, "no secret configured: 401");
	cfg_default();
	free(vbody);
	free(body);
}

/* ---- webhook_secret_token_previous ---------------------------------------- */


/* The status of body signed with secret at ts; the reply is dropped. */
static int status_signed(const char *secret, const char *ts, const char *body, size_t len)
{
	struct webhook_reply r;
	char sig[3 + SHA256_HEX_LEN + 1];
	int status;

	sign(secret, ts, body, len, sig);
	send_req("POST", sig, ts, body, len, &r);
	status = r.status;
	webhook_reply_free(&r);
	return status;
}

static void test_previous_secret(void)
{
	struct webhook_reply r;
	size_t len, vlen;
	char *body = sample("sample-5-ZoomNet-docs-example.json", &len);
	char *vbody = sample("sample-url_validation-ZoomNet-docs-example.json", &vlen);
	char ts[32], stale[32], sig[128];
	unsigned char mac[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1], want[256];

	cfg_default();
	snprintf(ts, sizeof ts, "%lld", (long long)NOW);
	snprintf(stale, sizeof stale, "%lld", (long long)NOW - 301);
	is_int(status_signed(PREVIOUS, ts, body, len), 401,
	       "previous token, no webhook_secret_token_previous set: 401");

	cfg.webhook_secret_token_previous = PREVIOUS;
	sign(PREVIOUS, ts, body, len, sig);
	send_req("POST", sig, ts, body, len, &r);
	is_int(r.status, 200, "signed with webhook_secret_token_previous: 200");
	ok(r.n_jobs > 0, "  ... and its files are spooled");
	ok(r.signed_with_previous, "  ... and the reply says which token signed it");
	ok(strstr(r.note, "webhook_secret_token_previous") != NULL, "  ... the log note too");
	ok(strstr(r.note, PREVIOUS) == NULL, "  ... never the token itself");
	webhook_reply_free(&r);

	sign(SECRET, ts, body, len, sig);
	send_req("POST", sig, ts, body, len, &r);
	ok(r.status == 200 && !r.signed_with_previous, "current token still accepted, not flagged");
	webhook_reply_free(&r);
	is_int(status_signed("a-third-secret", ts, body, len), 401, "a third token: 401");
	is_int(status_signed(PREVIOUS, stale, body, len), 401,
	       "previous token, stale timestamp: 401");

	/* url_validation signed with the old token is answered with the current one. */
	sign(PREVIOUS, ts, vbody, vlen, sig);
	send_req("POST", sig, ts, vbody, vlen, &r);
	is_int(r.status, 200, "url_validation signed with the previous token: 200");
	crypto_hmac_sha256(SECRET, strlen(SECRET), "qgg8vlvZRS6UYooatFL8Aw", 22, mac);
	crypto_hex(mac, sizeof mac, hex);
	snprintf(want, sizeof want, "{\"plainToken\":\"qgg8vlvZRS6UYooatFL8Aw\","
		 "\"encryptedToken\":\"%s\"}", hex);
	is_str(r.body, want, "  ... encryptedToken made with webhook_secret_token, not the previous");
	webhook_reply_free(&r);

	cfg.webhook_secret_token_previous = "";
	is_int(status_signed("", ts, body, len), 401, "an empty previous token verifies nothing");
	cfg.webhook_secret_token = NULL;
	cfg.webhook_secret_token_previous = PREVIOUS;
	is_int(status_signed(PREVIOUS, ts, body, len), 401,
	       "the previous token alone, no current one: 401");
	cfg_default();
	free(vbody);
	free(body);
}

/* ---- endpoint.url_validation --------------------------------------------- */

#define ESCAPED "{\"plainToken\":\"a\\\"b\\\\c\",\"encryptedToken\":\""

static void test_url_validation(void)
{
	struct webhook_reply r;
	size_t len;
	char *body = sample("sample-url_validation-ZoomNet-docs-example.json", &len);
	char big[400];

	cfg_default();
	post_at(body, len, 0, &r);
	is_int(r.status, 200, "url_validation: 200");
	is_str(r.body,
	       "{\"plainToken\":\"qgg8vlvZRS6UYooatFL8Aw\",\"encryptedToken\":"
	       "\"53a7ca218e364cf48095b1eb0e1e90415a2140b141805e61ac2d5e6ec9656258\"}",
	       "url_validation answer exact (HMAC from Python)");
	is_int(r.n_jobs, 0, "nothing spooled");
	webhook_reply_free(&r);

	send_req("POST", NULL, NULL, body, len, &r);
	ok(r.status == 401 && r.body == NULL, "unsigned url_validation: 401, no answer body");
	webhook_reply_free(&r);
	post_at(body, len, -1000, &r);
	ok(r.status == 401 && r.body == NULL, "stale url_validation: 401");
	webhook_reply_free(&r);

	post("{\"event\":\"endpoint.url_validation\",\"payload\":"
	     "{\"plainToken\":\"v0:1700000000:{\\\"event\\\":\\\"recording.completed\\\"}\"}}",
	     &r);
	ok(r.status == 400 && r.body == NULL, "plainToken with ':' refused (signing oracle)");
	webhook_reply_free(&r);
	answers("{\"event\":\"endpoint.url_validation\",\"payload\":{\"plainToken\":\"\"}}",
		400, "empty plainToken: 400");
	answers("{\"event\":\"endpoint.url_validation\",\"payload\":{\"plainToken\":42}}",
		400, "numeric plainToken: 400");
	answers("{\"event\":\"endpoint.url_validation\",\"payload\":{}}",
		400, "no plainToken: 400");
	answers("{\"event\":\"endpoint.url_validation\",\"payload\":{\"plainToken\":\"a\\u0000b\"}}",
		400, "plainToken with NUL: 400");

	snprintf(big, sizeof big,
		 "{\"event\":\"endpoint.url_validation\",\"payload\":{\"plainToken\":\"%0128d\"}}",
		 7);
	answers(big, 200, "plainToken of 128 bytes: 200");
	snprintf(big, sizeof big,
		 "{\"event\":\"endpoint.url_validation\",\"payload\":{\"plainToken\":\"%0129d\"}}",
		 7);
	answers(big, 400, "plainToken of 129 bytes: 400");

	post("{\"event\":\"endpoint.url_validation\",\"payload\":{\"plainToken\":\"a\\\"b\\\\c\"}}",
	     &r);
	is_int(r.status, 200, "plainToken with quote and backslash answered");
	ok(r.body && strncmp(r.body, ESCAPED, strlen(ESCAPED)) == 0, "and escaped in the answer");
	webhook_reply_free(&r);
	free(body);
}

/* ---- the seed configuration on real samples -------------------------------- */

static void test_seed(void)
{
	struct webhook_reply r;

	cfg_seed();
	post_sample("sample-2-supra-helper-bot.json", &r);
	is_int(r.status, 200, "seed config, sample 2: 200");
	is_int(r.n_jobs, 1, "only the MP4 is spooled");
	is_str(str(&r, 0, "s3_key"), "courses/uploads/142/GMT20231116_165957_Recording.mp4",
	       "seed key for the real sample");
	is_str(str(&r, 0, "recording_file_id"), "e508e251-4530-4020-ad19-5dfdc8777391",
	       "recording_file_id");
	is_str(str(&r, 0, "meeting_uuid"), "LjtP8z2jS0qmRJIIb1WuBg==", "meeting_uuid");
	is_int(num(&r, 0, "meeting_id"), 85392858403LL, "meeting_id integer above 2^32");
	is_str(str(&r, 0, "topic"), "Unity_4 зум 18:40 [142]", "topic byte-exact");
	is_str(str(&r, 0, "host_email"), "supra.12@supraschool.ru", "host_email");
	is_str(str(&r, 0, "start_time"), "2023-11-03T16:59:56Z", "start_time");
	is_str(str(&r, 0, "recording_start"), "2023-11-16T16:59:57Z", "recording_start");
	is_str(str(&r, 0, "recording_end"), "2023-11-16T18:07:05Z", "recording_end");
	is_str(str(&r, 0, "file_type"), "MP4", "file_type");
	is_str(str(&r, 0, "file_extension"), "MP4", "file_extension");
	is_int(num(&r, 0, "file_size"), 245838669, "file_size integer");
	is_str(str(&r, 0, "recording_type"), "shared_screen_with_speaker_view", "recording_type");
	ok(str(&r, 0, "download_url") &&
		   strncmp(str(&r, 0, "download_url"),
			   "https://us06web.zoom.us/rec/webhook_download/aHB4HnLl90zRJHYHZguCj", 66) ==
			   0,
	   "download_url");
	is_str(str(&r, 0, "received_at"), "2023-11-14T22:13:20Z", "received_at is now");
	is_int(num(&r, 0, "attempts"), 0, "attempts 0");
	ok(str(&r, 0, "download_token") &&
		   strncmp(str(&r, 0, "download_token"), "eyJhbGciOiJIUzUxMiJ9.", 21) == 0,
	   "download_token");
	is_str(str(&r, 0, "account_id"), "n9D1u_kRQhe-GBbRTpT4mQ", "account_id");
	is_str(str(&r, 0, "host_id"), "c7qNTbLwTU6CzokdhwEjkg", "host_id");
	is_str(str(&r, 0, "event"), "recording.completed", "event");
	ok(r.n_jobs && !job_has(r.jobs[0], "next_attempt_at") && !job_has(r.jobs[0], "last_error"),
	   "no spooler fields");
	ok(strstr(r.note, "spooled 1 of 4") != NULL, "note: spooled 1 of 4");
	webhook_reply_free(&r);

	post_sample("sample-3-redwoodjs-sdk-zoomshare.json", &r);
	ok(r.status == 200 && r.n_jobs == 0, "seed config, topic without [..]: 200, nothing");
	ok(strstr(r.note, "topic does not match") != NULL, "note: topic does not match");
	webhook_reply_free(&r);

	/* Sample 3 is 17 s long: under min_duration 120 once the topic matches. */
	cfg_regex("Zoom (Meeting)");
	post_sample("sample-3-redwoodjs-sdk-zoomshare.json", &r);
	ok(r.status == 200 && r.n_jobs == 0, "17 s recording under min_duration: nothing");
	ok(strstr(r.note, "1 under min_duration") != NULL, "note counts the short file");
	webhook_reply_free(&r);
	cfg.min_duration = 17;
	post_sample("sample-3-redwoodjs-sdk-zoomshare.json", &r);
	is_int(r.n_jobs, 1, "17 s with min_duration 17: kept");
	is_str(str(&r, 0, "s3_key"), "courses/uploads/Meeting/GMT20250226_133122_Recording.mp4",
	       "group 1 of another regex");
	is_int(num(&r, 0, "meeting_id"), 88031573992LL, "meeting id 88031573992");
	webhook_reply_free(&r);
	cfg.min_duration = 18;
	post_sample("sample-3-redwoodjs-sdk-zoomshare.json", &r);
	is_int(r.n_jobs, 0, "17 s with min_duration 18: skipped");
	webhook_reply_free(&r);
	cfg_default();
}

/* The same, from the config file text of the contract, through config.c. */
static void test_seed_config_file(void)
{
	static const char text[] =
		"# the seed's behaviour\n"
		"spool_dir = /var/spool/zoom2s3\n"
		"webhook_secret_token = " SECRET "\n"
		"topic_regex = \\[([A-Za-z0-9_]+)\\]\n"
		"min_duration = 120\n"
		"file_types = MP4\n"
		"key_template = " SEED_TEMPLATE "\n";
	struct config parsed;
	struct webhook_request req;
	struct webhook_reply r;
	char err[512], ts[32], sig[128], *body;
	size_t len;

	if (!ok(config_parse("seed.conf", text, strlen(text), CONFIG_RESPONDER, &parsed, err,
			     sizeof err) == 0,
		"seed config parses")) {
		printf("#   %s\n", err);
		return;
	}
	body = sample("sample-2-supra-helper-bot.json", &len);
	snprintf(ts, sizeof ts, "%lld", (long long)NOW);
	sign(SECRET, ts, body, len, sig);
	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.signature = sig;
	req.timestamp = ts;
	req.body = body;
	req.body_len = len;
	req.now = NOW;
	webhook_handle(&parsed, &req, &r);
	check_no_secret(&r);
	is_int(r.status, 200, "config file seed, sample 2: 200");
	is_int(r.n_jobs, 1, "one job");
	is_str(str(&r, 0, "s3_key"), "courses/uploads/142/GMT20231116_165957_Recording.mp4",
	       "config file seed: the expected key");
	webhook_reply_free(&r);
	free(body);
	config_free(&parsed);
}

/* ---- file selection ------------------------------------------------------- */

#define EV_HEAD "{\"event\":\"recording.completed\",\"download_token\":\"TOKEN-abc\",\"payload\":" \
		"{\"account_id\":\"acc\",\"object\":{\"uuid\":\"/ab+c//d==\",\"id\":\"99999999999\","   \
		"\"topic\":\"T\",\"start_time\":\"2026-01-02T03:04:05Z\",\"recording_files\":["
#define EV_TAIL "]}}}"
#define FILE_(id, type, status, start, end)                                                \
	"{\"id\":\"" id "\",\"file_type\":\"" type "\",\"file_extension\":\"" type "\","          \
	"\"download_url\":\"https://zoom.us/rec/webhook_download/" id "\",\"status\":\"" status  \
	"\",\"recording_type\":\"speaker_view\",\"recording_start\":\"" start                    \
	"\",\"recording_end\":\"" end "\",\"file_size\":10}"

static void test_selection(void)
{
	struct webhook_reply r;

	cfg_default();
	cfg.key_template = "{file_id}.{ext}";
	post(EV_HEAD FILE_("a", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T03:05:05Z")
	     "," FILE_("b", "MP4", "processing", "2026-01-02T03:04:05Z", "2026-01-02T03:05:05Z")
	     "," "{\"file_type\":\"MP4\",\"download_url\":\"https://zoom.us/x\"}"
	     "," "{\"id\":\"d\",\"file_type\":\"MP4\"}"
	     "," "{\"id\":\"e\",\"file_type\":\"MP4\",\"download_url\":\"https://zoom.us/e\"}"
	     "," FILE_("f", "M4A", "completed", "2026-01-02T03:04:05Z", "2026-01-02T03:05:05Z")
	     "," FILE_("g", "mp4", "COMPLETED", "2026-01-02T03:04:05Z", "2026-01-02T03:05:05Z")
	     "," FILE_("a", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T03:05:05Z")
	     "," "42" EV_TAIL,
	     &r);
	is_int(r.status, 200, "mixed files: 200");
	is_int(r.n_jobs, 3, "three files spooled");
	is_str(str(&r, 0, "recording_file_id"), "a", "a: completed MP4");
	is_str(str(&r, 1, "recording_file_id"), "e", "e: no status is fine");
	is_str(str(&r, 2, "recording_file_id"), "g", "g: file_type and status in any case");
	is_str(str(&r, 1, "s3_key"), "e.", "no file_extension: {ext} expands to nothing");
	ok(any_note(&r, "(id b): status \"processing\""), "note: b skipped for its status");
	ok(any_note(&r, "(id none): no id"), "note: entry without id");
	ok(any_note(&r, "(id d): no download_url"), "note: entry without download_url");
	ok(any_note(&r, "(id a): listed twice"), "note: a second entry with the same id");
	is_int(r.n_notes, 4, "exactly the faulty entries are noted");
	ok(strstr(r.note, "spooled 3 of 9") != NULL, "summary note");
	ok(!job_has(r.jobs[1], "recording_start") && !job_has(r.jobs[1], "file_size"),
	   "values the event lacks are absent");
	ok(!job_has(r.jobs[1], "recording_type") && !job_has(r.jobs[1], "file_extension"),
	   "absent, not empty");
	webhook_reply_free(&r);

	cfg.file_types[0] = "M4A";
	cfg.file_types[1] = "TRANSCRIPT";
	cfg.n_file_types = 2;
	post_sample("sample-4-zoom-blog-via-redwoodjs-sdk-readme.json", &r);
	is_int(r.n_jobs, 1, "M4A: one recording file, participant_audio_files ignored");
	is_str(str(&r, 0, "recording_file_id"), "23e2a1b0-b119-4262-a0e4-8eaeecad8b5f",
	       "the recording_files M4A");
	webhook_reply_free(&r);
	post_sample("sample-transcript_completed-ZoomNet-docs-example.json", &r);
	is_int(r.n_jobs, 1, "transcript_completed spools the TRANSCRIPT");
	is_str(str(&r, 0, "event"), "recording.transcript_completed", "event field");
	is_str(str(&r, 0, "s3_key"), "bd5b3ea6-7dd6-484d-9125-b297e0a2f80a.vtt", "ext lower-cased");
	webhook_reply_free(&r);
	cfg_default();
	post_sample("sample-transcript_completed-ZoomNet-docs-example.json", &r);
	ok(r.status == 200 && r.n_jobs == 0, "TRANSCRIPT not in file_types: 200, nothing");
	webhook_reply_free(&r);

	/* min_duration */
	cfg.min_duration = 60;
	cfg.key_template = "{file_id}";
	post(EV_HEAD FILE_("short", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T03:05:04Z")
	     "," FILE_("exact", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T03:05:05Z")
	     "," FILE_("nostart", "MP4", "completed", "", "2026-01-02T03:05:05Z")
	     "," FILE_("badend", "MP4", "completed", "2026-01-02T03:04:05Z", "soon")
	     "," FILE_("reversed", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T03:00:00Z")
	     "," FILE_("offset", "MP4", "completed", "2026-01-02T04:04:05.250+01:00",
		       "2026-01-02T03:05:05Z")
	     "," "{\"id\":\"notimes\",\"file_type\":\"MP4\",\"download_url\":\"https://zoom.us/n\"}"
	     EV_TAIL,
	     &r);
	is_int(r.n_jobs, 6, "only the 59 s file is skipped");
	is_str(str(&r, 0, "recording_file_id"), "exact", "60 s with min_duration 60 kept");
	is_str(str(&r, 1, "recording_file_id"), "nostart", "missing start: kept");
	is_str(str(&r, 2, "recording_file_id"), "badend", "unparseable end: kept");
	ok(str(&r, 1, "recording_start") == NULL, "empty time is absent from the job");
	ok(str(&r, 2, "recording_end") == NULL, "unparseable time is absent from the job");
	is_str(str(&r, 3, "recording_file_id"), "reversed", "end before start: kept");
	is_str(str(&r, 4, "recording_start"), "2026-01-02T03:04:05Z",
	       "offset and fraction normalised to UTC");
	is_str(str(&r, 5, "recording_file_id"), "notimes", "no times at all: kept");
	is_str(str(&r, 0, "meeting_uuid"), "/ab+c//d==", "uuid with / + = kept");
	is_int(num(&r, 0, "meeting_id"), 99999999999LL, "meeting id from a digit string");
	is_str(str(&r, 0, "start_time"), "2026-01-02T03:04:05Z", "start_time");
	is_str(str(&r, 0, "download_token"), "TOKEN-abc", "download_token");
	is_str(str(&r, 0, "account_id"), "acc", "account_id from the envelope");
	ok(!job_has(r.jobs[0], "host_email") && !job_has(r.jobs[0], "host_id"),
	   "host fields absent when the event lacks them");
	ok(strstr(r.note, "1 under min_duration") != NULL, "summary counts it");
	webhook_reply_free(&r);
	cfg_default();
}

/* ---- resource limits ------------------------------------------------------- */

/* An event listing n MP4 files with distinct ids (and one key for all, so the
 * collision rules run for each): malloc'd. */
static char *event_with_files(size_t n)
{
	size_t cap = sizeof EV_HEAD EV_TAIL + n * 96, used = 0;
	char *body = malloc(cap);

	if (!body)
		abort();
	used += (size_t)snprintf(body, cap, "%s", EV_HEAD);
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(body + used, cap - used,
					 "%s{\"id\":\"f%zu\",\"file_type\":\"MP4\","
					 "\"download_url\":\"https://zoom.us/x\"}",
					 i ? "," : "", i);
	snprintf(body + used, cap - used, "%s", EV_TAIL);
	return body;
}

static void test_file_limit(void)
{
	struct webhook_reply r;
	char *body;

	cfg_default();
	body = event_with_files(WEBHOOK_MAX_FILES);
	post(body, &r);
	is_int(r.status, 200, "an event with WEBHOOK_MAX_FILES files: 200");
	is_int((int)r.n_jobs, WEBHOOK_MAX_FILES, "... and every file spooled");
	webhook_reply_free(&r);
	free(body);

	body = event_with_files(WEBHOOK_MAX_FILES + 1);
	post(body, &r);
	is_int(r.status, 400, "one file more: 400");
	is_int((int)r.n_jobs, 0, "... and nothing to spool");
	ok(strstr(r.note, "over the limit of 1000") != NULL, "the note says why");
	webhook_reply_free(&r);
	free(body);
}

/* ---- a meeting of the recordings API, through the same selection ---------- */

/* The webhook path and webhook_select on the listing's copy of the same
 * payload.object give the same jobs, names and keys. */
static void test_select_listing(void)
{
	static const char files[] =
		FILE_("s1", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z")
		"," FILE_("s2", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z")
		"," FILE_("s3", "M4A", "completed", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z")
		"," FILE_("s4", "MP4", "processing", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z")
		"," FILE_("s5", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T03:04:15Z");
	static const char listing[] =
		"{\"next_page_token\":\"\",\"meetings\":[{\"uuid\":\"/ab+c//d==\","
		"\"id\":99999999999,\"account_id\":\"acc\",\"topic\":\"T\","
		"\"start_time\":\"2026-01-02T03:04:05Z\",\"recording_files\":[";
	struct webhook_reply hook, found;
	struct zevent *m = NULL;
	size_t n = 0;
	char *next = NULL, err[160], body[4096];

	cfg_default();
	cfg.key_template = "{topic}/{meeting_id}.{ext}";
	cfg.min_duration = 60;
	post(EV_HEAD FILE_("s1", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z")
	     "," FILE_("s2", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z")
	     "," FILE_("s3", "M4A", "completed", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z")
	     "," FILE_("s4", "MP4", "processing", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z")
	     "," FILE_("s5", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T03:04:15Z")
	     EV_TAIL, &hook);
	snprintf(body, sizeof body, "%s%s]}]}", listing, files);
	if (zoomjson_parse_recordings_page(body, strlen(body), &m, &n, &next, err, sizeof err) < 0 ||
	    n != 1)
		printf("Bail out! listing does not parse: %s\n", err);
	free(m[0].event);
	m[0].event = strdup("backfill");
	webhook_select(&cfg, &m[0], NOW + 5, &found);
	is_int(found.status, 200, "webhook_select on a listed meeting: 200");
	is_int(found.n_jobs, hook.n_jobs, "  ... as many jobs as the webhook gave");
	for (size_t i = 0; i < found.n_jobs && i < hook.n_jobs; i++) {
		const char *key = str(&found, i, "s3_key"), *want = str(&hook, i, "s3_key");

		ok(strcmp(str(&found, i, "recording_file_id"),
			  str(&hook, i, "recording_file_id")) == 0,
		   "  job %zu: the same file", i);
		ok(key && want && strcmp(key, want) == 0, "  job %zu: the same key (%s)", i,
		   want ? want : "none");
		ok(strcmp(str(&found, i, "event"), "backfill") == 0, "  job %zu: event backfill", i);
		ok(!job_has(found.jobs[i], "download_token"), "  job %zu: no download_token", i);
		ok(strcmp(str(&found, i, "received_at"), "2023-11-14T22:13:25Z") == 0,
		   "  job %zu: received_at is the time given", i);
	}
	is_str(str(&found, 1, "s3_key"), "T/99999999999-speaker_view.mp4",
	       "the collision rule ran on the listed meeting");
	is_int(found.n_short, 1, "the short file is counted");
	is_int(found.n_other_type, 1, "the M4A is counted as another file_type");
	is_int(found.n_skipped, 1, "one selected file skipped");
	ok(found.n_skipped == 1 && strcmp(found.skipped[0].file_id, "s4") == 0 &&
		   strcmp(found.skipped[0].reason, "status \"processing\"") == 0,
	   "  ... s4, for its status");
	ok(!found.topic_ignored && found.n_files == 5, "topic taken, five files seen");
	webhook_reply_free(&found);
	webhook_reply_free(&hook);

	cfg_regex("^nomatch$");
	webhook_select(&cfg, &m[0], NOW, &found);
	ok(found.status == 200 && found.topic_ignored && found.n_jobs == 0,
	   "a topic that does not match: nothing, and said so");
	webhook_reply_free(&found);
	zoomjson_free_meetings(m, n);
	free(next);
	cfg_default();
}

/* ---- keys ------------------------------------------------------------------ */

static void test_keys(void)
{
	struct webhook_reply r;
	char *big;
	size_t n;

	cfg_default();
	cfg.key_template = "k/{topic}.{ext}";
	cfg.file_types[1] = "M4A";
	cfg.n_file_types = 2;
	post(EV_HEAD FILE_("id1", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z")
	     "," "{\"id\":\"id2\",\"file_type\":\"MP4\",\"file_extension\":\"MP4\","
		 "\"download_url\":\"https://zoom.us/2\",\"recording_type\":\"gallery_view\"}"
	     "," FILE_("id3", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z")
	     "," FILE_("id4", "M4A", "completed", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z")
	     "," "{\"id\":\"id5\",\"file_type\":\"MP4\",\"file_extension\":\"MP4\","
		 "\"download_url\":\"https://zoom.us/5\"}"
	     "," "{\"id\":\"id6\",\"file_type\":\"MP4\",\"file_extension\":\"MP4\","
		 "\"download_url\":\"https://zoom.us/6\",\"recording_type\":\"gallery_view\"}"
	     EV_TAIL,
	     &r);
	is_int(r.n_jobs, 6, "six files");
	is_str(str(&r, 0, "s3_key"), "k/T.mp4", "first file: the template's key");
	is_str(str(&r, 1, "s3_key"), "k/T-gallery_view.mp4", "collision: -recording_type");
	is_str(str(&r, 2, "s3_key"), "k/T-speaker_view.mp4", "another type: its own suffix");
	is_str(str(&r, 3, "s3_key"), "k/T.m4a", "other extension: no collision");
	is_str(str(&r, 4, "s3_key"), "k/T-id5.mp4", "no recording_type: -file_id");
	is_str(str(&r, 5, "s3_key"), "k/T-gallery_view-id6.mp4",
	       "still colliding after -recording_type: -file_id too");
	webhook_reply_free(&r);

	/* Only spooled files count: a skipped M4A does not push a suffix. */
	cfg.n_file_types = 1;
	cfg.key_template = "k/{topic}";
	post(EV_HEAD FILE_("m", "M4A", "completed", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z")
	     "," FILE_("v", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z")
	     EV_TAIL, &r);
	is_str(str(&r, 0, "s3_key"), "k/T", "skipped files take no key");
	webhook_reply_free(&r);

	/* An over-long key is spooled anyway, for the spooler to fail loudly. */
	big = malloc(3000);
	if (!big)
		abort();
	strcpy(big, EV_HEAD "{\"id\":\"long\",\"file_type\":\"MP4\",\"download_url\":\"u\","
		    "\"recording_type\":\"");
	n = strlen(big);
	memset(big + n, 'x', 1100);
	strcpy(big + n + 1100, "\"}" EV_TAIL);
	cfg.key_template = "{recording_type}";
	post(big, &r);
	is_int(r.status, 200, "over-long key: 200");
	is_int(r.n_jobs, 1, "over-long key: spooled");
	ok(str(&r, 0, "s3_key") && strlen(str(&r, 0, "s3_key")) == 1100, "with its whole key");
	ok(any_note(&r, "over 1024"), "and a note");
	webhook_reply_free(&r);
	free(big);

	cfg.key_template = "{host_id}";
	post(EV_HEAD FILE_("e", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z")
	     EV_TAIL, &r);
	is_int(r.n_jobs, 1, "empty key: spooled anyway");
	is_str(str(&r, 0, "s3_key"), "", "with an empty s3_key");
	ok(any_note(&r, "empty"), "and a note");
	webhook_reply_free(&r);

	cfg.key_template = NULL;
	post(EV_HEAD FILE_("n", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z")
	     EV_TAIL, &r);
	is_str(str(&r, 0, "s3_key"), "T/2026-01-02_030405_speaker_view.mp4",
	       "no key_template: the contract's default");
	webhook_reply_free(&r);

	/* {1}..{9} from topic_regex; {meeting_id} from the numeric id. */
	cfg.key_template = "{2}/{1}/{meeting_id}/{uuid}";
	cfg_regex("^(T)(x)?$");
	post(EV_HEAD FILE_("g", "MP4", "completed", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z")
	     EV_TAIL, &r);
	is_str(str(&r, 0, "s3_key"), "T/99999999999/_ab+c__d==", "groups, meeting id, uuid");
	webhook_reply_free(&r);
	cfg_default();
}

int main(void)
{
	test_answers();
	test_signature();
	test_previous_secret();
	test_url_validation();
	test_seed();
	test_seed_config_file();
	test_selection();
	test_keys();
	test_select_listing();
	test_file_limit();
	is_int(secret_leaks, 0, "no answer, note or job ever holds the secret");
	cfg_default();
	return done_testing();
}
