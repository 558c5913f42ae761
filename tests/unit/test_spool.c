/* The spool against a real directory. The move tests run twice: against the
 * library's spool.c (renameat2 with RENAME_NOREPLACE) and against a second
 * build of the same spool.c without HAVE_RENAMEAT2, the link-then-unlink
 * path of systems that lack it, included below under other names. */
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

/* ---- spool.c once more, without renameat2 ---------------------------- */
#undef HAVE_RENAMEAT2
#define spool_state_dir fb_spool_state_dir
#define spool_open fb_spool_open
#define spool_close fb_spool_close
#define spool_job_name fb_spool_job_name
#define spool_find fb_spool_find
#define spool_enqueue fb_spool_enqueue
#define spool_list fb_spool_list
#define spool_claim fb_spool_claim
#define spool_adopt fb_spool_adopt
#define spool_update fb_spool_update
#define spool_move fb_spool_move
#define spool_release fb_spool_release
#define spool_clean_tmp fb_spool_clean_tmp
#define spool_write_private fb_spool_write_private
#define spool_read_private fb_spool_read_private
#define spool_open_inspect fb_spool_open_inspect
#define spool_stat fb_spool_stat
#define spool_list_entries fb_spool_list_entries
#define spool_read fb_spool_read
#define spool_cur_held fb_spool_cur_held
#define spool_requeue fb_spool_requeue
#define spool_edit_new fb_spool_edit_new
#define spool_remove_done fb_spool_remove_done
#define spool_lock_key fb_spool_lock_key
#define spool_unlock_key fb_spool_unlock_key
/* spool.h's prototypes, under the new names (its guard keeps it out now) */
const char *spool_state_dir(enum spool_state st);
int spool_open(struct spool *sp, const char *dir, bool create, char *err, size_t errlen);
void spool_close(struct spool *sp);
int spool_job_name(const char *file_id, char *out, size_t outlen);
int spool_find(struct spool *sp, const char *name);
int spool_enqueue(struct spool *sp, struct job *const *jobs, size_t n, size_t *n_spooled,
		  char *err, size_t errlen);
int spool_list(struct spool *sp, enum spool_state st, char ***names, size_t *n);
int spool_claim(struct spool *sp, const char *name, time_t now, struct claim *c, char *err,
		size_t errlen);
int spool_adopt(struct spool *sp, const char *name, struct claim *c, char *err, size_t errlen);
int spool_update(struct spool *sp, struct claim *c, char *err, size_t errlen);
int spool_move(struct spool *sp, struct claim *c, enum spool_state dest, char *err, size_t errlen);
void spool_release(struct claim *c);
int spool_clean_tmp(struct spool *sp, time_t now, long max_age);
int spool_write_private(struct spool *sp, const char *name, const char *data, size_t len);
long spool_read_private(struct spool *sp, const char *name, char *buf, size_t size);
int spool_open_inspect(struct spool *sp, const char *dir, char *err, size_t errlen);
int spool_stat(struct spool *sp, const char *what, struct stat *out);
int spool_list_entries(struct spool *sp, enum spool_state st, struct spool_entry **entries,
		       size_t *n);
int spool_read(struct spool *sp, enum spool_state st, const char *name, struct job **job,
	       struct spool_entry *entry, char *err, size_t errlen);
int spool_cur_held(struct spool *sp, const char *name);
int spool_requeue(struct spool *sp, enum spool_state from, const struct spool_entry *entry,
		  const struct job *job, char *err, size_t errlen);
int spool_edit_new(struct spool *sp, const char *name, spool_edit_fn edit, void *ctx,
		   char *err, size_t errlen);
int spool_remove_done(struct spool *sp, const struct spool_entry *entry, char *err,
		      size_t errlen);
int spool_lock_key(struct spool *sp, const char *key, volatile sig_atomic_t *stop,
		   bool *waited, char *err, size_t errlen);
void spool_unlock_key(int fd);
#include "spool.c"
#undef spool_state_dir
#undef spool_open
#undef spool_close
#undef spool_job_name
#undef spool_find
#undef spool_enqueue
#undef spool_list
#undef spool_claim
#undef spool_adopt
#undef spool_update
#undef spool_move
#undef spool_release
#undef spool_clean_tmp
#undef spool_write_private
#undef spool_read_private
#undef spool_open_inspect
#undef spool_stat
#undef spool_list_entries
#undef spool_read
#undef spool_cur_held
#undef spool_requeue
#undef spool_edit_new
#undef spool_remove_done
#undef spool_lock_key
#undef spool_unlock_key

/* The functions whose behaviour depends on the rename path. */
struct ops {
	const char *label;
	int (*open)(struct spool *, const char *, bool, char *, size_t);
	void (*close)(struct spool *);
	int (*enqueue)(struct spool *, struct job *const *, size_t, size_t *, char *, size_t);
	int (*find)(struct spool *, const char *);
	int (*claim)(struct spool *, const char *, time_t, struct claim *, char *, size_t);
	int (*adopt)(struct spool *, const char *, struct claim *, char *, size_t);
	int (*update)(struct spool *, struct claim *, char *, size_t);
	int (*move)(struct spool *, struct claim *, enum spool_state, char *, size_t);
	void (*release)(struct claim *);
};

static const struct ops lib_ops = {
	"renameat2", spool_open,  spool_close,  spool_enqueue, spool_find,
	spool_claim, spool_adopt, spool_update, spool_move,    spool_release,
};
static const struct ops fb_ops = {
	"link+unlink",  fb_spool_open,  fb_spool_close,  fb_spool_enqueue, fb_spool_find,
	fb_spool_claim, fb_spool_adopt, fb_spool_update, fb_spool_move,    fb_spool_release,
};

/* ---- helpers ------------------------------------------------------------ */
/* is_int with a printf-style name */
#define is_intf(got, want, ...)                                                         \
	do {                                                                            \
		long long g_ = (long long)(got), w_ = (long long)(want);                \
		if (!ok(g_ == w_, __VA_ARGS__))                                         \
			printf("#   got:  %lld\n#   want: %lld\n", g_, w_);              \
	} while (0)

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

static int t_enqueue1(const struct ops *o, struct spool *sp, const char *id, const char *topic,
		      size_t *n)
{
	struct job *job = t_job(id, topic);
	char err[512] = "";
	int rc = o->enqueue(sp, &job, 1, n, err, sizeof err);

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

/* ---- tests that do not depend on the rename path ------------------------- */
static void test_layout(void)
{
	static const char *const dirs[] = { "tmp", "new", "cur", "done", "failed" };
	const char *dir = new_spool_dir();
	struct spool sp;
	char err[512] = "";
	int rc;

	ok(spool_open(&sp, dir, false, err, sizeof err) == -1 && strstr(err, dir),
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
	ok(spool_open(&sp, dir, false, err, sizeof err) == 0, "an existing spool opens without create");
	spool_close(&sp);
	ok(spool_open(&sp, dir, true, err, sizeof err) == 0, "and with create again");
	spool_close(&sp);
	rmdir(t_path(dir, "cur"));
	err[0] = '\0';
	ok(spool_open(&sp, dir, false, err, sizeof err) == -1 && strstr(err, "/cur"),
	   "a missing state directory is named (%s)", err);
	is_str(spool_state_dir(SPOOL_TMP), "tmp", "state name tmp");
	is_str(spool_state_dir(SPOOL_FAILED), "failed", "state name failed");
}

static void test_naming(void)
{
	unsigned char d[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1], want[128], name[SPOOL_NAME_MAX], id[128];

	ok(spool_job_name("abc-DEF_123", name, sizeof name) == 0, "plain id");
	is_str(name, "abc-DEF_123.json", "a plain id names its file");
	static const char *const odd[] = { "../x", "a/b", "a.b", "..", ".hidden", "a b",
					    "\xc3\xa9t\xc3\xa9" };
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		crypto_sha256(odd[i], strlen(odd[i]), d);
		crypto_hex(d, sizeof d, hex);
		snprintf(want, sizeof want, "%s.sha256.json", hex);
		ok(spool_job_name(odd[i], name, sizeof name) == 0, "odd id named");
		is_str(name, want, "an id with other characters gets a hashed name");
	}
	memset(id, 'a', 100);
	id[100] = '\0';
	ok(spool_job_name(id, name, sizeof name) == 0 && strlen(name) == 105, "100 bytes: plain");
	id[100] = 'a';
	id[101] = '\0';
	ok(spool_job_name(id, name, sizeof name) == 0 && strstr(name, ".sha256.json") &&
		   strlen(name) == 76,
	   "101 bytes: hashed");
	ok(spool_job_name("", name, sizeof name) == -1, "an empty id has no name");
	ok(spool_job_name(NULL, name, sizeof name) == -1, "no id has no name");
	ok(spool_job_name("abc", name, 8) == -1, "a small buffer is refused");
	ok(spool_job_name("abc", name, 9) == 0, "an exact buffer is fine");
}

static void test_list_clean_private(void)
{
	const char *dir = new_spool_dir();
	struct spool sp;
	char err[512], **names = NULL, buf[64];
	size_t n = 0;
	struct timespec old[2] = { { 0, 0 }, { 0, 0 } };
	time_t now = time(NULL);

	if (spool_open(&sp, dir, true, err, sizeof err) != 0) {
		ok(0, "spool_open: %s", err);
		return;
	}
	t_write(dir, "new/b.json", "{}");
	t_write(dir, "new/a.json", "{}");
	t_write(dir, "new/.hidden.json", "{}");
	t_write(dir, "new/notes.txt", "x");
	mkdir(t_path(dir, "new/dir.json"), 0700);
	if (symlink("a.json", t_path(dir, "new/link.json")) != 0)
		ok(0, "symlink new/link.json: %s", strerror(errno));
	ok(spool_list(&sp, SPOOL_NEW, &names, &n) == 0 && n == 2, "list: only regular .json files");
	if (n == 2) {
		is_str(names[0], "a.json", "list sorted 1");
		is_str(names[1], "b.json", "list sorted 2");
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	ok(spool_list(&sp, SPOOL_DONE, &names, &n) == 0 && n == 0 && names == NULL, "empty list");

	t_write(dir, "tmp/old", "x");
	t_write(dir, "tmp/young", "x");
	mkdir(t_path(dir, "tmp/olddir"), 0700);
	old[0].tv_sec = old[1].tv_sec = now - 36 * 3600 - 10;
	utimensat(AT_FDCWD, t_path(dir, "tmp/old"), old, 0);
	utimensat(AT_FDCWD, t_path(dir, "tmp/olddir"), old, 0);
	is_intf(spool_clean_tmp(&sp, now, 36 * 3600), 1, "clean_tmp removes one stale file");
	ok(!t_exists(dir, "tmp/old") && t_exists(dir, "tmp/young") && t_exists(dir, "tmp/olddir"),
	   "the young file and directories stay");

	ok(spool_write_private(&sp, ".oauth-token", "tok1", 4) == 0, "write private");
	is_intf(t_mode(dir, ".oauth-token"), 0600, "private file is 0600");
	ok(spool_write_private(&sp, ".oauth-token", "token-two", 9) == 0, "replace private");
	is_intf(spool_read_private(&sp, ".oauth-token", buf, sizeof buf), 9, "read private");
	is_str(buf, "token-two", "private content, NUL-terminated");
	is_intf(spool_read_private(&sp, ".oauth-token", buf, 9), -1, "too small a buffer: -1");
	is_intf(spool_read_private(&sp, ".oauth-token", buf, 10), 9, "just enough buffer");
	is_intf(spool_read_private(&sp, ".absent", buf, sizeof buf), -1, "absent: -1");
	ok(spool_write_private(&sp, "../escape", "x", 1) == -1, "a name with / is refused");
	ok(spool_write_private(&sp, ".lock", "x", 1) == -1, ".lock is not a private file");
	is_intf(t_count(dir, "."), 7, "no temporary file left in spool_dir");
	spool_close(&sp);
}

/* ---- the moves, once per rename path ----------------------------------- */
static void test_enqueue(const struct ops *o)
{
	const char *dir = new_spool_dir();
	struct spool sp;
	struct claim c;
	char err[512] = "", name[SPOOL_NAME_MAX], *text;
	struct job *jobs[3];
	size_t n = 99;
	int rc;

	if (o->open(&sp, dir, true, err, sizeof err) != 0) {
		ok(0, "%s: spool_open: %s", o->label, err);
		return;
	}
	jobs[0] = t_job("f-1", "first");
	jobs[1] = t_job("../x", "second");
	jobs[2] = t_job("f-3", "third");
	rc = o->enqueue(&sp, jobs, 3, &n, err, sizeof err);
	ok(rc == 0 && n == 3, "%s: enqueue spools three jobs (%s)", o->label, err);
	spool_job_name("../x", name, sizeof name);
	ok(t_exists(dir, "new/f-1.json") && t_exists(dir, t_path("new", name)) &&
		   t_exists(dir, "new/f-3.json"),
	   "%s: the three are in new/, the odd id under its hashed name", o->label);
	is_intf(t_count(dir, "tmp"), 0, "tmp/ is empty afterwards");
	is_intf(t_mode(dir, "new/f-1.json"), 0640, "a job file is 0640 despite umask 077");
	text = job_serialize(jobs[0], &n);
	is_str(t_read(dir, "new/f-1.json"), text, "the file holds the serialized job");
	free(text);
	job_free(jobs[0]);
	job_free(jobs[1]);
	job_free(jobs[2]);

	/* redelivery finds each job in whichever state it is now */
	ok(t_enqueue1(o, &sp, "f-1", "changed", &n) == 0 && n == 0,
	   "%s: redelivery while in new/: nothing spooled", o->label);
	ok(strstr(t_read(dir, "new/f-1.json"), "first") != NULL, "and the job is not rewritten");
	ok(o->claim(&sp, "f-1.json", time(NULL), &c, err, sizeof err) == 1, "claim f-1");
	ok(t_enqueue1(o, &sp, "f-1", "changed", &n) == 0 && n == 0 && !t_exists(dir, "new/f-1.json"),
	   "%s: redelivery while in cur/: nothing spooled", o->label);
	ok(o->move(&sp, &c, SPOOL_DONE, err, sizeof err) == 0, "move f-1 to done/");
	ok(t_enqueue1(o, &sp, "f-1", "changed", &n) == 0 && n == 0 && !t_exists(dir, "new/f-1.json"),
	   "%s: redelivery while in done/: nothing spooled", o->label);
	ok(o->claim(&sp, "f-3.json", time(NULL), &c, err, sizeof err) == 1, "claim f-3");
	ok(o->move(&sp, &c, SPOOL_FAILED, err, sizeof err) == 0, "move f-3 to failed/");
	ok(t_enqueue1(o, &sp, "f-3", "changed", &n) == 0 && n == 0 && !t_exists(dir, "new/f-3.json"),
	   "%s: redelivery while in failed/: nothing spooled", o->label);
	is_intf(o->find(&sp, "f-1.json"), SPOOL_DONE, "find: done");
	is_intf(o->find(&sp, "f-3.json"), SPOOL_FAILED, "find: failed");
	is_intf(o->find(&sp, name), SPOOL_NEW, "find: new");
	is_intf(o->find(&sp, "nope.json"), -1, "find: none");
	is_intf(t_count(dir, "tmp"), 0, "tmp/ is still empty");

	/* one event naming the same file twice spools it once */
	jobs[0] = t_job("twice", "a");
	jobs[1] = t_job("twice", "b");
	ok(o->enqueue(&sp, jobs, 2, &n, err, sizeof err) == 0 && n == 1,
	   "%s: a file twice in one event is spooled once", o->label);
	job_free(jobs[0]);
	job_free(jobs[1]);
	jobs[0] = job_new();
	err[0] = '\0';
	ok(o->enqueue(&sp, jobs, 1, &n, err, sizeof err) == -1 && strstr(err, "recording_file_id"),
	   "%s: a job without recording_file_id is refused (%s)", o->label, err);
	job_free(jobs[0]);
	o->close(&sp);
}

/* An enqueue that fails after it has linked some jobs into new/ takes them
 * back. The failure must happen as root too, where permissions do not bite:
 * a directory sitting in failed/ under the third job's name is a real
 * inconsistency that enqueue refuses (it would hide the job for good), and
 * it is met only after the first two jobs were linked. */
static void test_enqueue_rollback(const struct ops *o)
{
	const char *dir = new_spool_dir();
	struct spool sp;
	char err[512] = "";
	struct job *jobs[3];
	struct rlimit saved, small;
	size_t n = 99;
	int rc;

	if (o->open(&sp, dir, true, err, sizeof err) != 0) {
		ok(0, "%s: spool_open: %s", o->label, err);
		return;
	}
	jobs[0] = t_job("r-1", "one");
	jobs[1] = t_job("r-2", "two");
	jobs[2] = t_job("r-3", "three");
	mkdir(t_path(dir, "failed/r-3.json"), 0700);
	rc = o->enqueue(&sp, jobs, 3, &n, err, sizeof err);
	ok(rc == -1 && strstr(err, "failed/r-3.json exists and is not a regular file") && n == 0,
	   "%s: enqueue fails at the third job (%s)", o->label, err);
	is_intf(t_count(dir, "new"), 0, "nothing of the event is left in new/");
	is_intf(t_count(dir, "tmp"), 0, "nor in tmp/");
	rmdir(t_path(dir, "failed/r-3.json"));
	ok(o->enqueue(&sp, jobs, 3, &n, err, sizeof err) == 0 && n == 3,
	   "%s: Zoom's retry then spools the whole event", o->label);

	/* a write that fails (file size limit: EFBIG, root included) */
	job_free(jobs[0]);
	job_free(jobs[1]);
	jobs[0] = t_job("w-1", "small");
	jobs[1] = t_job("w-2", "big");
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
	rc = o->enqueue(&sp, jobs, 2, &n, err, sizeof err);
	setrlimit(RLIMIT_FSIZE, &saved);
	ok(rc == -1 && strstr(err, "File too large"), "%s: a failed write fails enqueue (%s)",
	   o->label, err);
	ok(!t_exists(dir, "new/w-1.json") && !t_exists(dir, "new/w-2.json"),
	   "nothing of that event in new/");
	is_intf(t_count(dir, "tmp"), 0, "and no temporary file left");
	job_free(jobs[0]);
	job_free(jobs[1]);
	job_free(jobs[2]);
	o->close(&sp);
}

static void test_claim(const struct ops *o)
{
	const char *dir = new_spool_dir();
	struct spool sp;
	struct claim c, c2;
	char err[512] = "";
	time_t now = time(NULL);
	struct job *job;
	size_t n;
	int fd;

	if (o->open(&sp, dir, true, err, sizeof err) != 0) {
		ok(0, "%s: spool_open: %s", o->label, err);
		return;
	}
	t_enqueue1(o, &sp, "c-1", "one", &n);
	ok(o->claim(&sp, "c-1.json", now, &c, err, sizeof err) == 1, "%s: claim (%s)", o->label, err);
	ok(!t_exists(dir, "new/c-1.json") && t_exists(dir, "cur/c-1.json"), "claimed: in cur/");
	is_str(c.name, "c-1.json", "claim name");
	ok(c.fd >= 0 && c.job && job_get_str(c.job, "topic") &&
		   strcmp(job_get_str(c.job, "topic"), "one") == 0,
	   "the claim holds the parsed job");
	is_intf(lockable(t_path(dir, "cur/c-1.json")), 0, "the claimed file stays locked");
	is_intf(o->claim(&sp, "c-1.json", now, &c2, err, sizeof err), 0, "claim again: gone, 0");
	ok(c2.fd == -1 && c2.job == NULL, "a skipped claim holds nothing");
	o->release(&c);
	is_intf(lockable(t_path(dir, "cur/c-1.json")), 1, "released: unlocked, still in cur/");

	/* locked by someone else: skipped */
	t_enqueue1(o, &sp, "c-2", "two", &n);
	fd = open(t_path(dir, "new/c-2.json"), O_RDONLY);
	ok(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0, "another holder locks new/c-2.json");
	is_intf(o->claim(&sp, "c-2.json", now, &c, err, sizeof err), 0, "%s: claim skips a locked job",
	       o->label);
	ok(t_exists(dir, "new/c-2.json"), "and leaves it in new/");
	close(fd);
	is_intf(o->claim(&sp, "c-2.json", now, &c, err, sizeof err), 1, "claimed once unlocked");
	o->release(&c);

	/* not due */
	job = t_job("c-3", "three");
	job_set_time(job, "next_attempt_at", now + 100);
	ok(o->enqueue(&sp, &job, 1, &n, err, sizeof err) == 0 && n == 1, "enqueue a deferred job");
	job_free(job);
	is_intf(o->claim(&sp, "c-3.json", now, &c, err, sizeof err), 0, "%s: not due: skipped",
	       o->label);
	ok(t_exists(dir, "new/c-3.json"), "not due: stays in new/");
	is_intf(lockable(t_path(dir, "new/c-3.json")), 1, "and unlocked");
	is_intf(o->claim(&sp, "c-3.json", now + 100, &c, err, sizeof err), 1, "due at that time");
	o->release(&c);

	/* a hand edit gone wrong goes to failed/ as it is, once it has had time
	 * to be written whole */
	t_write(dir, "new/c-4.json", "{\"recording_file_id\":\"c-4\",");
	is_intf(o->claim(&sp, "c-4.json", now, &c, err, sizeof err), 0,
		"%s: unparsable but just written: skipped (0)", o->label);
	ok(t_exists(dir, "new/c-4.json"), "  ... and left in new/ for a later scan");
	t_write(dir, "new/c-5.json", "");
	is_intf(o->claim(&sp, "c-5.json", now + 60, &c, err, sizeof err), 0,
		"%s: an empty job file (being written) is skipped", o->label);
	ok(t_exists(dir, "new/c-5.json"), "  ... and left in new/");
	unlink(t_path(dir, "new/c-5.json"));
	is_intf(o->claim(&sp, "c-4.json", now + 60, &c, err, sizeof err), 2,
		"%s: unparsable and settled: 2 (moved to failed/)", o->label);
	is_str(t_read(dir, "failed/c-4.json"), "{\"recording_file_id\":\"c-4\",",
	       "unparsable job moved to failed/ untouched");
	ok(!t_exists(dir, "new/c-4.json"), "and out of new/");
	t_write(dir, "new/c-4.json", "[]");
	is_intf(o->claim(&sp, "c-4.json", now + 60, &c, err, sizeof err), 2, "a second one: 2");
	is_str(t_read(dir, "failed/c-4.1.json"), "[]", "goes to failed/ with a .1 suffix");

	is_intf(o->claim(&sp, "../x.json", now, &c, err, sizeof err), -1, "a name with / is refused");
	is_intf(o->claim(&sp, "none.json", now, &c, err, sizeof err), 0, "a missing job: 0");
	mkfifo(t_path(dir, "new/fifo.json"), 0600);
	is_intf(o->claim(&sp, "fifo.json", now, &c, err, sizeof err), 0, "a FIFO is not a job");

	/* cur/ holds another file of that name: the claim does not replace it */
	t_enqueue1(o, &sp, "c-5", "five", &n);
	t_write(dir, "cur/c-5.json", "{\"other\":1}");
	is_intf(o->claim(&sp, "c-5.json", now, &c, err, sizeof err), 0, "%s: cur/ taken: skipped",
	       o->label);
	is_str(t_read(dir, "cur/c-5.json"), "{\"other\":1}", "cur/ file untouched");
	ok(t_exists(dir, "new/c-5.json"), "the job stays in new/");
	unlink(t_path(dir, "cur/c-5.json"));

	/* a link+unlink claim cut between link and unlink: new/X and cur/X are one file */
	if (link(t_path(dir, "new/c-5.json"), t_path(dir, "cur/c-5.json")) != 0)
		ok(0, "link new/c-5.json cur/: %s", strerror(errno));
	is_intf(o->claim(&sp, "c-5.json", now, &c, err, sizeof err), 1,
	       "a cut claim is finished by the next claim");
	ok(!t_exists(dir, "new/c-5.json") && t_exists(dir, "cur/c-5.json"), "in cur/ only");
	o->release(&c);
	o->close(&sp);
}

static void test_adopt_update_move(const struct ops *o)
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

	if (o->open(&sp, dir, true, err, sizeof err) != 0) {
		ok(0, "%s: spool_open: %s", o->label, err);
		return;
	}
	t_enqueue1(o, &sp, "a-1", "one", &n);
	o->claim(&sp, "a-1.json", now, &c, err, sizeof err);
	is_intf(o->adopt(&sp, "a-1.json", &c2, err, sizeof err), 0,
	       "adopt: held by a claim of this process: busy");
	o->release(&c);
	ok(hold_lock(t_path(dir, "cur/a-1.json"), &h) == 0, "a child process locks cur/a-1.json");
	is_intf(o->adopt(&sp, "a-1.json", &c, err, sizeof err), 0,
	       "%s: adopt: held by another process: busy", o->label);
	let_go(&h);
	is_intf(o->adopt(&sp, "a-1.json", &c, err, sizeof err), 1,
	       "%s: adopt once nobody holds it (%s)", o->label, err);
	ok(t_exists(dir, "cur/a-1.json") && c.job && c.fd >= 0, "adopted: stays in cur/, claim filled");
	is_intf(lockable(t_path(dir, "cur/a-1.json")), 0, "adopted: locked");
	is_intf(o->adopt(&sp, "none.json", &c2, err, sizeof err), 0, "adopt: gone: 0");

	/* update keeps the lock */
	before = t_ino(dir, "cur/a-1.json");
	job_set_int(c.job, "attempts", 1);
	job_set_str(c.job, "last_error", "a/b");
	ok(o->update(&sp, &c, err, sizeof err) == 0, "%s: update (%s)", o->label, err);
	ok(strstr(t_read(dir, "cur/a-1.json"), "\"last_error\":\"a/b\"") != NULL,
	   "cur/ holds the new content");
	ok(t_ino(dir, "cur/a-1.json") != before, "it is a new file (written, then renamed)");
	is_intf(lockable(t_path(dir, "cur/a-1.json")), 0, "%s: the new file is locked", o->label);
	is_intf(o->adopt(&sp, "a-1.json", &c2, err, sizeof err), 0, "and cannot be adopted");
	is_intf(t_mode(dir, "cur/a-1.json"), 0640, "the rewritten file is 0640");
	is_intf(t_count(dir, "tmp"), 0, "no temporary file left");

	/* move: to new/ (a retry), then to done/ twice without replacing */
	job_set_time(c.job, "next_attempt_at", now + 60);
	ok(o->move(&sp, &c, SPOOL_NEW, err, sizeof err) == 0, "%s: move back to new/", o->label);
	ok(c.fd == -1 && c.job == NULL, "move releases the claim");
	ok(t_exists(dir, "new/a-1.json") && !t_exists(dir, "cur/a-1.json"), "in new/ only");
	is_intf(lockable(t_path(dir, "new/a-1.json")), 1, "unlocked in new/");
	is_intf(o->claim(&sp, "a-1.json", now, &c, err, sizeof err), 0, "not due before its time");
	is_intf(o->claim(&sp, "a-1.json", now + 60, &c, err, sizeof err), 1, "due at its time");
	ok(job_get_int(c.job, "attempts", &attempts) == 0 && attempts == 1,
	   "the moved job carries its update");
	t_write(dir, "done/a-1.json", "{\"earlier\":1}\n");
	ok(o->move(&sp, &c, SPOOL_DONE, err, sizeof err) == 0, "%s: move to done/ (%s)", o->label,
	   err);
	is_str(t_read(dir, "done/a-1.json"), "{\"earlier\":1}\n", "done/a-1.json not replaced");
	ok(t_exists(dir, "done/a-1.1.json") && !t_exists(dir, "cur/a-1.json"),
	   "the job went to done/a-1.1.json");
	t_write(dir, "new/a-1.json", "{\"recording_file_id\":\"a-1\"}");
	o->claim(&sp, "a-1.json", now, &c, err, sizeof err);
	ok(o->move(&sp, &c, SPOOL_DONE, err, sizeof err) == 0 && t_exists(dir, "done/a-1.2.json"),
	   "%s: and the next to done/a-1.2.json", o->label);
	is_intf(t_count(dir, "done"), 3, "three files in done/");

	t_enqueue1(o, &sp, "a-2", "two", &n);
	o->claim(&sp, "a-2.json", now, &c, err, sizeof err);
	is_intf(o->move(&sp, &c, SPOOL_CUR, err, sizeof err), -1, "move to cur/ is refused");
	is_intf(o->move(&sp, &c, SPOOL_TMP, err, sizeof err), -1, "move to tmp/ is refused");
	ok(c.fd >= 0 && c.job, "a refused move keeps the claim");

	/* a link+unlink move out of cur/ cut between link and unlink */
	if (link(t_path(dir, "cur/a-2.json"), t_path(dir, "failed/a-2.json")) != 0)
		ok(0, "link cur/a-2.json failed/: %s", strerror(errno));
	o->release(&c);
	is_intf(o->adopt(&sp, "a-2.json", &c, err, sizeof err), 0,
	       "%s: a job in cur/ and failed/ (one file) is not adopted", o->label);
	ok(!t_exists(dir, "cur/a-2.json") && t_exists(dir, "failed/a-2.json"),
	   "the cut move is finished: failed/ only");

	/* a job in cur/ that does not parse */
	t_write(dir, "cur/a-3.json", "{oops");
	is_intf(o->adopt(&sp, "a-3.json", &c, err, sizeof err), 2, "unparsable in cur/: 2");
	ok(!t_exists(dir, "cur/a-3.json") && t_exists(dir, "failed/a-3.json"), "moved to failed/");
	is_intf(t_count(dir, "tmp"), 0, "no temporary file left");
	o->close(&sp);
}

static void run_moves(const struct ops *o)
{
	test_enqueue(o);
	test_enqueue_rollback(o);
	test_claim(o);
	test_adopt_update_move(o);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	char cmd[4200];

	snprintf(t_base, sizeof t_base, "%s/test_spool.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(t_base)) {
		printf("1..0 # SKIP cannot make a temporary directory\n");
		return 0;
	}
	umask(077); /* modes must come from fchmod, not from a friendly umask */
	test_layout();
	test_naming();
	test_list_clean_private();
	run_moves(&lib_ops);
	run_moves(&fb_ops);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", t_base);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", t_base);
	return done_testing();
}
