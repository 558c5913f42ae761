/* One job's transfer: the recording file streamed from Zoom into S3, part
 * by part, resumable. transfer_run() works and reports an outcome; it never
 * moves the job (only the spooler's loop does), but it records progress in
 * the job in cur/ (spool_update) so a later run can resume. */
#ifndef ZOOM2S3_TRANSFER_H
#define ZOOM2S3_TRANSFER_H

#include <signal.h>
#include <stdint.h>

#include "config.h"
#include "outcome.h"
#include "spool.h"
#include "stopflag.h"

/* Process-wide: AWS credentials and the Zoom OAuth token, shared by the
 * workers (thread-safe). */
struct transfer_shared;
/* One per worker thread: its own curl handles (keep-alive) and buffer. */
struct transfer_worker;

struct transfer_shared *transfer_shared_new(const struct config *cfg, struct spool *sp,
					    char *err, size_t errlen);
void transfer_shared_free(struct transfer_shared *sh);

/* stop: set by the signal handler; a transfer then stops at a safe point
 * and transfer_run returns OUTCOME_RETRY with r->why "stopped". */
struct transfer_worker *transfer_worker_new(struct transfer_shared *sh,
					    stop_flag_t *stop);
void transfer_worker_free(struct transfer_worker *w);

enum outcome transfer_run(struct transfer_worker *w, struct claim *c, struct result *r);

/* The job is about to go to failed/: abort its open multipart upload, if
 * any, so no upload is left over in the bucket. Best effort. */
void transfer_abandon(struct transfer_worker *w, struct claim *c);

/* Progress of the worker's current transfer, for the live line. */
void transfer_progress(struct transfer_worker *w, int64_t *bytes, int64_t *total);

#endif
