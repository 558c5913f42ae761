#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "tap.h"

static struct job *parse(const char *text, char *err, size_t errlen)
{
	return job_parse(text, strlen(text), err, errlen);
}

static char *serialize(const struct job *job)
{
	size_t len = 0;
	char *text = job_serialize(job, &len);

	if (text && strlen(text) != len) {
		free(text);
		return NULL;
	}
	return text;
}

static void test_round_trip(void)
{
	static const char input[] =
		"{\"zeta\":1,\"recording_file_id\":\"abc-123\",\"meeting_id\":9007199254740993,"
		"\"unknown\":{\"nested\":[1,2,{\"x\":null}],\"b\":true},\"alpha\":\"A\","
		"\"url\":\"https://zoom.us/rec/download/x?y=1\",\"ratio\":1.50,"
		"\"text\":\"\\u00e9t\\u00e9 \\\"quoted\\\"\\n\",\"neg\":-9223372036854775807}";
	static const char expected[] =
		"{\n"
		"  \"zeta\":1,\n"
		"  \"recording_file_id\":\"abc-123\",\n"
		"  \"meeting_id\":9007199254740993,\n"
		"  \"unknown\":{\n"
		"    \"nested\":[\n"
		"      1,\n"
		"      2,\n"
		"      {\n"
		"        \"x\":null\n"
		"      }\n"
		"    ],\n"
		"    \"b\":true\n"
		"  },\n"
		"  \"alpha\":\"A\",\n"
		"  \"url\":\"https://zoom.us/rec/download/x?y=1\",\n"
		"  \"ratio\":1.50,\n"
		"  \"text\":\"\xc3\xa9t\xc3\xa9 \\\"quoted\\\"\\n\",\n"
		"  \"neg\":-9223372036854775807\n"
		"}\n";
	char err[256] = "";
	struct job *a = parse(input, err, sizeof err), *b = NULL;
	char *first = NULL, *second = NULL;
	int64_t v = 0;

	ok(a != NULL, "a job object parses (%s)", err);
	if (!a)
		return;
	first = serialize(a);
	is_str(first, expected, "serialized: insertion order, unknown fields, 2 spaces, no \\/, newline");
	b = first ? parse(first, err, sizeof err) : NULL;
	second = b ? serialize(b) : NULL;
	is_str(second, first, "parse -> serialize -> parse -> serialize is exact");
	ok(job_get_int(b, "meeting_id", &v) == 0 && v == INT64_C(9007199254740993),
	   "2^53+1 survives exactly");
	ok(job_get_int(b, "neg", &v) == 0 && v == -INT64_C(9223372036854775807), "negative int64");
	ok(job_get_int(b, "ratio", &v) == -1, "a double is not an integer");
	ok(job_get_int(b, "alpha", &v) == -1, "a string is not an integer");
	ok(job_get_int(b, "absent", &v) == -1, "absent is not an integer");
	is_str(job_get_str(b, "url"), "https://zoom.us/rec/download/x?y=1", "string field");
	ok(job_get_str(b, "zeta") == NULL, "an integer is not a string");
	ok(strstr(first, "\\/") == NULL, "no escaped slash anywhere");
	free(first);
	free(second);
	job_free(a);
	job_free(b);
}

static void test_setters(void)
{
	struct job *job = job_new();
	char *text;
	char err[256] = "";
	struct job *back;
	int64_t v = 0;

	job_set_str(job, "a", "1");
	job_set_int(job, "meeting_id", INT64_C(89012345678));
	job_set_str(job, "path", "courses/uploads/x/y.mp4");
	job_set_str(job, "a", "replaced");
	job_set_int(job, "big", INT64_MAX);
	job_set_int(job, "attempts", 0);
	job_set_int(job, "attempts", 3);
	text = serialize(job);
	is_str(text,
	       "{\n  \"a\":\"replaced\",\n  \"meeting_id\":89012345678,\n"
	       "  \"path\":\"courses/uploads/x/y.mp4\",\n  \"big\":9223372036854775807,\n"
	       "  \"attempts\":3\n}\n",
	       "a set field keeps its place, a new one goes last");
	back = text ? parse(text, err, sizeof err) : NULL;
	ok(back && job_get_int(back, "big", &v) == 0 && v == INT64_MAX, "INT64_MAX round trips");
	ok(job_has(job, "path"), "job_has sees a field");
	job_remove(job, "path");
	ok(!job_has(job, "path"), "job_remove removes it");
	ok(!job_has(job, "nothing"), "job_has: absent");
	job_remove(job, "nothing"); /* harmless */
	free(text);
	job_free(back);
	job_free(job);
}

static void test_refusals(void)
{
	static const char *const bad[] = {
		"",
		"   ",
		"[1,2]",
		"\"text\"",
		"42",
		"null",
		"{\"a\":1",
		"{\"a\":1} {\"b\":2}",
		"{\"a\":1} x",
		"nonsense",
		"{\"a\":NaN}",
		"{\"a\":[{\"b\":-Infinity}]}",
		"{\"a\":1e999}",
	};
	char err[256], deep[200], *text;
	struct job *job;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		job = parse(bad[i], err, sizeof err);
		ok(job == NULL && strncmp(err, "not a job", 9) == 0, "refused: '%s' (%s)", bad[i],
		   err);
		job_free(job);
	}
	job = job_parse("{\"a\":1}\0{}", 10, err, sizeof err);
	ok(job == NULL, "refused: NUL byte inside");
	job_free(job);
	job = parse("{\"a\":1}\n", err, sizeof err);
	ok(job != NULL, "trailing white space is fine");
	job_free(job);

	/* json-c reads "1." and would write it back so; jq could not read that */
	job = parse("{\"a\":1.,\"b\":[2.],\"c\":1.50}", err, sizeof err);
	text = job ? serialize(job) : NULL;
	is_str(text, "{\n  \"a\":1.0,\n  \"b\":[\n    2.0\n  ],\n  \"c\":1.50\n}\n",
	       "a number text that is not JSON is written as JSON");
	free(text);
	job_free(job);

	/* 40 levels: beyond the depth of 32 */
	for (i = 0; i < 40; i++)
		deep[i] = i == 0 ? '{' : '[';
	deep[i] = '\0';
	memmove(deep + 5, deep + 1, 40);
	memcpy(deep, "{\"a\":", 5);
	for (i = strlen(deep); i < 84; i++)
		deep[i] = ']';
	deep[i - 1] = '}';
	deep[i] = '\0';
	err[0] = '\0';
	job = parse(deep, err, sizeof err);
	ok(job == NULL && strstr(err, "nested too deeply"), "deep nesting refused (%s)", err);
	job_free(job);

	/* 20 levels is fine */
	strcpy(deep, "{\"a\":");
	for (i = 0; i < 19; i++)
		strcat(deep, "[");
	for (i = 0; i < 19; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	job = parse(deep, err, sizeof err);
	ok(job != NULL, "20 levels of nesting are accepted");
	job_free(job);
}

static void test_times(void)
{
	static const struct {
		const char *text;
		long long want;
	} good[] = {
		{ "2026-11-26T20:06:21Z", 1795723581LL },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "1969-12-31T23:59:59Z", -1 },
		{ "2026-11-26T20:06:21.123456Z", 1795723581LL },
		{ "2026-11-26T21:06:21+01:00", 1795723581LL },
		{ "2026-11-26T15:36:21-04:30", 1795723581LL },
		{ "2026-11-26t20:06:21z", 1795723581LL },
		{ "2024-02-29T00:00:00Z", 1709164800LL },
		{ "2000-02-29T12:00:00.5+00:00", 951825600LL },
	};
	static const char *const bad[] = {
		"",
		"2026-11-26",
		"2026-11-26T20:06:21",
		"2026-11-26 20:06:21Z",
		"2026-13-01T00:00:00Z",
		"2026-00-01T00:00:00Z",
		"2026-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z",
		"2026-11-26T24:00:00Z",
		"2026-11-26T20:60:00Z",
		"2026-11-26T20:06:61Z",
		"2026-11-26T20:06:21.Z",
		"2026-11-26T20:06:21+0100",
		"2026-11-26T20:06:21+24:00",
		"2026-11-26T20:06:21Zjunk",
		"2026-1-26T20:06:21Z",
		"+026-11-26T20:06:21Z",
		"2026-11-26T20:06:2aZ",
		"yesterday",
	};
	struct job *job = job_new();
	char buf[32];
	time_t t = 0;
	size_t i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		int rc;

		t = 12345;
		rc = job_parse_time(good[i].text, &t);
		ok(rc == 0 && (long long)t == good[i].want, "time parses: %s -> %lld (got %lld)",
		   good[i].text, good[i].want, (long long)t);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(job_parse_time(bad[i], &t) == -1, "time refused: '%s'", bad[i]);

	ok(job_format_time(1795723581, buf, sizeof buf) == 0, "format time");
	is_str(buf, "2026-11-26T20:06:21Z", "formatted RFC 3339 UTC");
	ok(job_format_time(1795723581, buf, 20) == -1, "format: too small a buffer is refused");

	job_set_time(job, "next_attempt_at", 1795723581);
	is_str(job_get_str(job, "next_attempt_at"), "2026-11-26T20:06:21Z", "job_set_time text");
	ok(job_get_time(job, "next_attempt_at", &t) == 0 && t == 1795723581, "job_get_time");
	job_set_str(job, "bad", "tomorrow");
	ok(job_get_time(job, "bad", &t) == -1, "job_get_time: malformed");
	job_set_int(job, "num", 5);
	ok(job_get_time(job, "num", &t) == -1, "job_get_time: not a string");
	ok(job_get_time(job, "none", &t) == -1, "job_get_time: absent");
	job_free(job);
}

static void test_parts(void)
{
	struct job *job = job_new();
	const char *etag = NULL;
	int number = 0;
	int64_t size = 0;
	char err[256], *text;
	struct job *back;

	job_set_str(job, "upload_id", "u/1");
	ok(job_parts_count(job) == 0, "no parts at first");
	ok(job_part_get(job, 0, &number, &etag, &size) == -1, "part 0 absent");
	job_part_add(job, 1, "e1", INT64_C(16777216));
	job_part_add(job, 2, "e2", INT64_C(5368709120));
	is_int(job_parts_count(job), 2, "two parts");
	text = serialize(job);
	is_str(text,
	       "{\n  \"upload_id\":\"u/1\",\n  \"parts\":[\n    {\n      \"part\":1,\n"
	       "      \"etag\":\"e1\",\n      \"size\":16777216\n    },\n    {\n"
	       "      \"part\":2,\n      \"etag\":\"e2\",\n      \"size\":5368709120\n    }\n"
	       "  ]\n}\n",
	       "parts serialize as an array of {part, etag, size}");
	back = text ? parse(text, err, sizeof err) : NULL;
	ok(back && job_part_get(back, 1, &number, &etag, &size) == 0 && number == 2 &&
		   strcmp(etag, "e2") == 0 && size == INT64_C(5368709120),
	   "second part read back after a round trip");
	ok(job_part_get(back, 2, &number, &etag, &size) == -1, "out of range");
	job_parts_clear(job);
	ok(job_parts_count(job) == 0 && !job_has(job, "parts"), "parts cleared");
	job_free(back);
	free(text);

	back = parse("{\"parts\":[{\"part\":1,\"etag\":5,\"size\":1},{\"part\":\"2\",\"etag\":\"x\","
		     "\"size\":1},{\"part\":3,\"etag\":\"x\",\"size\":-1},7]}",
		     err, sizeof err);
	ok(back && job_parts_count(back) == 4, "malformed parts are counted");
	for (size_t i = 0; back && i < 4; i++)
		ok(job_part_get(back, i, &number, &etag, &size) == -1, "malformed part %zu refused", i);
	job_free(back);
	back = parse("{\"parts\":\"none\"}", err, sizeof err);
	ok(back && job_parts_count(back) == 0, "parts that is not an array counts 0");
	job_part_add(back, 1, "e", 1);
	ok(job_parts_count(back) == 1, "adding replaces a non-array parts");
	job_free(back);
	job_free(job);
}

int main(void)
{
	test_round_trip();
	test_setters();
	test_refusals();
	test_times();
	test_parts();
	return done_testing();
}
