/* zoom2s3ctl test-webhook URL: checks an endpoint the way Zoom uses it. It
 * sends a signed endpoint.url_validation and checks the encryptedToken of
 * the answer, then a signed recording.completed built so that the config
 * acknowledges and ignores it (a topic that topic_regex does not match, a
 * file_type that file_types does not list), and checks that it got 200
 * within Zoom's 3 seconds and, when this host sees the spool, that nothing
 * was spooled. */
#ifndef ZOOM2S3_CTLWEBHOOK_H
#define ZOOM2S3_CTLWEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "config.h"

#define CTLWEBHOOK_FILE_ID "zoom2s3ctl-test-webhook-file"
#define CTLWEBHOOK_SIG_LEN (3 + 64) /* "v0=" + hex */

/* cfg needs webhook_secret_token; curl_global_init must have been called.
 * Returns 0 when every check held, else 1. */
int ctlwebhook_run(const struct config *cfg, const char *url, FILE *out);

/* ---- the pure parts, exposed for the tests ---- */

/* "v0=" + hex(HMAC-SHA256(secret, "v0:" ts ":" body)) into sig. */
void ctlwebhook_sign(const char *secret, const char *ts, const char *body, size_t len,
		     char sig[CTLWEBHOOK_SIG_LEN + 1]);

/* The endpoint.url_validation body for plain. -1 when out is too small. */
int ctlwebhook_validation_body(const char *plain, time_t now, char *out, size_t size);

/* True when answer is {"plainToken": plain, "encryptedToken": hex(HMAC-
 * SHA256(secret, plain))} (members in any order, blanks allowed). */
bool ctlwebhook_validation_ok(const char *answer, const char *secret, const char *plain);

/* A recording.completed body that cfg ignores (see above); *topic_note
 * says how it is made to be ignored. malloc'd, NULL when no such event can
 * be made (then the caller skips the test) or out of memory. */
char *ctlwebhook_ignored_event(const struct config *cfg, time_t now, const char **topic_note);

#endif
