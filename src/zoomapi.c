/* Zoom's REST API with 429s waited out. See zoomapi.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "zoomapi.h"
#include "zoomjson.h"

#define MAX_GROWN_DELAY 60

long zoomapi_delay(long retry_after, int retry)
{
	long delay = ZOOMAPI_FIRST_DELAY;

	if (retry_after > 0)
		return retry_after;
	for (int i = 1; i < retry && delay < MAX_GROWN_DELAY; i++)
		delay *= 2;
	return delay < MAX_GROWN_DELAY ? delay : MAX_GROWN_DELAY;
}

/* Sleeps seconds, or less once *stop is set. */
static void wait_out(long seconds, stop_flag_t *stop)
{
	for (long i = 0; i < seconds * 10 && !(stop && *stop); i++) {
		struct timespec tenth = { 0, 100000000L };

		while (nanosleep(&tenth, &tenth) != 0 && errno == EINTR && !(stop && *stop))
			;
	}
}

enum outcome zoomapi_call(struct zoomapi *api, const struct http_request *req,
			  struct http_response *resp, struct result *res)
{
	int max_tries = api->max_tries > 0 ? api->max_tries : ZOOMAPI_MAX_TRIES;
	long max_wait = api->max_wait > 0 ? api->max_wait : ZOOMAPI_MAX_WAIT;
	enum outcome kind;

	for (int try = 1;; try++) {
		long delay;

		memset(resp, 0, sizeof *resp);
		api->requests++;
		kind = zoomauth_api_request(api->za, api->client, req->method, req->url, req->what,
					    resp, res);
		if (kind != OUTCOME_DONE || resp->status != 429)
			return kind;
		delay = zoomapi_delay(resp->retry_after, try);
		if (try >= max_tries || delay > max_wait)
			return result_set(res, OUTCOME_RETRY,
					  "%s kept answering 429 Too Many Requests (%d tries%s)",
					  req->what, try,
					  delay > max_wait ? ", Retry-After beyond what a run waits"
							   : "");
		if (api->stop && *api->stop)
			return result_set(res, OUTCOME_RETRY, "%s: stopped while rate-limited",
					  req->what);
		http_response_free(resp);
		api->rate_limited++;
		api->waited += delay;
		wait_out(delay, api->stop);
	}
}

void zoomapi_describe(const struct http_response *resp, const char *what, char *buf,
		      size_t size)
{
	char status[64], zoom[200];

	http_status_text(resp->status, status, sizeof status);
	zoomjson_api_error(resp->body, resp->body_len, zoom, sizeof zoom);
	if (zoom[0])
		snprintf(buf, size, "%s answered %s (%s)", what, status, zoom);
	else
		snprintf(buf, size, "%s answered %s", what, status);
}
