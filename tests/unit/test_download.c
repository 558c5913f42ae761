/* download.c's own checks before and around a transfer: the policy
 * refusals, an answer cut in its headers, a token that cannot be a header.
 * The host and URL policy is test_urlpolicy's; the HTTP layer test_http's;
 * the transfers themselves are tested against the stand-in Zoom
 * (tests/e2e/download_fakezoom.py). */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "download.h"
#include "httpstub.h"
#include "tap.h"

/* A request refused before any network I/O: the policy decides alone. */
static int never_sink(void *ctx, const void *data, size_t len)
{
	(void)data, (void)len;
	(*(int *)ctx)++;
	return 0;
}

static void test_run_refusals(void)
{
	char *hosts[] = { "zoom.us", "*.zoom.us" };
	struct http_client *client = http_client_new(NULL);
	struct download_result out;
	int calls = 0;
	struct download_request req = { .url = "https://evil.example/rec?access_token=SECRET",
					.bearer = "TOKEN", .expected_total = 10, .hosts = hosts,
					.n_hosts = 2, .sink = never_sink, .sink_ctx = &calls };

	ok(client != NULL, "client made");
	is_int(download_run(client, &req, &out), OUTCOME_GIVEUP, "foreign host: give up");
	is_str(out.res.why, "the download link is refused: a host outside download_hosts: "
	       "evil.example", "foreign host: reason");
	req.url = "http://zoom.us/x";
	is_int(download_run(client, &req, &out), OUTCOME_GIVEUP, "http without allow_http: give up");
	req.url = "https://zoom.us/x";
	req.offset = 10;
	is_int(download_run(client, &req, &out), OUTCOME_DONE,
	       "offset == file_size: nothing left to fetch");
	req.offset = 11;
	is_int(download_run(client, &req, &out), OUTCOME_GIVEUP, "offset past file_size: give up");
	is_int(calls, 0, "the sink was never called");
	http_client_free(client);
}

/* Answers cut inside their headers by a closed connection: curl reports
 * them as whole (found by tests/soak/soak.py through faultproxy.py). */
static void cut_answer(void *ctx, const struct httpstub_request *req, int fd)
{
	const char *raw = ctx;
	ssize_t n;

	(void)req;
	n = write(fd, raw, strlen(raw));
	(void)n; /* the test sees what arrived */
}

static void test_cut_headers(void)
{
	char *hosts[] = { "127.0.0.1" };
	char url[64], cut302[] = "HTTP/1.1 302 Found\r\nContent-Length: 0\r\nLoca";
	struct http_client *client = http_client_new(NULL);
	struct download_result out;
	struct httpstub srv;
	int calls = 0;
	struct download_request req = { .url = url, .expected_total = 10, .hosts = hosts,
					.n_hosts = 1, .allow_http = true, .sink = never_sink,
					.sink_ctx = &calls };

	if (!ok(client && httpstub_start(&srv, cut_answer, cut302) == 0, "stub server starts")) {
		http_client_free(client);
		return;
	}
	snprintf(url, sizeof url, "http://127.0.0.1:%d/rec/x", srv.port);
	is_int(download_run(client, &req, &out), OUTCOME_RETRY,
	       "a redirect cut before its Location: retry, not give up");
	ok(strstr(out.res.why, "cut short") != NULL, "... and the reason says so");
	tap_diag(out.res.why);
	httpstub_stop(&srv);
	http_client_free(client);
}

/* Keeps the request's header lines; answers 401 as Zoom does to no token. */
static void keep_headers(void *ctx, const struct httpstub_request *req, int fd)
{
	snprintf(ctx, 16384, "%s", req->headers);
	httpstub_reply(fd, 401, "Content-Type: application/json\r\n", "{\"code\":124}", 12);
}

static void test_header_injection(void)
{
	static char seen[16384];
	char *hosts[] = { "127.0.0.1" };
	char url[64];
	struct http_client *client = http_client_new(NULL);
	struct download_result out;
	struct httpstub srv;
	int calls = 0;
	struct download_request req = { .url = url, .bearer = "tok\r\nX-Injected: yes",
					.expected_total = 10, .hosts = hosts, .n_hosts = 1,
					.allow_http = true, .sink = never_sink, .sink_ctx = &calls };

	if (!ok(client && httpstub_start(&srv, keep_headers, seen) == 0, "stub server starts")) {
		http_client_free(client);
		return;
	}
	snprintf(url, sizeof url, "http://127.0.0.1:%d/rec/x", srv.port);
	download_run(client, &req, &out);
	ok(!strstr(seen, "X-Injected") && !strstr(seen, "Authorization"),
	   "a download token with CR LF adds no header line and is not sent");
	ok(out.auth_refused, "... Zoom's refusal then asks for a fresh token");
	req.bearer = "good-token_1.2~x";
	download_run(client, &req, &out);
	ok(strstr(seen, "Authorization: Bearer good-token_1.2~x") != NULL,
	   "a plain token is sent as Bearer");
	httpstub_stop(&srv);
	http_client_free(client);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	setenv("NO_PROXY", "127.0.0.1,localhost", 1); /* the stub is on loopback */
	test_run_refusals();
	test_cut_headers();
	test_header_injection();
	curl_global_cleanup();
	return done_testing();
}
