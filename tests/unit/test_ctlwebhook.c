/* ctlwebhook.c's pure parts: the signature, the validation body and its
 * answer's check, and an event that the config ignores. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctlwebhook.h"
#include "job.h"
#include "log.h"
#include "tap.h"
#include "webhook.h"

static int load(const char *text, struct config *cfg)
{
	char err[512];
	int rc = config_parse("test.conf", text, strlen(text), CONFIG_RESPONDER, cfg, err,
			      sizeof err);

	if (rc != 0)
		printf("# %s\n", err);
	return rc;
}

/* What our own responder's logic says to the event: status and jobs. */
static void handled(const struct config *cfg, const char *body, int *status, size_t *jobs)
{
	char sig[CTLWEBHOOK_SIG_LEN + 1], ts[32];
	struct webhook_reply reply;
	time_t now = time(NULL);
	struct webhook_request req = { .method = "POST", .signature = sig, .timestamp = ts,
				       .body = body, .body_len = strlen(body), .now = now };

	snprintf(ts, sizeof ts, "%lld", (long long)now);
	ctlwebhook_sign(cfg->webhook_secret_token, ts, body, strlen(body), sig);
	memset(&reply, 0, sizeof reply);
	webhook_handle(cfg, &req, &reply);
	*status = reply.status;
	*jobs = reply.n_jobs;
	webhook_reply_free(&reply);
}

static void test_sign(void)
{
	char sig[CTLWEBHOOK_SIG_LEN + 1];

	ctlwebhook_sign("secret123", "1700000000", "{\"a\":1}", 7, sig);
	is_str(sig, "v0=abf91f9867b542fe01247e0c45a4f2efa3e009f9917243adb34a2dde80dff570",
	       "v0= + hex HMAC-SHA256(secret, v0:ts:body) (Python's hmac agrees)");
}

static void test_validation(void)
{
	char body[256];
	const char *good = "{\"plainToken\":\"plainXYZ\",\"encryptedToken\":"
			   "\"87d8ad3f72b470c54273956330498895cebe8789f7e0bc926fb8e744eccf7328\"}";
	const char *spaced = "{ \"encryptedToken\" : "
			     "\"87D8AD3F72B470C54273956330498895CEBE8789F7E0BC926FB8E744ECCF7328\", "
			     "\"plainToken\" : \"plainXYZ\" }";

	ok(ctlwebhook_validation_body("plainXYZ", 1700000000, body, sizeof body) == 0 &&
		   strstr(body, "\"event\":\"endpoint.url_validation\"") &&
		   strstr(body, "\"plainToken\":\"plainXYZ\""),
	   "the validation body: %s", body);
	ok(ctlwebhook_validation_body("plainXYZ", 1, body, 20) == -1, "too small: -1");
	ok(ctlwebhook_validation_ok(good, "secret123", "plainXYZ"), "the right answer is accepted");
	ok(ctlwebhook_validation_ok(spaced, "secret123", "plainXYZ"),
	   "blanks, member order and hex case do not matter");
	ok(!ctlwebhook_validation_ok(good, "other-secret", "plainXYZ"), "another secret: refused");
	ok(!ctlwebhook_validation_ok(good, "secret123", "plainABC"), "another plainToken: refused");
	ok(!ctlwebhook_validation_ok("{}", "secret123", "plainXYZ") &&
		   !ctlwebhook_validation_ok("<html>", "secret123", "plainXYZ"),
	   "no tokens: refused");
}

static void test_ignored(void)
{
	static const char *const configs[] = {
		"spool_dir = /s\nwebhook_secret_token = s3cretToken\n",
		"spool_dir = /s\nwebhook_secret_token = s3cretToken\ntopic_regex = \\[([A-Za-z0-9_]+)\\]\n",
		("spool_dir = /s\nwebhook_secret_token = s3cretToken\ntopic_regex = .*\n"
		 "file_types = MP4, M4A, TRANSCRIPT, CHAT, CC, TIMELINE, ZOOM2S3CTL_TEST\n"),
		"spool_dir = /s\nwebhook_secret_token = s3cretToken\ntopic_regex = ^zoom2s3ctl\n",
	};
	struct config cfg;
	const char *note;
	int status;
	size_t jobs;

	for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
		char *body;

		if (!ok(load(configs[i], &cfg) == 0, "config %zu loads", i + 1))
			continue;
		note = NULL;
		body = ctlwebhook_ignored_event(&cfg, time(NULL), &note);
		ok(body && note, "config %zu: an event is made (%s)", i + 1, note ? note : "-");
		if (body) {
			handled(&cfg, body, &status, &jobs);
			ok(status == 200 && jobs == 0,
			   "config %zu: webhook.c answers 200 and spools nothing (got %d, %zu jobs)",
			   i + 1, status, jobs);
			ok(strstr(body, CTLWEBHOOK_FILE_ID) != NULL, "it names our test file id");
		}
		if (i == 1)
			ok(note && strstr(note, "topic"), "with a topic_regex it is the topic");
		free(body);
		config_free(&cfg);
	}
	ok(load("spool_dir = /s\nwebhook_secret_token = s3cretToken\n"
		"file_types = ZOOM2S3CTL_TEST, ZOOM2S3CTL_TEST_2\n", &cfg) == 0, "a contrived config");
	note = NULL;
	ok(ctlwebhook_ignored_event(&cfg, time(NULL), &note) == NULL,
	   "file_types listing both made-up types: no event (nothing safe to send)");
	config_free(&cfg);
}

int main(void)
{
	log_init("test_ctlwebhook", LOG_DEST_STDERR, false);
	test_sign();
	test_validation();
	test_ignored();
	return done_testing();
}
