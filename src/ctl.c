/* zoom2s3ctl's spool commands. They read jobs with spool_read, and change
 * the spool only through spool.c's locked operations (spool_requeue,
 * spool_edit_new, spool_remove_done), so they follow the protocol of
 * docs/INTERNALS.md while spoolers and responders run. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "jobview.h"
#include "retention.h"
#include "retry.h"

#define LINE_MAX_BYTES 4096

static const enum spool_state job_states[] = { SPOOL_NEW, SPOOL_CUR, SPOOL_DONE, SPOOL_FAILED };
#define N_JOB_STATES (sizeof job_states / sizeof job_states[0])

struct rows {
	struct jobview_row *v;
	size_t n;
};

static void rows_free(struct rows *r)
{
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

/* Every job file of a state as a row (an unparsable file as such). */
static int load_rows(struct ctl *c, enum spool_state st, struct rows *out)
{
	struct spool_entry *entries = NULL;
	size_t n = 0;

	out->v = NULL;
	out->n = 0;
	if (spool_list_entries(c->sp, st, &entries, &n) != SPOOL_OK) {
		fprintf(c->errout, "zoom2s3ctl: cannot list %s/%s/\n", c->sp->dir,
			spool_state_dir(st));
		return -1;
	}
	out->v = calloc(n ? n : 1, sizeof *out->v);
	if (!out->v) {
		free(entries);
		fprintf(c->errout, "zoom2s3ctl: out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct job *job = NULL;
		struct spool_entry now_entry;
		char err[256];
		enum spool_result got =
			spool_read(c->sp, st, entries[i].name, &job, &now_entry, err, sizeof err);

		if (got == SPOOL_GONE)
			continue; /* gone since the listing: moved on */
		jobview_row_fill(&out->v[out->n], st, got == SPOOL_OK ? &now_entry : &entries[i], job);
		if (st == SPOOL_DONE && job)
			retention_describe(c->cfg, job, c->now, out->v[out->n].removal,
					   sizeof out->v[out->n].removal);
		if (st == SPOOL_CUR)
			out->v[out->n].running = spool_cur_held(c->sp, entries[i].name);
		out->n++;
		job_free(job);
	}
	free(entries);
	return 0;
}

static const char *format_time(time_t t, char *buf, size_t size)
{
	if (job_format_time(t, buf, size) != 0)
		snprintf(buf, size, "?");
	return buf;
}

/* ---- status ------------------------------------------------------------- */

struct state_summary {
	size_t jobs;
	time_t oldest;        /* 0: none */
	size_t due, waiting;  /* new/ */
	size_t running;       /* cur/ */
	const struct jobview_row *oldest_row;
};

static void summarise(const struct rows *r, time_t now, struct state_summary *s)
{
	memset(s, 0, sizeof *s);
	s->jobs = r->n;
	for (size_t i = 0; i < r->n; i++) {
		const struct jobview_row *row = &r->v[i];

		if (!s->oldest || row->since < s->oldest) {
			s->oldest = row->since;
			s->oldest_row = row;
		}
		if (row->next_attempt_at > now)
			s->waiting++;
		else
			s->due++;
		if (row->running == SPOOL_RUNNING)
			s->running++;
	}
}

static int newer_first(const void *a, const void *b)
{
	const struct spool_entry *x = a, *y = b;

	return x->mtime < y->mtime ? 1 : x->mtime > y->mtime ? -1 : 0;
}

/* The done/ summary from the listing alone (done/ can hold thousands of
 * jobs); *done gets the entries, newest first, for print_last_success. */
static int summarise_done(struct ctl *c, struct state_summary *s, struct spool_entry **done,
			  size_t *n)
{
	memset(s, 0, sizeof *s);
	if (spool_list_entries(c->sp, SPOOL_DONE, done, n) != SPOOL_OK) {
		fprintf(c->errout, "zoom2s3ctl: cannot list %s/done/\n", c->sp->dir);
		return -1;
	}
	s->jobs = *n;
	for (size_t i = 0; i < *n; i++)
		if (!s->oldest || (*done)[i].mtime < s->oldest)
			s->oldest = (*done)[i].mtime;
	qsort(*done, *n, sizeof **done, newer_first);
	return 0;
}

static void print_state_line(struct ctl *c, const char *name, const struct state_summary *s,
			     const char *extra)
{
	char age[32] = "-";

	if (s->jobs)
		jobview_age((long long)(c->now - s->oldest), age, sizeof age);
	fprintf(c->out, "%-7s %6zu  %-9s %s\n", name, s->jobs, age, extra);
}

#define SUCCESS_LOOKS 16 /* done/ files read at most to find the last success */

/* The newest job in done/ that parses (done sorted newest first). */
static void print_last_success(struct ctl *c, const struct spool_entry *done, size_t n)
{
	char err[256], when[40], age[32];

	for (size_t i = 0; i < n && i < SUCCESS_LOOKS; i++) {
		struct job *job = NULL;
		const char *key;
		time_t t;

		if (spool_read(c->sp, SPOOL_DONE, done[i].name, &job, NULL, err, sizeof err) != SPOOL_OK)
			continue;
		t = jobview_since(job, SPOOL_DONE, done[i].mtime);
		key = job_get_str(job, "s3_key");
		fprintf(c->out, "last success:  %s (%s ago)  done/%s  %s\n",
			format_time(t, when, sizeof when),
			jobview_age((long long)(c->now - t), age, sizeof age), done[i].name,
			key ? key : "");
		job_free(job);
		return;
	}
	fprintf(c->out, "last success:  none in done/\n");
}

/* When the try that left row's last_error failed: failed_at in failed/;
 * in new/, the job file was written by that try's move. */
static time_t failed_when(const struct jobview_row *row)
{
	return row->state == SPOOL_FAILED ? row->since : row->mtime;
}

/* The latest failed try: a job in failed/ or one in new/ waiting to retry. */
static void print_last_failure(struct ctl *c, const struct rows *failed, const struct rows *fresh)
{
	const struct jobview_row *last = NULL;
	char when[40], age[32], err[300];
	time_t t;

	for (size_t i = 0; i < failed->n; i++)
		if (!last || failed_when(&failed->v[i]) > failed_when(last))
			last = &failed->v[i];
	for (size_t i = 0; i < fresh->n; i++) {
		const struct jobview_row *row = &fresh->v[i];

		if (row->last_error[0] && (!last || failed_when(row) > failed_when(last)))
			last = row;
	}
	if (!last) {
		fprintf(c->out, "last failure:  none\n");
		return;
	}
	t = failed_when(last);
	jobview_shorten(last->unparsable ? "the job file does not parse" : last->last_error, 200,
			err, sizeof err);
	fprintf(c->out, "last failure:  %s (%s ago)  %s/%s%s: %s\n", format_time(t, when, sizeof when),
		jobview_age((long long)(c->now - t), age, sizeof age), spool_state_dir(last->state),
		last->name, last->state == SPOOL_NEW ? " (to be retried)" : "",
		err[0] ? err : "(no reason recorded)");
}

/* Retention in Zoom: the done jobs that still await the removal of their
 * file, and the removals that failed (read from each done job, so only
 * when retention is on). */
static void print_removals(struct ctl *c, const struct spool_entry *done, size_t n)
{
	size_t waiting = 0, due = 0, errors = 0, removed = 0;
	char last_error[200] = "";

	if (c->cfg->zoom_after_upload == ZOOM_KEEP)
		return;
	for (size_t i = 0; i < n; i++) {
		struct job *job = NULL;
		char err[256];

		if (spool_read(c->sp, SPOOL_DONE, done[i].name, &job, NULL, err, sizeof err) != SPOOL_OK)
			continue;
		switch (retention_state_of(c->cfg, job, c->now, NULL)) {
		case RETENTION_WAITING:
			waiting++;
			break;
		case RETENTION_DUE:
			due++;
			break;
		case RETENTION_ERROR:
			if (!errors++)
				jobview_shorten(job_get_str(job, "zoom_removal_error"), 150, last_error,
						sizeof last_error);
			break;
		case RETENTION_REMOVED:
			removed++;
			break;
		default:
			break;
		}
		job_free(job);
	}
	fprintf(c->out, "zoom removal (%s):  %zu done jobs await it (%zu due now, %zu waiting, "
			"%zu with errors), %zu removed%s%s\n",
		config_after_upload_name(c->cfg->zoom_after_upload), waiting + due + errors, due,
		waiting, errors, removed, errors ? "; last error: " : "", last_error);
}

/* Prints the problems a monitoring check reports; returns how many. */
static int print_problems(struct ctl *c, const struct state_summary *fresh,
			  const struct state_summary *failed, long max_new_age)
{
	char age[32], limit[32];
	int problems = 0;

	if (failed->jobs) {
		fprintf(c->out, "PROBLEM: %zu job%s in failed/: see `zoom2s3ctl list failed`, fix the "
				"cause, then `zoom2s3ctl requeue --all-failed`\n",
			failed->jobs, failed->jobs == 1 ? "" : "s");
		problems++;
	}
	if (fresh->jobs && c->now - fresh->oldest > max_new_age) {
		fprintf(c->out, "PROBLEM: new/ holds a job waiting for %s, longer than %s: %s\n",
			jobview_age((long long)(c->now - fresh->oldest), age, sizeof age),
			jobview_age(max_new_age, limit, sizeof limit), fresh->oldest_row->name);
		problems++;
	}
	if (!problems)
		fprintf(c->out, "OK\n");
	return problems;
}

/* One line per job in cur/ with the spooler that holds it (claimed_by,
 * HOST:PID): on a spool shared by several hosts, the host to look at when
 * a job stays there. */
static void print_holders(struct ctl *c, const struct rows *cur)
{
	for (size_t i = 0; i < cur->n; i++) {
		const struct jobview_row *row = &cur->v[i];
		const char *who = row->claimed_by[0] ? row->claimed_by : "an unknown spooler";

		if (row->unparsable)
			fprintf(c->out, "  cur/%s: the job file does not parse\n", row->name);
		else if (row->running == SPOOL_RUNNING)
			fprintf(c->out, "  cur/%s: held by %s\n", row->name, who);
		else if (row->running == SPOOL_ABANDONED)
			fprintf(c->out, "  cur/%s: abandoned by %s\n", row->name, who);
		else
			fprintf(c->out, "  cur/%s: claimed by %s (holder unknown)\n", row->name, who);
	}
}

int ctl_status(struct ctl *c, long max_new_age)
{
	struct rows fresh = { 0 }, cur = { 0 }, failed = { 0 };
	struct state_summary s_new, s_cur, s_done, s_failed;
	struct spool_entry *done = NULL;
	size_t n_done = 0;
	char extra[128];
	int rc = CTL_SPOOL;

	if (load_rows(c, SPOOL_NEW, &fresh) != 0 || load_rows(c, SPOOL_CUR, &cur) != 0 ||
	    load_rows(c, SPOOL_FAILED, &failed) != 0 ||
	    summarise_done(c, &s_done, &done, &n_done) != 0)
		goto out;
	summarise(&fresh, c->now, &s_new);
	summarise(&cur, c->now, &s_cur);
	summarise(&failed, c->now, &s_failed);
	fprintf(c->out, "spool %s\n%-7s %6s  %-9s\n", c->sp->dir, "state", "jobs", "oldest");
	snprintf(extra, sizeof extra, "%zu due now, %zu waiting to retry", s_new.due, s_new.waiting);
	print_state_line(c, "new", &s_new, s_new.jobs ? extra : "");
	snprintf(extra, sizeof extra, "%zu running, %zu abandoned (the next run takes them)",
		 s_cur.running, s_cur.jobs - s_cur.running);
	print_state_line(c, "cur", &s_cur, s_cur.jobs ? extra : "");
	print_holders(c, &cur);
	print_state_line(c, "done", &s_done, "");
	print_state_line(c, "failed", &s_failed, "");
	print_last_success(c, done, n_done);
	print_last_failure(c, &failed, &fresh);
	print_removals(c, done, n_done);
	rc = print_problems(c, &s_new, &s_failed, max_new_age) ? CTL_PROBLEM : CTL_OK;
out:
	free(done);
	rows_free(&fresh);
	rows_free(&cur);
	rows_free(&failed);
	return rc;
}

/* ---- list and show ------------------------------------------------------ */

static void print_row(struct ctl *c, const struct jobview_row *row, bool json, bool *first)
{
	char line[LINE_MAX_BYTES];
	int rc = json ? jobview_json(row, c->now, line, sizeof line)
		      : jobview_line(row, c->now, line, sizeof line);

	if (rc != 0)
		snprintf(line, sizeof line, json ? "{\"name\":\"(too long to show)\"}"
						 : "(a job too long to show)");
	fprintf(c->out, "%s%s\n", json ? (*first ? "[\n" : ",\n") : "", line);
	*first = false;
}

int ctl_list(struct ctl *c, int state, bool json)
{
	bool first = true;
	int rc = CTL_OK;

	if (!json)
		fprintf(c->out, "%s\n", jobview_header());
	for (size_t i = 0; i < N_JOB_STATES; i++) {
		struct rows r;

		if (state >= 0 && (int)job_states[i] != state)
			continue;
		if (load_rows(c, job_states[i], &r) != 0) {
			rc = CTL_SPOOL;
			break;
		}
		for (size_t k = 0; k < r.n; k++)
			print_row(c, &r.v[k], json, &first);
		rows_free(&r);
	}
	if (json)
		fprintf(c->out, "%s", first ? "[]\n" : "]\n");
	return rc;
}

/* "failed/X.json" or ".../spool/failed/X.json" -> failed, "X.json". */
static bool split_state(const char *arg, enum spool_state *st, const char **name)
{
	const char *slash = strrchr(arg, '/'), *dir;
	size_t len;

	if (!slash || slash == arg)
		return false;
	for (dir = slash; dir > arg && dir[-1] != '/'; dir--)
		;
	len = (size_t)(slash - dir);
	for (size_t i = 0; i < N_JOB_STATES; i++) {
		const char *want = spool_state_dir(job_states[i]);

		if (strlen(want) == len && strncmp(dir, want, len) == 0) {
			*st = job_states[i];
			*name = slash + 1;
			return true;
		}
	}
	return false;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

int ctl_find_job(struct spool *sp, const char *arg, enum spool_state *st, char *name,
		 size_t size, char *msg, size_t msglen)
{
	const char *base;
	enum spool_state given;
	char derived[SPOOL_NAME_MAX];
	struct job *job = NULL;
	enum spool_state where;

	if (split_state(arg, &given, &base)) {
		char err[256];
		enum spool_result got = spool_read(sp, given, base, &job, NULL, err, sizeof err);

		job_free(job);
		if (got == SPOOL_GONE) {
			snprintf(msg, msglen, "no job %s in %s/", base, spool_state_dir(given));
			return -1;
		}
		*st = given;
		snprintf(name, size, "%s", base);
		return 0;
	}
	if (ends_with(arg, ".json"))
		snprintf(derived, sizeof derived, "%s", arg);
	else if (spool_job_name(arg, derived, sizeof derived) != SPOOL_OK)
		derived[0] = '\0';
	where = derived[0] ? spool_find(sp, derived) : SPOOL_NOWHERE;
	if (where == SPOOL_NOWHERE) {
		snprintf(msg, msglen, "no job %s in new/, cur/, done/ or failed/", arg);
		return -1;
	}
	*st = where;
	snprintf(name, size, "%s", derived);
	return 0;
}

int ctl_show(struct ctl *c, const char *arg)
{
	enum spool_state st;
	char name[SPOOL_NAME_MAX], msg[512], err[512];
	struct job *job = NULL;
	char *text;
	enum spool_result got;

	if (ctl_find_job(c->sp, arg, &st, name, sizeof name, msg, sizeof msg) != 0) {
		fprintf(c->errout, "zoom2s3ctl: %s\n", msg);
		return CTL_PROBLEM;
	}
	got = spool_read(c->sp, st, name, &job, NULL, err, sizeof err);
	if (got != SPOOL_OK) {
		fprintf(c->errout, "zoom2s3ctl: %s\n", got == SPOOL_GONE ? "the job went away" : err);
		return CTL_PROBLEM;
	}
	text = jobview_masked(job);
	job_free(job);
	if (!text) {
		fprintf(c->errout, "zoom2s3ctl: out of memory\n");
		return CTL_PROBLEM;
	}
	fprintf(c->out, "# %s/%s/%s (tokens masked)\n%s", c->sp->dir, spool_state_dir(st), name,
		text);
	free(text);
	return CTL_OK;
}

/* ---- requeue, retry-now, prune ------------------------------------------ */

void ctl_reset_job(struct job *job, time_t now)
{
	if (!retry_reset_if_requeued(job)) {
		/* no failed_at/completed_at (a hand edit): clear the same fields */
		job_remove(job, "next_attempt_at");
		job_remove(job, "last_error");
		job_set_int(job, "attempts", 0);
		retry_clear_upload_state(job);
	}
	job_set_time(job, "requeued_at", now);
}

/* Requeues st/name. CTL_OK or CTL_PROBLEM (reason printed). */
static int requeue_one(struct ctl *c, enum spool_state st, const char *name)
{
	struct spool_entry entry;
	struct job *job = NULL;
	char err[512];
	enum spool_result got;

	if (st != SPOOL_DONE && st != SPOOL_FAILED) {
		fprintf(c->errout, "zoom2s3ctl: %s is in %s/: %s\n", name, spool_state_dir(st),
			st == SPOOL_NEW ? "it is queued already (retry-now makes it due)"
					: "a spooler holds it (or the next run adopts it)");
		return CTL_PROBLEM;
	}
	got = spool_read(c->sp, st, name, &job, &entry, err, sizeof err);
	if (got != SPOOL_OK) {
		fprintf(c->errout, "zoom2s3ctl: cannot requeue %s/%s: %s\n", spool_state_dir(st), name,
			got == SPOOL_GONE ? "it went away" : err);
		return CTL_PROBLEM;
	}
	ctl_reset_job(job, c->now);
	got = spool_requeue(c->sp, st, &entry, job, err, sizeof err);
	job_free(job);
	if (got != SPOOL_OK) {
		fprintf(c->errout, "zoom2s3ctl: cannot requeue %s/%s: %s\n", spool_state_dir(st), name,
			err);
		return got == SPOOL_ERROR ? CTL_SPOOL : CTL_PROBLEM;
	}
	fprintf(c->out, "requeued %s/%s -> new/%s\n", spool_state_dir(st), name, name);
	return CTL_OK;
}

static int worse(int a, int b)
{
	return a > b ? a : b;
}

int ctl_requeue(struct ctl *c, char *const *jobs, size_t n, bool all_failed)
{
	struct spool_entry *entries = NULL;
	size_t count = 0;
	int rc = CTL_OK;

	if (all_failed) {
		if (spool_list_entries(c->sp, SPOOL_FAILED, &entries, &count) != SPOOL_OK) {
			fprintf(c->errout, "zoom2s3ctl: cannot list %s/failed/\n", c->sp->dir);
			return CTL_SPOOL;
		}
		for (size_t i = 0; i < count; i++)
			rc = worse(rc, requeue_one(c, SPOOL_FAILED, entries[i].name));
		if (count == 0)
			fprintf(c->out, "failed/ is empty: nothing to requeue\n");
		free(entries);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		enum spool_state st;
		char name[SPOOL_NAME_MAX], msg[512];

		if (ctl_find_job(c->sp, jobs[i], &st, name, sizeof name, msg, sizeof msg) != 0) {
			fprintf(c->errout, "zoom2s3ctl: %s\n", msg);
			rc = worse(rc, CTL_PROBLEM);
			continue;
		}
		rc = worse(rc, requeue_one(c, st, name));
	}
	return rc;
}

static bool make_due(struct job *job, void *ctx)
{
	(void)ctx;
	if (!job_has(job, "next_attempt_at"))
		return false;
	job_remove(job, "next_attempt_at");
	return true;
}

int ctl_retry_now(struct ctl *c)
{
	struct spool_entry *entries = NULL;
	size_t n = 0, changed = 0;
	int rc = CTL_OK;

	if (spool_list_entries(c->sp, SPOOL_NEW, &entries, &n) != SPOOL_OK) {
		fprintf(c->errout, "zoom2s3ctl: cannot list %s/new/\n", c->sp->dir);
		return CTL_SPOOL;
	}
	for (size_t i = 0; i < n; i++) {
		char err[512];
		enum spool_result got =
			spool_edit_new(c->sp, entries[i].name, make_due, NULL, err, sizeof err);

		if (got == SPOOL_ERROR) {
			fprintf(c->errout, "zoom2s3ctl: %s: %s\n", entries[i].name, err);
			rc = CTL_SPOOL;
		}
		changed += got == SPOOL_OK;
	}
	fprintf(c->out, "%zu of %zu job%s in new/ made due now (the others were due already, or "
			"a spooler was claiming them)\n",
		changed, n, n == 1 ? "" : "s");
	free(entries);
	return rc;
}

int ctl_prune(struct ctl *c, long days)
{
	struct spool_entry *entries = NULL;
	size_t n = 0, removed = 0, kept = 0;
	time_t cutoff = c->now - (time_t)days * 86400;
	char when[40];
	int rc = CTL_OK;

	if (spool_list_entries(c->sp, SPOOL_DONE, &entries, &n) != SPOOL_OK) {
		fprintf(c->errout, "zoom2s3ctl: cannot list %s/done/\n", c->sp->dir);
		return CTL_SPOOL;
	}
	for (size_t i = 0; i < n; i++) {
		struct job *job = NULL;
		char err[512];
		enum spool_result got =
			spool_read(c->sp, SPOOL_DONE, entries[i].name, &job, NULL, err, sizeof err);
		time_t finished =
			jobview_since(got == SPOOL_OK ? job : NULL, SPOOL_DONE, entries[i].mtime);
		/* Its file is still to be removed from Zoom: the job must stay. */
		bool awaits = got == SPOOL_OK &&
			      retention_awaits(retention_state_of(c->cfg, job, c->now, NULL));

		job_free(job);
		if (got == SPOOL_GONE || finished >= cutoff)
			continue;
		if (awaits) {
			kept++;
			continue;
		}
		got = spool_remove_done(c->sp, &entries[i], err, sizeof err);
		if (got == SPOOL_ERROR) {
			fprintf(c->errout, "zoom2s3ctl: %s: %s\n", entries[i].name, err);
			rc = CTL_SPOOL;
		}
		removed += got == SPOOL_OK;
	}
	fprintf(c->out, "removed %zu of %zu job%s from done/ (finished before %s)\n", removed, n,
		n == 1 ? "" : "s", format_time(cutoff, when, sizeof when));
	if (kept)
		fprintf(c->out, "kept %zu job%s whose file still awaits removal from Zoom "
				"(zoom_after_upload = %s)\n",
			kept, kept == 1 ? "" : "s",
			config_after_upload_name(c->cfg->zoom_after_upload));
	free(entries);
	return rc;
}
