/* Drives one spool from several processes at once, for
 * tests/e2e/spool_concurrency.sh and tests/e2e/spool_crash.sh.
 *
 *   spool_stress enqueue W NJOBS SEED ROUNDS  redeliver overlapping events
 *   spool_stress work W SEED                  claim/adopt, update, move, abandon
 *                                             until W/stop exists and nothing is left
 *   spool_stress chaos W NJOBS SEED KILL_AT   enqueue and work with pauses until
 *                                             its KILL_AT-th kill point (each flock()
 *                                             and pause while it holds a claim), where
 *                                             it SIGKILLs itself: the crash test
 *                                             picks the point, no timer does
 *   spool_stress recover W NJOBS              after a crash: adopt cur/, drain new/
 *   spool_stress check W NJOBS MODE           every job once; no double claim;
 *                                             MODE: running, drained, after-crash
 *
 * W holds spool/, marks/ and the per-process logs log.PID. Each claim
 * writes "C name k pid claim|adopt" where k is the job's claim counter as read at claim
 * time, and the counter is written back as k+1 before the job is let go. A
 * job held by two processes at once shows up twice: the second holder finds
 * the first one's mark (marks/name, made with O_EXCL right after the claim
 * and removed just before the job is let go), and both read the same k.
 * chaos writes "E id" once an enqueue returned 0 (the 200 Zoom would see). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "job.h"
#include "log.h"
#include "spool.h"

#define MAX_CLAIMS 5 /* a job is done or failed by its fifth claim */
#define FLOCK_PAUSE_US 400        /* usual pause before a flock */
#define FLOCK_LONG_PAUSE_US 20000  /* one in 16: long enough for another process's whole claim */

/* Widens the races this test is after. spool.c's calls to flock() land
 * here (the program's own definition wins over the C library's), and a
 * random pause before each stretches the gap between opening a job file
 * and locking it: a claim or adoption that did not check that the name
 * still points at the file it locked would then take a job that another
 * process holds, often enough to be seen. */
static bool flock_pauses;
static unsigned long long flock_rnd = 88172645463325252ULL;
static unsigned long kill_at;     /* chaos: the kill point that SIGKILLs us (0: none) */
static unsigned long kill_points; /* kill points passed so far */
static bool holding;              /* a claim is held: a kill leaves it in cur/ */

/* A crash at a point the test chose, with a claim held: in the middle of a
 * move or a rewrite (just before one of its flocks), or between them. */
static void kill_point(void)
{
	if (kill_at && holding && ++kill_points == kill_at)
		raise(SIGKILL);
}

int flock(int fd, int op)
{
	kill_point();
	if (flock_pauses) {
		flock_rnd ^= flock_rnd << 13;
		flock_rnd ^= flock_rnd >> 7;
		flock_rnd ^= flock_rnd << 17;
		usleep((useconds_t)(flock_rnd % (flock_rnd % 16 == 0 ? FLOCK_LONG_PAUSE_US
								      : FLOCK_PAUSE_US)));
	}
	return (int)syscall(SYS_flock, fd, op);
}
#define MAX_JOBS 100000

struct ctx {
	const char *w;
	struct spool sp;
	unsigned long long rnd;
	int logfd;
	int errors;
};

static unsigned next_random(struct ctx *x, unsigned bound)
{
	x->rnd ^= x->rnd << 13;
	x->rnd ^= x->rnd >> 7;
	x->rnd ^= x->rnd << 17;
	return bound ? (unsigned)(x->rnd % bound) : 0;
}

static void pause_a_little(struct ctx *x, unsigned max_us)
{
	unsigned us = next_random(x, max_us + 1);

	kill_point();
	if (us)
		usleep(us);
}

static int open_ctx(struct ctx *x, const char *w, unsigned long long seed, bool create)
{
	char path[4200], err[512];

	memset(x, 0, sizeof *x);
	x->w = w;
	x->rnd = (seed * 2654435761ULL) ^ ((unsigned long long)getpid() << 20) ^ 0x9e3779b97f4a7c15ULL;
	x->logfd = -1;
	snprintf(path, sizeof path, "%s/spool", w);
	if (spool_open(&x->sp, path, create, err, sizeof err) != SPOOL_OK) {
		fprintf(stderr, "spool_stress: %s\n", err);
		return -1;
	}
	snprintf(path, sizeof path, "%s/log.%ld", w, (long)getpid());
	x->logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (x->logfd < 0) {
		perror(path);
		return -1;
	}
	return 0;
}

static void close_ctx(struct ctx *x)
{
	spool_close(&x->sp);
	if (x->logfd >= 0)
		close(x->logfd);
}

static void problem(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct ctx *x, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "spool_stress[%ld]: ", (long)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	x->errors++;
}

static struct job *make_job(unsigned i)
{
	struct job *job = job_new();
	char id[32];

	snprintf(id, sizeof id, "j%u", i);
	job_set_str(job, "recording_file_id", id);
	job_set_int(job, "meeting_id", INT64_C(89012345678) + i);
	job_set_str(job, "download_url", "https://zoom.us/rec/download/x");
	job_set_int(job, "attempts", 0);
	job_set_int(job, "claims", 0);
	return job;
}

/* One "event": k consecutive ids from a random start; ids wrap around. */
static int enqueue_event(struct ctx *x, unsigned njobs, unsigned start, unsigned k)
{
	struct job *jobs[4];
	char err[512], line[256];
	size_t n = 0;
	enum spool_result rc;

	for (unsigned i = 0; i < k; i++)
		jobs[i] = make_job((start + i) % njobs);
	rc = spool_enqueue(&x->sp, jobs, k, &n, err, sizeof err);
	if (rc != SPOOL_OK) {
		problem(x, "enqueue failed: %s", err);
	} else {
		for (unsigned i = 0; i < k; i++) {
			int len = snprintf(line, sizeof line, "E j%u\n", (start + i) % njobs);

			if (write(x->logfd, line, (size_t)len) != len)
				problem(x, "cannot write the log");
		}
	}
	for (unsigned i = 0; i < k; i++)
		job_free(jobs[i]);
	return rc;
}

static int cmd_enqueue(const char *w, unsigned njobs, unsigned long long seed, unsigned rounds)
{
	struct ctx x;

	if (open_ctx(&x, w, seed, true) != 0)
		return 2;
	for (unsigned r = 0; r < rounds; r++)
		enqueue_event(&x, njobs, next_random(&x, njobs), 1 + next_random(&x, 4));
	for (unsigned i = 0; i < njobs; i += 3) /* every job at least once */
		enqueue_event(&x, njobs, i, njobs - i < 3 ? njobs - i : 3);
	close_ctx(&x);
	return x.errors ? 1 : 0;
}

static int mark_path(struct ctx *x, const char *name, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/marks/%s", x->w, name);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* A job this process now holds: mark it, log the claim, count it. */
static void note_claim(struct ctx *x, struct claim *c, bool marks, bool adopted)
{
	char path[4200], line[256];
	int64_t k = -1;
	int fd, len;

	if (marks && mark_path(x, c->name, path, sizeof path) == 0) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 && errno == EEXIST)
			problem(x, "DOUBLE CLAIM: %s is marked as held by another process",
				c->name);
		else if (fd < 0)
			problem(x, "cannot create the mark %s", path);
		else
			close(fd);
	}
	if (job_get_int(c->job, "claims", &k) != 0)
		problem(x, "%s has no claim counter", c->name);
	len = snprintf(line, sizeof line, "C %s %lld %ld %s\n", c->name, (long long)k,
		       (long)getpid(), adopted ? "adopt" : "claim");
	if (write(x->logfd, line, (size_t)len) != len)
		problem(x, "cannot write the log");
	job_set_int(c->job, "claims", k + 1);
}

static void unmark(struct ctx *x, const char *name, bool marks)
{
	char path[4200];

	if (marks && (mark_path(x, name, path, sizeof path) != 0 || unlink(path) != 0))
		problem(x, "cannot remove the mark of %s", name);
}

/* What a transfer would do with a job: sometimes rewrite it first, then
 * finish it, defer it, fail it or abandon it in cur/ (as a crash would). */
static void handle_claim(struct ctx *x, struct claim *c, bool adopted, bool marks,
			 unsigned max_pause);

static void handle(struct ctx *x, struct claim *c, bool adopted, bool marks, unsigned max_pause)
{
	holding = true;
	handle_claim(x, c, adopted, marks, max_pause);
	holding = false;
}

static void handle_claim(struct ctx *x, struct claim *c, bool adopted, bool marks,
			 unsigned max_pause)
{
	char err[512], name[SPOOL_NAME_MAX];
	int64_t claims = 0;
	unsigned r = next_random(x, 100);
	enum spool_state dest;

	note_claim(x, c, marks, adopted);
	pause_a_little(x, max_pause);
	if (next_random(x, 3) == 0) {
		job_set_str(c->job, "upload_id", "u/1");
		if (spool_update(&x->sp, c, err, sizeof err) != SPOOL_OK)
			problem(x, "update %s: %s", c->name, err);
		pause_a_little(x, max_pause);
	}
	snprintf(name, sizeof name, "%s", c->name);
	job_get_int(c->job, "claims", &claims);
	if (claims >= MAX_CLAIMS)
		r = r < 80 ? 0 : 95;
	if (r >= 70 && r < 90) { /* abandon: a crash without the crash */
		if (spool_update(&x->sp, c, err, sizeof err) != SPOOL_OK)
			problem(x, "update %s: %s", name, err);
		unmark(x, name, marks);
		spool_release(c);
		return;
	}
	dest = r < 35 ? SPOOL_DONE : r < 70 ? SPOOL_NEW : SPOOL_FAILED;
	if (dest == SPOOL_NEW)
		job_set_time(c->job, "next_attempt_at", time(NULL) + (r < 50 ? 0 : 1));
	unmark(x, name, marks);
	if (spool_move(&x->sp, c, dest, err, sizeof err) != SPOOL_OK) {
		problem(x, "move %s: %s", name, err);
		spool_release(c);
	}
}

/* One pass over new/ (claims) and cur/ (adoptions). Returns how many jobs
 * were taken; *left counts what was listed. */
static int work_pass(struct ctx *x, bool marks, unsigned max_pause, size_t *left)
{
	static const enum spool_state states[] = { SPOOL_NEW, SPOOL_CUR };
	char err[512];
	char **names;
	size_t n;
	int taken = 0;

	*left = 0;
	for (size_t s = 0; s < 2; s++) {
		if (spool_list(&x->sp, states[s], &names, &n) != SPOOL_OK) {
			problem(x, "cannot list %s/", spool_state_dir(states[s]));
			return -1;
		}
		*left += n;
		for (size_t k = 0; k < n; k++) {
			size_t i = (k + next_random(x, (unsigned)n)) % n; /* not all in one order */
			struct claim c;
			enum spool_result rc =
				states[s] == SPOOL_NEW
					? spool_claim(&x->sp, names[i], time(NULL), &c, err, sizeof err)
					: spool_adopt(&x->sp, names[i], &c, err, sizeof err);

			if (rc == SPOOL_ERROR)
				problem(x, "claim/adopt %s: %s", names[i], err);
			if (rc == SPOOL_CLAIMED) {
				taken++;
				handle(x, &c, states[s] == SPOOL_CUR, marks, max_pause);
			}
		}
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	return taken;
}

static int cmd_work(const char *w, unsigned long long seed)
{
	char stop[4200];
	struct ctx x;
	size_t left;

	if (open_ctx(&x, w, seed, false) != 0)
		return 2;
	flock_rnd ^= (unsigned long long)getpid() * 2654435761ULL;
	flock_pauses = true;
	snprintf(stop, sizeof stop, "%s/stop", w);
	for (;;) {
		int taken = work_pass(&x, true, 300, &left);

		if (taken < 0)
			break;
		if (taken == 0 && left == 0 && access(stop, F_OK) == 0)
			break;
		if (taken == 0)
			usleep(2000);
	}
	close_ctx(&x);
	return x.errors ? 1 : 0;
}

static int cmd_chaos(const char *w, unsigned njobs, unsigned long long seed,
		     unsigned long kill_point_no)
{
	struct ctx x;
	size_t left;

	kill_at = kill_point_no;
	if (open_ctx(&x, w, seed, true) != 0)
		return 2;
	for (;;) {
		if (next_random(&x, 2) == 0)
			enqueue_event(&x, njobs, next_random(&x, njobs), 1 + next_random(&x, 4));
		if (work_pass(&x, false, 20000, &left) < 0)
			break;
	}
	close_ctx(&x);
	return 1;
}

/* ---- after the fact ------------------------------------------------------ */
struct census {
	unsigned njobs;
	int *where;     /* state of job i, -1 none */
	int *copies;    /* files holding job i */
	int64_t *claims; /* its claim counter */
	int errors;
};

static int id_index(const char *id, unsigned njobs)
{
	char *end;
	unsigned long i;

	if (!id || id[0] != 'j')
		return -1;
	errno = 0;
	i = strtoul(id + 1, &end, 10);
	if (errno || *end || end == id + 1 || i >= njobs)
		return -1;
	return (int)i;
}

static void census_file(struct census *cs, const char *dir, enum spool_state st,
			const char *name)
{
	char path[8400], text[65536], err[256], want[SPOOL_NAME_MAX];
	struct job *job = NULL;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof path, "%s/%s/%s", dir, spool_state_dir(st), name);
	fd = open(path, O_RDONLY);
	n = fd >= 0 ? read(fd, text, sizeof text) : -1;
	if (fd >= 0)
		close(fd);
	if (n >= 0)
		job = job_parse(text, (size_t)n, err, sizeof err);
	i = job ? id_index(job_get_str(job, "recording_file_id"), cs->njobs) : -1;
	if (i < 0) {
		fprintf(stderr, "check: %s is not one of our jobs\n", path);
		cs->errors++;
	} else {
		if (spool_job_name(job_get_str(job, "recording_file_id"), want, sizeof want) != SPOOL_OK ||
		    strcmp(want, name) != 0) {
			fprintf(stderr, "check: %s holds %s (a second copy)\n", path, want);
			cs->errors++;
		}
		cs->copies[i]++;
		cs->where[i] = (int)st;
		if (job_get_int(job, "claims", &cs->claims[i]) != 0)
			cs->claims[i] = -1;
	}
	job_free(job);
}

/* Reads every file in new/ cur/ done/ failed/. */
static int take_census(const char *w, struct census *cs)
{
	static const enum spool_state states[] = { SPOOL_NEW, SPOOL_CUR, SPOOL_DONE, SPOOL_FAILED };
	char dir[4200], sub[4300];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof dir, "%s/spool", w);
	for (unsigned i = 0; i < cs->njobs; i++) {
		cs->where[i] = -1;
		cs->copies[i] = 0;
		cs->claims[i] = -1;
	}
	for (size_t s = 0; s < 4; s++) {
		snprintf(sub, sizeof sub, "%s/%s", dir, spool_state_dir(states[s]));
		d = opendir(sub);
		if (!d)
			return -1;
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				census_file(cs, dir, states[s], de->d_name);
		closedir(d);
	}
	return 0;
}

static struct census *new_census(unsigned njobs)
{
	struct census *cs = calloc(1, sizeof *cs);

	if (!cs)
		return NULL;
	cs->njobs = njobs;
	cs->where = calloc(njobs, sizeof *cs->where);
	cs->copies = calloc(njobs, sizeof *cs->copies);
	cs->claims = calloc(njobs, sizeof *cs->claims);
	if (!cs->where || !cs->copies || !cs->claims) {
		free(cs->where);
		free(cs->copies);
		free(cs->claims);
		free(cs);
		return NULL;
	}
	return cs;
}

static void free_census(struct census *cs)
{
	free(cs->where);
	free(cs->copies);
	free(cs->claims);
	free(cs);
}

/* Reads every log.* in W: claim records into seen[i][k] (how many times
 * job i was claimed with counter k) and acknowledged enqueues into acked. */
static int read_logs(const char *w, unsigned njobs, int (*seen)[MAX_CLAIMS + 2], bool *acked)
{
	char path[4400], name[256];
	long long k;
	long pid;
	struct dirent *de;
	DIR *d = opendir(w);
	int bad = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		FILE *f;
		char line[512];

		if (strncmp(de->d_name, "log.", 4) != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", w, de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof line, f)) {
			int i;

			if (sscanf(line, "C %255s %lld %ld", name, &k, &pid) == 3) {
				char *dot = strstr(name, ".json");

				if (dot)
					*dot = '\0';
				i = id_index(name, njobs);
				if (i < 0 || k < 0 || k > MAX_CLAIMS) {
					fprintf(stderr, "check: odd claim record: %s", line);
					bad++;
				} else {
					seen[i][k]++;
				}
			} else if (sscanf(line, "E %255s", name) == 1) {
				i = id_index(name, njobs);
				if (i >= 0)
					acked[i] = true;
			}
		}
		fclose(f);
	}
	closedir(d);
	return bad;
}

static int count_entries(const char *w, const char *sub)
{
	char path[4300];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof path, "%s/%s", w, sub);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Each claim counter value 0..m-1 once, m = the job's final counter. */
static int check_claims(struct census *cs, int (*seen)[MAX_CLAIMS + 2])
{
	int errors = 0;

	for (unsigned i = 0; i < cs->njobs; i++) {
		int64_t m = cs->claims[i];

		for (int k = 0; k < MAX_CLAIMS + 2; k++) {
			int want = k < m ? 1 : 0;

			if (seen[i][k] != want) {
				fprintf(stderr,
					"check: j%u: claim with counter %d seen %d times, want %d "
					"(final counter %lld)\n",
					i, k, seen[i][k], want, (long long)m);
				errors++;
			}
		}
	}
	return errors;
}

/* drained: every job must be in done/ or failed/. after_crash: a killed
 * process leaves claim records without their counter update and its marks,
 * so only the files are checked. */
static int cmd_check(const char *w, unsigned njobs, bool drained, bool after_crash)
{
	struct census *cs = new_census(njobs);
	int (*seen)[MAX_CLAIMS + 2] = calloc(njobs, sizeof *seen);
	bool *acked = calloc(njobs, sizeof *acked);
	int errors = 0, odd;

	if (!cs || !seen || !acked || take_census(w, cs) != 0) {
		fprintf(stderr, "check: cannot read the spool\n");
		return 2;
	}
	errors += cs->errors;
	for (unsigned i = 0; i < njobs; i++) {
		if (cs->copies[i] != 1) {
			fprintf(stderr, "check: j%u is in %d files\n", i, cs->copies[i]);
			errors++;
		} else if (drained && cs->where[i] != SPOOL_DONE && cs->where[i] != SPOOL_FAILED) {
			fprintf(stderr, "check: j%u is still in %s/\n", i,
				spool_state_dir((enum spool_state)cs->where[i]));
			errors++;
		}
	}
	odd = read_logs(w, njobs, seen, acked);
	errors += odd < 0 ? 1 : odd;
	if (!after_crash)
		errors += check_claims(cs, seen);
	if (!after_crash && count_entries(w, "marks") != 0) {
		fprintf(stderr, "check: marks/ is not empty\n");
		errors++;
	}
	if (count_entries(w, "spool/tmp") != 0) {
		fprintf(stderr, "check: spool/tmp is not empty\n");
		errors++;
	}
	printf("check: %u jobs, %d problems\n", njobs, errors);
	free_census(cs);
	free(seen);
	free(acked);
	return errors ? 1 : 0;
}

/* After a crash: every job acknowledged to "Zoom" must be in the spool;
 * every job in cur/ is abandoned and adopt must take it; then the event
 * is redelivered whole, everything is drained to done/, and tmp/ is
 * cleaned. Prints "adopted N orphans M". */
static int cmd_recover(const char *w, unsigned njobs)
{
	struct census *cs = new_census(njobs);
	int (*seen)[MAX_CLAIMS + 2] = calloc(njobs, sizeof *seen);
	bool *acked = calloc(njobs, sizeof *acked);
	char err[512], **names;
	size_t n;
	int adopted = 0;
	size_t orphans = 0;
	struct ctx x;

	if (!cs || !seen || !acked || open_ctx(&x, w, 1, false) != 0 || take_census(w, cs) != 0 ||
	    read_logs(w, njobs, seen, acked) < 0) {
		fprintf(stderr, "recover: cannot read the spool\n");
		return 2;
	}
	x.errors += cs->errors;
	for (unsigned i = 0; i < njobs; i++) {
		char id[32];

		snprintf(id, sizeof id, "j%u", i);
		if (acked[i] && cs->copies[i] == 0)
			problem(&x, "LOST: %s was acknowledged but is in no state", id);
		if (cs->copies[i] > 1)
			problem(&x, "%s is in more than one file", id);
	}
	if (spool_list(&x.sp, SPOOL_CUR, &names, &n) != SPOOL_OK)
		return 2;
	for (size_t i = 0; i < n; i++) {
		struct claim c;
		enum spool_result rc = spool_adopt(&x.sp, names[i], &c, err, sizeof err);

		if (rc != SPOOL_CLAIMED)
			problem(&x, "adopt %s did not take an abandoned job: %s", names[i],
				rc == SPOOL_ERROR ? err : spool_result_name(rc));
		if (rc == SPOOL_CLAIMED && spool_move(&x.sp, &c, SPOOL_DONE, err, sizeof err) != SPOOL_OK)
			problem(&x, "move %s: %s", names[i], err);
		adopted += rc == SPOOL_CLAIMED;
		free(names[i]);
	}
	free(names);
	for (unsigned i = 0; i < njobs; i += 4) /* Zoom's retries */
		enqueue_event(&x, njobs, i, njobs - i < 4 ? njobs - i : 4);
	if (spool_list(&x.sp, SPOOL_NEW, &names, &n) != SPOOL_OK)
		return 2;
	for (size_t i = 0; i < n; i++) {
		struct claim c;
		enum spool_result rc =
			spool_claim(&x.sp, names[i], time(NULL) + 3600, &c, err, sizeof err);

		if (rc != SPOOL_CLAIMED)
			problem(&x, "claim %s: %s", names[i],
				rc == SPOOL_ERROR ? err : spool_result_name(rc));
		if (rc == SPOOL_CLAIMED && spool_move(&x.sp, &c, SPOOL_DONE, err, sizeof err) != SPOOL_OK)
			problem(&x, "move %s: %s", names[i], err);
		free(names[i]);
	}
	free(names);
	if (spool_clean_tmp(&x.sp, time(NULL) + 1, 0, &orphans) != SPOOL_OK)
		problem(&x, "clean_tmp failed");
	printf("adopted %d orphans %zu\n", adopted, orphans);
	close_ctx(&x);
	free_census(cs);
	free(seen);
	free(acked);
	return x.errors ? 1 : 0;
}

static unsigned arg_uint(const char *s)
{
	unsigned long v = strtoul(s, NULL, 10);

	return v > MAX_JOBS ? MAX_JOBS : (unsigned)v;
}

int main(int argc, char **argv)
{
	log_init("spool_stress", LOG_DEST_STDERR, false);
	if (argc >= 6 && strcmp(argv[1], "enqueue") == 0)
		return cmd_enqueue(argv[2], arg_uint(argv[3]), strtoull(argv[4], NULL, 10),
				   arg_uint(argv[5]));
	if (argc >= 4 && strcmp(argv[1], "work") == 0)
		return cmd_work(argv[2], strtoull(argv[3], NULL, 10));
	if (argc >= 6 && strcmp(argv[1], "chaos") == 0)
		return cmd_chaos(argv[2], arg_uint(argv[3]), strtoull(argv[4], NULL, 10),
				 strtoul(argv[5], NULL, 10));
	if (argc >= 4 && strcmp(argv[1], "recover") == 0)
		return cmd_recover(argv[2], arg_uint(argv[3]));
	if (argc >= 4 && strcmp(argv[1], "check") == 0)
		return cmd_check(argv[2], arg_uint(argv[3]),
				 argc >= 5 && strcmp(argv[4], "running") != 0,
				 argc >= 5 && strcmp(argv[4], "after-crash") == 0);
	fprintf(stderr, "usage: spool_stress enqueue|work|chaos|recover|check W ...\n");
	return 2;
}
