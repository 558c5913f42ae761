#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonget.h"
#include "tap.h"
#include "zoomjson.h"

static char err[256];

/* tests/data/zoom/NAME under $top_srcdir, malloc'd; aborts when missing
 * (the data is part of the tree, so a missing file is a broken build). */
static char *sample(const char *name, size_t *len)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	FILE *f;
	char *buf;
	long size;

	snprintf(path, sizeof path, "%s/tests/data/zoom/%s", top ? top : ".", name);
	f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		printf("Bail out! cannot read %s (set top_srcdir)\n", path);
		exit(1);
	}
	buf = malloc((size_t)size + 1);
	if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size)
		exit(1);
	buf[size] = '\0';
	fclose(f);
	*len = (size_t)size;
	return buf;
}

static int parse_sample(const char *name, struct zevent *ev)
{
	size_t len;
	char *body = sample(name, &len);
	int rc = zoomjson_parse_event(body, len, ev, err, sizeof err);

	free(body);
	return rc;
}

static int parse_text(const char *text, struct zevent *ev)
{
	err[0] = '\0';
	return zoomjson_parse_event(text, strlen(text), ev, err, sizeof err);
}

static void test_real_samples(void)
{
	struct zevent ev;

	is_int(parse_sample("sample-1-serverless-zoom-recordings.json", &ev), 0, "sample 1 parses");
	is_str(ev.event, "recording.completed", "s1 event");
	ok(ev.has_meeting_id && ev.meeting_id == 7816381929LL, "s1 meeting id above 2^32");
	is_str(ev.uuid, "CnIDrQSsRdi9bWp3jyJsZQ==", "s1 uuid");
	is_str(ev.topic, "OLF Tech Coordinator's Personal Meeting Room", "s1 topic");
	is_str(ev.host_email, "olf_tech_coordinator@openlibraryfoundation.org", "s1 host_email");
	is_str(ev.start_time, "2022-01-23T15:31:56Z", "s1 start_time");
	ok(ev.download_token && strncmp(ev.download_token, "eyJhbGciOiJIUzUxMiJ9.", 21) == 0,
	   "s1 download_token from the top level");
	ok(ev.has_object && ev.files_is_array, "s1 object and files");
	is_int(ev.n_files, 2, "s1 two files");
	is_str(ev.files[1].id, "5b1af583-bdd4-4bde-9cee-f53954302cbe", "s1 file id");
	is_str(ev.files[1].file_type, "MP4", "s1 file_type");
	is_str(ev.files[1].file_extension, "MP4", "s1 file_extension");
	is_str(ev.files[1].recording_type, "shared_screen_with_speaker_view", "s1 recording_type");
	is_str(ev.files[1].status, "completed", "s1 status");
	is_str(ev.files[1].recording_start, "2022-01-23T15:32:05Z", "s1 recording_start");
	is_str(ev.files[1].recording_end, "2022-01-23T15:34:28Z", "s1 recording_end");
	ok(ev.files[1].has_file_size && ev.files[1].file_size == 2769300, "s1 file_size");
	ok(ev.files[1].download_url &&
		   strncmp(ev.files[1].download_url,
			   "https://openlibraryfoundation.zoom.us/rec/webhook_download/", 59) == 0,
	   "s1 download_url");
	zoomjson_free_event(&ev);

	is_int(parse_sample("sample-2-supra-helper-bot.json", &ev), 0, "sample 2 parses");
	is_str(ev.topic, "Unity_4 зум 18:40 [142]", "s2 Cyrillic topic byte-exact");
	ok(ev.has_meeting_id && ev.meeting_id == 85392858403LL, "s2 meeting id");
	is_int(ev.n_files, 4, "s2 four files");
	is_str(ev.files[1].file_type, "TIMELINE", "s2 TIMELINE entry");
	ok(ev.files[1].has_file_size && ev.files[1].file_size == 686420, "s2 TIMELINE size");
	is_str(ev.files[3].meeting_uuid, "LjtP8z2jS0qmRJIIb1WuBg==", "s2 file's meeting_id is the uuid");
	is_str(ev.account_id, "n9D1u_kRQhe-GBbRTpT4mQ", "s2 account_id");
	is_str(ev.host_id, "c7qNTbLwTU6CzokdhwEjkg", "s2 host_id");
	zoomjson_free_event(&ev);

	is_int(parse_sample("sample-3-redwoodjs-sdk-zoomshare.json", &ev), 0,
	       "sample 3 (compact) parses");
	ok(ev.has_meeting_id && ev.meeting_id == 88031573992LL, "s3 meeting id 88031573992");
	is_str(ev.topic, "Peter Pistorius's Zoom Meeting", "s3 topic with apostrophe");
	is_int(ev.n_files, 3, "s3 three files");
	is_str(ev.files[2].file_type, "TIMELINE", "s3 TIMELINE");
	ok(ev.download_token && strncmp(ev.download_token, "eyJzdiI6", 8) == 0, "s3 ES256 token");
	zoomjson_free_event(&ev);
}

static void test_doc_samples(void)
{
	struct zevent ev;

	is_int(parse_sample("sample-4-zoom-blog-via-redwoodjs-sdk-readme.json", &ev), 0,
	       "sample 4 parses");
	is_str(ev.uuid, "WEz4RT2lSyKx2MD9Z+lYfA==", "s4 uuid with '+'");
	is_int(ev.n_files, 2, "s4: participant_audio_files are not recording_files");
	ok(ev.has_meeting_id && ev.meeting_id == 87565330005LL, "s4 meeting id");
	zoomjson_free_event(&ev);

	is_int(parse_sample("sample-5-ZoomNet-docs-example.json", &ev), 0, "sample 5 parses");
	is_str(ev.account_id, "x1yCzABCDEfg23HiJKl4mN", "s5 account_id of the object");
	is_str(ev.host_email, "jchill@example.com", "s5 host_email");
	ok(ev.has_meeting_id && ev.meeting_id == 1234567890, "s5 meeting id");
	is_str(ev.download_token, "abJhbGciOiJIUzUxMiJ9", "s5 token");
	is_str(ev.files[0].meeting_uuid, "098765ABCD", "s5 file meeting_id");
	zoomjson_free_event(&ev);

	is_int(parse_sample("sample-6-transcria-synthetic.json", &ev), 0, "sample 6 parses");
	is_str(ev.uuid, "aB3dEf9/gHiJkLmNoPq==", "s6 uuid with '/'");
	is_str(ev.topic, "Comité hebdomadaire", "s6 accented topic");
	ok(ev.host_email == NULL, "s6 has no host_email");
	ok(ev.files[1].recording_start == NULL && ev.files[1].recording_end == NULL,
	   "s6 second file has no times");
	is_str(ev.account_id, "acct-ABC123", "s6 account_id from the envelope");
	zoomjson_free_event(&ev);

	is_int(parse_sample("sample-transcript_completed-ZoomNet-docs-example.json", &ev), 0,
	       "transcript_completed parses");
	is_str(ev.event, "recording.transcript_completed", "transcript event");
	is_str(ev.files[0].file_type, "TRANSCRIPT", "TRANSCRIPT file");
	is_str(ev.files[0].file_extension, "VTT", "VTT extension");
	zoomjson_free_event(&ev);

	is_int(parse_sample("sample-url_validation-ZoomNet-docs-example.json", &ev), 0,
	       "url_validation parses");
	is_str(ev.event, "endpoint.url_validation", "url_validation event");
	is_str(ev.plain_token, "qgg8vlvZRS6UYooatFL8Aw", "plainToken");
	ok(!ev.has_object && !ev.files_is_array && ev.n_files == 0, "no object, no files");
	zoomjson_free_event(&ev);

	is_int(parse_sample("sample-recording_deleted-ZoomNet-docs-example.json", &ev), 0,
	       "recording.deleted parses");
	is_str(ev.event, "recording.deleted", "deleted event");
	ok(ev.download_token == NULL, "deleted: no token");
	zoomjson_free_event(&ev);

	is_int(parse_sample("sample-recording_trashed-ZoomNet-docs-example.json", &ev), 0,
	       "recording.trashed parses");
	is_str(ev.event, "recording.trashed", "trashed event");
	zoomjson_free_event(&ev);
}

/* {"a":[[...]]} with that many arrays one in another (a nesting of arrays
 * + 1), written in buf: its 1000 bytes hold up to 496 arrays. */
static const char *nested(char buf[1000], int arrays)
{
	size_t n = (size_t)snprintf(buf, 1000, "{\"a\":");

	for (int i = 0; i < arrays; i++)
		buf[n++] = '[';
	for (int i = 0; i < arrays; i++)
		buf[n++] = ']';
	buf[n++] = '}';
	buf[n] = '\0';
	return buf;
}

static void test_not_json(void)
{
	static const char *const bad[] = {
		"", " ", "[]", "[{}]", "\"x\"", "42", "null", "nul", "{", "{\"a\":", "{}x",
		"{} {}", "{\"a\":1,}", "<html></html>",
	};
	struct zevent ev;
	char deep[1000];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		is_int(parse_text(bad[i], &ev), -1, "not a JSON object is refused");
		ok(err[0] != '\0', "with a message");
	}
	is_int(zoomjson_parse_event("{}\0{}", 5, &ev, err, sizeof err), -1,
	       "data after a NUL is not ignored");
	is_int(parse_text(" \n{}\r\n ", &ev), 0, "white space around the object is fine");
	zoomjson_free_event(&ev);

	is_int(parse_text(nested(deep, 100), &ev), -1, "nesting of 101 is refused");
	ok(strstr(err, "64") != NULL, "message names the limit");
	is_int(parse_text(nested(deep, 60), &ev), 0, "nesting of 61 is fine");
	zoomjson_free_event(&ev);
}

static void test_wrong_types(void)
{
	struct zevent ev;

	is_int(parse_text("{\"event\":5,\"download_token\":[],\"payload\":[1]}", &ev), 0,
	       "odd types parse");
	ok(!ev.event && !ev.download_token && !ev.has_object && !ev.plain_token,
	   "fields of another type read as absent");
	zoomjson_free_event(&ev);

	is_int(parse_text("{\"payload\":{\"object\":{\"id\":\"88031573992\",\"topic\":null,"
			  "\"uuid\":\"/ajXp+112//Qmuo==\",\"recording_files\":{}}}}",
			  &ev),
	       0, "id as a digit string");
	ok(ev.has_meeting_id && ev.meeting_id == 88031573992LL, "digit string id read");
	ok(ev.topic == NULL, "null topic is absent");
	is_str(ev.uuid, "/ajXp+112//Qmuo==", "uuid with / + = kept exactly");
	ok(ev.has_object && !ev.files_is_array, "recording_files object is not an array");
	zoomjson_free_event(&ev);

	static const char *const bad_ids[] = {
		"\"12a\"", "\"\"", "-5", "1.5", "1e10", "true", "\"-5\"", "\" 5\"",
		"9223372036854775808", "\"99999999999999999999\"", "18446744073709551616",
	};
	for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
		char body[200];

		snprintf(body, sizeof body, "{\"payload\":{\"object\":{\"id\":%s}}}", bad_ids[i]);
		is_int(parse_text(body, &ev), 0, "parses");
		if (!ok(!ev.has_meeting_id, "id %s is absent", bad_ids[i]))
			printf("#   read %lld\n", (long long)ev.meeting_id);
		zoomjson_free_event(&ev);
	}
	is_int(parse_text("{\"payload\":{\"object\":{\"id\":9223372036854775807}}}", &ev), 0,
	       "largest id");
	ok(ev.has_meeting_id && ev.meeting_id == INT64_MAX, "INT64_MAX id read");
	zoomjson_free_event(&ev);

	is_int(parse_text("{\"payload\":{\"object\":{\"topic\":\"a\\u0000b\",\"host_id\":42,"
			  "\"recording_files\":[1,\"x\",null,{},{\"id\":7,\"file_size\":\"123\","
			  "\"download_url\":\"u\\u0000v\",\"status\":false},"
			  "{\"file_size\":true}]}}}",
			  &ev),
	       0, "odd entries parse");
	ok(ev.topic == NULL, "string with an embedded NUL is absent");
	ok(ev.host_id == NULL, "number host_id is absent");
	is_int(ev.n_files, 6, "every entry of the array is listed");
	ok(!ev.files[0].id && !ev.files[1].id && !ev.files[2].id && !ev.files[3].id,
	   "non-object entries have no fields");
	ok(ev.files[4].id == NULL, "numeric file id is absent");
	ok(ev.files[4].has_file_size && ev.files[4].file_size == 123, "file_size as digit string");
	ok(ev.files[4].download_url == NULL, "download_url with NUL is absent");
	ok(ev.files[4].status == NULL, "boolean status is absent");
	ok(!ev.files[5].has_file_size, "boolean file_size is absent");
	zoomjson_free_event(&ev);

	is_int(parse_text("{\"payload\":{\"object\":{\"recording_files\":[]}}}", &ev), 0,
	       "empty files array");
	ok(ev.files_is_array && ev.n_files == 0 && ev.files == NULL, "empty array, no files");
	zoomjson_free_event(&ev);
}

static void test_oauth(void)
{
	const char *good = "{\"access_token\":\"eyJ.tok\",\"token_type\":\"bearer\","
			   "\"expires_in\":3599,\"scope\":\"x\",\"api_url\":\"https://api.zoom.us\"}";
	const char *bad = "{\"reason\":\"Invalid client_id or client_secret\","
			  "\"error\":\"invalid_client\"}";
	char *token = NULL;
	long expires = -1;

	is_int(zoomjson_parse_oauth(good, strlen(good), &token, &expires, err, sizeof err), 0,
	       "OAuth answer parses");
	is_str(token, "eyJ.tok", "access_token");
	is_int(expires, 3599, "expires_in");
	free(token);
	is_int(zoomjson_parse_oauth("{\"access_token\":\"t\"}", 20, &token, &expires, err,
				    sizeof err),
	       0, "without expires_in");
	is_int(expires, 0, "expires_in 0 when not given");
	free(token);
	is_int(zoomjson_parse_oauth(bad, strlen(bad), &token, &expires, err, sizeof err), -1,
	       "error answer");
	ok(token == NULL, "no token on error");
	ok(strstr(err, "invalid_client") && strstr(err, "Invalid client_id"),
	   "message carries Zoom's error and reason");
	is_int(zoomjson_parse_oauth("<html>", 6, &token, &expires, err, sizeof err), -1,
	       "HTML is refused");
	is_int(zoomjson_parse_oauth("{\"access_token\":\"\"}", 19, &token, &expires, err,
				    sizeof err),
	       -1, "empty token refused");
}

static void test_find_recording(void)
{
	const char *body = "{\"uuid\":\"x\",\"download_access_token\":\"DAT\",\"recording_files\":["
			   "{\"id\":\"a\",\"download_url\":\"https://zoom.us/rec/download/a\"},"
			   "{\"id\":\"b\",\"download_url\":\"https://zoom.us/rec/download/b\"},"
			   "{\"id\":\"c\"}]}";
	const char *no_token = "{\"recording_files\":[{\"id\":\"a\",\"download_url\":\"u\"}]}";
	char *url = NULL, *tok = NULL;

	is_int(zoomjson_find_recording(body, strlen(body), "b", &url, &tok, err, sizeof err), 0,
	       "file b found");
	is_str(url, "https://zoom.us/rec/download/b", "its download_url");
	is_str(tok, "DAT", "download_access_token");
	free(url);
	free(tok);
	is_int(zoomjson_find_recording(body, strlen(body), "c", &url, &tok, err, sizeof err), 0,
	       "file c found");
	ok(url == NULL, "no download_url: NULL");
	free(tok);
	is_int(zoomjson_find_recording(body, strlen(body), "zz", &url, &tok, err, sizeof err),
	       -1, "unlisted file");
	ok(strstr(err, "zz") != NULL, "message names the file");
	ok(url == NULL && tok == NULL, "outputs NULL on error");
	is_int(zoomjson_find_recording(no_token, strlen(no_token), "a", &url, &tok, err,
				       sizeof err),
	       0, "answer without a token");
	ok(tok == NULL, "token NULL");
	is_str(url, "u", "url");
	free(url);
	is_int(zoomjson_find_recording("[]", 2, "a", &url, &tok, err, sizeof err), -1,
	       "not an object");
}

static void test_validation_reply(void)
{
	char *r;

	r = zoomjson_url_validation_reply("qgg8vlvZRS6UYooatFL8Aw", "00ff");
	is_str(r, "{\"plainToken\":\"qgg8vlvZRS6UYooatFL8Aw\",\"encryptedToken\":\"00ff\"}",
	       "reply exact");
	free(r);
	r = zoomjson_url_validation_reply("a\"b\\c/d\x01</script>", "e");
	is_str(r, "{\"plainToken\":\"a\\\"b\\\\c/d\\u0001</script>\",\"encryptedToken\":\"e\"}",
	       "quote, backslash and control character escaped");
	free(r);
}

static void test_listings(void)
{
	const char *page = "{\"from\":\"2026-01-01\",\"to\":\"2026-01-30\",\"page_size\":2,"
			   "\"next_page_token\":\"NPT1\",\"meetings\":["
			   "{\"uuid\":\"/ab+c==\",\"id\":88031573992,\"account_id\":\"acc\","
			   "\"host_id\":\"h1\",\"topic\":\"Algebra [CS101]\","
			   "\"start_time\":\"2026-01-02T03:04:05Z\",\"recording_files\":["
			   "{\"id\":\"f1\",\"meeting_id\":\"/ab+c==\",\"file_type\":\"MP4\","
			   "\"file_size\":123,\"download_url\":\"https://zoom.us/rec/download/f1\","
			   "\"status\":\"completed\",\"recording_type\":\"speaker_view\"}]},"
			   "42,"
			   "{\"uuid\":\"u2\",\"recording_files\":\"no\"}]}";
	const char *last = "{\"next_page_token\":\"\",\"meetings\":[]}";
	const char *users = "{\"page_size\":300,\"next_page_token\":\"UP2\",\"users\":["
			    "{\"id\":\"h1\",\"email\":\"a@example.com\",\"status\":\"active\"},"
			    "{\"email\":\"no-id@example.com\"}]}";
	struct zevent *m = NULL;
	struct zuser *u = NULL;
	char *next = NULL, buf[200];
	size_t n = 0;

	is_int(zoomjson_parse_recordings_page(page, strlen(page), &m, &n, &next, err, sizeof err),
	       0, "a recordings page parses");
	is_int(n, 3, "every meetings[] element is read, even a non-object");
	is_str(next, "NPT1", "next_page_token");
	is_str(m[0].uuid, "/ab+c==", "meeting uuid");
	ok(m[0].has_meeting_id && m[0].meeting_id == 88031573992LL, "numeric id above 2^32");
	is_str(m[0].topic, "Algebra [CS101]", "topic");
	is_str(m[0].account_id, "acc", "account_id");
	ok(m[0].has_object && m[0].files_is_array && m[0].n_files == 1, "one recording file");
	is_str(m[0].files[0].id, "f1", "file id");
	ok(m[0].files[0].has_file_size && m[0].files[0].file_size == 123, "file_size");
	ok(m[0].event == NULL && m[0].download_token == NULL, "no event, no download_token");
	ok(!m[1].has_object && m[1].n_files == 0, "a non-object meeting reads as empty");
	ok(m[2].has_object && !m[2].files_is_array, "recording_files not an array is seen");
	zoomjson_free_meetings(m, n);
	free(next);

	is_int(zoomjson_parse_recordings_page(last, strlen(last), &m, &n, &next, err, sizeof err),
	       0, "the last page parses");
	ok(n == 0 && m == NULL && next == NULL, "no meeting, an empty next_page_token is none");
	is_int(zoomjson_parse_recordings_page("{}", 2, &m, &n, &next, err, sizeof err), 0,
	       "a page without meetings is empty");
	is_int(zoomjson_parse_recordings_page("{\"meetings\":{}}", 15, &m, &n, &next, err,
					      sizeof err),
	       -1, "meetings not an array is an error");
	ok(strstr(err, "meetings") != NULL, "  ... naming it (%s)", err);
	is_int(zoomjson_parse_recordings_page("<html>", 6, &m, &n, &next, err, sizeof err), -1,
	       "an HTML page is an error");

	is_int(zoomjson_parse_users_page(users, strlen(users), &u, &n, &next, err, sizeof err), 0,
	       "a users page parses");
	is_int(n, 2, "two users");
	is_str(u[0].id, "h1", "user id");
	is_str(u[0].email, "a@example.com", "user email");
	ok(u[1].id == NULL, "a user without id reads as NULL");
	is_str(next, "UP2", "users next_page_token");
	zoomjson_free_users(u, n);
	free(next);
	is_int(zoomjson_parse_users_page("{\"users\":7}", 11, &u, &n, &next, err, sizeof err),
	       -1, "users not an array is an error");

	zoomjson_api_error("{\"code\":124,\"message\":\"Invalid access token.\"}", 46, buf,
			   sizeof buf);
	is_str(buf, "code 124: Invalid access token.", "Zoom's API error described");
	zoomjson_api_error("not json", 8, buf, sizeof buf);
	is_str(buf, "", "an unreadable error body describes nothing");
}

/* jsonget.c: the helpers every module reads JSON with (the cases of
 * awscreds.c's former hand-written reader among them). */
static void test_jsonget(void)
{
	const char *j = "{\"Code\":\"Success\", \"N\": 12, \"Nested\": {\"AccessKeyId\": \"no\","
			"\"a\":[1,\"}\",{}]}, \"Esc\":\"a\\\"b\\\\c\\/d\\u00e9\\ud83d\\ude00\","
			"\"AccessKeyId\" : \"ASIA1\", \"Big\": 18446744073709551615,"
			"\"Neg\": -5, \"Nul\": \"a\\u0000b\", \"Null\": null}";
	const char *bad[] = { "[\"Code\"]", "{\"Code\":\"Succ", "{\"A\":tru", "{} x", "" };
	struct json_object *root, *nested;
	char why[128];
	int64_t n = 0;

	root = jsonget_parse_object(j, strlen(j), why, sizeof why);
	if (!ok(root != NULL, "jsonget: an object parses"))
		return;
	is_str(jsonget_string(root, "Code"), "Success", "jsonget: a string member");
	is_str(jsonget_string(root, "AccessKeyId"), "ASIA1",
	       "jsonget: the top-level member, not the nested one");
	is_str(jsonget_string(root, "Esc"), "a\"b\\c/d\xc3\xa9\xf0\x9f\x98\x80",
	       "jsonget: escapes and surrogate pairs decoded");
	ok(jsonget_string(root, "N") == NULL, "jsonget: a number is not a string");
	ok(jsonget_string(root, "Missing") == NULL, "jsonget: absent member");
	ok(jsonget_string(root, "Null") == NULL, "jsonget: null is absent");
	ok(jsonget_string(root, "Nul") == NULL, "jsonget: a string with NUL reads as absent");
	ok(jsonget_int64(root, "N", &n) == 0 && n == 12, "jsonget: an int64");
	ok(jsonget_int64(root, "Neg", &n) == 0 && n == -5, "jsonget: a negative int64");
	ok(jsonget_int64(root, "Big", &n) == -1, "jsonget: over INT64_MAX refused, not clamped");
	ok(jsonget_int64(root, "Code", &n) == -1, "jsonget: a string is no int64");
	nested = jsonget_object(root, "Nested");
	is_str(jsonget_string(nested, "AccessKeyId"), "no", "jsonget: an object member");
	ok(jsonget_object(root, "Code") == NULL, "jsonget: a string is no object");
	ok(jsonget_string(NULL, "Code") == NULL && jsonget_object(NULL, "x") == NULL,
	   "jsonget: NULL reads as absent");
	json_object_put(root);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		root = jsonget_parse_object(bad[i], strlen(bad[i]), why, sizeof why);
		ok(root == NULL && why[0], "jsonget: refused: '%s' (%s)", bad[i], why);
		json_object_put(root);
	}
}

int main(void)
{
	test_real_samples();
	test_doc_samples();
	test_not_json();
	test_wrong_types();
	test_oauth();
	test_find_recording();
	test_validation_reply();
	test_listings();
	test_jsonget();
	return done_testing();
}
