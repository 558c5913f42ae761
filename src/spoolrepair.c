/* The operator's look into a spool and the changes zoom2s3ctl makes to it:
 * reading jobs without locking anything, telling a running job in cur/ from
 * an abandoned one, requeueing a finished job, rewriting a queued one
 * (retry-now), pruning done/. Each change follows spool.c's protocol (the
 * .lock, identity checks, moves that never replace) through the helpers of
 * spool_internal.h: spool.c and this file alone create, link, rename, lock
 * and fsync spool files (docs/INTERNALS.md, "The operator's changes"). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "spool_internal.h"
#include "spoolrepair.h"

static void entry_from_stat(struct spool_entry *e, const char *name, const struct stat *st)
{
	snprintf(e->name, sizeof e->name, "%s", name);
	e->mtime = st->st_mtime;
	e->size = (long long)st->st_size;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
}

enum spool_result spool_list_entries(struct spool *sp, enum spool_state st,
				     struct spool_entry **entries, size_t *n)
{
	char **names = NULL, path[SPOOL_REL_PATH_MAX];
	size_t count = 0, kept = 0;
	struct spool_entry *list = NULL;
	struct stat s;
	enum spool_result rc = SPOOL_ERROR;

	*entries = NULL;
	*n = 0;
	if (spool_list(sp, st, &names, &count) != SPOOL_OK)
		return SPOOL_ERROR;
	list = calloc(count ? count : 1, sizeof *list);
	if (!list)
		goto out;
	for (size_t i = 0; i < count; i++) {
		/* a name too long for a claim is not one this spool makes; one
		 * gone since the listing is simply not there any more */
		if (strlen(names[i]) >= SPOOL_NAME_MAX ||
		    spool_rel_path(path, sizeof path, st, names[i]) != SPOOL_OK ||
		    fstatat(sp->dirfd, path, &s, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(s.st_mode))
			continue;
		entry_from_stat(&list[kept++], names[i], &s);
	}
	*entries = list;
	*n = kept;
	list = NULL;
	rc = SPOOL_OK;
out:
	free(list);
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return rc;
}

enum spool_result spool_read(struct spool *sp, enum spool_state st, const char *name,
			     struct job **job, struct spool_entry *entry, char *err, size_t errlen)
{
	char why[512];
	struct stat s;
	enum spool_result rc;
	int fd = -1;

	*job = NULL;
	rc = spool_open_job(sp, st, name, &fd, err, errlen);
	if (rc != SPOOL_OK)
		return rc;
	if (fstat(fd, &s) != 0) {
		rc = spool_fail(err, errlen, "cannot stat %s/%s: %s", spool_state_dir(st), name,
				strerror(errno));
		goto out;
	}
	*job = spool_read_job(fd, why, sizeof why);
	if (!*job) {
		rc = spool_fail(err, errlen, "%s/%s: %s", spool_state_dir(st), name, why);
		goto out;
	}
	if (entry)
		entry_from_stat(entry, name, &s);
	rc = SPOOL_OK;
out:
	spool_close_fd(&fd);
	return rc;
}

enum spool_result spool_cur_held(struct spool *sp, const char *name)
{
	enum spool_result rc;
	int fd = -1, locked;

	rc = spool_open_job(sp, SPOOL_CUR, name, &fd, NULL, 0);
	if (rc != SPOOL_OK)
		return rc;
	while ((locked = flock(fd, LOCK_SH | LOCK_NB)) != 0 && errno == EINTR)
		;
	if (locked == 0)
		rc = SPOOL_ABANDONED;
	else
		rc = errno == EWOULDBLOCK ? SPOOL_RUNNING : SPOOL_ERROR;
	spool_close_fd(&fd); /* drops our probe when we got it: nobody held it */
	return rc;
}

/* Under the .lock: SPOOL_OK when rel (relative to the spool) is the file
 * entry describes; SPOOL_GONE; SPOOL_LOST_RACE another file; SPOOL_ERROR. */
static enum spool_result is_entry(struct spool *sp, const char *rel,
				  const struct spool_entry *entry, char *err, size_t errlen)
{
	struct stat s;

	if (fstatat(sp->dirfd, rel, &s, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return SPOOL_GONE;
		return spool_fail(err, errlen, "cannot stat %s: %s", rel, strerror(errno));
	}
	return S_ISREG(s.st_mode) && s.st_dev == entry->dev && s.st_ino == entry->ino
		       ? SPOOL_OK
		       : SPOOL_LOST_RACE;
}

/* Under the .lock: SPOOL_OK when neither new/ nor cur/ holds name,
 * SPOOL_NAME_TAKEN when one does (err says which), SPOOL_ERROR. */
static enum spool_result name_free(struct spool *sp, const char *name, char *err, size_t errlen)
{
	static const enum spool_state queued[] = { SPOOL_NEW, SPOOL_CUR };
	char path[SPOOL_REL_PATH_MAX];
	struct stat s;

	for (size_t i = 0; i < sizeof queued / sizeof queued[0]; i++) {
		if (spool_rel_path(path, sizeof path, queued[i], name) != SPOOL_OK)
			return spool_fail(err, errlen, "job name too long: %s", name);
		if (fstatat(sp->dirfd, path, &s, AT_SYMLINK_NOFOLLOW) == 0) {
			spool_fail(err, errlen, "%s already holds a job of that name", path);
			return SPOOL_NAME_TAKEN;
		}
		if (errno != ENOENT)
			return spool_fail(err, errlen, "cannot look up %s: %s", path, strerror(errno));
	}
	return SPOOL_OK;
}

/* Writes job to a new, fsync'ed file in tmp/; tmp gets its path relative
 * to the spool. SPOOL_OK, or SPOOL_ERROR with err (nothing left behind). */
static enum spool_result stage_job(struct spool *sp, const struct job *job, const char *name,
				   char *tmp, size_t size, char *err, size_t errlen)
{
	char tmpname[SPOOL_TMP_NAME_MAX];
	int fd = spool_write_tmp_job(sp, job, name, 0, tmpname, sizeof tmpname, err, errlen);

	if (fd < 0)
		return SPOOL_ERROR;
	close(fd);
	if (spool_rel_path(tmp, size, SPOOL_TMP, tmpname) != SPOOL_OK) {
		spool_unlink_tmp(sp, tmpname);
		return spool_fail(err, errlen, "job name too long: %s", name);
	}
	return SPOOL_OK;
}

/* Under the .lock: the checks and the two renames of spool_requeue. */
static enum spool_result requeue_locked(struct spool *sp, enum spool_state from,
					const struct spool_entry *e, const char *tmp, char *err,
					size_t errlen)
{
	char src[SPOOL_REL_PATH_MAX], to[SPOOL_REL_PATH_MAX];
	enum spool_result rc;

	if (spool_rel_path(src, sizeof src, from, e->name) != SPOOL_OK ||
	    spool_rel_path(to, sizeof to, SPOOL_NEW, e->name) != SPOOL_OK)
		return spool_fail(err, errlen, "job name too long: %s", e->name);
	rc = is_entry(sp, src, e, err, errlen);
	if (rc == SPOOL_GONE || rc == SPOOL_LOST_RACE)
		spool_fail(err, errlen, "%s changed or went away meanwhile: look again", src);
	if (rc != SPOOL_OK)
		return rc;
	rc = name_free(sp, e->name, err, errlen);
	if (rc != SPOOL_OK)
		return rc;
	/* The new content replaces the file in its own state first: a crash
	 * between the two renames leaves the reset job where it was. */
	if (renameat(sp->dirfd, tmp, sp->dirfd, src) != 0)
		return spool_fail(err, errlen, "cannot rewrite %s: %s", src, strerror(errno));
	if (spool_rename_noreplace(sp, src, to) != 0)
		return spool_fail(err, errlen, "cannot move %s to %s: %s", src, to, strerror(errno));
	return SPOOL_OK;
}

enum spool_result spool_requeue(struct spool *sp, enum spool_state from,
				const struct spool_entry *entry, const struct job *job, char *err,
				size_t errlen)
{
	char tmp[SPOOL_REL_PATH_MAX];
	enum spool_result rc;
	int lockfd;

	if (from != SPOOL_DONE && from != SPOOL_FAILED)
		return spool_fail(err, errlen, "only jobs in done/ or failed/ are requeued");
	if (!spool_valid_name(entry->name))
		return spool_fail(err, errlen, "not a job name: %s", entry->name);
	if (stage_job(sp, job, entry->name, tmp, sizeof tmp, err, errlen) != SPOOL_OK)
		return SPOOL_ERROR;
	lockfd = spool_lock(sp, err, errlen);
	if (lockfd < 0) {
		rc = SPOOL_ERROR;
		goto out;
	}
	rc = requeue_locked(sp, from, entry, tmp, err, errlen);
	spool_unlock(&lockfd);
	if (rc == SPOOL_OK)
		spool_sync_after_move(sp, SPOOL_NEW, from);
out:
	if (rc != SPOOL_OK)
		unlinkat(sp->dirfd, tmp, 0); /* still there unless it was renamed */
	return rc;
}

/* The new file of an edit keeps the old one's times: in new/ a job file's
 * mtime tells when its last try failed (the spooler's move wrote it). */
static void keep_times(struct spool *sp, int oldfd, const char *tmp)
{
	struct stat st;
	struct timespec times[2];

	if (fstat(oldfd, &st) != 0)
		return;
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	utimensat(sp->dirfd, tmp, times, AT_SYMLINK_NOFOLLOW); /* best effort */
}

/* spool_edit_new and spool_edit_done: the job file of st, flock'ed while
 * edit runs, rewritten by a new file renamed over it under the .lock once
 * the name is checked to still be that file. */
static enum spool_result edit_locked(struct spool *sp, enum spool_state st, const char *name,
				     spool_edit_fn edit, void *ctx, char *err, size_t errlen)
{
	char why[512], tmp[SPOOL_REL_PATH_MAX] = "", path[SPOOL_REL_PATH_MAX];
	struct job *job = NULL;
	enum spool_result rc;
	int fd = -1, lockfd;

	rc = spool_open_locked_job(sp, st, name, &fd, err, errlen);
	if (rc != SPOOL_OK)
		goto out;
	job = spool_read_job(fd, why, sizeof why);
	rc = SPOOL_UNCHANGED; /* unparsable: in new/, the next claim shelves it */
	if (!job || !edit(job, ctx))
		goto out;
	rc = SPOOL_ERROR;
	if (stage_job(sp, job, name, tmp, sizeof tmp, err, errlen) != SPOOL_OK) {
		tmp[0] = '\0';
		goto out;
	}
	keep_times(sp, fd, tmp);
	rc = spool_lock_if_still(sp, st, name, fd, &lockfd, err, errlen);
	if (rc != SPOOL_OK)
		goto out;
	if (spool_rel_path(path, sizeof path, st, name) != SPOOL_OK ||
	    renameat(sp->dirfd, tmp, sp->dirfd, path) != 0)
		rc = spool_fail(err, errlen, "cannot rewrite %s/%s: %s", spool_state_dir(st), name,
				strerror(errno));
	spool_unlock(&lockfd);
	if (rc == SPOOL_OK && spool_fsync_dir(sp, st, err, errlen) != SPOOL_OK)
		rc = SPOOL_ERROR;
out:
	if (rc != SPOOL_OK && tmp[0])
		unlinkat(sp->dirfd, tmp, 0);
	spool_close_fd(&fd);
	job_free(job);
	return rc;
}

enum spool_result spool_edit_new(struct spool *sp, const char *name, spool_edit_fn edit,
				 void *ctx, char *err, size_t errlen)
{
	return edit_locked(sp, SPOOL_NEW, name, edit, ctx, err, errlen);
}

enum spool_result spool_edit_done(struct spool *sp, const char *name, spool_edit_fn edit,
				  void *ctx, char *err, size_t errlen)
{
	return edit_locked(sp, SPOOL_DONE, name, edit, ctx, err, errlen);
}

enum spool_result spool_remove_done(struct spool *sp, const struct spool_entry *entry, char *err,
				    size_t errlen)
{
	char path[SPOOL_REL_PATH_MAX];
	enum spool_result rc;
	int lockfd;

	if (!spool_valid_name(entry->name) ||
	    spool_rel_path(path, sizeof path, SPOOL_DONE, entry->name) != SPOOL_OK)
		return spool_fail(err, errlen, "not a job name: %s", entry->name);
	lockfd = spool_lock(sp, err, errlen);
	if (lockfd < 0)
		return SPOOL_ERROR;
	rc = is_entry(sp, path, entry, err, errlen);
	if (rc == SPOOL_OK && unlinkat(sp->dirfd, path, 0) != 0)
		rc = spool_fail(err, errlen, "cannot remove %s: %s", path, strerror(errno));
	spool_unlock(&lockfd);
	if (rc == SPOOL_OK && spool_fsync_dir(sp, SPOOL_DONE, err, errlen) != SPOOL_OK)
		rc = SPOOL_ERROR;
	return rc;
}
