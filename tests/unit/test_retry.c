#include <stdlib.h>
#include <string.h>

#include "retry.h"
#include "tap.h"

static struct job *job_from(const char *text)
{
	struct job *job = job_parse(text, strlen(text), NULL, 0);

	if (!job) {
		printf("Bail out! cannot parse %s\n", text);
		exit(1);
	}
	return job;
}

int main(void)
{
	struct config cfg = { .retry_delay = 60, .retry_max_delay = 3600, .max_attempts = 48 };
	struct job *job;
	int64_t attempts = -1;

	is_int(retry_delay_after(&cfg, 1, 0.5), 60, "first retry waits retry_delay");
	is_int(retry_delay_after(&cfg, 2, 0.5), 120, "second doubles");
	is_int(retry_delay_after(&cfg, 6, 0.5), 1920, "sixth: 60 * 2^5");
	is_int(retry_delay_after(&cfg, 7, 0.5), 3600, "capped at retry_max_delay");
	is_int(retry_delay_after(&cfg, 48, 0.5), 3600, "still capped at the last attempt");
	is_int(retry_delay_after(&cfg, 1, 0.0), 54, "jitter -10%%");
	ok(retry_delay_after(&cfg, 1, 0.999) >= 65, "jitter up to +10%%");
	cfg.retry_delay = 1;
	is_int(retry_delay_after(&cfg, 1, 0.0), 1, "never below one second");

	job = job_from("{\"recording_file_id\":\"a\",\"attempts\":3,\"last_error\":\"x\","
		       "\"next_attempt_at\":\"2026-01-01T00:00:00Z\"}");
	ok(!retry_reset_if_requeued(job), "a job that only retried is not reset");
	ok(job_get_int(job, "attempts", &attempts) == 0 && attempts == 3, "attempts kept");
	job_free(job);

	job = job_from("{\"recording_file_id\":\"a\",\"attempts\":48,\"last_error\":\"x\","
		       "\"failed_at\":\"2026-01-01T00:00:00Z\",\"upload_id\":\"u\","
		       "\"parts\":[{\"part\":1,\"etag\":\"e\",\"size\":5}],\"custom\":1}");
	ok(retry_reset_if_requeued(job), "a job moved back from failed/ is reset");
	ok(job_get_int(job, "attempts", &attempts) == 0 && attempts == 0, "attempts back to 0");
	ok(!job_has(job, "failed_at") && !job_has(job, "last_error") &&
		   !job_has(job, "upload_id") && job_parts_count(job) == 0,
	   "failed_at, last_error and upload state cleared");
	ok(job_has(job, "custom") && job_has(job, "recording_file_id"), "other fields kept");
	job_free(job);

	job = job_from("{\"recording_file_id\":\"a\",\"attempts\":1,\"completed_at\":\"2026-01-01T00:00:00Z\","
		       "\"bytes\":10,\"s3_etag\":\"e\",\"s3_bucket\":\"b\"}");
	ok(retry_reset_if_requeued(job), "a job moved back from done/ is reset");
	ok(!job_has(job, "completed_at") && !job_has(job, "bytes") && !job_has(job, "s3_etag") &&
		   !job_has(job, "s3_bucket"),
	   "completion fields cleared");
	job_free(job);
	return done_testing();
}
