/* The spooler's policy for a job's next state: when a retry falls due, and
 * what a job requeued by hand sheds. Pure functions, so they can be tested
 * without a spool. */
#ifndef ZOOM2S3_RETRY_H
#define ZOOM2S3_RETRY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "job.h"

/* Seconds to wait before try number attempts+1, after `attempts` failed
 * tries (attempts >= 1): retry_delay doubled per attempt, capped at
 * retry_max_delay, then spread by jitter in [-10%, +10%] (jitter01 in
 * [0,1), from the caller's random source) so that a crowd of jobs failed
 * by one outage does not come back at the same second. Never below 1. */
long retry_delay_after(const struct config *cfg, int64_t attempts, double jitter01);

/* A job in new/ that carries failed_at or completed_at was moved back by
 * hand (mv failed/X new/): it starts over. Clears failed_at, completed_at,
 * attempts (to 0), next_attempt_at, last_error and any upload state (upload
 * id, parts, bytes, s3_etag, s3_bucket). Returns true when it did. */
bool retry_reset_if_requeued(struct job *job);

/* The fields that hold a transfer's progress (resumable upload state). */
void retry_clear_upload_state(struct job *job);

#endif
