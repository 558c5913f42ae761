/* The one convention every worker returns, and the one table that maps
 * curl and HTTP results to it. Only the spooler's loop turns an outcome
 * into a move between spool states. */
#ifndef ZOOM2S3_OUTCOME_H
#define ZOOM2S3_OUTCOME_H

#include <stddef.h>

enum outcome {
	OUTCOME_DONE = 0,   /* the work is finished */
	OUTCOME_RETRY = 1,  /* transient: try again later */
	OUTCOME_GIVEUP = 2, /* permanent: retrying cannot help */
};

/* What a worker reports: the outcome and, unless DONE, a sentence for
 * last_error that a person can act on. Never holds a secret or a query
 * string. */
struct result {
	enum outcome kind;
	char why[512];
};

/* Sets r and returns r->kind; fmt is printf-style. */
enum outcome result_set(struct result *r, enum outcome kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* HTTP status of a finished exchange (not 2xx) -> outcome. 5xx, 408, 409
 * (a conflicting operation in progress) and 429 retry; 401 and 403 retry
 * too (the caller refreshes a token, or an operator fixes credentials,
 * before deciding); 404, 410 and the other 4xx give up. */
enum outcome outcome_from_http(long status);

/* A curl result code (as int, so this header stays free of curl.h) ->
 * outcome. Timeouts, resets, truncation, DNS and connect failures retry;
 * bad URLs, unsupported protocols and redirect-policy refusals give up. */
enum outcome outcome_from_curl(int curlcode);

const char *outcome_name(enum outcome o);

#endif
