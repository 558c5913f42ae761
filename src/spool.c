/* The spool protocol of docs/INTERNALS.md: every path is opened relative to
 * the spool's directory fd; every move between new/, cur/, done/ and failed/
 * happens under an exclusive flock on .lock and never replaces a file; a job
 * in cur/ is owned by whoever holds the flock on its file.
 *
 * The .lock is opened afresh for each locked section: flock locks belong to
 * an open file description, so two threads sharing one descriptor would not
 * exclude each other; two descriptions do, in one process or in two. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"
#include "spool.h"
#include "spool_internal.h"

#define DIR_MODE SPOOL_DIR_MODE /* group-writable, setgid: both users' files get the group */
#define LOCK_MODE SPOOL_LOCK_MODE
#define JOB_MODE SPOOL_JOB_MODE
#define PRIVATE_MODE 0600
#define JOB_MAX_BYTES (1024 * 1024) /* a job is a few hundred bytes; more is not a job */
#define TMP_NAME_MAX SPOOL_TMP_NAME_MAX
#define REL_PATH_MAX SPOOL_REL_PATH_MAX
#define SUFFIX_MAX 999     /* dest/name.1.json ... name.999.json */
#define ID_NAME_MAX 100    /* longest id used as its own file name */

static const char *const state_names[] = { "tmp", "new", "cur", "done", "failed" };

/* The states that hold a job, in the order a name is looked up. */
static const enum spool_state job_states[] = { SPOOL_NEW, SPOOL_CUR, SPOOL_DONE, SPOOL_FAILED };
#define N_JOB_STATES (sizeof job_states / sizeof job_states[0])

enum spool_result spool_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return SPOOL_ERROR;
}

const char *spool_result_name(enum spool_result r)
{
	switch (r) {
	case SPOOL_ERROR: return "error";
	case SPOOL_OK: return "ok";
	case SPOOL_CLAIMED: return "claimed";
	case SPOOL_GONE: return "gone";
	case SPOOL_BUSY: return "busy";
	case SPOOL_LOST_RACE: return "lost-race";
	case SPOOL_NOT_DUE: return "not-due";
	case SPOOL_BEING_WRITTEN: return "being-written";
	case SPOOL_SHELVED: return "shelved";
	case SPOOL_DUPLICATE: return "duplicate";
	case SPOOL_TWIN: return "twin";
	case SPOOL_NAME_TAKEN: return "name-taken";
	case SPOOL_UNCHANGED: return "unchanged";
	case SPOOL_RUNNING: return "running";
	case SPOOL_ABANDONED: return "abandoned";
	case SPOOL_STOPPED: return "stopped";
	}
	return "?";
}

const char *spool_state_dir(enum spool_state st)
{
	if ((unsigned)st >= sizeof state_names / sizeof state_names[0])
		return "?";
	return state_names[st];
}

bool spool_valid_name(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len < SPOOL_NAME_MAX - 8 && name[0] != '.' && !strchr(name, '/');
}

enum spool_result spool_rel_path(char *buf, size_t size, enum spool_state st, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", spool_state_dir(st), name);

	return n < 0 || (size_t)n >= size ? SPOOL_ERROR : SPOOL_OK;
}

void spool_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

enum spool_result spool_fsync_dir(struct spool *sp, enum spool_state st, char *err,
				  size_t errlen)
{
	int fd = openat(sp->dirfd, spool_state_dir(st), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	enum spool_result rc = SPOOL_OK;

	if (fd < 0)
		return spool_fail(err, errlen, "cannot open %s/: %s", spool_state_dir(st), strerror(errno));
	if (fsync(fd) != 0)
		rc = spool_fail(err, errlen, "cannot fsync %s/: %s", spool_state_dir(st), strerror(errno));
	close(fd);
	return rc;
}

/* Takes the spool's short lock: an exclusive flock on a new description of
 * .lock. Returns the fd to hand to spool_unlock(), or -1.
 * It asks with LOCK_NB and sleeps between tries (1 ms, doubling to 16 ms)
 * instead of waiting in flock: on CephFS (ceph-fuse 16.2) a process killed
 * while it waits in a blocking flock leaves its request with the MDS, which
 * grants the lock to it later, when nobody is there to release it, and the
 * spool stays locked for every host (docs/INTERNALS.md). */
int spool_lock(struct spool *sp, char *err, size_t errlen)
{
	struct timespec pause = { .tv_sec = 0, .tv_nsec = 1000000 };
	int fd = openat(sp->dirfd, ".lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return spool_fail(err, errlen, "cannot open .lock: %s", strerror(errno));
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EINTR && errno != EWOULDBLOCK) {
			spool_fail(err, errlen, "cannot lock .lock: %s", strerror(errno));
			close(fd);
			return -1;
		}
		if (errno == EWOULDBLOCK) {
			nanosleep(&pause, NULL);
			if (pause.tv_nsec < 16000000)
				pause.tv_nsec *= 2;
		}
	}
	return fd;
}

void spool_unlock(int *lockfd)
{
	spool_close_fd(lockfd); /* closing the only descriptor drops the flock */
}

/* Makes parent/name with DIR_MODE when missing. The mode is set with
 * fchmod because mkdir applies the umask and ignores the setgid bit. An
 * existing directory keeps the mode its owner gave it. */
static enum spool_result make_dir(int parentfd, const char *name, const char *shown, char *err,
				  size_t errlen)
{
	int fd;

	if (mkdirat(parentfd, name, DIR_MODE) != 0) {
		if (errno == EEXIST)
			return SPOOL_OK;
		return spool_fail(err, errlen, "cannot create %s: %s", shown, strerror(errno));
	}
	fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return spool_fail(err, errlen, "cannot open %s: %s", shown, strerror(errno));
	if (fchmod(fd, DIR_MODE) != 0) {
		spool_fail(err, errlen, "cannot set the mode of %s: %s", shown, strerror(errno));
		close(fd);
		return SPOOL_ERROR;
	}
	close(fd);
	return SPOOL_OK;
}

/* Opens .lock, creating it (LOCK_MODE) when missing, whatever `create`
 * says of the directories: a spool made by hand with mkdir has no .lock,
 * and every program may make it (the contract's "each program creates
 * .lock when it is missing"). O_EXCL tells whether this call made it, so
 * an existing .lock keeps the mode its owner gave it. */
static enum spool_result open_lock_file(struct spool *sp, char *err, size_t errlen)
{
	int fd = openat(sp->dirfd, ".lock", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			LOCK_MODE);

	if (fd >= 0 && fchmod(fd, LOCK_MODE) != 0) {
		spool_fail(err, errlen, "cannot set the mode of %s/.lock: %s", sp->dir, strerror(errno));
		close(fd);
		return SPOOL_ERROR;
	}
	if (fd < 0 && errno != EEXIST)
		return spool_fail(err, errlen, "cannot create %s/.lock: %s", sp->dir, strerror(errno));
	if (fd < 0)
		fd = openat(sp->dirfd, ".lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return spool_fail(err, errlen, "cannot open %s/.lock: %s", sp->dir, strerror(errno));
	sp->lockfd = fd;
	return SPOOL_OK;
}

static enum spool_result check_state_dirs(struct spool *sp, bool create, char *err,
					  size_t errlen)
{
	char shown[sizeof sp->dir + 16];
	struct stat st;

	for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++) {
		snprintf(shown, sizeof shown, "%s/%s", sp->dir, state_names[i]);
		if (create && make_dir(sp->dirfd, state_names[i], shown, err, errlen) != SPOOL_OK)
			return SPOOL_ERROR;
		if (fstatat(sp->dirfd, state_names[i], &st, 0) != 0)
			return spool_fail(err, errlen, "cannot use %s: %s", shown, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return spool_fail(err, errlen, "%s is not a directory", shown);
	}
	return SPOOL_OK;
}

/* Opens spool_dir itself (made first, with create) into sp->dirfd. */
static enum spool_result open_spool_dir(struct spool *sp, const char *dir, bool create,
					char *err, size_t errlen)
{
	size_t len = strlen(dir);

	sp->dirfd = -1;
	sp->lockfd = -1;
	if (len == 0 || len >= sizeof sp->dir)
		return spool_fail(err, errlen, "spool_dir is empty or too long");
	memcpy(sp->dir, dir, len + 1);
	if (create && make_dir(AT_FDCWD, dir, dir, err, errlen) != SPOOL_OK)
		return SPOOL_ERROR;
	sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd < 0)
		return spool_fail(err, errlen, "cannot open spool_dir %s: %s", dir, strerror(errno));
	return SPOOL_OK;
}

enum spool_result spool_open(struct spool *sp, const char *dir, bool create, char *err,
			     size_t errlen)
{
	if (open_spool_dir(sp, dir, create, err, errlen) == SPOOL_OK &&
	    check_state_dirs(sp, create, err, errlen) == SPOOL_OK &&
	    open_lock_file(sp, err, errlen) == SPOOL_OK)
		return SPOOL_OK;
	spool_close(sp);
	return SPOOL_ERROR;
}

void spool_close(struct spool *sp)
{
	spool_close_fd(&sp->lockfd);
	spool_close_fd(&sp->dirfd);
}

static bool plain_id(const char *id, size_t len)
{
	if (len == 0 || len > ID_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = id[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

enum spool_result spool_job_name(const char *file_id, char *out, size_t outlen)
{
	unsigned char digest[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	size_t len = file_id ? strlen(file_id) : 0;
	int n;

	if (len == 0)
		return SPOOL_ERROR;
	if (plain_id(file_id, len)) {
		n = snprintf(out, outlen, "%s.json", file_id);
	} else {
		crypto_sha256(file_id, len, digest);
		crypto_hex(digest, sizeof digest, hex);
		n = snprintf(out, outlen, "%s.sha256.json", hex);
	}
	return n < 0 || (size_t)n >= outlen ? SPOOL_ERROR : SPOOL_OK;
}

/* Which job state holds name: *where, SPOOL_NOWHERE when none does; or
 * SPOOL_ERROR. An entry that is there but not a regular file is an error:
 * skipping it would drop the job for good, and nothing this program writes
 * makes one. */
static enum spool_result locate(struct spool *sp, const char *name, enum spool_state *where,
				char *err, size_t errlen)
{
	char path[REL_PATH_MAX];
	struct stat st;

	*where = SPOOL_NOWHERE;
	for (size_t i = 0; i < N_JOB_STATES; i++) {
		if (spool_rel_path(path, sizeof path, job_states[i], name) != SPOOL_OK)
			return spool_fail(err, errlen, "job name too long: %s", name);
		if (fstatat(sp->dirfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue;
			return spool_fail(err, errlen, "cannot look up %s: %s", path, strerror(errno));
		}
		if (!S_ISREG(st.st_mode))
			return spool_fail(err, errlen, "%s exists and is not a regular file", path);
		*where = job_states[i];
		return SPOOL_OK;
	}
	return SPOOL_OK;
}

enum spool_state spool_find(struct spool *sp, const char *name)
{
	enum spool_state where;

	if (!spool_valid_name(name) || locate(sp, name, &where, NULL, 0) != SPOOL_OK)
		return SPOOL_NOWHERE;
	return where;
}

static int random_hex(char out[17])
{
	unsigned char bytes[8];
	size_t got = 0;

	while (got < sizeof bytes) {
		ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	crypto_hex(bytes, sizeof bytes, out);
	return 0;
}

/* Creates a file that no other process names: dir/"<base>.<pid>.<seq>.<random>"
 * (dir relative to the spool; "." for spool_dir itself). Returns the fd and
 * the name in *tmpname, or -1. */
static int create_unique(struct spool *sp, const char *dir, const char *base, unsigned seq,
			 mode_t mode, char *tmpname, size_t size, char *err, size_t errlen)
{
	char rnd[17], path[REL_PATH_MAX];
	int fd, n;

	for (int tries = 0; tries < 8; tries++) {
		if (random_hex(rnd) != 0)
			return spool_fail(err, errlen, "cannot get random bytes: %s", strerror(errno));
		n = snprintf(tmpname, size, "%s.%ld.%u.%s", base, (long)getpid(), seq, rnd);
		if (n < 0 || (size_t)n >= size)
			return spool_fail(err, errlen, "temporary name too long for %s", base);
		n = snprintf(path, sizeof path, "%s/%s", dir, tmpname);
		if (n < 0 || (size_t)n >= sizeof path)
			return spool_fail(err, errlen, "temporary path too long for %s", base);
		fd = openat(sp->dirfd, path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    mode);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return spool_fail(err, errlen, "cannot create %s: %s", path, strerror(errno));
	}
	return spool_fail(err, errlen, "cannot find a free temporary name for %s", base);
}

/* Writes data to a new file in dir with mode (set with fchmod: the umask
 * must not take the group's read bit), fsyncs it. Returns the open fd, its
 * name in *tmpname, or -1 (nothing left behind). */
static int write_unique(struct spool *sp, const char *dir, const char *base, unsigned seq,
			mode_t mode, const char *data, size_t len, char *tmpname, size_t size,
			char *err, size_t errlen)
{
	char path[REL_PATH_MAX];
	int fd = create_unique(sp, dir, base, seq, mode, tmpname, size, err, errlen), n;

	if (fd < 0)
		return -1;
	n = snprintf(path, sizeof path, "%s/%s", dir, tmpname); /* fitted in create_unique */
	if (n < 0 || (size_t)n >= sizeof path) {
		spool_fail(err, errlen, "temporary path too long for %s", base);
		close(fd);
		return -1;
	}
	if (fchmod(fd, mode) != 0) {
		spool_fail(err, errlen, "cannot set the mode of %s: %s", path, strerror(errno));
		goto fail;
	}
	if (log_write_all(fd, data, len) != 0) {
		spool_fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
		goto fail;
	}
	if (fsync(fd) != 0) {
		spool_fail(err, errlen, "cannot fsync %s: %s", path, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	unlinkat(sp->dirfd, path, 0);
	return -1;
}

int spool_write_tmp_job(struct spool *sp, const struct job *job, const char *name, unsigned seq,
			char *tmpname, size_t size, char *err, size_t errlen)
{
	size_t len;
	char *text = job_serialize(job, &len);
	int fd;

	if (!text)
		return spool_fail(err, errlen, "cannot serialize job %s: out of memory", name);
	fd = write_unique(sp, "tmp", name, seq, JOB_MODE, text, len, tmpname, size, err, errlen);
	free(text);
	return fd;
}

void spool_unlink_tmp(struct spool *sp, const char *tmpname)
{
	char path[REL_PATH_MAX];

	if (spool_rel_path(path, sizeof path, SPOOL_TMP, tmpname) == SPOOL_OK)
		unlinkat(sp->dirfd, path, 0); /* a leftover is removed after 36 hours anyway */
}

struct pending {
	char name[SPOOL_NAME_MAX];
	char tmp[TMP_NAME_MAX]; /* "" until written */
	bool linked;            /* placed in new/ by this call */
};

static enum spool_result name_jobs(struct job *const *jobs, size_t n, struct pending *pend,
				   char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const char *id = job_get_str(jobs[i], "recording_file_id");

		if (!id || spool_job_name(id, pend[i].name, sizeof pend[i].name) != SPOOL_OK)
			return spool_fail(err, errlen, "job %zu has no usable recording_file_id", i + 1);
	}
	return SPOOL_OK;
}

/* Under the .lock: links each job whose name no state holds into new/. */
static enum spool_result link_new_jobs(struct spool *sp, struct pending *pend, size_t n,
				       size_t *count, char *err, size_t errlen)
{
	char from[REL_PATH_MAX], to[REL_PATH_MAX];
	enum spool_state where;

	for (size_t i = 0; i < n; i++) {
		if (locate(sp, pend[i].name, &where, err, errlen) != SPOOL_OK)
			return SPOOL_ERROR;
		if (where != SPOOL_NOWHERE)
			continue; /* a redelivery */
		if (spool_rel_path(from, sizeof from, SPOOL_TMP, pend[i].tmp) != SPOOL_OK ||
		    spool_rel_path(to, sizeof to, SPOOL_NEW, pend[i].name) != SPOOL_OK)
			return spool_fail(err, errlen, "job name too long: %s", pend[i].name);
		if (linkat(sp->dirfd, from, sp->dirfd, to, 0) != 0) {
			if (errno == EEXIST)
				continue; /* put there by hand since locate(): it is spooled */
			return spool_fail(err, errlen, "cannot link %s to %s: %s", from, to,
				    strerror(errno));
		}
		pend[i].linked = true;
		(*count)++;
	}
	return SPOOL_OK;
}

/* True when new/<name> is still the file this call linked from tmp/ (a
 * spooler may have claimed it, or even put it back, since). */
static bool still_ours(struct spool *sp, const struct pending *p)
{
	char tmp[REL_PATH_MAX], path[REL_PATH_MAX];
	struct stat a, b;

	return spool_rel_path(tmp, sizeof tmp, SPOOL_TMP, p->tmp) == SPOOL_OK &&
	       spool_rel_path(path, sizeof path, SPOOL_NEW, p->name) == SPOOL_OK &&
	       fstatat(sp->dirfd, tmp, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
	       fstatat(sp->dirfd, path, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

/* Under the .lock, after a failure: takes back what this call put in new/. */
static void unlink_new_jobs(struct spool *sp, struct pending *pend, size_t n)
{
	char path[REL_PATH_MAX], why[256], quoted[300];
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		if (!pend[i].linked || !still_ours(sp, &pend[i]) ||
		    spool_rel_path(path, sizeof path, SPOOL_NEW, pend[i].name) != SPOOL_OK)
			continue;
		if (unlinkat(sp->dirfd, path, 0) != 0 && errno != ENOENT)
			log_event(LOG_ERR, "spool_rollback_failed", "file=%s error=%s", path,
				  log_q(strerror(errno), quoted, sizeof quoted));
		any = true;
	}
	if (any && spool_fsync_dir(sp, SPOOL_NEW, why, sizeof why) != SPOOL_OK)
		log_event(LOG_ERR, "spool_rollback_failed", "error=%s",
			  log_q(why, quoted, sizeof quoted));
}

enum spool_result spool_enqueue(struct spool *sp, struct job *const *jobs, size_t n,
				size_t *n_spooled, char *err, size_t errlen)
{
	struct pending *pend = calloc(n ? n : 1, sizeof *pend);
	size_t count = 0;
	enum spool_result rc = SPOOL_ERROR;
	int lockfd = -1;

	if (n_spooled)
		*n_spooled = 0;
	if (!pend)
		return spool_fail(err, errlen, "out of memory");
	if (name_jobs(jobs, n, pend, err, errlen) != SPOOL_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int fd = spool_write_tmp_job(sp, jobs[i], pend[i].name, (unsigned)i, pend[i].tmp,
				       sizeof pend[i].tmp, err, errlen);

		if (fd < 0)
			goto out;
		close(fd);
	}
	lockfd = spool_lock(sp, err, errlen);
	if (lockfd < 0)
		goto out;
	if (link_new_jobs(sp, pend, n, &count, err, errlen) != SPOOL_OK) {
		unlink_new_jobs(sp, pend, n);
		goto out;
	}
	/* The fsync that makes the links durable needs no lock: outside it,
	 * the fsyncs of concurrent requests overlap instead of queueing. */
	spool_unlock(&lockfd);
	if (count > 0 && spool_fsync_dir(sp, SPOOL_NEW, err, errlen) != SPOOL_OK) {
		char why[256];

		lockfd = spool_lock(sp, why, sizeof why);
		if (lockfd >= 0)
			unlink_new_jobs(sp, pend, n);
		goto out;
	}
	rc = SPOOL_OK;
	if (n_spooled)
		*n_spooled = count;
out:
	spool_unlock(&lockfd);
	for (size_t i = 0; i < n; i++)
		if (pend[i].tmp[0])
			spool_unlink_tmp(sp, pend[i].tmp);
	free(pend);
	return rc;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool listable(DIR *d, const struct dirent *de)
{
	size_t len = strlen(de->d_name);
	struct stat st;

	if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 5, ".json") != 0)
		return false;
	if (de->d_type == DT_REG)
		return true;
	if (de->d_type != DT_UNKNOWN)
		return false;
	return fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

enum spool_result spool_list(struct spool *sp, enum spool_state st, char ***names, size_t *n)
{
	int fd = openat(sp->dirfd, spool_state_dir(st), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char **list = NULL, **bigger;
	size_t count = 0, cap = 0;
	struct dirent *de;
	enum spool_result rc = SPOOL_ERROR;

	*names = NULL;
	*n = 0;
	if (!d) {
		spool_close_fd(&fd);
		return SPOOL_ERROR;
	}
	while ((de = readdir(d)) != NULL) {
		if (!listable(d, de))
			continue;
		if (count == cap) {
			cap = cap ? 2 * cap : 16;
			bigger = realloc(list, cap * sizeof *list);
			if (!bigger)
				goto out;
			list = bigger;
		}
		list[count] = strdup(de->d_name);
		if (!list[count])
			goto out;
		count++;
	}
	if (count)
		qsort(list, count, sizeof *list, compare_names);
	*names = list;
	*n = count;
	list = NULL;
	rc = SPOOL_OK;
out:
	if (list)
		free_names(list, count);
	closedir(d);
	return rc;
}

enum spool_result spool_names_file(struct spool *sp, const char *path, int fd, char *err,
				   size_t errlen)
{
	struct stat by_name, by_fd;

	if (fstat(fd, &by_fd) != 0)
		return spool_fail(err, errlen, "cannot stat %s: %s", path, strerror(errno));
	if (fstatat(sp->dirfd, path, &by_name, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return SPOOL_GONE;
		return spool_fail(err, errlen, "cannot stat %s: %s", path, strerror(errno));
	}
	return by_name.st_dev == by_fd.st_dev && by_name.st_ino == by_fd.st_ino ? SPOOL_OK
										 : SPOOL_LOST_RACE;
}

enum spool_result spool_lock_if_still(struct spool *sp, enum spool_state st, const char *name,
				      int fd, int *lockfd, char *err, size_t errlen)
{
	char path[REL_PATH_MAX];
	enum spool_result rc;

	*lockfd = -1;
	if (spool_rel_path(path, sizeof path, st, name) != SPOOL_OK)
		return spool_fail(err, errlen, "job name too long: %s", name);
	*lockfd = spool_lock(sp, err, errlen);
	if (*lockfd < 0)
		return SPOOL_ERROR;
	rc = spool_names_file(sp, path, fd, err, errlen);
	if (rc != SPOOL_OK)
		spool_unlock(lockfd);
	return rc;
}

static bool same_file(struct spool *sp, const char *a, const char *b)
{
	struct stat sa, sb;

	if (fstatat(sp->dirfd, a, &sa, AT_SYMLINK_NOFOLLOW) != 0 ||
	    fstatat(sp->dirfd, b, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* SPOOL_WITHOUT_RENAMEAT2: a build as on a system that lacks renameat2, so
 * that the tests run the link+unlink path everywhere (test_spool_linkunlink). */
int spool_rename_noreplace(struct spool *sp, const char *from, const char *to)
{
#if defined HAVE_RENAMEAT2 && !defined SPOOL_WITHOUT_RENAMEAT2
	if (renameat2(sp->dirfd, from, sp->dirfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -1;
	/* the file system has no RENAME_NOREPLACE: fall back */
#endif
	if (linkat(sp->dirfd, from, sp->dirfd, to, 0) != 0)
		return -1;
	if (unlinkat(sp->dirfd, from, 0) != 0 && errno != ENOENT) {
		int saved = errno;

		unlinkat(sp->dirfd, to, 0); /* undo: the job stays where it was */
		errno = saved;
		return -1;
	}
	return 0; /* (a source gone meanwhile leaves the job at its target: moved) */
}

/* Under the .lock: moves from_st/name to to_st/to_name without replacing.
 * SPOOL_OK moved, SPOOL_DUPLICATE the target holds another file,
 * SPOOL_ERROR. A target that is the same file as the source is a
 * link+unlink move cut between its two steps: finishing it (unlinking the
 * source) counts as moved. */
static enum spool_result move_job(struct spool *sp, enum spool_state from_st, const char *name,
				  enum spool_state to_st, const char *to_name, char *err,
				  size_t errlen)
{
	char from[REL_PATH_MAX], to[REL_PATH_MAX];

	if (spool_rel_path(from, sizeof from, from_st, name) != SPOOL_OK ||
	    spool_rel_path(to, sizeof to, to_st, to_name) != SPOOL_OK)
		return spool_fail(err, errlen, "job name too long: %s", name);
	if (spool_rename_noreplace(sp, from, to) == 0)
		return SPOOL_OK;
	if (errno != EEXIST)
		return spool_fail(err, errlen, "cannot move %s to %s: %s", from, to, strerror(errno));
	if (!same_file(sp, from, to))
		return SPOOL_DUPLICATE;
	if (unlinkat(sp->dirfd, from, 0) != 0)
		return spool_fail(err, errlen, "cannot unlink %s: %s", from, strerror(errno));
	return SPOOL_OK;
}

/* "X.json" -> "X.<n>.json" (any other name -> "name.<n>"). */
static int suffixed_name(const char *name, unsigned n, char *out, size_t size)
{
	size_t len = strlen(name);
	int w;

	if (len > 5 && strcmp(name + len - 5, ".json") == 0)
		w = snprintf(out, size, "%.*s.%u.json", (int)(len - 5), name, n);
	else
		w = snprintf(out, size, "%s.%u", name, n);
	return w < 0 || (size_t)w >= size ? -1 : 0;
}

/* Under the .lock: moves from_st/name into to_st under its own name, or the
 * first free suffixed one; *final gets the name used. SPOOL_OK or
 * SPOOL_ERROR. */
static enum spool_result move_job_anyname(struct spool *sp, enum spool_state from_st,
					  const char *name, enum spool_state to_st, char *final,
					  size_t size, char *err, size_t errlen)
{
	enum spool_result moved;

	if (snprintf(final, size, "%s", name) >= (int)size)
		return spool_fail(err, errlen, "job name too long: %s", name);
	for (unsigned n = 1; n <= SUFFIX_MAX + 1; n++) {
		moved = move_job(sp, from_st, name, to_st, final, err, errlen);
		if (moved != SPOOL_DUPLICATE)
			return moved;
		if (n > SUFFIX_MAX || suffixed_name(name, n, final, size) != 0)
			break;
	}
	return spool_fail(err, errlen, "%s/ holds too many files named like %s", spool_state_dir(to_st),
		    name);
}

static void claim_init(struct claim *c)
{
	c->name[0] = '\0';
	c->fd = -1;
	c->job = NULL;
}

/* The claim takes over the locked fd and the job read from it; both are
 * left empty here, so the caller's one cleanup path frees nothing of them. */
static void claim_take(struct claim *c, const char *name, int *fd, struct job **job)
{
	snprintf(c->name, sizeof c->name, "%s", name); /* fits: valid_name */
	c->fd = *fd;
	c->job = *job;
	*fd = -1;
	*job = NULL;
}

void spool_release(struct claim *c)
{
	spool_close_fd(&c->fd);
	job_free(c->job);
	c->job = NULL;
}

enum spool_result spool_open_job(struct spool *sp, enum spool_state st, const char *name,
				 int *fd, char *err, size_t errlen)
{
	char path[REL_PATH_MAX];
	struct stat s;

	if (!spool_valid_name(name) || spool_rel_path(path, sizeof path, st, name) != SPOOL_OK)
		return spool_fail(err, errlen, "not a job name: %s", name);
	*fd = openat(sp->dirfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0) {
		if (errno == ENOENT || errno == ELOOP)
			return SPOOL_GONE;
		return spool_fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
	}
	if (fstat(*fd, &s) != 0 || !S_ISREG(s.st_mode)) {
		spool_close_fd(fd);
		return SPOOL_GONE;
	}
	return SPOOL_OK;
}

/* flock LOCK_EX|LOCK_NB: SPOOL_OK locked, SPOOL_BUSY someone else holds
 * it, SPOOL_ERROR. */
static enum spool_result try_lock(int fd, const char *what, char *err, size_t errlen)
{
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			return SPOOL_BUSY;
		if (errno != EINTR)
			return spool_fail(err, errlen, "cannot lock %s: %s", what, strerror(errno));
	}
	return SPOOL_OK;
}

enum spool_result spool_open_locked_job(struct spool *sp, enum spool_state st, const char *name,
					int *fd, char *err, size_t errlen)
{
	enum spool_result rc = spool_open_job(sp, st, name, fd, err, errlen);

	return rc != SPOOL_OK ? rc : try_lock(*fd, name, err, errlen);
}

struct job *spool_read_job(int fd, char *why, size_t whylen)
{
	struct stat st;
	char *text = NULL;
	struct job *job = NULL;
	size_t got = 0;

	if (fstat(fd, &st) != 0) {
		spool_fail(why, whylen, "cannot stat: %s", strerror(errno));
		goto out;
	}
	if (st.st_size > JOB_MAX_BYTES) {
		spool_fail(why, whylen, "larger than %d bytes", JOB_MAX_BYTES);
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		spool_fail(why, whylen, "out of memory");
		goto out;
	}
	while (got <= (size_t)st.st_size) {
		ssize_t n = pread(fd, text + got, (size_t)st.st_size + 1 - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			spool_fail(why, whylen, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > (size_t)st.st_size) {
		spool_fail(why, whylen, "the file grew while being read");
		goto out;
	}
	job = job_parse(text, got, why, whylen);
out:
	free(text);
	return job;
}

/* A job file that does not parse (a person's edit gone wrong) goes to
 * failed/ as it is, for them to see, when from/name is still the file at
 * fd. SPOOL_SHELVED; SPOOL_GONE or SPOOL_LOST_RACE when it is not; or
 * SPOOL_ERROR. */
static enum spool_result shelve_unparsable(struct spool *sp, enum spool_state from,
					   const char *name, int fd, const char *why, char *err,
					   size_t errlen)
{
	char final[SPOOL_NAME_MAX], quoted[600];
	enum spool_result rc;
	int lockfd;

	rc = spool_lock_if_still(sp, from, name, fd, &lockfd, err, errlen);
	if (rc != SPOOL_OK)
		return rc;
	rc = move_job_anyname(sp, from, name, SPOOL_FAILED, final, sizeof final, err, errlen);
	spool_unlock(&lockfd);
	if (rc != SPOOL_OK)
		return rc;
	log_event(LOG_ERR, "job_unparsable", "file=%s/%s moved_to=failed/%s error=%s",
		  spool_state_dir(from), name, final, log_q(why, quoted, sizeof quoted));
	if (spool_fsync_dir(sp, SPOOL_FAILED, err, errlen) != SPOOL_OK ||
	    spool_fsync_dir(sp, from, err, errlen) != SPOOL_OK)
		return SPOOL_ERROR;
	return SPOOL_SHELVED;
}

/* A job in new/ that does not parse may be a hand edit still being written
 * (jq ... > new/X.json, cp, an editor): empty, or changed in the last
 * HAND_EDIT_GRACE seconds. It is left for a later scan to judge whole. */
#define HAND_EDIT_GRACE 10

static bool maybe_being_written(int fd, time_t now)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (st.st_size == 0 || now - st.st_mtime < HAND_EDIT_GRACE);
}

/* A failure is logged, not returned: the move stands, and only a crash in
 * the next moments could undo it, into a state the next run handles. */
void spool_sync_after_move(struct spool *sp, enum spool_state a, enum spool_state b)
{
	char why[256], quoted[300];

	if (spool_fsync_dir(sp, a, why, sizeof why) != SPOOL_OK ||
	    spool_fsync_dir(sp, b, why, sizeof why) != SPOOL_OK)
		log_event(LOG_WARNING, "spool_fsync_failed", "error=%s",
			  log_q(why, quoted, sizeof quoted));
}

/* Under the .lock: checks new/name is still the locked file and moves it
 * to cur/. SPOOL_CLAIMED; SPOOL_GONE, SPOOL_LOST_RACE, SPOOL_DUPLICATE;
 * SPOOL_ERROR. */
static enum spool_result take_into_cur(struct spool *sp, const char *name, int fd, char *err,
				       size_t errlen)
{
	enum spool_result rc;
	int lockfd;

	rc = spool_lock_if_still(sp, SPOOL_NEW, name, fd, &lockfd, err, errlen);
	if (rc != SPOOL_OK)
		return rc;
	rc = move_job(sp, SPOOL_NEW, name, SPOOL_CUR, name, err, errlen);
	spool_unlock(&lockfd);
	if (rc == SPOOL_DUPLICATE)
		log_event(LOG_WARNING, "job_duplicate",
			  "file=new/%s reason=\"cur/ holds another file of that name\"", name);
	return rc == SPOOL_OK ? SPOOL_CLAIMED : rc;
}

enum spool_result spool_claim(struct spool *sp, const char *name, time_t now, struct claim *c,
			      char *err, size_t errlen)
{
	char why[512];
	struct job *job = NULL;
	time_t due;
	enum spool_result rc;
	int fd = -1;

	claim_init(c);
	rc = spool_open_locked_job(sp, SPOOL_NEW, name, &fd, err, errlen);
	if (rc != SPOOL_OK)
		goto out;
	job = spool_read_job(fd, why, sizeof why);
	if (!job) {
		rc = maybe_being_written(fd, now)
			     ? SPOOL_BEING_WRITTEN
			     : shelve_unparsable(sp, SPOOL_NEW, name, fd, why, err, errlen);
		goto out;
	}
	/* an unreadable next_attempt_at (a hand edit) counts as due: never stuck */
	if (job_get_time(job, "next_attempt_at", &due) == 0 && due > now) {
		rc = SPOOL_NOT_DUE;
		goto out;
	}
	rc = take_into_cur(sp, name, fd, err, errlen);
	if (rc != SPOOL_CLAIMED)
		goto out;
	spool_sync_after_move(sp, SPOOL_CUR, SPOOL_NEW);
	claim_take(c, name, &fd, &job);
out:
	spool_close_fd(&fd);
	job_free(job);
	return rc;
}

/* cur/name, locked by us, has more than one link: a link+unlink move out of
 * cur/ (or into it) was cut between its two steps. When new/, done/ or
 * failed/ holds the same file under the name, the job is there: cur/name is
 * unlinked and SPOOL_TWIN returned. SPOOL_OK when no such twin exists,
 * SPOOL_ERROR. */
static enum spool_result finish_cut_move(struct spool *sp, const char *name, char *err,
					 size_t errlen)
{
	static const enum spool_state others[] = { SPOOL_NEW, SPOOL_DONE, SPOOL_FAILED };
	char cur[REL_PATH_MAX], other[REL_PATH_MAX];
	enum spool_result rc = SPOOL_OK;
	int lockfd;

	if (spool_rel_path(cur, sizeof cur, SPOOL_CUR, name) != SPOOL_OK)
		return spool_fail(err, errlen, "job name too long: %s", name);
	lockfd = spool_lock(sp, err, errlen);
	if (lockfd < 0)
		return SPOOL_ERROR;
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		if (spool_rel_path(other, sizeof other, others[i], name) != SPOOL_OK ||
		    !same_file(sp, cur, other))
			continue;
		if (unlinkat(sp->dirfd, cur, 0) != 0) {
			rc = spool_fail(err, errlen, "cannot unlink %s: %s", cur, strerror(errno));
			break;
		}
		log_event(LOG_NOTICE, "spool_move_finished", "file=%s twin=%s", cur, other);
		rc = SPOOL_TWIN;
		break;
	}
	spool_unlock(&lockfd);
	if (rc == SPOOL_TWIN && spool_fsync_dir(sp, SPOOL_CUR, err, errlen) != SPOOL_OK)
		rc = SPOOL_ERROR;
	return rc;
}

enum spool_result spool_adopt(struct spool *sp, const char *name, struct claim *c, char *err,
			      size_t errlen)
{
	char path[REL_PATH_MAX], why[512];
	struct job *job = NULL;
	struct stat st;
	enum spool_result rc;
	int fd = -1;

	claim_init(c);
	rc = spool_open_locked_job(sp, SPOOL_CUR, name, &fd, err, errlen);
	if (rc != SPOOL_OK)
		goto out;
	/* between our open and our lock its holder may have replaced it
	 * (spool_update) or moved it on: then this is not the job any more */
	if (spool_rel_path(path, sizeof path, SPOOL_CUR, name) != SPOOL_OK) {
		rc = spool_fail(err, errlen, "job name too long: %s", name);
		goto out;
	}
	rc = spool_names_file(sp, path, fd, err, errlen);
	if (rc != SPOOL_OK)
		goto out;
	if (fstat(fd, &st) != 0) {
		rc = spool_fail(err, errlen, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_nlink > 1) {
		rc = finish_cut_move(sp, name, err, errlen);
		if (rc != SPOOL_OK)
			goto out;
	}
	job = spool_read_job(fd, why, sizeof why);
	if (!job) {
		rc = shelve_unparsable(sp, SPOOL_CUR, name, fd, why, err, errlen);
		goto out;
	}
	claim_take(c, name, &fd, &job);
	rc = SPOOL_CLAIMED;
out:
	spool_close_fd(&fd);
	job_free(job);
	return rc;
}

enum spool_result spool_update(struct spool *sp, struct claim *c, char *err, size_t errlen)
{
	char tmpname[TMP_NAME_MAX], from[REL_PATH_MAX], to[REL_PATH_MAX];
	enum spool_result locked, rc;
	int newfd;

	if (c->fd < 0 || !c->job || !spool_valid_name(c->name))
		return spool_fail(err, errlen, "no claim to update");
	newfd = spool_write_tmp_job(sp, c->job, c->name, 0, tmpname, sizeof tmpname, err, errlen);
	if (newfd < 0)
		return SPOOL_ERROR;
	if (spool_rel_path(from, sizeof from, SPOOL_TMP, tmpname) != SPOOL_OK ||
	    spool_rel_path(to, sizeof to, SPOOL_CUR, c->name) != SPOOL_OK) {
		spool_fail(err, errlen, "job name too long: %s", c->name);
		goto fail;
	}
	/* nobody else knows this file yet, so the lock is ours at once */
	locked = try_lock(newfd, from, err, errlen);
	if (locked != SPOOL_OK) {
		if (locked == SPOOL_BUSY)
			spool_fail(err, errlen, "cannot lock %s: held by another process", from);
		goto fail;
	}
	if (renameat(sp->dirfd, from, sp->dirfd, to) != 0) {
		spool_fail(err, errlen, "cannot rename %s to %s: %s", from, to, strerror(errno));
		goto fail;
	}
	rc = spool_fsync_dir(sp, SPOOL_CUR, err, errlen);
	close(c->fd); /* the old file is gone from cur/: its lock guards nothing now */
	c->fd = newfd;
	return rc;
fail:
	close(newfd);
	unlinkat(sp->dirfd, from, 0);
	return SPOOL_ERROR;
}

enum spool_result spool_move(struct spool *sp, struct claim *c, enum spool_state dest,
			     char *err, size_t errlen)
{
	char final[SPOOL_NAME_MAX];
	enum spool_result moved;
	int lockfd;

	if (dest != SPOOL_NEW && dest != SPOOL_DONE && dest != SPOOL_FAILED)
		return spool_fail(err, errlen, "cannot move a job to %s/", spool_state_dir(dest));
	if (spool_update(sp, c, err, errlen) != SPOOL_OK)
		return SPOOL_ERROR;
	lockfd = spool_lock(sp, err, errlen);
	if (lockfd < 0)
		return SPOOL_ERROR;
	moved = move_job_anyname(sp, SPOOL_CUR, c->name, dest, final, sizeof final, err, errlen);
	spool_unlock(&lockfd);
	if (moved != SPOOL_OK)
		return SPOOL_ERROR;
	if (strcmp(final, c->name) != 0)
		log_event(LOG_WARNING, "job_renamed", "file=cur/%s moved_to=%s/%s", c->name,
			  spool_state_dir(dest), final);
	spool_sync_after_move(sp, dest, SPOOL_CUR);
	spool_release(c);
	return SPOOL_OK;
}

enum spool_result spool_clean_tmp(struct spool *sp, time_t now, long max_age, size_t *removed)
{
	int fd = openat(sp->dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	struct stat st;
	enum spool_result rc = SPOOL_OK;

	*removed = 0;
	if (!d) {
		spool_close_fd(&fd);
		return SPOOL_ERROR;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || now - st.st_mtime <= max_age)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			(*removed)++;
		else if (errno != ENOENT)
			rc = SPOOL_ERROR;
	}
	closedir(d);
	return rc;
}

static bool valid_private_name(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len < 100 && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0 && strcmp(name, ".lock") != 0;
}

enum spool_result spool_write_private(struct spool *sp, const char *name, const char *data,
				      size_t len)
{
	char tmpname[TMP_NAME_MAX];
	enum spool_result rc = SPOOL_OK;
	int fd;

	if (!valid_private_name(name))
		return SPOOL_ERROR;
	fd = write_unique(sp, ".", name, 0, PRIVATE_MODE, data, len, tmpname, sizeof tmpname, NULL,
			  0);
	if (fd < 0)
		return SPOOL_ERROR;
	close(fd);
	if (renameat(sp->dirfd, tmpname, sp->dirfd, name) != 0) {
		unlinkat(sp->dirfd, tmpname, 0);
		rc = SPOOL_ERROR;
	}
	return rc;
}

enum spool_result spool_read_private(struct spool *sp, const char *name, char *buf, size_t size,
				     size_t *len)
{
	enum spool_result rc = SPOOL_OK;
	size_t got = 0;
	int fd;

	*len = 0;
	if (!valid_private_name(name) || size == 0)
		return SPOOL_ERROR;
	fd = openat(sp->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? SPOOL_GONE : SPOOL_ERROR;
	for (;;) {
		ssize_t n = read(fd, buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? SPOOL_ERROR : SPOOL_OK;
			break;
		}
		got += (size_t)n;
		if (got == size) { /* no room for the NUL: too big for buf */
			rc = SPOOL_ERROR;
			break;
		}
	}
	close(fd);
	if (rc == SPOOL_OK) {
		buf[got] = '\0';
		*len = got;
	}
	return rc;
}

/* ---- a look at a spool that spool_open may refuse (zoom2s3ctl) ---------- */

enum spool_result spool_open_inspect(struct spool *sp, const char *dir, char *err,
				     size_t errlen)
{
	return open_spool_dir(sp, dir, false, err, errlen);
}

enum spool_result spool_stat(struct spool *sp, const char *what, struct stat *out)
{
	bool known = strcmp(what, ".") == 0 || strcmp(what, ".lock") == 0;

	for (size_t i = 0; !known && i < sizeof state_names / sizeof state_names[0]; i++)
		known = strcmp(what, state_names[i]) == 0;
	if (!known) {
		errno = EINVAL;
		return SPOOL_ERROR;
	}
	return fstatat(sp->dirfd, what, out, AT_SYMLINK_NOFOLLOW) == 0 ? SPOOL_OK : SPOOL_ERROR;
}

#define KEYLOCK_DIR ".keylocks"

enum spool_result spool_lock_key(struct spool *sp, const char *key, stop_flag_t *stop,
				 int *lockfd, bool *waited, char *err, size_t errlen)
{
	unsigned char digest[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1], path[sizeof KEYLOCK_DIR + 4];
	int fd;

	*lockfd = -1;
	*waited = false;
	crypto_sha256(key, strlen(key), digest);
	crypto_hex(digest, sizeof digest, hex);
	snprintf(path, sizeof path, "%s/%.3s", KEYLOCK_DIR, hex);
	if (make_dir(sp->dirfd, KEYLOCK_DIR, KEYLOCK_DIR, err, errlen) != SPOOL_OK)
		return SPOOL_ERROR;
	fd = openat(sp->dirfd, path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660);
	if (fd < 0)
		return spool_fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			spool_fail(err, errlen, "cannot lock %s: %s", path, strerror(errno));
			close(fd);
			return SPOOL_ERROR;
		}
		if (stop && *stop) {
			close(fd);
			return SPOOL_STOPPED;
		}
		*waited = true;
		sleep(1);
	}
	*lockfd = fd;
	return SPOOL_OK;
}

void spool_unlock_key(int fd)
{
	if (fd >= 0)
		close(fd); /* the only descriptor: closing drops the flock */
}
