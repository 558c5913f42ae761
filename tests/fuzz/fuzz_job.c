/* libFuzzer target: job files as they may be found in the spool (written by
 * us, or edited by hand). Whatever job_parse accepts must serialize to
 * standard JSON (jq reads job files), read back, and settle: a second
 * read-write cycle changes nothing. The accessors must cope with anything. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void poke(struct job *job)
{
	static const char *const fields[] = {
		"recording_file_id", "meeting_uuid", "meeting_id", "file_size", "s3_key",
		"received_at", "next_attempt_at", "attempts", "download_url", "upload_id",
		"parts", "bytes", "failed_at", "completed_at",
	};
	int64_t n;
	time_t t;
	int number;
	const char *etag;

	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		(void)job_has(job, fields[i]);
		(void)job_get_str(job, fields[i]);
		(void)job_get_int(job, fields[i], &n);
		(void)job_get_time(job, fields[i], &t);
	}
	for (size_t i = 0; i < job_parts_count(job) + 1; i++)
		(void)job_part_get(job, i, &number, &etag, &n);
}

/* Standard JSON, as far as json-c's strict mode knows it. */
static void check_strict(const char *text, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj;

	if (!tok)
		return;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success)
		abort(); /* a job file jq could not read */
	json_object_put(obj);
	json_tokener_free(tok);
}

/* job written (strict JSON, or abort) and read back (or abort): the text in
 * *text for the caller to free, the job read back returned. */
static struct job *round_trip(const struct job *job, char **text, size_t *len)
{
	char err[256];
	struct job *back;

	*text = job_serialize(job, len);
	if (!*text)
		abort();
	check_strict(*text, *len);
	back = job_parse(*text, *len, err, sizeof err);
	if (!back)
		abort(); /* we could not read our own job file */
	return back;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct job *job = job_parse((const char *)data, size, err, sizeof err);
	struct job *back = NULL, *edited = NULL, *settled = NULL;
	char *text = NULL, *again = NULL, *third = NULL, *fourth = NULL;
	size_t len, len2, len3, len4;

	if (!job)
		return 0;
	poke(job);
	back = round_trip(job, &text, &len);
	settled = round_trip(back, &again, &len2);
	fourth = job_serialize(settled, &len4);
	if (!fourth || len4 != len2 || memcmp(again, fourth, len2) != 0)
		abort(); /* read-write cycles must settle */

	/* What the spooler does to a job must keep it readable. */
	job_set_int(back, "attempts", 3);
	job_set_time(back, "next_attempt_at", 1700000000);
	job_set_str(back, "last_error", "fuzz \"quoted\" /slash\n");
	job_part_add(back, 1, "\"etag\"", 5 * 1024 * 1024);
	job_remove(back, "download_token");
	edited = round_trip(back, &third, &len3);
	poke(edited);
	job_parts_clear(edited);

	job_free(edited);
	job_free(settled);
	free(fourth);
	free(third);
	free(again);
	job_free(back);
	free(text);
	job_free(job);
	return 0;
}
