/* zoom2s3ctl's spool commands: status, list, show, requeue, retry-now and
 * prune. Every file access goes through spool.c; what a job looks like on
 * screen is jobview.c's. Each command prints to out (errors and notes to
 * errout) and returns an exit status. */
#ifndef ZOOM2S3_CTL_H
#define ZOOM2S3_CTL_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "config.h"
#include "spoolrepair.h"

enum ctl_exit {
	CTL_OK = 0,
	CTL_PROBLEM = 1, /* status: something needs a person; a command partly failed */
	CTL_USAGE = 2,   /* bad arguments or config */
	CTL_SPOOL = 3,   /* the spool cannot be used */
};

#define CTL_DEFAULT_MAX_NEW_AGE 3600L /* status: a job waiting longer in new/ is a problem */

struct ctl {
	const struct config *cfg;
	struct spool *sp;
	FILE *out, *errout;
	time_t now;
};

int ctl_status(struct ctl *c, long max_new_age);

/* state: SPOOL_NEW ... SPOOL_FAILED, or -1 for all four. */
int ctl_list(struct ctl *c, int state, bool json);

/* job: a file name ("X.json"), with its state ("failed/X.json"), or a
 * recording file id. */
int ctl_show(struct ctl *c, const char *job);

/* Moves each job named (in failed/ or done/) back to new/, reset as the
 * spooler resets a job requeued by hand (retry.c). all_failed: every job in
 * failed/ instead. */
int ctl_requeue(struct ctl *c, char *const *jobs, size_t n, bool all_failed);

/* Makes every job in new/ due now (drops next_attempt_at). */
int ctl_retry_now(struct ctl *c);

/* Removes jobs from done/ that finished more than days days ago. */
int ctl_prune(struct ctl *c, long days);

/* The state and file name a user's job argument names; 0, or -1 when no
 * job state holds it (msg says so). Exposed for the tests. */
int ctl_find_job(struct spool *sp, const char *arg, enum spool_state *st, char *name,
		 size_t size, char *msg, size_t msglen);

/* Resets a job for new/: what retry_reset_if_requeued clears, whether or
 * not the job carries failed_at or completed_at; and sets requeued_at to
 * now (status counts a requeued job's wait from then). */
void ctl_reset_job(struct job *job, time_t now);

#endif
