/* zoom2s3ctl check-config: the config file (every key of both programs,
 * which program it serves, its mode), the spool's layout, modes and
 * owners, the metrics file's directory, and the credentials; with online,
 * also a HEAD of the bucket and a Zoom OAuth token. One line per finding:
 * "ok", "WARN" (works, but worth a look) or "FAIL". */
#ifndef ZOOM2S3_CTLCHECK_H
#define ZOOM2S3_CTLCHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* Runs every check on the config file at path; curl_global_init must have
 * been called when online. Returns 0 when nothing FAILed, else 1. */
int ctlcheck_run(const char *path, bool online, FILE *out);

/* ---- the pure parts, exposed for the tests ---- */

/* What is wrong with the mode of a spool directory (dir true) or of .lock
 * whose group should be want_gid: NULL when nothing, else a sentence. */
const char *ctlcheck_spool_mode(mode_t mode, gid_t gid, gid_t want_gid, bool dir);

#endif
