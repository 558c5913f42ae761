/* The spool: the only code that creates, links, renames, locks and fsyncs
 * files under spool_dir. docs/INTERNALS.md states the protocol this file
 * follows; the two must agree. */
#ifndef ZOOM2S3_SPOOL_H
#define ZOOM2S3_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "job.h"

#define SPOOL_NAME_MAX 128

enum spool_state { SPOOL_TMP, SPOOL_NEW, SPOOL_CUR, SPOOL_DONE, SPOOL_FAILED };

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

const char *spool_state_dir(enum spool_state st); /* "tmp", "new", ... */

/* Opens dir. With create, makes dir and the five state directories
 * (mode 2770: group-writable, setgid) and .lock (0660) when missing.
 * -1 with err when the spool is unusable. */
int spool_open(struct spool *sp, const char *dir, bool create, char *err, size_t errlen);
void spool_close(struct spool *sp);

/* The job's file name, a function of the recording file's id alone:
 * the id itself + ".json" when it is 1..100 bytes of [A-Za-z0-9_-], else
 * hex(SHA-256(id)) + ".sha256.json". -1 on an empty id or small buffer. */
int spool_job_name(const char *file_id, char *out, size_t outlen);

/* Which state holds name, or -1 when none of new/cur/done/failed does. */
int spool_find(struct spool *sp, const char *name);

/* Writes each job (named after its "recording_file_id") to tmp/ and fsyncs
 * it; then under the .lock moves each whose name is in none of the four
 * states into new/ (never replacing), and fsyncs new/. On any failure no
 * job of this call is left in new/ and -1 is returned with err. *n_spooled
 * counts jobs newly placed in new/. */
int spool_enqueue(struct spool *sp, struct job *const *jobs, size_t n, size_t *n_spooled,
		  char *err, size_t errlen);

/* Names in a state directory (regular files ending in ".json", not dot
 * files), sorted. Caller frees each and the array. */
int spool_list(struct spool *sp, enum spool_state st, char ***names, size_t *n);

/* Claims new/name: opens it, takes flock LOCK_EX|LOCK_NB, checks the name
 * still points at the locked file, parses it, and, when it is due at now
 * (no next_attempt_at, or not in the future), moves it to cur/ under the
 * .lock. Returns 1 claimed (c filled, lock held), 0 skipped (locked by
 * someone else, gone, or not due), -1 error (err). A file that does not
 * parse is moved to failed/ as it is and 0 is returned. */
int spool_claim(struct spool *sp, const char *name, time_t now, struct claim *c,
		char *err, size_t errlen);

/* Takes cur/name when no process holds its lock (it was abandoned by a
 * crash): 1 taken (c filled, lock held, stays in cur/), 0 busy or gone,
 * -1 error. */
int spool_adopt(struct spool *sp, const char *name, struct claim *c, char *err, size_t errlen);

/* Rewrites c->job into cur/name: writes tmp/, fsyncs, locks the new file,
 * renames it over cur/name, then drops the old file's lock. */
int spool_update(struct spool *sp, struct claim *c, char *err, size_t errlen);

/* spool_update, then moves cur/name to dest (SPOOL_NEW, SPOOL_DONE or
 * SPOOL_FAILED) under the .lock without replacing, fsyncs both directories,
 * and releases the claim (fd closed, job freed) on success. When dest
 * already holds the name, the job goes to dest as name-with-".N" suffix. */
int spool_move(struct spool *sp, struct claim *c, enum spool_state dest, char *err, size_t errlen);

/* Closes the claim's fd (dropping its lock) and frees its job. */
void spool_release(struct claim *c);

/* Removes files in tmp/ whose mtime is older than max_age seconds.
 * Returns how many, or -1. */
int spool_clean_tmp(struct spool *sp, time_t now, long max_age);

/* A small private file in spool_dir (e.g. ".oauth-token"), mode 0600,
 * replaced atomically. read: returns bytes read, -1 when absent/error. */
int spool_write_private(struct spool *sp, const char *name, const char *data, size_t len);
long spool_read_private(struct spool *sp, const char *name, char *buf, size_t size);

#endif
