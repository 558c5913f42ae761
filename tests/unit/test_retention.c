/* retention.c's pure parts: where a done job stands (off, not ours,
 * waiting, due, error, removed), what list shows of it, the verification
 * of the upload against a HEAD, and the DELETE's URL; and spool.c's
 * spool_edit_done, which retention rewrites done jobs with (the job's
 * flock held while the edit runs, the mtime kept, a held job skipped). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "retention.h"
#include "spoolrepair.h"
#include "tap.h"

#define NOW ((time_t)1795000000) /* 2026-11-18T09:46:40Z */
#define DAY 86400

static struct config cfg;

static struct job *done_job(time_t completed_at)
{
	struct job *job = job_new();

	job_set_str(job, "recording_file_id", "file-1");
	job_set_str(job, "meeting_uuid", "/ab+c//d==");
	job_set_int(job, "file_size", 1234);
	job_set_str(job, "s3_key", "rec/file-1.mp4");
	job_set_str(job, "s3_bucket", "bkt");
	if (completed_at)
		job_set_time(job, "completed_at", completed_at);
	return job;
}

static void test_state(void)
{
	struct job *job = done_job(NOW - 2 * DAY);
	time_t due = 0;
	char buf[160];

	cfg.zoom_after_upload = ZOOM_KEEP;
	cfg.zoom_after_upload_delay = 7 * DAY;
	is_int(retention_state_of(&cfg, job, NOW, &due), RETENTION_OFF, "keep: off");
	retention_describe(&cfg, job, NOW, buf, sizeof buf);
	is_str(buf, "", "keep: list shows nothing");
	cfg.zoom_after_upload = ZOOM_TRASH;
	is_int(retention_state_of(&cfg, job, NOW, &due), RETENTION_WAITING,
	       "completed 2 days ago, delay 7 days: waiting");
	is_int(due, NOW + 5 * DAY, "  ... due in 5 days");
	ok(retention_awaits(RETENTION_WAITING), "  ... it awaits removal");
	retention_describe(&cfg, job, NOW, buf, sizeof buf);
	is_str(buf, "waiting 5d 00h", "  ... list: waiting 5d 00h");
	is_int(retention_state_of(&cfg, job, NOW + 5 * DAY - 1, NULL), RETENTION_WAITING,
	       "one second before the delay has passed: waiting");
	is_int(retention_state_of(&cfg, job, NOW + 5 * DAY, NULL), RETENTION_DUE,
	       "the delay passed to the second: due");
	retention_describe(&cfg, job, NOW + 6 * DAY, buf, sizeof buf);
	is_str(buf, "due", "  ... list: due");
	job_set_str(job, "zoom_removal_error", "Zoom's recordings API answered 500");
	is_int(retention_state_of(&cfg, job, NOW + 6 * DAY, NULL), RETENTION_ERROR,
	       "after a failed try: error, due again");
	ok(retention_awaits(RETENTION_ERROR) && retention_awaits(RETENTION_DUE),
	   "  ... due and error jobs await removal");
	retention_describe(&cfg, job, NOW + 6 * DAY, buf, sizeof buf);
	is_str(buf, "error: Zoom's recordings API answered 500", "  ... list: the error");
	job_set_time(job, "zoom_removed_at", NOW + 6 * DAY);
	job_set_str(job, "zoom_removal", "trash");
	is_int(retention_state_of(&cfg, job, NOW + 7 * DAY, NULL), RETENTION_REMOVED,
	       "zoom_removed_at: removed");
	ok(!retention_awaits(RETENTION_REMOVED), "  ... no longer awaits");
	retention_describe(&cfg, job, NOW + 7 * DAY, buf, sizeof buf);
	is_str(buf, "trash", "  ... list: trash");
	job_free(job);

	job = done_job(0);
	is_int(retention_state_of(&cfg, job, NOW, NULL), RETENTION_NOT_OURS,
	       "no completed_at: not a job zoom2s3 completed");
	ok(!retention_awaits(RETENTION_NOT_OURS) && !retention_awaits(RETENTION_OFF),
	   "  ... never awaits removal, nor does anything with keep");
	job_set_str(job, "completed_at", "yesterday");
	is_int(retention_state_of(&cfg, job, NOW, NULL), RETENTION_NOT_OURS,
	       "a completed_at that does not parse: not ours either");
	job_free(job);

	cfg.zoom_after_upload_delay = 0;
	job = done_job(NOW);
	is_int(retention_state_of(&cfg, job, NOW, NULL), RETENTION_DUE, "delay 0: due at once");
	job_free(job);
}

static void test_verify(void)
{
	struct job *job = done_job(NOW);
	struct s3_object obj = { .exists = true, .size = 1234 };
	char why[300];

	cfg.s3_bucket = "bkt";
	snprintf(obj.file_id, sizeof obj.file_id, "file-1");
	is_int(retention_verify(&cfg, job, &obj, why, sizeof why), 0,
	       "the object: file_size bytes, this Zoom file id: verified");
	obj.exists = false;
	ok(retention_verify(&cfg, job, &obj, why, sizeof why) < 0 && strstr(why, "no longer"),
	   "no object: refused (%s)", why);
	obj.exists = true;
	obj.size = 1233;
	ok(retention_verify(&cfg, job, &obj, why, sizeof why) < 0 &&
		   strstr(why, "1233 bytes, not file_size 1234"),
	   "another size: refused (%s)", why);
	obj.size = 1234;
	snprintf(obj.file_id, sizeof obj.file_id, "file-2");
	ok(retention_verify(&cfg, job, &obj, why, sizeof why) < 0 && strstr(why, "file-2"),
	   "another Zoom file's object: refused (%s)", why);
	obj.file_id[0] = '\0';
	ok(retention_verify(&cfg, job, &obj, why, sizeof why) < 0 && strstr(why, "none"),
	   "an object without the metadata: refused (%s)", why);
	snprintf(obj.file_id, sizeof obj.file_id, "file-1");
	cfg.s3_bucket = "other";
	ok(retention_verify(&cfg, job, &obj, why, sizeof why) < 0 && strstr(why, "s3_bucket"),
	   "a job of another bucket: refused (%s)", why);
	cfg.s3_bucket = "bkt";
	job_remove(job, "file_size");
	ok(retention_verify(&cfg, job, &obj, why, sizeof why) < 0 && strstr(why, "file_size"),
	   "a job without file_size: refused (%s)", why);
	job_free(job);
}

static void test_url(void)
{
	char url[512];

	is_int(retention_delete_url("https://api.zoom.us/v2/", "/ab+c//d==", "f 1",
				    ZOOM_TRASH, url, sizeof url),
	       0, "the DELETE URL");
	is_str(url,
	       "https://api.zoom.us/v2/meetings/%252Fab%252Bc%252F%252Fd%253D%253D/recordings/"
	       "f%201?action=trash",
	       "  ... the uuid double-encoded, the file id encoded, action=trash");
	retention_delete_url("http://127.0.0.1:9/v2", "u", "f", ZOOM_DELETE, url, sizeof url);
	is_str(url, "http://127.0.0.1:9/v2/meetings/u/recordings/f?action=delete", "action=delete");
	is_int(retention_delete_url("https://api.zoom.us/v2", "u", "f", ZOOM_TRASH, url, 20), -1,
	       "a URL that does not fit: -1");
}

/* ---- spool_edit_done ------------------------------------------------------- */

static int edits;

static bool mark(struct job *job, void *ctx)
{
	edits++;
	job_set_str(job, "zoom_removal", ctx);
	return true;
}

static bool leave(struct job *job, void *ctx)
{
	(void)job;
	(void)ctx;
	edits++;
	return false;
}

static void test_edit_done(void)
{
	char root[] = "/tmp/test_retention.XXXXXX", dir[256], path[320], err[256];
	struct spool sp;
	struct job *job = done_job(NOW), *back = NULL;
	struct stat before, after;
	struct timespec old[2] = { { 1700000000, 0 }, { 1700000000, 0 } };
	size_t placed = 0;
	int fd;

	if (!mkdtemp(root)) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(dir, sizeof dir, "%s/spool", root);
	if (spool_open(&sp, dir, true, err, sizeof err) != SPOOL_OK ||
	    spool_enqueue(&sp, &job, 1, &placed, err, sizeof err) != SPOOL_OK) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	/* Into done/ the way an operator's mv would; then an old mtime. */
	snprintf(path, sizeof path, "%s/new/file-1.json", dir);
	{
		char to[320];

		snprintf(to, sizeof to, "%s/done/file-1.json", dir);
		rename(path, to);
		snprintf(path, sizeof path, "%s", to);
	}
	utimensat(AT_FDCWD, path, old, 0);
	stat(path, &before);

	is_int(spool_edit_done(&sp, "file-1.json", mark, "trash", err, sizeof err), SPOOL_OK,
	       "spool_edit_done rewrites the done job");
	stat(path, &after);
	ok(after.st_ino != before.st_ino, "  ... as a new file renamed over it");
	ok(after.st_mtime == before.st_mtime, "  ... keeping its mtime (when it completed)");
	ok((after.st_mode & 0777) == SPOOL_JOB_MODE, "  ... mode 0640");
	if (spool_read(&sp, SPOOL_DONE, "file-1.json", &back, NULL, err, sizeof err) == SPOOL_OK)
		is_str(job_get_str(back, "zoom_removal"), "trash", "  ... with the edit in it");
	job_free(back);

	is_int(spool_edit_done(&sp, "file-1.json", leave, NULL, err, sizeof err), SPOOL_UNCHANGED,
	       "an edit that changes nothing: SPOOL_UNCHANGED, no rewrite");
	fd = open(path, O_RDONLY);
	flock(fd, LOCK_EX);
	edits = 0;
	is_int(spool_edit_done(&sp, "file-1.json", mark, "delete", err, sizeof err), SPOOL_BUSY,
	       "a done job another process holds: skipped (SPOOL_BUSY)");
	is_int(edits, 0, "  ... without running the edit");
	close(fd);
	is_int(spool_edit_done(&sp, "gone.json", mark, "x", err, sizeof err), SPOOL_GONE,
	       "a job that is gone: SPOOL_GONE");
	spool_close(&sp);
	if (!tap_failed) {
		char cmd[300];

		snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", root);
	}
	job_free(job);
}

int main(void)
{
	log_init("test_retention", LOG_DEST_STDERR, false);
	test_state();
	test_verify();
	test_url();
	test_edit_done();
	return done_testing();
}
