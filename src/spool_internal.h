/* spool.c's own helpers, shared with spoolrepair.c and no other file: the
 * two of them alone create, link, rename, lock and fsync files under
 * spool_dir (docs/INTERNALS.md). Paths are relative to the spool's dirfd. */
#ifndef ZOOM2S3_SPOOL_INTERNAL_H
#define ZOOM2S3_SPOOL_INTERNAL_H

#include "spool.h"

#define SPOOL_TMP_NAME_MAX (SPOOL_NAME_MAX + 64)
#define SPOOL_REL_PATH_MAX (SPOOL_TMP_NAME_MAX + 16)

/* Formats the error into err (when given); returns SPOOL_ERROR. */
enum spool_result spool_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A name this module puts after "state/": no '/', not a dot file, short
 * enough to take a ".N" suffix inside struct claim's buffer. */
bool spool_valid_name(const char *name);

/* "state/name" into buf: SPOOL_OK, or SPOOL_ERROR when it does not fit. */
enum spool_result spool_rel_path(char *buf, size_t size, enum spool_state st, const char *name);

void spool_close_fd(int *fd); /* closes *fd when open, sets it to -1 */

enum spool_result spool_fsync_dir(struct spool *sp, enum spool_state st, char *err,
				  size_t errlen);

/* The spool's short lock: an exclusive flock on a new description of .lock.
 * Returns the fd to hand to spool_unlock(), or -1 with err. */
int spool_lock(struct spool *sp, char *err, size_t errlen);
void spool_unlock(int *lockfd);

/* A job serialized into a fresh, fsync'ed tmp/ file (mode 0640) named
 * "<name>.<pid>.<seq>.<random>" in *tmpname. Returns its open fd, or -1
 * with err and nothing left behind. */
int spool_write_tmp_job(struct spool *sp, const struct job *job, const char *name, unsigned seq,
			char *tmpname, size_t size, char *err, size_t errlen);
void spool_unlink_tmp(struct spool *sp, const char *tmpname);

/* Whether path names the file open at fd: SPOOL_OK it does; SPOOL_GONE no
 * such name; SPOOL_LOST_RACE another file; SPOOL_ERROR. */
enum spool_result spool_names_file(struct spool *sp, const char *path, int fd, char *err,
				   size_t errlen);

/* Takes the .lock, then checks that st/name is still the file open at fd:
 * SPOOL_OK with *lockfd holding the lock (spool_unlock it); SPOOL_GONE or
 * SPOOL_LOST_RACE with the lock released; SPOOL_ERROR. */
enum spool_result spool_lock_if_still(struct spool *sp, enum spool_state st, const char *name,
				      int fd, int *lockfd, char *err, size_t errlen);

/* rename(from, to) that never replaces: renameat2(RENAME_NOREPLACE) where
 * the system has it, else link then unlink. 0 done, -1 with errno. */
int spool_rename_noreplace(struct spool *sp, const char *from, const char *to);

/* Opens st/name for locking and reading (O_NOFOLLOW, O_NONBLOCK: a FIFO
 * must not hang us): SPOOL_OK (*fd open), SPOOL_GONE (no such file, or not
 * a regular file), SPOOL_ERROR. */
enum spool_result spool_open_job(struct spool *sp, enum spool_state st, const char *name,
				 int *fd, char *err, size_t errlen);

/* spool_open_job, then flock LOCK_EX|LOCK_NB: SPOOL_OK (open and locked),
 * SPOOL_GONE, SPOOL_BUSY (another process holds it), SPOOL_ERROR. *fd may
 * be left open on any result: the caller closes it on its cleanup path. */
enum spool_result spool_open_locked_job(struct spool *sp, enum spool_state st, const char *name,
					int *fd, char *err, size_t errlen);

/* The job in the file at fd, or NULL with why. */
struct job *spool_read_job(int fd, char *why, size_t whylen);

/* After a move that has happened: fsyncs both directories; a failure is
 * logged (spool_fsync_failed), not returned: the move stands. */
void spool_sync_after_move(struct spool *sp, enum spool_state a, enum spool_state b);

#endif
