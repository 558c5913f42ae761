/* The one table of outcomes (src/outcome.c): HTTP statuses and curl codes
 * to done / retry / give up, and result_set's guard. */
#include <curl/curl.h>
#include <string.h>

#include "log.h"
#include "outcome.h"
#include "tap.h"

static const struct {
	long status;
	enum outcome want;
} http_cases[] = {
	{ 200, OUTCOME_DONE },   { 201, OUTCOME_DONE },   { 204, OUTCOME_DONE },
	{ 206, OUTCOME_DONE },   { 299, OUTCOME_DONE },
	/* the server, for a while */
	{ 500, OUTCOME_RETRY },  { 502, OUTCOME_RETRY },  { 503, OUTCOME_RETRY },
	{ 504, OUTCOME_RETRY },  { 599, OUTCOME_RETRY },  { 408, OUTCOME_RETRY },
	{ 429, OUTCOME_RETRY },  { 409, OUTCOME_RETRY },
	/* a token may be refreshed: the caller decides */
	{ 401, OUTCOME_RETRY },  { 403, OUTCOME_RETRY },
	/* permanent */
	{ 400, OUTCOME_GIVEUP }, { 404, OUTCOME_GIVEUP }, { 405, OUTCOME_GIVEUP },
	{ 410, OUTCOME_GIVEUP }, { 413, OUTCOME_GIVEUP }, { 416, OUTCOME_GIVEUP },
	{ 422, OUTCOME_GIVEUP },
	/* a redirect that reaches the table was not followed: nothing to retry */
	{ 301, OUTCOME_GIVEUP }, { 302, OUTCOME_GIVEUP }, { 304, OUTCOME_GIVEUP },
};

static const struct {
	CURLcode code;
	enum outcome want;
	const char *name;
} curl_cases[] = {
	{ CURLE_OK, OUTCOME_DONE, "OK" },
	/* the network, a server, a disk, for a while */
	{ CURLE_COULDNT_RESOLVE_HOST, OUTCOME_RETRY, "COULDNT_RESOLVE_HOST" },
	{ CURLE_COULDNT_CONNECT, OUTCOME_RETRY, "COULDNT_CONNECT" },
	{ CURLE_OPERATION_TIMEDOUT, OUTCOME_RETRY, "OPERATION_TIMEDOUT (stall)" },
	{ CURLE_PARTIAL_FILE, OUTCOME_RETRY, "PARTIAL_FILE (truncation)" },
	{ CURLE_RECV_ERROR, OUTCOME_RETRY, "RECV_ERROR (reset)" },
	{ CURLE_SEND_ERROR, OUTCOME_RETRY, "SEND_ERROR" },
	{ CURLE_GOT_NOTHING, OUTCOME_RETRY, "GOT_NOTHING" },
	{ CURLE_SSL_CONNECT_ERROR, OUTCOME_RETRY, "SSL_CONNECT_ERROR" },
	{ CURLE_HTTP2, OUTCOME_RETRY, "HTTP2" },
	{ CURLE_HTTP2_STREAM, OUTCOME_RETRY, "HTTP2_STREAM" },
	{ CURLE_ABORTED_BY_CALLBACK, OUTCOME_RETRY, "ABORTED_BY_CALLBACK (stop flag)" },
	{ CURLE_WRITE_ERROR, OUTCOME_RETRY, "WRITE_ERROR (sink)" },
	{ CURLE_RANGE_ERROR, OUTCOME_RETRY, "RANGE_ERROR" },
	{ CURLE_OUT_OF_MEMORY, OUTCOME_RETRY, "OUT_OF_MEMORY" },
	{ CURLE_WEIRD_SERVER_REPLY, OUTCOME_RETRY, "WEIRD_SERVER_REPLY" },
	/* retrying cannot change these */
	{ CURLE_UNSUPPORTED_PROTOCOL, OUTCOME_GIVEUP, "UNSUPPORTED_PROTOCOL (redirect policy)" },
	{ CURLE_URL_MALFORMAT, OUTCOME_GIVEUP, "URL_MALFORMAT" },
	{ CURLE_NOT_BUILT_IN, OUTCOME_GIVEUP, "NOT_BUILT_IN" },
	{ CURLE_TOO_MANY_REDIRECTS, OUTCOME_GIVEUP, "TOO_MANY_REDIRECTS" },
	{ CURLE_FILESIZE_EXCEEDED, OUTCOME_GIVEUP, "FILESIZE_EXCEEDED (longer than file_size)" },
	{ CURLE_BAD_CONTENT_ENCODING, OUTCOME_GIVEUP, "BAD_CONTENT_ENCODING" },
	{ CURLE_LOGIN_DENIED, OUTCOME_GIVEUP, "LOGIN_DENIED" },
};

static void test_tables(void)
{
	for (size_t i = 0; i < sizeof http_cases / sizeof http_cases[0]; i++)
		is_str(outcome_name(outcome_from_http(http_cases[i].status)),
		       outcome_name(http_cases[i].want), "HTTP status → outcome");
	for (size_t i = 0; i < sizeof curl_cases / sizeof curl_cases[0]; i++) {
		if (!ok(outcome_from_curl((int)curl_cases[i].code) == curl_cases[i].want,
			"curl %s → %s", curl_cases[i].name, outcome_name(curl_cases[i].want)))
			printf("#   got: %s\n", outcome_name(outcome_from_curl((int)curl_cases[i].code)));
	}
}

static void test_names(void)
{
	is_str(outcome_name(OUTCOME_DONE), "done", "name of done");
	is_str(outcome_name(OUTCOME_RETRY), "retry", "name of retry");
	is_str(outcome_name(OUTCOME_GIVEUP), "give-up", "name of give up");
	is_str(outcome_name((enum outcome)7), "?", "name of a value out of range");
}

static void test_result_set(void)
{
	struct result r;
	char big[2000];

	is_int(result_set(&r, OUTCOME_RETRY, "Zoom answered %d %s", 503, "Service Unavailable"),
	       OUTCOME_RETRY, "result_set returns the kind");
	is_int(r.kind, OUTCOME_RETRY, "result_set stores the kind");
	is_str(r.why, "Zoom answered 503 Service Unavailable", "result_set formats why");

	log_add_secret("tok-SECRET-123");
	result_set(&r, OUTCOME_GIVEUP, "refused token %s", "tok-SECRET-123");
	ok(!strstr(r.why, "tok-SECRET-123"), "a registered secret never reaches why");
	ok(strstr(r.why, "***") != NULL, "it is masked");

	result_set(&r, OUTCOME_RETRY, "failed: %s",
		   "https://ssrweb.zoom.us/replay/x.mp4?Signature=abc&Policy=def");
	ok(!strstr(r.why, "Signature=abc") && !strstr(r.why, "Policy"),
	   "a URL's query string never reaches why");
	ok(strstr(r.why, "https://ssrweb.zoom.us/replay/x.mp4") != NULL,
	   "the URL without its query stays readable");

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	result_set(&r, OUTCOME_RETRY, "%s", big);
	is_int(strlen(r.why), sizeof r.why - 1, "an over-long why is cut, NUL-terminated");

	result_set(&r, OUTCOME_DONE, "%s", "");
	is_str(r.why, "", "done with an empty why");
}

int main(void)
{
	log_init("test_outcome", LOG_DEST_STDERR, false);
	test_tables();
	test_names();
	test_result_set();
	return done_testing();
}
