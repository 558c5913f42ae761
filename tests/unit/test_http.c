/* http.c against a stub server on loopback: capture (bounded), streaming
 * sink and source, the redirect policy and where Authorization may go, the
 * one table of outcomes, request ids, Retry-After, answers cut short,
 * header values that would add lines, the stop flag. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "httpstub.h"
#include "tap.h"

struct seen {
	char target[2048];
	char auth[512];
	char agent[128];
	int requests;
	size_t body_len;
	char body[4096];
	int port;
};

static void reply_redirect(int fd, const char *location)
{
	char h[512];

	snprintf(h, sizeof h, "Location: %s\r\n", location);
	httpstub_reply(fd, 302, h, "moved", 5);
}

static void handler(void *ctx, const struct httpstub_request *req, int fd)
{
	struct seen *s = ctx;
	char other[128], big[2000];
	const char *t = req->target;

	s->requests++;
	snprintf(s->target, sizeof s->target, "%s", t);
	if (!httpstub_header(req, "Authorization", s->auth, sizeof s->auth))
		s->auth[0] = '\0';
	if (!httpstub_header(req, "User-Agent", s->agent, sizeof s->agent))
		s->agent[0] = '\0';
	s->body_len = req->body_len;
	snprintf(s->body, sizeof s->body, "%.*s", (int)req->body_len, req->body ? req->body : "");
	snprintf(other, sizeof other, "http://localhost:%d/ok", s->port);
	if (strcmp(t, "/ok") == 0) {
		httpstub_reply(fd, 200, "x-amz-request-id: RID1\r\nx-amz-id-2: ID2==\r\n"
				       "Content-Type: text/plain\r\n", "hello", 5);
	} else if (strcmp(t, "/zm") == 0) {
		httpstub_reply(fd, 200, "x-zm-trackingid: ZM_TRACK_1\r\n", "{}", 2);
	} else if (strcmp(t, "/big") == 0) {
		memset(big, 'x', sizeof big);
		httpstub_reply(fd, 200, NULL, big, sizeof big);
	} else if (strcmp(t, "/bigerr") == 0) {
		memset(big, 'e', sizeof big);
		httpstub_reply(fd, 500, NULL, big, sizeof big);
	} else if (strcmp(t, "/busy") == 0) {
		httpstub_reply(fd, 503, "Retry-After: 7\r\n", "busy", 4);
	} else if (strcmp(t, "/slow") == 0) {
		httpstub_reply(fd, 429, "Retry-After: Fri, 31 Dec 2100 23:59:59 GMT\r\n", "", 0);
	} else if (strcmp(t, "/redir-same") == 0) {
		reply_redirect(fd, "/ok");
	} else if (strcmp(t, "/redir-other") == 0) {
		reply_redirect(fd, other);
	} else if (strcmp(t, "/redir-none") == 0) {
		httpstub_reply(fd, 302, NULL, "", 0);
	} else if (strcmp(t, "/loop") == 0) {
		reply_redirect(fd, "/loop");
	} else if (strcmp(t, "/echo") == 0) {
		httpstub_reply(fd, 200, NULL, req->body ? req->body : "", req->body_len);
	} else if (strcmp(t, "/cut") == 0) {
		const char raw[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nx-am";

		if (write(fd, raw, sizeof raw - 1) < 0)
			return;
	} else {
		httpstub_reply(fd, 404, NULL, "nope", 4);
	}
}

static struct http_client *client;
static struct seen seen;
static char base[64];

static char *url_of(const char *path)
{
	static char url[128];

	snprintf(url, sizeof url, "%s%s", base, path);
	return url;
}

static void test_pure(void)
{
	char buf[64];

	is_str(http_status_text(404, buf, sizeof buf), "404 Not Found", "404 text");
	is_str(http_status_text(503, buf, sizeof buf), "503 Service Unavailable", "503 text");
	is_str(http_status_text(429, buf, sizeof buf), "429 Too Many Requests", "429 text");
	is_str(http_status_text(599, buf, sizeof buf), "599", "unknown status: number only");
	is_int(http_parse_retry_after("120", 0), 120, "Retry-After: delta seconds");
	is_int(http_parse_retry_after("Thu, 01 Jan 1970 00:02:00 GMT", 60), 60,
	       "Retry-After: an HTTP date, from now");
	is_int(http_parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", 60), 0,
	       "Retry-After: a date in the past is 0");
	is_int(http_parse_retry_after("soon", 0), 0, "Retry-After: unreadable is 0");
	is_int(http_parse_retry_after("99999999", 0), 0, "Retry-After: over a week is 0");
	ok(http_same_origin("https://Zoom.us/a?x", "https://zoom.us:443/b"),
	   "same origin: case and default port");
	ok(!http_same_origin("https://zoom.us/a", "http://zoom.us/a"), "another scheme");
	ok(!http_same_origin("https://zoom.us/a", "https://ssrweb.zoom.us/a"), "another host");
	ok(!http_same_origin("https://zoom.us/a", "https://zoom.us:8443/a"), "another port");
	ok(!http_same_origin("nonsense", "https://zoom.us/"), "unreadable: not the same");
}

static void test_capture(void)
{
	struct http_request req = { .what = "the stub", .method = HTTP_GET, .url = url_of("/ok") };
	struct http_response resp;
	struct result r;

	is_int(http_run(client, &req, &resp), OUTCOME_DONE, "200: done");
	is_int(resp.status, 200, "status kept");
	is_str(resp.body, "hello", "body captured");
	is_str(seen.agent, PACKAGE_NAME "/" PACKAGE_VERSION, "User-Agent: zoom2s3/VERSION");
	is_str(resp.request_id, "RID1 ID2==", "x-amz-request-id and x-amz-id-2 kept");
	is_str(http_header(&resp, "x-AMZ-request-id"), "RID1", "a header by any case");
	is_str(resp.content_type, "text/plain", "Content-Type kept");
	is_int(resp.content_length, 5, "Content-Length kept");
	http_response_free(&resp);

	req.url = url_of("/zm");
	http_run(client, &req, &resp);
	is_str(resp.request_id, "ZM_TRACK_1", "Zoom's x-zm-trackingid kept");
	http_response_free(&resp);

	req.url = url_of("/busy");
	is_int(http_run(client, &req, &resp), OUTCOME_RETRY, "503: retry");
	is_int(resp.retry_after, 7, "Retry-After read");
	is_str(resp.body, "busy", "an error body is captured");
	http_result(&resp, "the stub", &r);
	is_str(r.why, "the stub answered 503 Service Unavailable", "the standard sentence");
	http_response_free(&resp);

	req.url = url_of("/slow");
	is_int(http_run(client, &req, &resp), OUTCOME_RETRY, "429: retry");
	ok(resp.retry_after == 0 || resp.retry_after > 0, "a far date is not a negative wait");
	http_response_free(&resp);

	req.url = url_of("/missing");
	is_int(http_run(client, &req, &resp), OUTCOME_GIVEUP, "404: give up");
	http_response_free(&resp);

	req.url = url_of("/big");
	req.max_body = 1000;
	is_int(http_run(client, &req, &resp), OUTCOME_RETRY, "a 2xx body over max_body: retry");
	ok(resp.body_over && strstr(resp.error, "over 1000 bytes"), "... and says why");
	http_response_free(&resp);

	req.url = url_of("/bigerr");
	is_int(http_run(client, &req, &resp), OUTCOME_RETRY,
	       "an error body over max_body: the status decides");
	is_int(resp.status, 500, "... status kept");
	ok(resp.error[0] == '\0', "... no transport error");
	http_response_free(&resp);

	req.url = url_of("/cut");
	req.max_body = 0;
	is_int(http_run(client, &req, &resp), OUTCOME_RETRY, "headers cut short: retry");
	ok(strstr(resp.error, "cut short") != NULL, "... and says so");
	http_response_free(&resp);

	req.url = url_of("/ok");
	req.method = HTTP_HEAD;
	is_int(http_run(client, &req, &resp), OUTCOME_DONE, "HEAD: done");
	ok(resp.body == NULL && resp.content_length == 5, "HEAD: no body, the length");
	http_response_free(&resp);
}

static int redirect_policy(const void *ctx, const char *url, char *why, size_t whylen)
{
	(void)ctx;
	if (strstr(url, "//localhost")) {
		snprintf(why, whylen, "a host outside the list: localhost");
		return -1;
	}
	return 0;
}

static void test_redirects(void)
{
	struct http_request req = { .what = "the stub", .method = HTTP_GET,
				    .url = url_of("/redir-same"), .authorization = "Bearer SECRET1",
				    .max_redirects = 3 };
	struct http_response resp;

	is_int(http_run(client, &req, &resp), OUTCOME_DONE, "a redirect is followed");
	is_int(resp.redirects, 1, "... once");
	is_str(seen.target, "/ok", "... to its Location");
	is_str(seen.auth, "Bearer SECRET1", "Authorization follows to the same origin");
	http_response_free(&resp);

	req.url = url_of("/redir-other");
	is_int(http_run(client, &req, &resp), OUTCOME_DONE, "a redirect to another host");
	is_str(seen.auth, "", "Authorization is dropped on another host");
	http_response_free(&resp);

	req.redirect = redirect_policy;
	is_int(http_run(client, &req, &resp), OUTCOME_GIVEUP, "a refused redirect: give up");
	ok(resp.redirect_refused, "... flagged");
	is_str(resp.error, "redirect to a host outside the list: localhost", "... with why");
	http_response_free(&resp);

	req.url = url_of("/loop");
	is_int(http_run(client, &req, &resp), OUTCOME_GIVEUP, "too many redirects: give up");
	is_int(resp.redirects, 3, "... after max_redirects");
	http_response_free(&resp);

	req.url = url_of("/redir-same");
	req.max_redirects = 0;
	is_int(http_run(client, &req, &resp), OUTCOME_GIVEUP, "no redirects allowed: the 302 stands");
	is_int(resp.status, 302, "... its status kept");
	http_response_free(&resp);

	req.url = url_of("/redir-none");
	req.max_redirects = 2;
	http_run(client, &req, &resp);
	is_int(resp.status, 302, "a redirect without Location is the answer");
	http_response_free(&resp);
}

struct stream {
	const char *data;
	size_t len, off;
	int rewinds;
	char got[64];
	size_t got_len;
	long status_told;
};

static size_t source(void *ctx, void *buf, size_t len)
{
	struct stream *st = ctx;
	size_t n = st->len - st->off < len ? st->len - st->off : len;

	memcpy(buf, st->data + st->off, n);
	st->off += n;
	return n;
}

static int rewind_source(void *ctx)
{
	struct stream *st = ctx;

	st->off = 0;
	st->rewinds++;
	return 0;
}

static int told(void *ctx, const struct http_response *resp)
{
	((struct stream *)ctx)->status_told = resp->status;
	return 0;
}

static int sink(void *ctx, const struct http_response *resp, const void *data, size_t len)
{
	struct stream *st = ctx;

	(void)resp;
	if (st->got_len + len >= sizeof st->got)
		return -1;
	memcpy(st->got + st->got_len, data, len);
	st->got_len += len;
	return 0;
}

static void test_streams(void)
{
	struct stream st = { .data = "streamed body", .len = 13 };
	struct http_request req = { .what = "the stub", .method = HTTP_PUT, .url = url_of("/echo"),
				    .source = source, .rewind = rewind_source, .source_ctx = &st,
				    .source_len = 13, .on_headers = told, .sink = sink, .ctx = &st };
	struct http_response resp;

	is_int(http_run(client, &req, &resp), OUTCOME_DONE, "PUT from a source: done");
	is_str(seen.body, "streamed body", "the source's bytes were sent");
	is_int(st.status_told, 200, "on_headers saw the status");
	is_int(st.got_len, 13, "the sink got the body");
	ok(resp.body == NULL && resp.body_bytes == 13, "nothing captured; bytes counted");
	http_response_free(&resp);

	req.method = HTTP_POST;
	req.source = NULL;
	req.body = "a=1&b=2";
	req.body_len = 7;
	st.got_len = 0;
	is_int(http_run(client, &req, &resp), OUTCOME_DONE, "POST from memory: done");
	is_str(seen.body, "a=1&b=2", "the body was sent");
	http_response_free(&resp);

	req.method = HTTP_DELETE;
	req.body = NULL;
	req.body_len = 0;
	req.url = url_of("/missing");
	is_int(http_run(client, &req, &resp), OUTCOME_GIVEUP, "DELETE answered 404: give up");
	is_int(st.status_told, 404, "on_headers is told of an error answer too");
	http_response_free(&resp);
}

static void test_refusals(void)
{
	struct http_header bad = { "X-Thing", "a\r\nX-Injected: yes" };
	struct http_request req = { .what = "the stub", .method = HTTP_GET, .url = url_of("/ok"),
				    .headers = &bad, .n_headers = 1 };
	struct http_response resp;
	stop_flag_t stop = 1;
	int before = seen.requests;

	is_int(http_run(client, &req, &resp), OUTCOME_GIVEUP, "a header value with CR LF: give up");
	is_int(seen.requests, before, "... and nothing was sent");
	http_response_free(&resp);

	req.n_headers = 0;
	req.authorization = "Bearer a\nX-Injected: yes";
	is_int(http_run(client, &req, &resp), OUTCOME_DONE,
	       "an Authorization value with LF: the request goes without it");
	is_str(seen.auth, "", "... not sent");
	http_response_free(&resp);

	req.authorization = NULL;
	req.stop = &stop;
	is_int(http_run(client, &req, &resp), OUTCOME_RETRY, "the stop flag: retry");
	ok(resp.stopped, "... flagged stopped");
	http_response_free(&resp);

	req.stop = NULL;
	req.url = "http://127.0.0.1:1/nothing-listens";
	is_int(http_run(client, &req, &resp), OUTCOME_RETRY, "connection refused: retry");
	ok(resp.error[0] && !resp.answered, "... a transport error, no answer");
	http_response_free(&resp);
}

int main(void)
{
	struct httpstub srv;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	setenv("NO_PROXY", "127.0.0.1,localhost", 1); /* the stub is on loopback */
	test_pure();
	client = http_client_new(NULL);
	if (!ok(client && httpstub_start(&srv, handler, &seen) == 0, "stub server starts"))
		return done_testing();
	seen.port = srv.port;
	snprintf(base, sizeof base, "http://127.0.0.1:%d", srv.port);
	test_capture();
	test_redirects();
	test_streams();
	test_refusals();
	httpstub_stop(&srv);
	http_client_free(client);
	curl_global_cleanup();
	return done_testing();
}
