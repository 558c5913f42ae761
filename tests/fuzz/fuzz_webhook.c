/* libFuzzer target: the responder's request logic, end to end but for I/O.
 * Input: one flag byte, then the body. The body is signed with the test
 * secret (unless the flags corrupt the signature), so the fuzzer gets past
 * the signature into the JSON, event, topic, file and key logic.
 * Flags: 1 corrupt the signature, 2 the seed's config (topic_regex,
 * min_duration 120, its key_template), 4 every file type, 8 a template
 * with every placeholder. */
#include <regex.h>
#include <stdbool.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "job.h"
#include "webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-secret-token-0123456789"
#define NOW ((time_t)1700000000)

static char *all_types[] = { "MP4", "M4A", "TRANSCRIPT", "CHAT", "CC", "TIMELINE", "CSV",
			     "SUMMARY" };

static void setup(struct config *cfg, unsigned flags, regex_t *seed_re)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->webhook_secret_token = SECRET;
	cfg->webhook_max_skew = 300;
	cfg->max_body_bytes = 1024 * 1024;
	cfg->file_types[0] = all_types[0];
	cfg->n_file_types = 1;
	cfg->key_template = "{topic}/{recording_start:%Y-%m-%d_%H%M%S}_{recording_type}.{ext}";
	if (flags & 2) {
		cfg->topic_regex = "\\[([A-Za-z0-9_]+)\\]";
		cfg->topic_re = *seed_re;
		cfg->min_duration = 120;
		cfg->key_template =
			"courses/uploads/{1}/GMT{recording_start:%Y%m%d_%H%M%S}_Recording.{ext}";
	}
	if (flags & 4) {
		for (size_t i = 0; i < sizeof all_types / sizeof all_types[0]; i++)
			cfg->file_types[i] = all_types[i];
		cfg->n_file_types = sizeof all_types / sizeof all_types[0];
	}
	if (flags & 8)
		cfg->key_template = "/{topic}/{1}{2}/{meeting_id}/{uuid}/{host_id}/{host_email}/"
				    "{account_id}/{file_id}.{file_type}.{recording_type}.{ext}/"
				    "{start_time:%Y/%m}/{recording_start:%H:%M:%S}/"
				    "{recording_end:%s}/..";
}

/* echoes: the body itself holds the secret's text, so a value copied from
 * the event may too; only the other checks apply then. */
static void check_reply(const struct webhook_reply *r, unsigned flags, bool echoes)
{
	const char *secret = echoes ? "\x01never\x02" : SECRET;

	if (r->status != 200 && r->status != 400 && r->status != 401 && r->status != 503)
		abort();
	if ((flags & 1) && r->status != 401)
		abort(); /* a bad signature must never get further */
	if (r->n_jobs && r->status != 200)
		abort();
	if (r->body && (r->status != 200 || strstr(r->body, secret)))
		abort();
	if (strstr(r->note, secret))
		abort();
	for (size_t i = 0; i < r->n_notes; i++)
		if (strstr(r->notes[i], secret))
			abort();
	for (size_t i = 0; i < r->n_jobs; i++) {
		size_t len;
		char err[256], *text = job_serialize(r->jobs[i], &len);
		struct job *back;

		if (!text || strstr(text, secret))
			abort();
		back = job_parse(text, len, err, sizeof err);
		if (!back || !job_get_str(back, "s3_key") || !job_get_str(back, "download_url") ||
		    !job_get_str(back, "recording_file_id"))
			abort(); /* every spooled job must read back whole */
		job_free(back);
		free(text);
	}
}

/* Whether the body carries the secret's text in a form the key template
 * can rebuild: it drops control characters and lower-cases {ext}, so
 * "FUZZ-S\x0fECRET..." in a file_extension comes out as the secret. The
 * sender wrote it (and signed it), so it is an echo, not a leak. */
static bool body_echoes_secret(const uint8_t *data, size_t size)
{
	char *plain = malloc(size + 1);
	size_t n = 0;
	bool found;

	if (!plain)
		return true;
	for (size_t i = 0; i < size; i++)
		if (data[i] >= 0x20 && data[i] != 0x7f)
			plain[n++] = (char)tolower(data[i]);
	found = memmem(plain, n, SECRET, strlen(SECRET)) != NULL;
	free(plain);
	return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static regex_t seed_re;
	static int compiled;
	struct config cfg;
	struct webhook_request req;
	struct webhook_reply reply;
	char sig[3 + SHA256_HEX_LEN + 1], ts[] = "1700000000";
	unsigned char mac[SHA256_LEN];
	unsigned flags;
	char *msg;

	if (size < 1)
		return 0;
	if (!compiled) {
		if (regcomp(&seed_re, "\\[([A-Za-z0-9_]+)\\]", REG_EXTENDED) != 0)
			abort();
		compiled = 1;
	}
	flags = data[0];
	data++;
	size--;
	setup(&cfg, flags, &seed_re);

	msg = malloc(sizeof ts + 3 + size);
	if (!msg)
		return 0;
	memcpy(msg, "v0:", 3);
	memcpy(msg + 3, ts, sizeof ts - 1);
	msg[3 + sizeof ts - 1] = ':';
	if (size)
		memcpy(msg + 3 + sizeof ts, data, size);
	crypto_hmac_sha256(SECRET, strlen(SECRET), msg, 3 + sizeof ts + size, mac);
	memcpy(sig, "v0=", 3);
	crypto_hex(mac, sizeof mac, sig + 3);
	if (flags & 1)
		sig[3 + (size % SHA256_HEX_LEN)] ^= 1;
	free(msg);

	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.signature = sig;
	req.timestamp = ts;
	req.body = (const char *)data;
	req.body_len = size;
	req.now = NOW + (time_t)(flags >> 4) * 20; /* up to 300 s of skew: still good */
	webhook_handle(&cfg, &req, &reply);
	check_reply(&reply, flags, body_echoes_secret(data, size));
	webhook_reply_free(&reply);
	return 0;
}
