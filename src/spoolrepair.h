/* The operator's look into a spool and the changes zoom2s3ctl makes to it
 * (spoolrepair.c), under the protocol of spool.h and docs/INTERNALS.md. */
#ifndef ZOOM2S3_SPOOLREPAIR_H
#define ZOOM2S3_SPOOLREPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "job.h"
#include "spool.h"

/* A job file as a listing saw it. */
struct spool_entry {
	char name[SPOOL_NAME_MAX];
	time_t mtime;
	long long size;  /* of the job file, in bytes */
	dev_t dev;       /* identity: a later call acts only on this very file */
	ino_t ino;
};

/* spool_list with each file's mtime, size and identity, sorted by name.
 * Caller frees *entries. SPOOL_OK or SPOOL_ERROR. */
enum spool_result spool_list_entries(struct spool *sp, enum spool_state st,
				     struct spool_entry **entries, size_t *n);

/* Reads st/name without locking or changing anything. SPOOL_OK with *job
 * (the caller frees it) and *entry describing the file read; SPOOL_GONE
 * when no such job file exists; SPOOL_ERROR with err when it cannot be
 * read or does not parse. */
enum spool_result spool_read(struct spool *sp, enum spool_state st, const char *name,
			     struct job **job, struct spool_entry *entry, char *err, size_t errlen);

/* For cur/name: SPOOL_RUNNING when a process holds its flock, SPOOL_ABANDONED
 * when none does (its spooler died: the next run adopts it), SPOOL_GONE, or
 * SPOOL_ERROR when it cannot be opened or probed. The probe is a shared
 * flock taken and dropped at once. */
enum spool_result spool_cur_held(struct spool *sp, const char *name);

/* Moves a finished job back to new/ as job (the caller's reset content):
 * from is SPOOL_DONE or SPOOL_FAILED and entry names the file the caller
 * read. Under the .lock: from/name must still be that file, and neither
 * new/ nor cur/ may hold the name; job is written over from/name (a new
 * file renamed over it), which then moves to new/ without replacing.
 * SPOOL_OK requeued; refused with the reason in err: SPOOL_GONE or
 * SPOOL_LOST_RACE (the file went away or was replaced since it was read),
 * SPOOL_NAME_TAKEN; SPOOL_ERROR. */
enum spool_result spool_requeue(struct spool *sp, enum spool_state from,
				const struct spool_entry *entry, const struct job *job, char *err,
				size_t errlen);

/* Rewrites the job new/name as edit changes it, the way the protocol lets
 * a job in new/ be rewritten: holding the job file's flock (when a spooler
 * holds it, the job is being claimed: skipped), then under the .lock, once
 * new/name is checked to still be that file, a new file renamed over it.
 * edit returns true when it changed the job. The new file keeps the old
 * one's mtime (in new/, the time its last try failed). SPOOL_OK rewritten;
 * skipped: SPOOL_BUSY, SPOOL_GONE, SPOOL_LOST_RACE, SPOOL_UNCHANGED
 * (unchanged, or it does not parse); SPOOL_ERROR. */
typedef bool (*spool_edit_fn)(struct job *job, void *ctx);
enum spool_result spool_edit_new(struct spool *sp, const char *name, spool_edit_fn edit,
				 void *ctx, char *err, size_t errlen);

/* spool_edit_new for a job in done/ (the spooler's retention records the
 * removal of its file from Zoom): edit runs while the job file's flock is
 * held, so two spoolers never work on one done job at once (the second
 * skips it: SPOOL_BUSY), and may take its time (network calls). The new
 * file keeps the old one's mtime (in done/, when the job completed).
 * Results as spool_edit_new's. */
enum spool_result spool_edit_done(struct spool *sp, const char *name, spool_edit_fn edit,
				  void *ctx, char *err, size_t errlen);

/* Removes done/<entry->name> under the .lock when it is still the file
 * entry describes. SPOOL_OK removed; SPOOL_GONE, SPOOL_LOST_RACE (changed);
 * SPOOL_ERROR. */
enum spool_result spool_remove_done(struct spool *sp, const struct spool_entry *entry, char *err,
				    size_t errlen);

#endif
