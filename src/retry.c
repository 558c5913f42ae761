#include "retry.h"

long retry_delay_after(const struct config *cfg, int64_t attempts, double jitter01)
{
	double delay = (double)cfg->retry_delay;
	double cap = (double)cfg->retry_max_delay;

	for (int64_t i = 1; i < attempts && delay < cap; i++)
		delay *= 2;
	if (delay > cap)
		delay = cap;
	delay *= 0.9 + 0.2 * jitter01;
	return delay < 1 ? 1 : (long)delay;
}

void retry_clear_upload_state(struct job *job)
{
	static const char *const fields[] = { "upload_id", "part_size", "bytes", "s3_etag",
					      "s3_bucket", "upload_requested_at" };

	job_parts_clear(job);
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		job_remove(job, fields[i]);
}

bool retry_reset_if_requeued(struct job *job)
{
	if (!job_has(job, "failed_at") && !job_has(job, "completed_at"))
		return false;
	job_remove(job, "failed_at");
	job_remove(job, "completed_at");
	job_remove(job, "next_attempt_at");
	job_remove(job, "last_error");
	job_set_int(job, "attempts", 0);
	retry_clear_upload_state(job);
	return true;
}
