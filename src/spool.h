/* The spool: the only code that creates, links, renames, locks and fsyncs
 * files under spool_dir. docs/INTERNALS.md states the protocol this file
 * follows; the two must agree. */
#ifndef ZOOM2S3_SPOOL_H
#define ZOOM2S3_SPOOL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "job.h"

#define SPOOL_NAME_MAX 128

/* The modes the spool's files are made with (docs/INTERNALS.md). */
#define SPOOL_DIR_MODE 02770  /* spool_dir and the state directories: setgid, group rwx */
#define SPOOL_LOCK_MODE 0660  /* .lock */
#define SPOOL_JOB_MODE 0640   /* job files */

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
 * (mode 2770: group-writable, setgid) when missing; without it, a missing
 * one is an error that names it. .lock (0660) is made when missing either
 * way. -1 with err when the spool is unusable. */
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
 * parse is moved to failed/ as it is and 2 is returned, unless it is empty
 * or was changed in the last few seconds (a hand edit still being
 * written): then it is skipped (0) for a later scan. */
int spool_claim(struct spool *sp, const char *name, time_t now, struct claim *c,
		char *err, size_t errlen);

/* Takes cur/name when no process holds its lock (it was abandoned by a
 * crash): 1 taken (c filled, lock held, stays in cur/), 0 busy or gone,
 * 2 it did not parse and was moved to failed/, -1 error. */
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

/* ---- inspection and repair by an operator (zoom2s3ctl) ------------------ */

/* A job file as a listing saw it. */
struct spool_entry {
	char name[SPOOL_NAME_MAX];
	time_t mtime;
	long long size;  /* of the job file, in bytes */
	dev_t dev;       /* identity: a later call acts only on this very file */
	ino_t ino;
};

/* Opens dir for spool_stat only: no check of the layout, nothing created.
 * For reporting on a spool that spool_open refuses. */
int spool_open_inspect(struct spool *sp, const char *dir, char *err, size_t errlen);

/* lstat of a part of the layout: "." (spool_dir itself), a state directory
 * ("tmp", "new", ...) or ".lock". -1 with errno (EINVAL: not such a part). */
struct stat;
int spool_stat(struct spool *sp, const char *what, struct stat *out);

/* spool_list with each file's mtime, size and identity, sorted by name.
 * Caller frees *entries. */
int spool_list_entries(struct spool *sp, enum spool_state st, struct spool_entry **entries,
		       size_t *n);

/* Reads st/name without locking or changing anything. 1 with *job (the
 * caller frees it) and *entry describing the file read; 0 when no such job
 * file exists; -1 with err when it cannot be read or does not parse. */
int spool_read(struct spool *sp, enum spool_state st, const char *name, struct job **job,
	       struct spool_entry *entry, char *err, size_t errlen);

/* For cur/name: 1 when a process holds its flock (the job is running), 0
 * when none does (abandoned by a crash: the next run adopts it), -1 when it
 * is gone or cannot be opened. The probe is a shared flock taken and
 * dropped at once. */
int spool_cur_held(struct spool *sp, const char *name);

/* Moves a finished job back to new/ as job (the caller's reset content):
 * from is SPOOL_DONE or SPOOL_FAILED and entry names the file the caller
 * read. Under the .lock: from/name must still be that file, and neither
 * new/ nor cur/ may hold the name; job is written over from/name (a new
 * file renamed over it), which then moves to new/ without replacing.
 * 1 requeued; 0 refused with the reason in err (the file changed or is
 * gone, or the name is taken); -1 error. */
int spool_requeue(struct spool *sp, enum spool_state from, const struct spool_entry *entry,
		  const struct job *job, char *err, size_t errlen);

/* Rewrites the job new/name as edit changes it, the way the protocol lets
 * a job in new/ be rewritten: holding the job file's flock (when a spooler
 * holds it, the job is being claimed: skipped), then under the .lock, once
 * new/name is checked to still be that file, a new file renamed over it.
 * edit returns true when it changed the job. The new file keeps the old
 * one's mtime (in new/, the time its last try failed). 1 rewritten, 0
 * skipped (held, gone, unchanged, or it does not parse), -1 error. */
typedef bool (*spool_edit_fn)(struct job *job, void *ctx);
int spool_edit_new(struct spool *sp, const char *name, spool_edit_fn edit, void *ctx,
		   char *err, size_t errlen);

/* spool_edit_new for a job in done/ (the spooler's retention records the
 * removal of its file from Zoom): edit runs while the job file's flock is
 * held, so two spoolers never work on one done job at once (the second
 * skips it: 0), and may take its time (network calls). The new file keeps
 * the old one's mtime (in done/, when the job completed). 1 rewritten, 0
 * skipped (held, gone, unchanged, or it does not parse), -1 error. */
int spool_edit_done(struct spool *sp, const char *name, spool_edit_fn edit, void *ctx,
		    char *err, size_t errlen);

/* Removes done/<entry->name> under the .lock when it is still the file
 * entry describes. 1 removed, 0 gone or changed, -1 error. */
int spool_remove_done(struct spool *sp, const struct spool_entry *entry, char *err,
		      size_t errlen);

/* Serialises transfers bound for one S3 key, across the threads and the
 * processes working on this spool, so two jobs never write the same key at
 * once (each would see it free, and the second would replace the first's
 * object). The lock is a flock on one of 4096 files in spool_dir/.keylocks
 * chosen by the key's SHA-256: bounded, and two keys share a file (and
 * wait for each other) only by a 1-in-4096 chance. Waits while another
 * holder has it, checking stop each second. Returns the descriptor that
 * holds the lock (close it with spool_unlock_key), -2 when stop was set
 * while waiting, -1 with err on an error. *waited tells whether it had to
 * wait. */
int spool_lock_key(struct spool *sp, const char *key, volatile sig_atomic_t *stop,
		   bool *waited, char *err, size_t errlen);
void spool_unlock_key(int fd);

#endif
