/* The spool: with spoolrepair.c (the operator's changes), the only code that
 * creates, links, renames, locks and fsyncs files under spool_dir.
 * docs/INTERNALS.md states the protocol these files follow; they must agree. */
#ifndef ZOOM2S3_SPOOL_H
#define ZOOM2S3_SPOOL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "job.h"
#include "stopflag.h"

#define SPOOL_NAME_MAX 128

/* The modes the spool's files are made with (docs/INTERNALS.md). */
#define SPOOL_DIR_MODE 02770  /* spool_dir and the state directories: setgid, group rwx */
#define SPOOL_LOCK_MODE 0660  /* .lock */
#define SPOOL_JOB_MODE 0640   /* job files */

/* SPOOL_NOWHERE: no state holds the job (spool_find). */
enum spool_state { SPOOL_NOWHERE = -1, SPOOL_TMP, SPOOL_NEW, SPOOL_CUR, SPOOL_DONE, SPOOL_FAILED };

struct spool {
	char dir[4096];
	int dirfd;   /* spool_dir itself */
	int lockfd;  /* spool_dir/.lock, opened once */
};

/* A job this process holds: its name, the open and flock'ed file in cur/
 * (or new/ while being claimed), and its parsed content. */
struct claim {
	char name[SPOOL_NAME_MAX];
	int fd;
	struct job *job;
};

/* What a spool call did. Each function below names the values it returns;
 * SPOOL_OK is 0 and SPOOL_ERROR is -1, so "!= SPOOL_OK" is "did not do it". */
enum spool_result {
	SPOOL_ERROR = -1,    /* it failed; err says why (errno where there is no err) */
	SPOOL_OK = 0,        /* done as asked */
	SPOOL_CLAIMED,       /* claim, adopt: the job is held (struct claim filled, flock held) */
	SPOOL_GONE,          /* no job file of that name (any more), or not a regular file */
	SPOOL_BUSY,          /* another process holds the job file's flock */
	SPOOL_LOST_RACE,     /* the name now names another file than the one opened:
			      * the job was moved on or rewritten meanwhile */
	SPOOL_NOT_DUE,       /* claim: its next_attempt_at is in the future */
	SPOOL_BEING_WRITTEN, /* claim: it does not parse, but is empty or changed in the
			      * last seconds (a hand edit still being written) */
	SPOOL_SHELVED,       /* claim, adopt: it did not parse and was moved to failed/ */
	SPOOL_DUPLICATE,     /* claim: cur/ holds another file of that name; left in new/ */
	SPOOL_TWIN,          /* adopt: a link+unlink move cut between its steps was finished:
			      * the job is in the state it was being moved to */
	SPOOL_NAME_TAKEN,    /* requeue: new/ or cur/ holds a job of that name */
	SPOOL_UNCHANGED,     /* edit_new: the edit changed nothing, or the job does not parse */
	SPOOL_RUNNING,       /* cur_held: a process holds the job */
	SPOOL_ABANDONED,     /* cur_held: no process holds it (its spooler died) */
	SPOOL_STOPPED,       /* lock_key: stop was set while waiting */
};

/* "claimed", "gone", ...: for log lines and test messages. */
const char *spool_result_name(enum spool_result r);

const char *spool_state_dir(enum spool_state st); /* "tmp", "new", ... */

/* Opens dir. With create, makes dir and the five state directories
 * (mode 2770: group-writable, setgid) when missing; without it, a missing
 * one is an error that names it. .lock (0660) is made when missing either
 * way, by every program. SPOOL_OK, or SPOOL_ERROR with err when the spool
 * is unusable. */
enum spool_result spool_open(struct spool *sp, const char *dir, bool create, char *err,
			     size_t errlen);
void spool_close(struct spool *sp);

/* The job's file name, a function of the recording file's id alone:
 * the id itself + ".json" when it is 1..100 bytes of [A-Za-z0-9_-], else
 * hex(SHA-256(id)) + ".sha256.json". SPOOL_ERROR on an empty id or a small
 * buffer. */
enum spool_result spool_job_name(const char *file_id, char *out, size_t outlen);

/* Which of new/, cur/, done/, failed/ holds name; SPOOL_NOWHERE when none
 * does or it cannot be looked up. */
enum spool_state spool_find(struct spool *sp, const char *name);

/* Writes each job (named after its "recording_file_id") to tmp/ and fsyncs
 * it; then under the .lock moves each whose name is in none of the four
 * states into new/ (never replacing); then, the .lock released, fsyncs
 * new/. SPOOL_OK; or SPOOL_ERROR with err, and no job of this call left in
 * new/. *n_spooled counts jobs newly placed in new/. */
enum spool_result spool_enqueue(struct spool *sp, struct job *const *jobs, size_t n,
				size_t *n_spooled, char *err, size_t errlen);

/* Names in a state directory (regular files ending in ".json", not dot
 * files), sorted. Caller frees each and the array. SPOOL_OK or SPOOL_ERROR. */
enum spool_result spool_list(struct spool *sp, enum spool_state st, char ***names, size_t *n);

/* Claims new/name: opens it, takes flock LOCK_EX|LOCK_NB, checks the name
 * still points at the locked file, parses it, and, when it is due at now
 * (no next_attempt_at, or not in the future), moves it to cur/ under the
 * .lock. SPOOL_CLAIMED (c filled, lock held); skipped: SPOOL_GONE,
 * SPOOL_BUSY, SPOOL_LOST_RACE, SPOOL_NOT_DUE, SPOOL_DUPLICATE,
 * SPOOL_BEING_WRITTEN (it does not parse, but is empty or just changed);
 * SPOOL_SHELVED (it does not parse: moved to failed/ as it is);
 * SPOOL_ERROR (err). */
enum spool_result spool_claim(struct spool *sp, const char *name, time_t now, struct claim *c,
			      char *err, size_t errlen);

/* Takes cur/name when no process holds its lock (it was abandoned by a
 * crash): SPOOL_CLAIMED (c filled, lock held, stays in cur/); SPOOL_BUSY,
 * SPOOL_GONE, SPOOL_LOST_RACE; SPOOL_TWIN (a cut move finished: the job is
 * in new/, done/ or failed/); SPOOL_SHELVED (it does not parse: moved to
 * failed/); SPOOL_ERROR. */
enum spool_result spool_adopt(struct spool *sp, const char *name, struct claim *c, char *err,
			      size_t errlen);

/* Rewrites c->job into cur/name: writes tmp/, fsyncs, locks the new file,
 * renames it over cur/name, then drops the old file's lock. SPOOL_OK or
 * SPOOL_ERROR. */
enum spool_result spool_update(struct spool *sp, struct claim *c, char *err, size_t errlen);

/* spool_update, then moves cur/name to dest (SPOOL_NEW, SPOOL_DONE or
 * SPOOL_FAILED) under the .lock without replacing, fsyncs both directories,
 * and releases the claim (fd closed, job freed) on success. When dest
 * already holds the name, the job goes to dest as name-with-".N" suffix.
 * SPOOL_OK or SPOOL_ERROR. */
enum spool_result spool_move(struct spool *sp, struct claim *c, enum spool_state dest,
			     char *err, size_t errlen);

/* Closes the claim's fd (dropping its lock) and frees its job. */
void spool_release(struct claim *c);

/* Removes files in tmp/ whose mtime is older than max_age seconds; *removed
 * counts them. SPOOL_OK, or SPOOL_ERROR (errno) when tmp/ cannot be read or
 * a file cannot be removed. */
enum spool_result spool_clean_tmp(struct spool *sp, time_t now, long max_age, size_t *removed);

/* A small private file in spool_dir (".zoom-oauth-token"), mode 0600,
 * replaced atomically: SPOOL_OK or SPOOL_ERROR. read: SPOOL_OK with *len
 * bytes in buf, NUL-terminated; SPOOL_GONE when there is none; SPOOL_ERROR
 * when it cannot be read, is a symlink or does not fit buf with its NUL. */
enum spool_result spool_write_private(struct spool *sp, const char *name, const char *data,
				      size_t len);
enum spool_result spool_read_private(struct spool *sp, const char *name, char *buf, size_t size,
				     size_t *len);

/* Serialises transfers bound for one S3 key, across the threads and the
 * processes working on this spool, so two jobs never write the same key at
 * once (each would see it free, and the second would replace the first's
 * object). The lock is a flock on one of 4096 files in spool_dir/.keylocks
 * chosen by the key's SHA-256: bounded, and two keys share a file (and
 * wait for each other) only by a 1-in-4096 chance. Waits while another
 * holder has it, checking stop each second. SPOOL_OK with *fd holding the
 * lock (close it with spool_unlock_key); SPOOL_STOPPED when stop was set
 * while waiting; SPOOL_ERROR with err. *waited tells whether it had to
 * wait. */
enum spool_result spool_lock_key(struct spool *sp, const char *key, stop_flag_t *stop,
				 int *fd, bool *waited, char *err, size_t errlen);
void spool_unlock_key(int fd);

/* ---- a look at a spool that spool_open may refuse (zoom2s3ctl) ---------- */

/* Opens dir for spool_stat only: no check of the layout, nothing created.
 * For reporting on a spool that spool_open refuses. SPOOL_OK or SPOOL_ERROR
 * with err. */
enum spool_result spool_open_inspect(struct spool *sp, const char *dir, char *err,
				     size_t errlen);

/* lstat of a part of the layout: "." (spool_dir itself), a state directory
 * ("tmp", "new", ...) or ".lock". SPOOL_OK, or SPOOL_ERROR with errno
 * (EINVAL: not such a part). */
struct stat;
enum spool_result spool_stat(struct spool *sp, const char *what, struct stat *out);

#endif
