/* zoom2s3-spooler: claims jobs from the spool, has each one transferred
 * from Zoom into S3 by a worker thread, and decides where the job goes
 * next. This loop is the only place that turns an outcome into a move. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "lockinit.h"
#include "log.h"
#include "metrics.h"
#include "retention.h"
#include "retry.h"
#include "spool.h"
#include "transfer.h"

enum {
	EXIT_ALL_GOOD = 0,
	EXIT_SOME_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_SPOOL = 3,
};

#define TMP_MAX_AGE (36L * 3600)
#define METRICS_EVERY 60 /* seconds between metrics_file writes under --watch */
#define MAX_WORKERS 64

/* Atomic (stopflag.h): set by the signal handler (or by run() when the
 * workers cannot start), read by every thread; it only goes from 0 to 1. */
static stop_flag_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* A name to try: in cur/ (perhaps abandoned) or in new/. */
struct work {
	enum spool_state from;
	char name[SPOOL_NAME_MAX];
};

/* Names waiting for a worker, and the names queued or being worked on, so
 * an inotify event and a rescan never hand one job to two workers. Every
 * field is under mu. */
struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct work *items;
	size_t len, cap;
	char (*known)[SPOOL_NAME_MAX];
	size_t nknown, known_cap;
	int closed;
};

/* Shared by the main thread and the workers. cfg, sp, shared and metrics
 * are set before the workers start and only read after (sp's descriptors
 * are used, never changed; metrics.c locks its own counters); nworkers is
 * the main thread's alone; the rest says how each is shared. */
struct spooler {
	struct config cfg;
	struct spool sp;
	struct queue q;
	struct transfer_shared *shared;
	struct metrics *metrics; /* metrics_file; does nothing when unset */
	struct retention *retention; /* zoom_after_upload; does nothing with keep */
	int nworkers;
	int failed_jobs;           /* under count_mu: went to failed/ in this run */
	char claimed_by[300];      /* HOST:PID, recorded in each job this process takes;
				    * set before the workers start, read-only after */
	pthread_mutex_t count_mu;
	atomic_bool spool_broken;  /* atomic: a move failed, the spool is unusable */
	atomic_bool claim_errors;  /* atomic: a job could not be read or claimed */
};

/* One worker thread. s, tw and thread are set before it starts; tw's
 * progress counters are atomic (transfer.c). */
struct worker {
	struct spooler *s;
	struct transfer_worker *tw;
	pthread_t thread;
	pthread_mutex_t mu;           /* guards current and last_*: the main
				       * thread draws the live line from them */
	char current[SPOOL_NAME_MAX]; /* for the live progress line */
	int64_t last_bytes;
	double last_time;
};

static bool queue_knows(struct queue *q, const char *name)
{
	for (size_t i = 0; i < q->nknown; i++)
		if (strcmp(q->known[i], name) == 0)
			return true;
	return false;
}

/* 0 when queued (or already known), -1 when out of memory. */
static int queue_push(struct queue *q, enum spool_state from, const char *name)
{
	int rc = 0;

	if (strlen(name) >= SPOOL_NAME_MAX)
		return 0; /* not a name the spool makes */
	pthread_mutex_lock(&q->mu);
	if (queue_knows(q, name))
		goto out;
	if (q->len == q->cap || q->nknown == q->known_cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct work *items = realloc(q->items, cap * sizeof *items);
		char(*known)[SPOOL_NAME_MAX];

		if (!items) {
			rc = -1;
			goto out;
		}
		q->items = items;
		known = realloc(q->known, cap * sizeof *known);
		if (!known) {
			rc = -1;
			goto out;
		}
		q->known = known;
		q->cap = q->known_cap = cap;
	}
	q->items[q->len].from = from;
	snprintf(q->items[q->len].name, SPOOL_NAME_MAX, "%s", name);
	q->len++;
	snprintf(q->known[q->nknown++], SPOOL_NAME_MAX, "%s", name);
	pthread_cond_broadcast(&q->cv);
out:
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* Blocks until there is work; false when the queue is closed and empty, or
 * a stop was requested (no new job is taken then). */
static bool queue_pop(struct queue *q, struct work *out)
{
	bool got = false;

	pthread_mutex_lock(&q->mu);
	while (!stop_requested && q->len == 0 && !q->closed) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1; /* to notice stop_requested */
		pthread_cond_timedwait(&q->cv, &q->mu, &until);
	}
	if (!stop_requested && q->len > 0) {
		*out = q->items[0];
		memmove(q->items, q->items + 1, (q->len - 1) * sizeof *q->items);
		q->len--;
		got = true;
	}
	pthread_mutex_unlock(&q->mu);
	return got;
}

static void queue_forget(struct queue *q, const char *name)
{
	pthread_mutex_lock(&q->mu);
	for (size_t i = 0; i < q->nknown; i++) {
		if (strcmp(q->known[i], name) == 0) {
			q->nknown--;
			memcpy(q->known[i], q->known[q->nknown], SPOOL_NAME_MAX);
			break;
		}
	}
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static void queue_close(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/* Waits up to ms for the queue to empty and every worker to finish its job
 * (queue_forget wakes it); true when that is so. */
static bool queue_wait_idle(struct queue *q, long ms)
{
	struct timespec until;
	bool idle;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&q->mu);
	if (q->len != 0 || q->nknown != 0)
		pthread_cond_timedwait(&q->cv, &q->mu, &until);
	idle = q->len == 0 && q->nknown == 0;
	pthread_mutex_unlock(&q->mu);
	return idle;
}

static double jitter01(void)
{
	unsigned char b[2];

	if (getentropy(b, sizeof b) != 0)
		return 0.5;
	return (double)((b[0] << 8) | b[1]) / 65536.0;
}

static void count_failed(struct spooler *s)
{
	pthread_mutex_lock(&s->count_mu);
	s->failed_jobs++;
	pthread_mutex_unlock(&s->count_mu);
}

/* The move that ends this run's work on the job; the only caller of
 * spool_move. */
static void move_job(struct worker *w, struct claim *c, enum spool_state dest)
{
	struct spooler *s = w->s;
	char err[512];

	if (spool_move(&s->sp, c, dest, err, sizeof err) != SPOOL_OK) {
		log_event(LOG_ERR, "spool.move_failed", "job=%s to=%s error=\"%s\"", c->name,
			  spool_state_dir(dest), err);
		atomic_store(&s->spool_broken, true);
		spool_release(c);
		return;
	}
	if (dest == SPOOL_FAILED)
		count_failed(s);
}

static void fail_job(struct worker *w, struct claim *c, const char *why)
{
	time_t now = time(NULL);

	transfer_abandon(w->tw, c);
	job_set_time(c->job, "failed_at", now);
	job_set_str(c->job, "last_error", why);
	job_remove(c->job, "next_attempt_at");
	log_event(LOG_ERR, "job.failed", "job=%s error=\"%s\"", c->name, why);
	move_job(w, c, SPOOL_FAILED);
}

/* Counts a failed try; back to new/ for later, or to failed/ at the last. */
static void retry_or_fail(struct worker *w, struct claim *c, const char *why)
{
	const struct config *cfg = &w->s->cfg;
	int64_t attempts = 0;
	char msg[600];

	job_get_int(c->job, "attempts", &attempts);
	attempts++;
	job_set_int(c->job, "attempts", attempts);
	if (attempts >= cfg->max_attempts) {
		snprintf(msg, sizeof msg, "gave up after %lld attempts: %s", (long long)attempts,
			 why);
		fail_job(w, c, msg);
		return;
	}
	long delay = retry_delay_after(cfg, attempts, jitter01());
	job_set_time(c->job, "next_attempt_at", time(NULL) + delay);
	job_set_str(c->job, "last_error", why);
	log_event(LOG_WARNING, "job.retry", "job=%s attempts=%lld next_in=%lds error=\"%s\"",
		  c->name, (long long)attempts, delay, why);
	move_job(w, c, SPOOL_NEW);
}

static void finish_job(struct worker *w, struct claim *c, const struct result *r)
{
	if (r->kind == OUTCOME_DONE) {
		job_set_time(c->job, "completed_at", time(NULL));
		job_remove(c->job, "next_attempt_at");
		job_remove(c->job, "last_error");
		move_job(w, c, SPOOL_DONE);
	} else if (r->kind == OUTCOME_RETRY && stop_requested) {
		/* Interrupted, not failed: due at once, with its upload state. */
		job_remove(c->job, "next_attempt_at");
		log_event(LOG_NOTICE, "job.interrupted", "job=%s", c->name);
		move_job(w, c, SPOOL_NEW);
	} else if (r->kind == OUTCOME_RETRY) {
		retry_or_fail(w, c, r->why);
	} else {
		int64_t attempts = 0;

		job_get_int(c->job, "attempts", &attempts);
		job_set_int(c->job, "attempts", attempts + 1);
		fail_job(w, c, r->why);
	}
}

/* Takes the job named in item; false when it is not ours to run. */
static bool take_job(struct worker *w, const struct work *item, struct claim *c)
{
	struct spooler *s = w->s;
	char err[512];
	enum spool_result got;

	if (item->from == SPOOL_CUR)
		got = spool_adopt(&s->sp, item->name, c, err, sizeof err);
	else
		got = spool_claim(&s->sp, item->name, time(NULL), c, err, sizeof err);
	if (got == SPOOL_ERROR) {
		/* Not the whole spool's fault (one unreadable file): the loop goes
		 * on, but the run's exit status says the spool needs a look. */
		log_event(LOG_ERR, "spool.claim_failed", "job=%s error=\"%s\"", item->name, err);
		atomic_store(&s->claim_errors, true);
	}
	if (got == SPOOL_SHELVED)
		count_failed(s); /* it did not parse: spool.c put it in failed/ */
	if (got != SPOOL_CLAIMED)
		return false;

	if (item->from == SPOOL_CUR) {
		/* Its spooler died while holding it: that try counts. */
		int64_t attempts = 0;

		job_get_int(c->job, "attempts", &attempts);
		log_event(LOG_WARNING, "job.adopted", "job=%s attempts=%lld", c->name,
			  (long long)attempts + 1);
		if (attempts + 1 >= s->cfg.max_attempts) {
			job_set_int(c->job, "attempts", attempts + 1);
			fail_job(w, c, "gave up: the spooler running the last attempt died");
			return false;
		}
		job_set_int(c->job, "attempts", attempts + 1);
	} else if (retry_reset_if_requeued(c->job)) {
		log_event(LOG_NOTICE, "job.requeued", "job=%s", c->name);
	}
	/* Which host holds it: on a spool shared by several hosts, the one an
	 * operator must look at (or evict) when it is stuck in cur/. */
	job_set_str(c->job, "claimed_by", s->claimed_by);
	if (spool_update(&s->sp, c, err, sizeof err) != SPOOL_OK) {
		log_event(LOG_ERR, "spool.update_failed", "job=%s error=\"%s\"", c->name, err);
		atomic_store(&s->spool_broken, true);
		spool_release(c);
		return false;
	}
	return true;
}

/* Counts the try for the node_exporter file (metrics.c). */
static void note_metrics(struct spooler *s, const struct claim *c, const struct result *r,
			 double secs)
{
	int64_t bytes = 0;

	if (r->kind == OUTCOME_DONE && job_get_int(c->job, "bytes", &bytes) != 0)
		bytes = 0;
	metrics_note(s->metrics, r, stop_requested, (uint64_t)bytes, secs, time(NULL));
}

static void write_metrics(struct spooler *s)
{
	char err[512];

	if (metrics_write(s->metrics, &s->sp, time(NULL), err, sizeof err) != 0)
		log_event(LOG_WARNING, "metrics.write_failed", "error=\"%s\"", err);
}

static void run_one(struct worker *w, const struct work *item)
{
	struct claim c = { .fd = -1 };
	struct result r = { .kind = OUTCOME_RETRY };
	struct timespec t0, t1;

	if (!take_job(w, item, &c))
		return;
	pthread_mutex_lock(&w->mu);
	snprintf(w->current, sizeof w->current, "%s", c.name);
	w->last_bytes = 0;
	w->last_time = 0;
	pthread_mutex_unlock(&w->mu);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	log_event(LOG_INFO, "transfer.start", "job=%s", c.name);
	transfer_run(w->tw, &c, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	int64_t bytes = 0, total = 0;
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	transfer_progress(w->tw, &bytes, &total);
	log_event(LOG_INFO, "transfer.end", "job=%s outcome=%s bytes=%lld seconds=%.1f MiB/s=%.1f",
		  c.name, outcome_name(r.kind), (long long)bytes, secs,
		  secs > 0 ? (double)bytes / 1048576.0 / secs : 0.0);
	pthread_mutex_lock(&w->mu);
	w->current[0] = '\0';
	pthread_mutex_unlock(&w->mu);
	note_metrics(w->s, &c, &r, secs);
	finish_job(w, &c, &r);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct work item;

	/* After a failed move the spool is not to be trusted: take no more. */
	while (!atomic_load(&w->s->spool_broken) && queue_pop(&w->s->q, &item)) {
		run_one(w, &item);
		queue_forget(&w->s->q, item.name);
	}
	return NULL;
}

/* Queues every job of a state directory. -1 when the spool cannot be read. */
static int scan_state(struct spooler *s, enum spool_state st)
{
	char **names = NULL;
	size_t n = 0;
	int rc = 0;

	if (spool_list(&s->sp, st, &names, &n) != SPOOL_OK) {
		log_event(LOG_ERR, "spool.scan_failed", "dir=%s", spool_state_dir(st));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && queue_push(&s->q, st, names[i]) != 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

/* Abandoned jobs in cur/ first: they have waited longest. */
static int scan_all(struct spooler *s)
{
	if (scan_state(s, SPOOL_CUR) != 0 || scan_state(s, SPOOL_NEW) != 0)
		return -1;
	return 0;
}

/* Removes tmp/ files left for over 36 hours, then queues every job of cur/
 * and new/. -1 when the spool cannot be read. */
static int clean_and_scan(struct spooler *s, time_t now)
{
	size_t cleaned;

	if (spool_clean_tmp(&s->sp, now, TMP_MAX_AGE, &cleaned) != SPOOL_OK)
		return -1;
	return scan_all(s);
}

/* One live line for all transfers, on a terminal: bytes, rate, ETA. */
static void show_progress(struct worker *workers, int n)
{
	char line[1024] = "";
	size_t used = 0;
	struct timespec ts;
	double now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	for (int i = 0; i < n; i++) {
		struct worker *w = &workers[i];
		int64_t bytes = 0, total = 0;
		double rate = 0;
		char eta[32] = "-";
		int k;

		pthread_mutex_lock(&w->mu);
		if (!w->current[0]) {
			pthread_mutex_unlock(&w->mu);
			continue;
		}
		transfer_progress(w->tw, &bytes, &total);
		if (w->last_time > 0 && now > w->last_time)
			rate = (double)(bytes - w->last_bytes) / (now - w->last_time);
		w->last_bytes = bytes;
		w->last_time = now;
		if (rate > 0 && total > bytes)
			snprintf(eta, sizeof eta, "%.0fs", (double)(total - bytes) / rate);
		k = snprintf(line + used, sizeof line - used, "%s%.24s %.1f/%.1f MiB %.1f MiB/s ETA %s",
			     used ? " | " : "", w->current, (double)bytes / 1048576.0,
			     (double)total / 1048576.0, rate / 1048576.0, eta);
		pthread_mutex_unlock(&w->mu);
		if (k < 0 || (size_t)k >= sizeof line - used)
			break; /* the line is full: the rest would not fit a terminal */
		used += (size_t)k;
	}
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
}

/* --watch: new/ via inotify, plus a rescan every watch_rescan_interval
 * seconds (sooner when retry_delay is shorter, so that retries fall due on
 * time). The rescan is what finds the jobs that another host of a shared
 * spool writes: inotify only reports what this kernel did. */
static int watch_loop(struct spooler *s, struct worker *workers, bool live)
{
	char path[4200], buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	long rescan_every = s->cfg.retry_delay < s->cfg.watch_rescan_interval
				    ? s->cfg.retry_delay
				    : s->cfg.watch_rescan_interval;
	time_t next_scan = 0, next_metrics = 0;
	int fd, rc = 0;

	if (snprintf(path, sizeof path, "%s/new", s->sp.dir) >= (int)sizeof path)
		return -1;
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0 || inotify_add_watch(fd, path, IN_CREATE | IN_MOVED_TO) < 0) {
		log_event(LOG_ERR, "watch.inotify_failed", "error=\"%s\"", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (!stop_requested && !atomic_load(&s->spool_broken)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		time_t now = time(NULL);

		if (now >= next_scan) {
			if (clean_and_scan(s, now) != 0) {
				rc = -1;
				break;
			}
			next_scan = now + rescan_every;
		}
		if (now >= next_metrics) {
			write_metrics(s);
			next_metrics = now + METRICS_EVERY;
		}
		if (live)
			show_progress(workers, s->nworkers);
		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		ssize_t len = read(fd, buf, sizeof buf);

		for (ssize_t off = 0; off < len;) {
			const struct inotify_event *ev = (const void *)(buf + off);

			if (ev->mask & IN_Q_OVERFLOW)
				next_scan = 0;
			else if (ev->len > 0 && ev->name[0] != '.' &&
				 queue_push(&s->q, SPOOL_NEW, ev->name) != 0)
				rc = -1;
			off += (ssize_t)sizeof *ev + ev->len;
		}
	}
	close(fd);
	return rc;
}

static int once_loop(struct spooler *s, struct worker *workers, bool live)
{
	int rc = 0;

	if (clean_and_scan(s, time(NULL)) != 0)
		rc = -1;
	queue_close(&s->q);
	while (!queue_wait_idle(&s->q, 1000) && !stop_requested) {
		if (live)
			show_progress(workers, s->nworkers);
	}
	return rc;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: zoom2s3-spooler [-c FILE] [--once | --watch] [-j N] [-v]\n"
		     "  -c FILE   config file (else $ZOOM2S3_CONFIG, else %s/zoom2s3.conf)\n"
		     "  --once    process every job that is due, then exit (default; for cron)\n"
		     "  --watch   stay up: pick up new jobs as they arrive, and due retries\n"
		     "  -j N      transfers at once (default 2)\n"
		     "  -v        verbose\n",
		     SYSCONFDIR);
}

struct options {
	const char *config_path;
	bool watch;
	int jobs;
	bool verbose;
};

/* -1 on a usage error (message printed), 1 for --help, 0 to run. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "once", no_argument, NULL, 'o' }, { "watch", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int ch, modes = 0;

	while ((ch = getopt_long(argc, argv, "c:j:vh", longopts, NULL)) != -1) {
		char *end;

		switch (ch) {
		case 'c':
			o->config_path = optarg;
			break;
		case 'o':
		case 'w':
			o->watch = ch == 'w';
			modes++;
			break;
		case 'j':
			errno = 0;
			long j = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || j < 1 || j > MAX_WORKERS) {
				fprintf(stderr, "zoom2s3-spooler: -j takes a number from 1 to %d\n",
					MAX_WORKERS);
				return -1;
			}
			o->jobs = (int)j;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc || modes > 1) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static int start_workers(struct spooler *s, struct worker *workers)
{
	for (int i = 0; i < s->nworkers; i++) {
		workers[i].s = s;
		if (lock_init(&workers[i].mu, NULL) != 0) {
			s->nworkers = i;
			return -1;
		}
		workers[i].tw = transfer_worker_new(s->shared, &stop_requested);
		if (!workers[i].tw ||
		    pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
			if (workers[i].tw)
				transfer_worker_free(workers[i].tw);
			s->nworkers = i;
			return -1;
		}
	}
	return 0;
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* "HOST:PID" for claimed_by; "?" stands for a host name it cannot get. */
static void name_claimer(struct spooler *s)
{
	char host[256];

	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "?");
	host[sizeof host - 1] = '\0'; /* POSIX leaves a cut name unterminated */
	snprintf(s->claimed_by, sizeof s->claimed_by, "%s:%ld", host, (long)getpid());
}

static int run(struct spooler *s, const struct options *o)
{
	struct worker workers[MAX_WORKERS] = { 0 };
	bool live = isatty(STDERR_FILENO) && !o->verbose;
	int loop_rc, status;
	bool started;

	s->nworkers = o->jobs;
	name_claimer(s);
	log_event(LOG_INFO, "spooler.start", "mode=%s jobs=%d claimed_by=\"%s\"",
		  o->watch ? "watch" : "once", o->jobs, s->claimed_by);
	started = start_workers(s, workers) == 0;
	if (!started) {
		log_event(LOG_ERR, "spooler.start_failed", "error=\"cannot start workers\"");
		stop_requested = 1;
	}
	/* Retention in Zoom: under --watch on a thread of its own, so it never
	 * holds up a transfer; after --once's transfers, one bounded pass. */
	if (o->watch && !stop_requested && retention_start(s->retention) != 0)
		log_event(LOG_ERR, "spooler.start_failed", "error=\"cannot start retention\"");
	/* A stop that comes before the first claim is a clean exit: nothing
	 * was taken, so nothing is left for the next run. */
	loop_rc = !started ? -1 : stop_requested ? 0
		: o->watch ? watch_loop(s, workers, live) : once_loop(s, workers, live);
	queue_close(&s->q);
	for (int i = 0; i < s->nworkers; i++) {
		pthread_join(workers[i].thread, NULL);
		transfer_worker_free(workers[i].tw);
	}
	retention_stop(s->retention);
	if (!o->watch && !stop_requested && !s->spool_broken && loop_rc == 0 &&
	    retention_pass(s->retention, time(NULL), RETENTION_ONCE_MAX, NULL) != 0)
		loop_rc = -1;
	if (live)
		fprintf(stderr, "\r\033[K");
	write_metrics(s);
	/* the workers are joined: what they counted is all there */
	if (loop_rc != 0 || atomic_load(&s->spool_broken) || atomic_load(&s->claim_errors))
		status = EXIT_SPOOL;
	else
		status = s->failed_jobs ? EXIT_SOME_FAILED : EXIT_ALL_GOOD;
	log_event(LOG_INFO, "spooler.exit", "status=%d failed=%d", status, s->failed_jobs);
	return status;
}

/* A fixed mmap threshold: curl's buffers and the parts are mapped and
 * unmapped as they come and go. glibc's sliding one would keep such blocks
 * in each thread's arena after their first free, and memory would grow by
 * their size per thread. A malloc that ignores the setting (a sanitizer's)
 * only uses more memory, so its answer is not an error. */
static void fix_mmap_threshold(void)
{
	(void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

int main(int argc, char **argv)
{
	struct options o = { .jobs = 2 };
	static struct spooler s = {
		.q = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER },
		.count_mu = PTHREAD_MUTEX_INITIALIZER,
		.sp = { .dirfd = -1, .lockfd = -1 },
	};
	char err[1024];
	int status, opt = parse_options(argc, argv, &o);

	fix_mmap_threshold();

	if (opt != 0)
		return opt > 0 ? EXIT_ALL_GOOD : EXIT_USAGE;
	log_init("zoom2s3-spooler", LOG_DEST_AUTO, o.verbose);
	if (config_load(config_find_path(o.config_path), CONFIG_SPOOLER, &s.cfg, err,
			sizeof err) != 0) {
		fprintf(stderr, "zoom2s3-spooler: %s\n", err);
		log_event(LOG_ERR, "config.error", "error=\"%s\"", err);
		return EXIT_USAGE;
	}
	if (spool_open(&s.sp, s.cfg.spool_dir, true, err, sizeof err) != SPOOL_OK) {
		fprintf(stderr, "zoom2s3-spooler: %s\n", err);
		log_event(LOG_ERR, "spool.unusable", "error=\"%s\"", err);
		config_free(&s.cfg);
		return EXIT_SPOOL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		status = EXIT_SPOOL;
		goto out_spool;
	}
	s.metrics = metrics_new(s.cfg.metrics_file);
	s.shared = s.metrics ? transfer_shared_new(&s.cfg, &s.sp, err, sizeof err) : NULL;
	if (!s.metrics)
		snprintf(err, sizeof err, "out of memory");
	if (!s.shared) {
		fprintf(stderr, "zoom2s3-spooler: %s\n", err);
		log_event(LOG_ERR, "config.error", "error=\"%s\"", err);
		status = EXIT_USAGE;
		goto out_curl;
	}
	s.retention = retention_new(&s.cfg, &s.sp, s.metrics, &stop_requested, err, sizeof err);
	if (!s.retention) {
		fprintf(stderr, "zoom2s3-spooler: %s\n", err);
		status = EXIT_USAGE;
		transfer_shared_free(s.shared);
		goto out_curl;
	}
	install_signals();
	status = run(&s, &o);
	retention_free(s.retention);
	transfer_shared_free(s.shared);
out_curl:
	metrics_free(s.metrics);
	curl_global_cleanup();
out_spool:
	spool_close(&s.sp);
	config_free(&s.cfg);
	return status;
}
