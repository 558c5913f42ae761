/* ctl.c and the spool operations it uses (spool_list_entries, spool_read,
 * spool_cur_held, spool_requeue, spool_edit_new, spool_remove_done) on a
 * real spool in a temporary directory; a forked child stands in for a
 * spooler holding a job's flock. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "jobview.h"
#include "log.h"
#include "tap.h"

static char root[] = "/tmp/test_ctl.XXXXXX";
static char spooldir[256];
static struct spool sp;
static struct config cfg;
static char *outbuf, *errbuf;
static size_t outlen, errlen;
static FILE *out, *errout;
static const time_t NOW = 1795000000; /* 2026-11-18 */

static void path_of(char *buf, size_t size, const char *state, const char *name)
{
	snprintf(buf, size, "%s/%s/%s", spooldir, state, name);
}

static void put(const char *state, const char *name, const char *text)
{
	char p[512];
	FILE *f;

	path_of(p, sizeof p, state, name);
	f = fopen(p, "w");
	if (!f) {
		printf("Bail out! cannot write %s\n", p);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	chmod(p, 0640);
}

static bool exists(const char *state, const char *name)
{
	char p[512];

	path_of(p, sizeof p, state, name);
	return access(p, F_OK) == 0;
}

static struct job *read_back(const char *state, const char *name)
{
	struct job *job = NULL;
	char err[256];

	if (spool_read(&sp, state[0] == 'n' ? SPOOL_NEW : state[0] == 'd' ? SPOOL_DONE
							 : state[0] == 'c' ? SPOOL_CUR
									   : SPOOL_FAILED,
		       name, &job, NULL, err, sizeof err) != SPOOL_OK)
		return NULL;
	return job;
}

static void set_mtime(const char *state, const char *name, time_t t)
{
	char p[512];
	struct timespec times[2] = { { .tv_sec = t }, { .tv_sec = t } };

	path_of(p, sizeof p, state, name);
	utimensat(AT_FDCWD, p, times, 0);
}

/* Closes the captured output of the last command. */
static void close_output(void)
{
	if (out)
		fclose(out);
	if (errout)
		fclose(errout);
	free(outbuf);
	free(errbuf);
	out = errout = NULL;
	outbuf = errbuf = NULL;
}

static struct ctl new_ctl(void)
{
	struct ctl c = { .cfg = &cfg, .sp = &sp, .now = NOW };

	close_output();
	out = open_memstream(&outbuf, &outlen);
	errout = open_memstream(&errbuf, &errlen);
	c.out = out;
	c.errout = errout;
	return c;
}

static const char *output(void)
{
	fflush(out);
	return outbuf ? outbuf : "";
}

static const char *errors(void)
{
	fflush(errout);
	return errbuf ? errbuf : "";
}

/* A child holding LOCK_EX on state/name until hold_end(). */
static pid_t holder;
static int release_pipe[2];

static bool hold(const char *state, const char *name)
{
	char p[512], ready;
	int ready_pipe[2];

	path_of(p, sizeof p, state, name);
	if (pipe(ready_pipe) != 0 || pipe(release_pipe) != 0)
		return false;
	holder = fork();
	if (holder == 0) {
		int fd = open(p, O_RDONLY);
		char c;

		close(release_pipe[1]); /* else our own copy keeps the pipe open */
		close(ready_pipe[0]);
		if (fd < 0 || flock(fd, LOCK_EX) != 0)
			_exit(1);
		if (write(ready_pipe[1], "r", 1) != 1 || read(release_pipe[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready_pipe[1]);
	close(release_pipe[0]);
	return read(ready_pipe[0], &ready, 1) == 1 && close(ready_pipe[0]) == 0;
}

static void hold_end(void)
{
	int status;

	close(release_pipe[1]);
	waitpid(holder, &status, 0);
}

#define FAILED_JOB                                                                        \
	"{\"recording_file_id\":\"abc\",\"topic\":\"Algebra\",\"attempts\":48,"            \
	"\"received_at\":\"2026-11-10T10:00:00Z\",\"failed_at\":\"2026-11-11T10:00:00Z\"," \
	"\"last_error\":\"Zoom answered 404 Not Found for the download link\","            \
	"\"upload_id\":\"UP\",\"parts\":[{\"part\":1,\"etag\":\"e\",\"size\":5}],"           \
	"\"next_attempt_at\":\"2026-11-11T09:00:00Z\",\"download_token\":\"tokSECRETtok\"}\n"

static void test_find(void)
{
	enum spool_state st;
	char name[SPOOL_NAME_MAX], msg[256], arg[512], hashed[SPOOL_NAME_MAX];

	put("failed", "abc.json", FAILED_JOB);
	spool_job_name("a/b c", hashed, sizeof hashed);
	put("done", hashed, "{\"recording_file_id\":\"a/b c\"}\n");
	ok(ctl_find_job(&sp, "abc", &st, name, sizeof name, msg, sizeof msg) == 0 &&
		   st == SPOOL_FAILED && strcmp(name, "abc.json") == 0,
	   "a recording file id finds its job");
	ok(ctl_find_job(&sp, "abc.json", &st, name, sizeof name, msg, sizeof msg) == 0 &&
		   st == SPOOL_FAILED, "a file name finds it");
	ok(ctl_find_job(&sp, "failed/abc.json", &st, name, sizeof name, msg, sizeof msg) == 0,
	   "state/name finds it");
	snprintf(arg, sizeof arg, "%s/failed/abc.json", spooldir);
	ok(ctl_find_job(&sp, arg, &st, name, sizeof name, msg, sizeof msg) == 0 &&
		   strcmp(name, "abc.json") == 0, "so does its whole path");
	ok(ctl_find_job(&sp, "a/b c", &st, name, sizeof name, msg, sizeof msg) == 0 &&
		   st == SPOOL_DONE && strcmp(name, hashed) == 0,
	   "an id that is no file name finds its hashed name");
	ok(ctl_find_job(&sp, "new/abc.json", &st, name, sizeof name, msg, sizeof msg) == -1 &&
		   strstr(msg, "no job abc.json in new/"), "the wrong state: not found (%s)", msg);
	ok(ctl_find_job(&sp, "nope", &st, name, sizeof name, msg, sizeof msg) == -1,
	   "an unknown job: not found");
	ok(ctl_find_job(&sp, "../../etc/passwd", &st, name, sizeof name, msg, sizeof msg) == -1,
	   "a path outside the spool: not found");
}

static void test_status_list_show(void)
{
	struct ctl c = new_ctl();
	char young[512];

	ok(ctl_status(&c, 3600) == CTL_PROBLEM, "status: failed/ not empty is a problem");
	ok(strstr(output(), "PROBLEM: 1 job in failed/") &&
		   strstr(output(), "last failure:  2026-11-11T10:00:00Z") &&
		   strstr(output(), "failed/abc.json: Zoom answered 404"),
	   "status names the failure and its reason");
	ok(strstr(output(), "last success:  none in done/") || strstr(output(), "last success:"),
	   "a done/ job without completed_at still counts by its mtime");

	c = new_ctl();
	ok(ctl_show(&c, "abc") == CTL_OK && strstr(output(), "\"download_token\":\"***\"") &&
		   !strstr(output(), "tokSECRETtok"),
	   "show masks the token");
	c = new_ctl();
	ok(ctl_show(&c, "zzz") == CTL_PROBLEM && strstr(errors(), "no job zzz"),
	   "show of an unknown job: exit 1 and why");

	snprintf(young, sizeof young,
		 "{\"recording_file_id\":\"young\",\"received_at\":\"2026-11-18T07:50:00Z\","
		 "\"attempts\":1,\"next_attempt_at\":\"2026-11-18T08:30:00Z\","
		 "\"last_error\":\"S3 PutObject k: HTTP 503 SlowDown: slow down\"}\n");
	put("new", "young.json", young);
	c = new_ctl();
	ok(ctl_list(&c, SPOOL_NEW, true) == CTL_OK && strncmp(output(), "[\n{", 3) == 0 &&
		   strstr(output(), "\"name\":\"young.json\"") && !strstr(output(), "abc.json") &&
		   strstr(output(), "\n]\n"),
	   "list new --json: a JSON array of new/ only");
	c = new_ctl();
	ok(ctl_list(&c, -1, false) == CTL_OK && strstr(output(), "STATE") &&
		   strstr(output(), "young.json") && strstr(output(), "abc.json"),
	   "list: a header and every state");
	c = new_ctl();
	ok(ctl_list(&c, SPOOL_CUR, true) == CTL_OK && strcmp(output(), "[]\n") == 0,
	   "an empty state lists as []");
}

static void test_requeue(void)
{
	struct ctl c = new_ctl();
	struct job *job;
	int64_t attempts = -1;
	time_t requeued = 0;
	char p[512];
	struct stat st;
	char *argv[] = { (char *)"abc" };

	put("new", "abc.json", "{\"recording_file_id\":\"abc\",\"attempts\":0}\n");
	ok(ctl_requeue(&c, argv, 1, false) == CTL_PROBLEM && exists("failed", "abc.json"),
	   "requeue refused while new/ holds the name; the job stays in failed/");
	ok(strstr(errors(), "is in new/") != NULL, "and says why: %s", errors());
	path_of(p, sizeof p, "new", "abc.json");
	unlink(p);

	c = new_ctl();
	ok(ctl_requeue(&c, argv, 1, false) == CTL_OK && exists("new", "abc.json") &&
		   !exists("failed", "abc.json"),
	   "requeue: failed/ -> new/");
	job = read_back("new", "abc.json");
	ok(job != NULL, "the requeued job parses");
	if (job) {
		ok(job_get_int(job, "attempts", &attempts) == 0 && attempts == 0,
		   "attempts reset to 0");
		ok(!job_has(job, "failed_at") && !job_has(job, "last_error") &&
			   !job_has(job, "upload_id") && !job_has(job, "next_attempt_at") &&
			   job_parts_count(job) == 0,
		   "failed_at, last_error, next_attempt_at and upload state gone (as retry.c does)");
		ok(job_get_time(job, "requeued_at", &requeued) == 0 && requeued == NOW,
		   "requeued_at set");
		ok(job_get_str(job, "download_token") && job_get_str(job, "topic"),
		   "the rest kept");
		job_free(job);
	}
	ok(stat(p, &st) == 0 && (st.st_mode & 0777) == 0640, "the requeued file is mode 0640");

	put("done", "d1.json", "{\"recording_file_id\":\"d1\",\"completed_at\":\"2026-11-01T00:00:00Z\","
			       "\"bytes\":5,\"s3_etag\":\"e\",\"s3_bucket\":\"b\",\"attempts\":1}\n");
	put("failed", "f1.json", "{\"recording_file_id\":\"f1\",\"failed_at\":\"2026-11-01T00:00:00Z\"}\n");
	put("failed", "f2.json", "{\"recording_file_id\":\"f2\",\"failed_at\":\"2026-11-01T00:00:00Z\"}\n");
	put("failed", "bad.json", "this is not json\n");
	c = new_ctl();
	char *dargv[] = { (char *)"done/d1.json" };
	ok(ctl_requeue(&c, dargv, 1, false) == CTL_OK && exists("new", "d1.json"),
	   "requeue from done/");
	job = read_back("new", "d1.json");
	ok(job && !job_has(job, "completed_at") && !job_has(job, "s3_etag") && !job_has(job, "bytes"),
	   "completion fields cleared");
	job_free(job);
	c = new_ctl();
	ok(ctl_requeue(&c, NULL, 0, true) == CTL_PROBLEM && exists("new", "f1.json") &&
		   exists("new", "f2.json") && exists("failed", "bad.json"),
	   "--all-failed requeues every job that parses; an unparsable one stays (exit 1)");
	ok(strstr(errors(), "bad.json") != NULL, "and is named");
}

static void test_requeue_identity(void)
{
	struct spool_entry entry;
	struct job *job = NULL;
	char err[256];

	put("failed", "g1.json", "{\"recording_file_id\":\"g1\",\"failed_at\":\"2026-11-01T00:00:00Z\"}\n");
	ok(spool_read(&sp, SPOOL_FAILED, "g1.json", &job, &entry, err, sizeof err) == SPOOL_OK, "read");
	put("failed", "tmpcopy.json", "{\"recording_file_id\":\"g1\",\"edited\":true}\n");
	{
		char a[512], b[512];

		path_of(a, sizeof a, "failed", "tmpcopy.json");
		path_of(b, sizeof b, "failed", "g1.json");
		rename(a, b); /* a person replaced the file after we read it */
	}
	ok(spool_requeue(&sp, SPOOL_FAILED, &entry, job, err, sizeof err) == SPOOL_LOST_RACE &&
		   strstr(err, "changed") && exists("failed", "g1.json") && !exists("new", "g1.json"),
	   "a file replaced since it was read is not requeued (%s)", err);
	job_free(job);
	ok(spool_requeue(&sp, SPOOL_NEW, &entry, NULL, err, sizeof err) == SPOOL_ERROR,
	   "only done/ and failed/ jobs are requeued");
}

static void test_retry_now(void)
{
	struct ctl c;
	struct job *job;
	struct stat before, after;
	char p[512];

	put("new", "w1.json", "{\"recording_file_id\":\"w1\",\"attempts\":2,"
			      "\"next_attempt_at\":\"2099-01-01T00:00:00Z\"}\n");
	put("new", "w2.json", "{\"recording_file_id\":\"w2\",\"attempts\":2,"
			      "\"next_attempt_at\":\"2099-01-01T00:00:00Z\"}\n");
	set_mtime("new", "w1.json", NOW - 500);
	path_of(p, sizeof p, "new", "w1.json");
	stat(p, &before);
	ok(hold("new", "w2.json"), "a child holds new/w2.json (a claim in progress)");
	c = new_ctl();
	ok(ctl_retry_now(&c) == CTL_OK, "retry-now");
	hold_end();
	job = read_back("new", "w1.json");
	ok(job && !job_has(job, "next_attempt_at"), "w1 is due now");
	job_free(job);
	ok(stat(p, &after) == 0 && after.st_mtime == before.st_mtime && after.st_ino != before.st_ino,
	   "a new file, with the old mtime (the time of the failed try)");
	job = read_back("new", "w2.json");
	ok(job && job_has(job, "next_attempt_at"), "the held job was left alone");
	job_free(job);
	ok(strstr(output(), "made due now") != NULL, "retry-now says what it did: %s", output());
}

static void test_cur_held(void)
{
	put("cur", "c1.json", "{\"recording_file_id\":\"c1\",\"claimed_by\":\"web2:4242\"}\n");
	is_int(spool_cur_held(&sp, "c1.json"), SPOOL_ABANDONED, "nobody holds cur/c1: abandoned");
	ok(hold("cur", "c1.json"), "a child holds cur/c1");
	is_int(spool_cur_held(&sp, "c1.json"), SPOOL_RUNNING, "held: running");
	{
		struct ctl c = new_ctl();

		ctl_list(&c, SPOOL_CUR, true);
		ok(strstr(output(), "\"running\":true") != NULL, "list shows it running");
		c = new_ctl();
		ctl_status(&c, 3600);
		ok(strstr(output(), "1 running, 0 abandoned") != NULL, "status counts it running");
		ok(strstr(output(), "cur/c1.json: held by web2:4242") != NULL,
		   "status names the host that holds it: %s", output());
	}
	hold_end();
	{
		struct ctl c = new_ctl();

		ctl_status(&c, 3600);
		ok(strstr(output(), "cur/c1.json: abandoned by web2:4242") != NULL,
		   "status names the host that abandoned it: %s", output());
	}
	is_int(spool_cur_held(&sp, "c1.json"), SPOOL_ABANDONED, "released: abandoned again");
	is_int(spool_cur_held(&sp, "none.json"), SPOOL_GONE, "no such job: gone");
}

static void test_prune(void)
{
	struct ctl c;
	struct spool_entry *entries = NULL;
	size_t n = 0;
	char err[256];

	put("done", "old.json", "{\"recording_file_id\":\"old\",\"completed_at\":\"2026-11-01T00:00:00Z\"}\n");
	put("done", "recent.json", "{\"recording_file_id\":\"recent\",\"completed_at\":\"2026-11-15T00:00:00Z\"}\n");
	put("done", "junk.json", "not json\n");
	set_mtime("done", "junk.json", NOW - 30 * 86400);
	put("done", "junk2.json", "not json either\n");
	c = new_ctl();
	ok(ctl_prune(&c, 7) == CTL_OK, "prune --older-than 7");
	ok(!exists("done", "old.json") && exists("done", "recent.json"),
	   "finished 17 days ago: removed; 3 days ago: kept");
	ok(!exists("done", "junk.json") && exists("done", "junk2.json"),
	   "an unparsable file goes by its mtime");

	spool_list_entries(&sp, SPOOL_DONE, &entries, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(entries[i].name, "recent.json") != 0)
			continue;
		put("done", "recent.json", "{\"recording_file_id\":\"recent\",\"replaced\":1}\n");
		{
			char a[512], b[512];

			/* put() rewrote it in place: make it another file */
			path_of(a, sizeof a, "done", "recent.json");
			path_of(b, sizeof b, "done", "recent2.json");
			rename(a, b);
			put("done", "recent.json", "{\"recording_file_id\":\"recent\"}\n");
		}
		ok(spool_remove_done(&sp, &entries[i], err, sizeof err) == SPOOL_LOST_RACE &&
			   exists("done", "recent.json"),
		   "spool_remove_done leaves a file that is not the one listed");
	}
	free(entries);
}

int main(void)
{
	char err[256];

	log_init("test_ctl", LOG_DEST_STDERR, false);
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(spooldir, sizeof spooldir, "%s/spool", root);
	if (spool_open(&sp, spooldir, true, err, sizeof err) != SPOOL_OK) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	cfg.spool_dir = spooldir;
	test_find();
	test_status_list_show();
	test_requeue();
	test_requeue_identity();
	test_retry_now();
	test_cur_held();
	test_prune();
	spool_close(&sp);
	close_output();
	tap_remove_dir(root);
	return done_testing();
}
