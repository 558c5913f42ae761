/* The spool against a real directory. The whole test runs twice: against
 * the library's spool.c (renameat2 with RENAME_NOREPLACE), and, as
 * test_spool_linkunlink, against spool.c built without renameat2, the
 * link-then-unlink path of systems that lack it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "job.h"
#include "spool.h"
#include "tap.h"

/* Which rename path this build of spool.c takes: test_spool links the
 * library's; test_spool_linkunlink is the same test linked with spool.c and
 * spoolrepair.c built with SPOOL_WITHOUT_RENAMEAT2, as on a system without
 * renameat2 (Makefile.am). */
#ifdef SPOOL_WITHOUT_RENAMEAT2
#define PATH_LABEL "link+unlink"
#else
#define PATH_LABEL "renameat2"
#endif

/* ---- helpers ------------------------------------------------------------ */

static char t_base[4096];
static int spool_no;

static const char *t_path(const char *dir, const char *rel)
{
	static char buf[4][8192];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof buf[0], "%s/%s", dir, rel);
	return p;
}

static bool t_exists(const char *dir, const char *rel)
{
	struct stat st;

	return lstat(t_path(dir, rel), &st) == 0;
}

static int t_mode(const char *dir, const char *rel)
{
	struct stat st;

	return lstat(t_path(dir, rel), &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static ino_t t_ino(const char *dir, const char *rel)
{
	struct stat st;

	return lstat(t_path(dir, rel), &st) == 0 ? st.st_ino : 0;
}

static char *t_read(const char *dir, const char *rel)
{
	static char buf[65536];
	int fd = open(t_path(dir, rel), O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static int t_write(const char *dir, const char *rel, const char *text)
{
	int fd = open(t_path(dir, rel), O_WRONLY | O_CREAT | O_TRUNC, 0640);
	size_t len = strlen(text);
	int rc = -1;

	if (fd < 0)
		return -1;
	if (write(fd, text, len) == (ssize_t)len)
		rc = 0;
	close(fd);
	return rc;
}

/* Entries in dir/sub except . and .. */
static int t_count(const char *dir, const char *sub)
{
	char cmd[8300];
	int n = -1;
	FILE *p;

	snprintf(cmd, sizeof cmd, "ls -A '%s/%s' | wc -l", dir, sub);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (fscanf(p, "%d", &n) != 1)
		n = -1;
	pclose(p);
	return n;
}

static const char *new_spool_dir(void)
{
	static char dir[4200];

	snprintf(dir, sizeof dir, "%s/spool%d", t_base, ++spool_no);
	return dir;
}

/* spool_open(create) of a fresh spool; false (a failing test) when it fails. */
static bool t_open(struct spool *sp, const char *dir)
{
	char err[512] = "";

	return ok(spool_open(sp, dir, true, err, sizeof err) == SPOOL_OK,
		  "%s: spool_open %s (%s)", PATH_LABEL, dir, err);
}

static struct job *t_job(const char *id, const char *topic)
{
	struct job *job = job_new();

	job_set_str(job, "recording_file_id", id);
	job_set_int(job, "meeting_id", INT64_C(89012345678));
	job_set_str(job, "topic", topic);
	job_set_str(job, "download_url", "https://zoom.us/rec/download/abc");
	job_set_int(job, "attempts", 0);
	return job;
}

/* A file of an event: { recording_file_id, topic }. */
typedef const char *const t_file[2];

/* An event's jobs: jobs[i] for files[i]. */
static void t_jobs(struct job **jobs, const t_file files[], size_t n)
{
	for (size_t i = 0; i < n; i++)
		jobs[i] = t_job(files[i][0], files[i][1]);
}

static int t_enqueue1(struct spool *sp, const char *id, const char *topic, size_t *n)
{
	struct job *job = t_job(id, topic);
	char err[512] = "";
	int rc = spool_enqueue(sp, &job, 1, n, err, sizeof err);

	if (rc != 0)
		printf("# enqueue %s: %s\n", id, err);
	job_free(job);
	return rc;
}

/* A child that holds an flock on path until told to go. */
struct holder {
	pid_t pid;
	int go; /* write end: closing it lets the child exit */
};

static int hold_lock(const char *path, struct holder *h)
{
	int ready[2], go[2];
	char byte = 0;

	h->pid = -1;
	h->go = -1;
	if (pipe(ready) != 0 || pipe(go) != 0)
		return -1;
	h->pid = fork();
	if (h->pid < 0)
		return -1;
	if (h->pid == 0) {
		int fd = open(path, O_RDONLY);

		close(ready[0]);
		close(go[1]);
		if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		while (read(go[0], &byte, 1) > 0)
			;
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	h->go = go[1];
	if (read(ready[0], &byte, 1) != 1) {
		close(ready[0]);
		return -1;
	}
	close(ready[0]);
	return 0;
}

static void let_go(struct holder *h)
{
	int status;

	if (h->go >= 0)
		close(h->go);
	if (h->pid > 0)
		waitpid(h->pid, &status, 0);
}

/* 1 when another description can lock path right now. */
static int lockable(const char *path)
{
	int fd = open(path, O_RDONLY), rc;

	if (fd < 0)
		return -1;
	rc = flock(fd, LOCK_EX | LOCK_NB) == 0;
	close(fd);
	return rc;
}

/* ---- layout, names, listing, private files ----------------------------- */
static void test_layout(void)
{
	static const char *const dirs[] = { "tmp", "new", "cur", "done", "failed" };
	const char *dir = new_spool_dir();
	struct spool sp;
	char err[512] = "";
	int rc;

	ok(spool_open(&sp, dir, false, err, sizeof err) == SPOOL_ERROR && strstr(err, dir),
	   "a missing spool without create is an error (%s)", err);
	err[0] = '\0';
	rc = spool_open(&sp, dir, true, err, sizeof err);
	ok(rc == 0, "spool_open creates the spool (%s)", err);
	if (rc != 0)
		return;
	is_intf(t_mode(dir, "."), 02770, "spool_dir is 2770 (setgid, group rwx) despite umask 077");
	for (size_t i = 0; i < 5; i++)
		is_intf(t_mode(dir, dirs[i]), 02770, "%s/ is 2770", dirs[i]);
	is_intf(t_mode(dir, ".lock"), 0660, ".lock is 0660");
	ok(sp.dirfd >= 0 && sp.lockfd >= 0, "fds open");
	spool_close(&sp);
	ok(sp.dirfd == -1 && sp.lockfd == -1, "spool_close");
	ok(spool_open(&sp, dir, false, err, sizeof err) == SPOOL_OK, "an existing spool opens without create");
	spool_close(&sp);
	ok(spool_open(&sp, dir, true, err, sizeof err) == SPOOL_OK, "and with create again");
	spool_close(&sp);
	rmdir(t_path(dir, "cur"));
	err[0] = '\0';
	ok(spool_open(&sp, dir, false, err, sizeof err) == SPOOL_ERROR && strstr(err, "/cur"),
	   "a missing state directory is named (%s)", err);
	is_str(spool_state_dir(SPOOL_TMP), "tmp", "state name tmp");
	is_str(spool_state_dir(SPOOL_FAILED), "failed", "state name failed");
}

static void test_naming(void)
{
	unsigned char d[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1], want[128], name[SPOOL_NAME_MAX], id[128];

	ok(spool_job_name("abc-DEF_123", name, sizeof name) == SPOOL_OK, "plain id");
	is_str(name, "abc-DEF_123.json", "a plain id names its file");
	static const char *const odd[] = { "../x", "a/b", "a.b", "..", ".hidden", "a b",
					    "\xc3\xa9t\xc3\xa9" };
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		crypto_sha256(odd[i], strlen(odd[i]), d);
		crypto_hex(d, sizeof d, hex);
		snprintf(want, sizeof want, "%s.sha256.json", hex);
		ok(spool_job_name(odd[i], name, sizeof name) == SPOOL_OK, "odd id named");
		is_str(name, want, "an id with other characters gets a hashed name");
	}
	memset(id, 'a', 100);
	id[100] = '\0';
	ok(spool_job_name(id, name, sizeof name) == SPOOL_OK && strlen(name) == 105, "100 bytes: plain");
	id[100] = 'a';
	id[101] = '\0';
	ok(spool_job_name(id, name, sizeof name) == SPOOL_OK && strstr(name, ".sha256.json") &&
		   strlen(name) == 76,
	   "101 bytes: hashed");
	ok(spool_job_name("", name, sizeof name) == SPOOL_ERROR, "an empty id has no name");
	ok(spool_job_name(NULL, name, sizeof name) == SPOOL_ERROR, "no id has no name");
	ok(spool_job_name("abc", name, 8) == SPOOL_ERROR, "a small buffer is refused");
	ok(spool_job_name("abc", name, 9) == SPOOL_OK, "an exact buffer is fine");
}

static void test_list_clean_private(void)
{
	const char *dir = new_spool_dir();
	struct spool sp;
	char **names = NULL, buf[64];
	size_t n = 0;
	struct timespec old[2] = { { 0, 0 }, { 0, 0 } };
	time_t now = time(NULL);

	if (!t_open(&sp, dir))
		return;
	t_write(dir, "new/b.json", "{}");
	t_write(dir, "new/a.json", "{}");
	t_write(dir, "new/.hidden.json", "{}");
	t_write(dir, "new/notes.txt", "x");
	mkdir(t_path(dir, "new/dir.json"), 0700);
	if (symlink("a.json", t_path(dir, "new/link.json")) != 0)
		ok(0, "symlink new/link.json: %s", strerror(errno));
	ok(spool_list(&sp, SPOOL_NEW, &names, &n) == SPOOL_OK && n == 2, "list: only regular .json files");
	if (n == 2) {
		is_str(names[0], "a.json", "list sorted 1");
		is_str(names[1], "b.json", "list sorted 2");
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	ok(spool_list(&sp, SPOOL_DONE, &names, &n) == SPOOL_OK && n == 0 && names == NULL, "empty list");

	t_write(dir, "tmp/old", "x");
	t_write(dir, "tmp/young", "x");
	mkdir(t_path(dir, "tmp/olddir"), 0700);
	old[0].tv_sec = old[1].tv_sec = now - 36 * 3600 - 10;
	utimensat(AT_FDCWD, t_path(dir, "tmp/old"), old, 0);
	utimensat(AT_FDCWD, t_path(dir, "tmp/olddir"), old, 0);
	ok(spool_clean_tmp(&sp, now, 36 * 3600, &n) == SPOOL_OK && n == 1,
	   "clean_tmp removes one stale file");
	ok(!t_exists(dir, "tmp/old") && t_exists(dir, "tmp/young") && t_exists(dir, "tmp/olddir"),
	   "the young file and directories stay");

	ok(spool_write_private(&sp, ".zoom-oauth-token", "tok1", 4) == SPOOL_OK, "write private");
	is_intf(t_mode(dir, ".zoom-oauth-token"), 0600, "private file is 0600");
	ok(spool_write_private(&sp, ".zoom-oauth-token", "token-two", 9) == SPOOL_OK, "replace private");
	ok(spool_read_private(&sp, ".zoom-oauth-token", buf, sizeof buf, &n) == SPOOL_OK && n == 9,
	   "read private");
	is_str(buf, "token-two", "private content, NUL-terminated");
	is_intf(spool_read_private(&sp, ".zoom-oauth-token", buf, 9, &n), SPOOL_ERROR,
		"too small a buffer: an error");
	ok(spool_read_private(&sp, ".zoom-oauth-token", buf, 10, &n) == SPOOL_OK && n == 9,
	   "just enough buffer");
	is_intf(spool_read_private(&sp, ".absent", buf, sizeof buf, &n), SPOOL_GONE, "absent: gone");
	ok(spool_write_private(&sp, "../escape", "x", 1) == SPOOL_ERROR, "a name with / is refused");
	ok(spool_write_private(&sp, ".lock", "x", 1) == SPOOL_ERROR, ".lock is not a private file");
	is_intf(t_count(dir, "."), 7, "no temporary file left in spool_dir");
	spool_close(&sp);
}

/* ---- the moves ----------------------------------------------------------- */
static void test_enqueue(void)
{
	const char *dir = new_spool_dir();
	struct spool sp;
	struct claim c;
	char err[512] = "", name[SPOOL_NAME_MAX], *text;
	struct job *jobs[3];
	size_t n = 99;
	int rc;

	if (!t_open(&sp, dir))
		return;
	t_jobs(jobs, (t_file[]){ { "f-1", "first" }, { "../x", "second" }, { "f-3", "third" } }, 3);
	rc = spool_enqueue(&sp, jobs, 3, &n, err, sizeof err);
	ok(rc == 0 && n == 3, "%s: enqueue spools three jobs (%s)", PATH_LABEL, err);
	spool_job_name("../x", name, sizeof name);
	ok(t_exists(dir, "new/f-1.json") && t_exists(dir, t_path("new", name)) &&
		   t_exists(dir, "new/f-3.json"),
	   "%s: the three are in new/, the odd id under its hashed name", PATH_LABEL);
	is_intf(t_count(dir, "tmp"), 0, "tmp/ is empty afterwards");
	is_intf(t_mode(dir, "new/f-1.json"), 0640, "a job file is 0640 despite umask 077");
	text = job_serialize(jobs[0], &n);
	is_str(t_read(dir, "new/f-1.json"), text, "the file holds the serialized job");
	free(text);
	job_free(jobs[0]);
	job_free(jobs[1]);
	job_free(jobs[2]);

	/* redelivery finds each job in whichever state it is now */
	ok(t_enqueue1(&sp, "f-1", "changed", &n) == 0 && n == 0,
	   "%s: redelivery while in new/: nothing spooled", PATH_LABEL);
	ok(strstr(t_read(dir, "new/f-1.json"), "first") != NULL, "and the job is not rewritten");
	ok(spool_claim(&sp, "f-1.json", time(NULL), &c, err, sizeof err) == SPOOL_CLAIMED, "claim f-1");
	ok(t_enqueue1(&sp, "f-1", "changed", &n) == 0 && n == 0 && !t_exists(dir, "new/f-1.json"),
	   "%s: redelivery while in cur/: nothing spooled", PATH_LABEL);
	ok(spool_move(&sp, &c, SPOOL_DONE, err, sizeof err) == SPOOL_OK, "move f-1 to done/");
	ok(t_enqueue1(&sp, "f-1", "changed", &n) == 0 && n == 0 && !t_exists(dir, "new/f-1.json"),
	   "%s: redelivery while in done/: nothing spooled", PATH_LABEL);
	ok(spool_claim(&sp, "f-3.json", time(NULL), &c, err, sizeof err) == SPOOL_CLAIMED, "claim f-3");
	ok(spool_move(&sp, &c, SPOOL_FAILED, err, sizeof err) == SPOOL_OK, "move f-3 to failed/");
	ok(t_enqueue1(&sp, "f-3", "changed", &n) == 0 && n == 0 && !t_exists(dir, "new/f-3.json"),
	   "%s: redelivery while in failed/: nothing spooled", PATH_LABEL);
	is_intf(spool_find(&sp, "f-1.json"), SPOOL_DONE, "find: done");
	is_intf(spool_find(&sp, "f-3.json"), SPOOL_FAILED, "find: failed");
	is_intf(spool_find(&sp, name), SPOOL_NEW, "find: new");
	is_intf(spool_find(&sp, "nope.json"), SPOOL_NOWHERE, "find: none");
	is_intf(t_count(dir, "tmp"), 0, "tmp/ is still empty");

	/* one event naming the same file twice spools it once */
	t_jobs(jobs, (t_file[]){ { "twice", "a" }, { "twice", "b" } }, 2);
	ok(spool_enqueue(&sp, jobs, 2, &n, err, sizeof err) == SPOOL_OK && n == 1,
	   "%s: a file twice in one event is spooled once", PATH_LABEL);
	job_free(jobs[0]);
	job_free(jobs[1]);
	jobs[0] = job_new();
	err[0] = '\0';
	ok(spool_enqueue(&sp, jobs, 1, &n, err, sizeof err) == SPOOL_ERROR && strstr(err, "recording_file_id"),
	   "%s: a job without recording_file_id is refused (%s)", PATH_LABEL, err);
	job_free(jobs[0]);
	spool_close(&sp);
}

/* An enqueue that fails after it has linked some jobs into new/ takes them
 * back. The failure must happen as root too, where permissions do not bite:
 * a directory sitting in failed/ under the third job's name is a real
 * inconsistency that enqueue refuses (it would hide the job for good), and
 * it is met only after the first two jobs were linked. */
static void test_enqueue_rollback(void)
{
	const char *dir = new_spool_dir();
	struct spool sp;
	char err[512] = "";
	struct job *jobs[3];
	struct rlimit saved, small;
	size_t n = 99;
	int rc;

	if (!t_open(&sp, dir))
		return;
	t_jobs(jobs, (t_file[]){ { "r-1", "one" }, { "r-2", "two" }, { "r-3", "three" } }, 3);
	mkdir(t_path(dir, "failed/r-3.json"), 0700);
	rc = spool_enqueue(&sp, jobs, 3, &n, err, sizeof err);
	ok(rc == SPOOL_ERROR && strstr(err, "failed/r-3.json exists and is not a regular file") && n == 0,
	   "%s: enqueue fails at the third job (%s)", PATH_LABEL, err);
	is_intf(t_count(dir, "new"), 0, "nothing of the event is left in new/");
	is_intf(t_count(dir, "tmp"), 0, "nor in tmp/");
	rmdir(t_path(dir, "failed/r-3.json"));
	ok(spool_enqueue(&sp, jobs, 3, &n, err, sizeof err) == SPOOL_OK && n == 3,
	   "%s: Zoom's retry then spools the whole event", PATH_LABEL);

	/* a write that fails (file size limit: EFBIG, root included) */
	job_free(jobs[0]);
	job_free(jobs[1]);
	t_jobs(jobs, (t_file[]){ { "w-1", "small" }, { "w-2", "big" } }, 2);
	{
		char big[5000];

		memset(big, 'x', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		job_set_str(jobs[1], "padding", big);
	}
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &saved);
	small = saved;
	small.rlim_cur = 2048;
	setrlimit(RLIMIT_FSIZE, &small);
	err[0] = '\0';
	rc = spool_enqueue(&sp, jobs, 2, &n, err, sizeof err);
	setrlimit(RLIMIT_FSIZE, &saved);
	ok(rc == SPOOL_ERROR && strstr(err, "File too large"), "%s: a failed write fails enqueue (%s)",
	   PATH_LABEL, err);
	ok(!t_exists(dir, "new/w-1.json") && !t_exists(dir, "new/w-2.json"),
	   "nothing of that event in new/");
	is_intf(t_count(dir, "tmp"), 0, "and no temporary file left");
	job_free(jobs[0]);
	job_free(jobs[1]);
	job_free(jobs[2]);
	spool_close(&sp);
}

static void test_claim(void)
{
	const char *dir = new_spool_dir();
	struct spool sp;
	struct claim c, c2;
	char err[512] = "";
	time_t now = time(NULL);
	struct job *job;
	size_t n;
	int fd;

	if (!t_open(&sp, dir))
		return;
	t_enqueue1(&sp, "c-1", "one", &n);
	ok(spool_claim(&sp, "c-1.json", now, &c, err, sizeof err) == SPOOL_CLAIMED, "%s: claim (%s)", PATH_LABEL, err);
	ok(!t_exists(dir, "new/c-1.json") && t_exists(dir, "cur/c-1.json"), "claimed: in cur/");
	is_str(c.name, "c-1.json", "claim name");
	ok(c.fd >= 0 && c.job && job_get_str(c.job, "topic") &&
		   strcmp(job_get_str(c.job, "topic"), "one") == 0,
	   "the claim holds the parsed job");
	is_intf(lockable(t_path(dir, "cur/c-1.json")), 0, "the claimed file stays locked");
	is_intf(spool_claim(&sp, "c-1.json", now, &c2, err, sizeof err), SPOOL_GONE, "claim again: gone");
	ok(c2.fd == -1 && c2.job == NULL, "a skipped claim holds nothing");
	spool_release(&c);
	is_intf(lockable(t_path(dir, "cur/c-1.json")), 1, "released: unlocked, still in cur/");

	/* locked by someone else: skipped */
	t_enqueue1(&sp, "c-2", "two", &n);
	fd = open(t_path(dir, "new/c-2.json"), O_RDONLY);
	ok(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0, "another holder locks new/c-2.json");
	is_intf(spool_claim(&sp, "c-2.json", now, &c, err, sizeof err), SPOOL_BUSY, "%s: claim skips a locked job: busy",
	       PATH_LABEL);
	ok(t_exists(dir, "new/c-2.json"), "and leaves it in new/");
	close(fd);
	is_intf(spool_claim(&sp, "c-2.json", now, &c, err, sizeof err), SPOOL_CLAIMED, "claimed once unlocked");
	spool_release(&c);

	/* not due */
	job = t_job("c-3", "three");
	job_set_time(job, "next_attempt_at", now + 100);
	ok(spool_enqueue(&sp, &job, 1, &n, err, sizeof err) == SPOOL_OK && n == 1, "enqueue a deferred job");
	job_free(job);
	is_intf(spool_claim(&sp, "c-3.json", now, &c, err, sizeof err), SPOOL_NOT_DUE, "%s: not due: skipped",
	       PATH_LABEL);
	ok(t_exists(dir, "new/c-3.json"), "not due: stays in new/");
	is_intf(lockable(t_path(dir, "new/c-3.json")), 1, "and unlocked");
	is_intf(spool_claim(&sp, "c-3.json", now + 100, &c, err, sizeof err), SPOOL_CLAIMED, "due at that time");
	spool_release(&c);

	/* a hand edit gone wrong goes to failed/ as it is, once it has had time
	 * to be written whole */
	t_write(dir, "new/c-4.json", "{\"recording_file_id\":\"c-4\",");
	is_intf(spool_claim(&sp, "c-4.json", now, &c, err, sizeof err), SPOOL_BEING_WRITTEN,
		"%s: unparsable but just written: skipped (being written)", PATH_LABEL);
	ok(t_exists(dir, "new/c-4.json"), "  ... and left in new/ for a later scan");
	t_write(dir, "new/c-5.json", "");
	is_intf(spool_claim(&sp, "c-5.json", now + 60, &c, err, sizeof err), SPOOL_BEING_WRITTEN,
		"%s: an empty job file (being written) is skipped", PATH_LABEL);
	ok(t_exists(dir, "new/c-5.json"), "  ... and left in new/");
	unlink(t_path(dir, "new/c-5.json"));
	is_intf(spool_claim(&sp, "c-4.json", now + 60, &c, err, sizeof err), SPOOL_SHELVED,
		"%s: unparsable and settled: shelved (moved to failed/)", PATH_LABEL);
	is_str(t_read(dir, "failed/c-4.json"), "{\"recording_file_id\":\"c-4\",",
	       "unparsable job moved to failed/ untouched");
	ok(!t_exists(dir, "new/c-4.json"), "and out of new/");
	t_write(dir, "new/c-4.json", "[]");
	is_intf(spool_claim(&sp, "c-4.json", now + 60, &c, err, sizeof err), SPOOL_SHELVED, "a second one: shelved");
	is_str(t_read(dir, "failed/c-4.1.json"), "[]", "goes to failed/ with a .1 suffix");

	is_intf(spool_claim(&sp, "../x.json", now, &c, err, sizeof err), SPOOL_ERROR, "a name with / is refused");
	is_intf(spool_claim(&sp, "none.json", now, &c, err, sizeof err), SPOOL_GONE, "a missing job: gone");
	mkfifo(t_path(dir, "new/fifo.json"), 0600);
	is_intf(spool_claim(&sp, "fifo.json", now, &c, err, sizeof err), SPOOL_GONE, "a FIFO is not a job");

	/* cur/ holds another file of that name: the claim does not replace it */
	t_enqueue1(&sp, "c-5", "five", &n);
	t_write(dir, "cur/c-5.json", "{\"other\":1}");
	is_intf(spool_claim(&sp, "c-5.json", now, &c, err, sizeof err), SPOOL_DUPLICATE, "%s: cur/ taken: skipped as a duplicate",
	       PATH_LABEL);
	is_str(t_read(dir, "cur/c-5.json"), "{\"other\":1}", "cur/ file untouched");
	ok(t_exists(dir, "new/c-5.json"), "the job stays in new/");
	unlink(t_path(dir, "cur/c-5.json"));

	/* a link+unlink claim cut between link and unlink: new/X and cur/X are one file */
	if (link(t_path(dir, "new/c-5.json"), t_path(dir, "cur/c-5.json")) != 0)
		ok(0, "link new/c-5.json cur/: %s", strerror(errno));
	is_intf(spool_claim(&sp, "c-5.json", now, &c, err, sizeof err), SPOOL_CLAIMED,
	       "a cut claim is finished by the next claim");
	ok(!t_exists(dir, "new/c-5.json") && t_exists(dir, "cur/c-5.json"), "in cur/ only");
	spool_release(&c);
	spool_close(&sp);
}

static void test_adopt_update_move(void)
{
	const char *dir = new_spool_dir();
	struct spool sp;
	struct claim c, c2;
	struct holder h = { -1, -1 };
	char err[512] = "";
	time_t now = time(NULL);
	int64_t attempts = -1;
	ino_t before;
	size_t n;

	if (!t_open(&sp, dir))
		return;
	t_enqueue1(&sp, "a-1", "one", &n);
	spool_claim(&sp, "a-1.json", now, &c, err, sizeof err);
	is_intf(spool_adopt(&sp, "a-1.json", &c2, err, sizeof err), SPOOL_BUSY,
	       "adopt: held by a claim of this process: busy");
	spool_release(&c);
	ok(hold_lock(t_path(dir, "cur/a-1.json"), &h) == 0, "a child process locks cur/a-1.json");
	is_intf(spool_adopt(&sp, "a-1.json", &c, err, sizeof err), SPOOL_BUSY,
	       "%s: adopt: held by another process: busy", PATH_LABEL);
	let_go(&h);
	is_intf(spool_adopt(&sp, "a-1.json", &c, err, sizeof err), SPOOL_CLAIMED,
	       "%s: adopt once nobody holds it (%s)", PATH_LABEL, err);
	ok(t_exists(dir, "cur/a-1.json") && c.job && c.fd >= 0, "adopted: stays in cur/, claim filled");
	is_intf(lockable(t_path(dir, "cur/a-1.json")), 0, "adopted: locked");
	is_intf(spool_adopt(&sp, "none.json", &c2, err, sizeof err), SPOOL_GONE, "adopt: gone");

	/* update keeps the lock */
	before = t_ino(dir, "cur/a-1.json");
	job_set_int(c.job, "attempts", 1);
	job_set_str(c.job, "last_error", "a/b");
	ok(spool_update(&sp, &c, err, sizeof err) == SPOOL_OK, "%s: update (%s)", PATH_LABEL, err);
	ok(strstr(t_read(dir, "cur/a-1.json"), "\"last_error\":\"a/b\"") != NULL,
	   "cur/ holds the new content");
	ok(t_ino(dir, "cur/a-1.json") != before, "it is a new file (written, then renamed)");
	is_intf(lockable(t_path(dir, "cur/a-1.json")), 0, "%s: the new file is locked", PATH_LABEL);
	is_intf(spool_adopt(&sp, "a-1.json", &c2, err, sizeof err), SPOOL_BUSY, "and cannot be adopted");
	is_intf(t_mode(dir, "cur/a-1.json"), 0640, "the rewritten file is 0640");
	is_intf(t_count(dir, "tmp"), 0, "no temporary file left");

	/* move: to new/ (a retry), then to done/ twice without replacing */
	job_set_time(c.job, "next_attempt_at", now + 60);
	ok(spool_move(&sp, &c, SPOOL_NEW, err, sizeof err) == SPOOL_OK, "%s: move back to new/", PATH_LABEL);
	ok(c.fd == -1 && c.job == NULL, "move releases the claim");
	ok(t_exists(dir, "new/a-1.json") && !t_exists(dir, "cur/a-1.json"), "in new/ only");
	is_intf(lockable(t_path(dir, "new/a-1.json")), 1, "unlocked in new/");
	is_intf(spool_claim(&sp, "a-1.json", now, &c, err, sizeof err), SPOOL_NOT_DUE, "not due before its time");
	is_intf(spool_claim(&sp, "a-1.json", now + 60, &c, err, sizeof err), SPOOL_CLAIMED, "due at its time");
	ok(job_get_int(c.job, "attempts", &attempts) == 0 && attempts == 1,
	   "the moved job carries its update");
	t_write(dir, "done/a-1.json", "{\"earlier\":1}\n");
	ok(spool_move(&sp, &c, SPOOL_DONE, err, sizeof err) == SPOOL_OK, "%s: move to done/ (%s)", PATH_LABEL,
	   err);
	is_str(t_read(dir, "done/a-1.json"), "{\"earlier\":1}\n", "done/a-1.json not replaced");
	ok(t_exists(dir, "done/a-1.1.json") && !t_exists(dir, "cur/a-1.json"),
	   "the job went to done/a-1.1.json");
	t_write(dir, "new/a-1.json", "{\"recording_file_id\":\"a-1\"}");
	spool_claim(&sp, "a-1.json", now, &c, err, sizeof err);
	ok(spool_move(&sp, &c, SPOOL_DONE, err, sizeof err) == SPOOL_OK && t_exists(dir, "done/a-1.2.json"),
	   "%s: and the next to done/a-1.2.json", PATH_LABEL);
	is_intf(t_count(dir, "done"), 3, "three files in done/");

	t_enqueue1(&sp, "a-2", "two", &n);
	spool_claim(&sp, "a-2.json", now, &c, err, sizeof err);
	is_intf(spool_move(&sp, &c, SPOOL_CUR, err, sizeof err), SPOOL_ERROR, "move to cur/ is refused");
	is_intf(spool_move(&sp, &c, SPOOL_TMP, err, sizeof err), SPOOL_ERROR, "move to tmp/ is refused");
	ok(c.fd >= 0 && c.job, "a refused move keeps the claim");

	/* a link+unlink move out of cur/ cut between link and unlink */
	if (link(t_path(dir, "cur/a-2.json"), t_path(dir, "failed/a-2.json")) != 0)
		ok(0, "link cur/a-2.json failed/: %s", strerror(errno));
	spool_release(&c);
	is_intf(spool_adopt(&sp, "a-2.json", &c, err, sizeof err), SPOOL_TWIN,
	       "%s: a job in cur/ and failed/ (one file) is not adopted: twin", PATH_LABEL);
	ok(!t_exists(dir, "cur/a-2.json") && t_exists(dir, "failed/a-2.json"),
	   "the cut move is finished: failed/ only");

	/* a job in cur/ that does not parse */
	t_write(dir, "cur/a-3.json", "{oops");
	is_intf(spool_adopt(&sp, "a-3.json", &c, err, sizeof err), SPOOL_SHELVED, "unparsable in cur/: shelved");
	ok(!t_exists(dir, "cur/a-3.json") && t_exists(dir, "failed/a-3.json"), "moved to failed/");
	is_intf(t_count(dir, "tmp"), 0, "no temporary file left");
	spool_close(&sp);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(t_base, sizeof t_base, "%s/test_spool.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(t_base)) {
		printf("1..0 # SKIP cannot make a temporary directory\n");
		return 0;
	}
	umask(077); /* modes must come from fchmod, not from a friendly umask */
	test_layout();
	test_naming();
	test_list_clean_private();
	test_enqueue();
	test_enqueue_rollback();
	test_claim();
	test_adopt_update_move();
	tap_remove_dir(t_base);
	return done_testing();
}
