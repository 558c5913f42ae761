/* jobview.c: rows, ages, sizes, shortening, JSON, masking, durations. */
#include <stdlib.h>
#include <string.h>

#include "jobview.h"
#include "log.h"
#include "tap.h"

static struct job *job_from(const char *text)
{
	char err[256];
	struct job *job = job_parse(text, strlen(text), err, sizeof err);

	if (!job) {
		printf("Bail out! cannot parse %s: %s\n", text, err);
		exit(1);
	}
	return job;
}

static void test_age_size(void)
{
	char b[64];

	is_str(jobview_age(45, b, sizeof b), "45s", "45 s");
	is_str(jobview_age(-5, b, sizeof b), "0s", "a negative age is 0s");
	is_str(jobview_age(12 * 60 + 59, b, sizeof b), "12m", "minutes");
	is_str(jobview_age(2 * 3600 + 5 * 60, b, sizeof b), "2h 05m", "hours and minutes");
	is_str(jobview_age(3 * 86400 + 4 * 3600 + 59, b, sizeof b), "3d 04h", "days and hours");
	is_str(jobview_size(-1, b, sizeof b), "-", "unknown size");
	is_str(jobview_size(512, b, sizeof b), "512 B", "bytes");
	is_str(jobview_size(12 * 1048576 + 345678, b, sizeof b), "12.3 MiB", "MiB");
	is_str(jobview_size(1536LL * 1048576, b, sizeof b), "1.50 GiB", "GiB with 2 decimals");
}

static void test_shorten(void)
{
	char b[64];

	is_str(jobview_shorten("short", 10, b, sizeof b), "short", "short text kept");
	is_str(jobview_shorten("abcdefghijkl", 10, b, sizeof b), "abcdefg...", "cut to 10 with ...");
	is_str(jobview_shorten("a\nb\tc", 10, b, sizeof b), "a?b?c", "control characters become ?");
	/* 12 two-byte characters: never cut inside one */
	is_str(jobview_shorten("ééééééééé", 5, b, sizeof b), "éé...", "UTF-8 kept whole");
	is_str(jobview_shorten("abc", 10, b, 3), "ab", "small buffer: truncated safely");
}

static void test_rows(void)
{
	struct spool_entry e = { .name = "abc.json", .mtime = 1000 };
	struct jobview_row row;
	struct job *job = job_from("{\"recording_file_id\":\"abc\",\"topic\":\"Algebra\","
				   "\"file_type\":\"MP4\",\"file_size\":12345678,\"attempts\":3,"
				   "\"received_at\":\"2026-11-20T10:00:00Z\","
				   "\"failed_at\":\"2026-11-21T10:00:00Z\",\"s3_key\":\"a/b.mp4\","
				   "\"last_error\":\"Zoom answered 404 Not Found for the download's "
				   "redirect to cdn.example.com\"}");
	char line[2048], json[4096];
	time_t failed_at, received_at;

	job_parse_time("2026-11-21T10:00:00Z", &failed_at);
	job_parse_time("2026-11-20T10:00:00Z", &received_at);
	is_int(jobview_since(job, SPOOL_FAILED, 5), failed_at, "failed/: age from failed_at");
	is_int(jobview_since(job, SPOOL_NEW, 5), received_at, "new/: age from received_at");
	is_int(jobview_since(job, SPOOL_DONE, 5), 5, "done/ without completed_at: the mtime");
	is_int(jobview_since(NULL, SPOOL_NEW, 7), 7, "unparsable: the mtime");
	job_set_str(job, "requeued_at", "2026-11-25T10:00:00Z");
	ok(jobview_since(job, SPOOL_NEW, 5) > received_at, "new/: a later requeued_at wins");

	jobview_row_fill(&row, SPOOL_FAILED, &e, job);
	is_str(row.topic, "Algebra", "topic");
	is_int(row.file_size, 12345678, "file_size");
	is_int(row.attempts, 3, "attempts");
	ok(row.running != SPOOL_RUNNING && row.running != SPOOL_ABANDONED, "running unknown until probed");
	ok(jobview_line(&row, failed_at + 90061, line, sizeof line) == 0, "a list line");
	ok(strstr(line, "failed") == line && strstr(line, "abc.json") && strstr(line, "Algebra") &&
		   strstr(line, "11.8 MiB") && strstr(line, "1d 01h") && strstr(line, "a/b.mp4"),
	   "the line has state, name, topic, size, age and key: %s", line);
	ok(strstr(line, "(Zoom answered 404 Not Found for the download's redirect t...)") != NULL,
	   "the last error is shortened to %d characters", JOBVIEW_ERROR_SHORT);
	ok(jobview_json(&row, failed_at + 10, json, sizeof json) == 0, "a JSON object");
	ok(strstr(json, "\"age_seconds\":10") && strstr(json, "\"attempts\":3") &&
		   strstr(json, "\"last_error\":\"Zoom answered 404 Not Found for the download's "
				"redirect to cdn.example.com\"") &&
		   strstr(json, "\"since\":\"2026-11-21T10:00:00Z\"") &&
		   strstr(json, "\"next_attempt_at\":null") && strstr(json, "\"running\":null"),
	   "JSON has the numbers, the whole error and the times: %s", json);
	ok(jobview_json(&row, 0, json, 64) == -1, "JSON into a small buffer fails cleanly");
	job_free(job);

	jobview_row_fill(&row, SPOOL_DONE, &e, NULL);
	ok(row.unparsable && row.since == 1000, "an unparsable file: a row with its mtime");
	ok(jobview_line(&row, 2000, line, sizeof line) == 0 && strstr(line, "does not parse"),
	   "its line says so");
}

static void test_json_string(void)
{
	char b[64];

	ok(jobview_json_string("a\"b\\c\n\x01é", b, sizeof b) == 0 &&
		   strcmp(b, "\"a\\\"b\\\\c\\u000a\\u0001é\"") == 0,
	   "quotes, backslashes and control characters escaped, UTF-8 kept: %s", b);
	ok(jobview_json_string("abcdef", b, 5) == -1, "too small: -1");
}

static void test_masked(void)
{
	struct job *job = job_from(
		"{\"recording_file_id\":\"abc\",\"download_token\":\"tokSECRETtok\","
		"\"download_url\":\"https://zoom.us/rec/download/x?access_token=QUERYSECRET\","
		"\"Custom_Password\":\"pw-SECRET\",\"my_secret\":\"s-SECRET\",\"topic\":\"token talk\","
		"\"note\":\"the config's secret is confSECRETvalue\",\"attempts\":2}");
	char *text;

	log_add_secret("confSECRETvalue");
	text = jobview_masked(job);
	ok(text != NULL, "masked text");
	if (!text)
		text = strdup("");
	ok(!strstr(text, "SECRET"), "no token, secret, password or query string is shown");
	ok(strstr(text, "\"download_token\":\"***\"") || strstr(text, "\"download_token\": \"***\""),
	   "download_token masked");
	ok(strstr(text, "https://zoom.us/rec/download/x?[redacted]") != NULL,
	   "the URL keeps its path, loses its query");
	ok(strstr(text, "token talk") != NULL, "a value that merely says token is kept");
	ok(strstr(text, "\"attempts\":2") != NULL, "other members unchanged");
	ok(text[0] == '{' && strchr(text, '\n'), "still pretty-printed JSON");
	free(text);
	job_free(job);
	log_forget_secrets();
}

static void test_duration(void)
{
	long s = -1;

	ok(jobview_parse_duration("90", &s) == 0 && s == 90, "plain seconds");
	ok(jobview_parse_duration("90s", &s) == 0 && s == 90, "s");
	ok(jobview_parse_duration("15m", &s) == 0 && s == 900, "m");
	ok(jobview_parse_duration("6h", &s) == 0 && s == 21600, "h");
	ok(jobview_parse_duration("2d", &s) == 0 && s == 172800, "d");
	ok(jobview_parse_duration("-1h", &s) == -1 && jobview_parse_duration("1w", &s) == -1 &&
		   jobview_parse_duration("", &s) == -1 && jobview_parse_duration("h", &s) == -1 &&
		   jobview_parse_duration("99999999999999d", &s) == -1,
	   "bad durations refused");
}

int main(void)
{
	log_init("test_jobview", LOG_DEST_STDERR, false);
	test_age_size();
	test_shorten();
	test_rows();
	test_json_string();
	test_masked();
	test_duration();
	return done_testing();
}
