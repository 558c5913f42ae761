
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "outcome.h"

enum outcome result_set(struct result *r, enum outcome kind, const char *fmt, ...)
{
	va_list ap;

	r->kind = kind;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof r->why, fmt, ap);
	va_end(ap);
	/* last_error is written to disk and shown to people: same guard as logs. */
	log_scrub(r->why, sizeof r->why);
	return kind;
}

enum outcome outcome_from_http(long status)
{
	if (status >= 200 && status < 300)
		return OUTCOME_DONE;
	if (status >= 500 || status == 408 || status == 429 || status == 409)
		return OUTCOME_RETRY;
	if (status == 401 || status == 403)
		return OUTCOME_RETRY; /* a token may be refreshed; the caller decides */
	return OUTCOME_GIVEUP;
}

/* Only failures that retrying cannot change give up; everything a network,
 * a server or a disk can do for a while is retried. */
enum outcome outcome_from_curl(int code)
{
	switch ((CURLcode)code) {
	case CURLE_OK:
		return OUTCOME_DONE;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_FILESIZE_EXCEEDED:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_LOGIN_DENIED:
		return OUTCOME_GIVEUP;
	default:
		return OUTCOME_RETRY;
	}
}

const char *outcome_name(enum outcome o)
{
	switch (o) {
	case OUTCOME_DONE:
		return "done";
	case OUTCOME_RETRY:
		return "retry";
	case OUTCOME_GIVEUP:
		return "give-up";
	}
	return "?";
}
