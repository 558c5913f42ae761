/* The node_exporter textfile of the spooler. The counters live in memory
 * behind a mutex (workers note, the loop writes) and are carried on from
 * the previous file at start. The file is written to a temporary name in
 * its own directory (node_exporter reads only *.prom, and a rename within
 * one directory is atomic), then renamed over the old one. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lockinit.h"
#include "log.h"
#include "metrics.h"

#define METRICS_FILE_MAX (64 * 1024) /* our file is about 3 KiB */
#define FILE_MODE 0644               /* node_exporter runs as its own user */

struct metrics {
	pthread_mutex_t mu;
	char *path;
	struct metrics_counters c;
};

static const char *const reason_names[REASON_COUNT] = {
	[REASON_ZOOM_AUTH] = "zoom_auth",
	[REASON_ZOOM_GONE] = "zoom_gone",
	[REASON_ZOOM_UNAVAILABLE] = "zoom_unavailable",
	[REASON_DOWNLOAD_CONTENT] = "download_content",
	[REASON_S3_CREDENTIALS] = "s3_credentials",
	[REASON_S3_BUCKET] = "s3_bucket",
	[REASON_S3_UNAVAILABLE] = "s3_unavailable",
	[REASON_S3_REFUSED] = "s3_refused",
	[REASON_POLICY] = "policy",
	[REASON_SPOOL] = "spool",
	[REASON_OTHER] = "other",
};

static const char *const outcome_names[MO_COUNT] = { "done", "retry", "giveup", "stopped" };
static const char *const removal_names[RM_COUNT] = { "trash", "delete", "gone", "error" };

const char *metrics_reason_name(enum metrics_reason reason)
{
	return (unsigned)reason < REASON_COUNT ? reason_names[reason] : "other";
}

/* ---- classification ----------------------------------------------------- */

/* Phrases of the error texts (s3.c, awscreds.c, download.c, zoomauth.c,
 * transfer.c), first match wins. tests/unit/test_metrics.c holds a real
 * message of each kind. */
struct rule {
	const char *phrase;
	enum metrics_reason reason;
};

static const struct rule s3_rules[] = {
	{ "AWS credentials", REASON_S3_CREDENTIALS },
	{ "shared credentials file", REASON_S3_CREDENTIALS },
	{ "AccessDenied", REASON_S3_CREDENTIALS },
	{ "InvalidAccessKeyId", REASON_S3_CREDENTIALS },
	{ "SignatureDoesNotMatch", REASON_S3_CREDENTIALS },
	{ "ExpiredToken", REASON_S3_CREDENTIALS },
	{ "InvalidToken", REASON_S3_CREDENTIALS },
	{ "HTTP 401", REASON_S3_CREDENTIALS },
	{ "HTTP 403", REASON_S3_CREDENTIALS },
	{ "NoSuchBucket", REASON_S3_BUCKET },
	{ "s3_region", REASON_S3_BUCKET },
	{ "PermanentRedirect", REASON_S3_BUCKET },
	{ "AuthorizationHeaderMalformed", REASON_S3_BUCKET },
	{ "HTTP 5", REASON_S3_UNAVAILABLE },
	{ "HTTP 429", REASON_S3_UNAVAILABLE },
	{ "HTTP 408", REASON_S3_UNAVAILABLE },
	{ "SlowDown", REASON_S3_UNAVAILABLE },
	{ "HTTP ", REASON_S3_REFUSED },       /* any other status S3 answered */
	{ "key is too long", REASON_POLICY },
	{ "cannot be signed", REASON_POLICY },
	{ "metadata value", REASON_POLICY },
	{ " parts", REASON_S3_REFUSED },
	{ "", REASON_S3_UNAVAILABLE },        /* no answer: connect, reset, timeout */
};

static const struct rule zoom_rules[] = {
	{ "cannot record progress in the spool", REASON_SPOOL },
	{ "the finished object is", REASON_S3_REFUSED },
	{ "outside download_hosts", REASON_POLICY },
	{ "the download link is refused", REASON_POLICY },
	{ "redirect to ", REASON_POLICY },
	{ "redirected the download more than", REASON_POLICY },
	{ "the S3 key is", REASON_POLICY },
	{ "another Zoom file", REASON_POLICY },
	{ "other Zoom files", REASON_POLICY },
	{ "the job lacks", REASON_POLICY },
	{ "the job has no", REASON_POLICY },
	{ "no longer has this recording", REASON_ZOOM_GONE },
	{ "could not be reached", REASON_ZOOM_UNAVAILABLE },
	{ "failed after", REASON_ZOOM_UNAVAILABLE },
	{ "refused", REASON_ZOOM_AUTH },
	{ "OAuth", REASON_ZOOM_AUTH },
	{ "JWT", REASON_ZOOM_AUTH },
	{ "no Zoom app", REASON_ZOOM_AUTH },
	{ "zoom_api_key", REASON_ZOOM_AUTH },
	{ "Zoom token", REASON_ZOOM_AUTH },
	{ "HTML page", REASON_ZOOM_AUTH },
	{ "file_size", REASON_DOWNLOAD_CONTENT },
	{ "ended at byte", REASON_DOWNLOAD_CONTENT },
	{ "range", REASON_DOWNLOAD_CONTENT },
	{ "Content-Range", REASON_DOWNLOAD_CONTENT },
	{ "not the file", REASON_DOWNLOAD_CONTENT },
	{ "more than", REASON_DOWNLOAD_CONTENT },
};

static enum metrics_reason match(const char *why, const struct rule *rules, size_t n,
				 enum metrics_reason otherwise)
{
	for (size_t i = 0; i < n; i++)
		if (strstr(why, rules[i].phrase))
			return rules[i].reason;
	return otherwise;
}

/* "Zoom answered 503 ..." / "API answered 404 ...": the status's class. */
static bool zoom_status(const char *why, enum metrics_reason *out)
{
	const char *p = strstr(why, " answered ");
	long status;

	if (!p || sscanf(p + 10, "%3ld", &status) != 1)
		return false;
	if (status == 404 || status == 410)
		*out = REASON_ZOOM_GONE;
	else if (status == 401 || status == 403)
		*out = REASON_ZOOM_AUTH;
	else if (status >= 500 || status == 429 || status == 408)
		*out = REASON_ZOOM_UNAVAILABLE;
	else
		return false;
	return true;
}

enum metrics_reason metrics_classify(const char *why)
{
	static const char gave_up[] = "gave up after ";
	enum metrics_reason by_status;
	const char *colon;

	if (!why || !*why)
		return REASON_OTHER;
	if (strncmp(why, gave_up, sizeof gave_up - 1) == 0 && (colon = strstr(why, ": ")))
		why = colon + 2;
	if (strncmp(why, "S3 ", 3) == 0 || strstr(why, "AWS credentials") ||
	    strstr(why, "AWS shared credentials"))
		return match(why, s3_rules, sizeof s3_rules / sizeof s3_rules[0], REASON_OTHER);
	if (strstr(why, "the spooler running the last attempt died"))
		return REASON_OTHER;
	if (!strstr(why, "refused") && zoom_status(why, &by_status))
		return by_status;
	return match(why, zoom_rules, sizeof zoom_rules / sizeof zoom_rules[0], REASON_OTHER);
}

/* ---- the counters ------------------------------------------------------- */

/* Reads a whole small file; NULL when absent or unreadable. */
static char *read_small(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	buf = malloc(METRICS_FILE_MAX + 1);
	while (buf && got < METRICS_FILE_MAX) {
		ssize_t n = read(fd, buf + got, METRICS_FILE_MAX - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (buf)
		buf[got] = '\0';
	close(fd);
	return buf;
}

struct metrics *metrics_new(const char *path)
{
	struct metrics *m = calloc(1, sizeof *m);
	char *text;

	if (!m || lock_init(&m->mu, NULL) != 0) {
		free(m);
		return NULL;
	}
	if (!path)
		return m;
	m->path = strdup(path);
	if (!m->path) {
		metrics_free(m);
		return NULL;
	}
	text = read_small(path);
	if (text)
		metrics_parse(text, &m->c);
	free(text);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m->path);
	free(m);
}

bool metrics_enabled(const struct metrics *m)
{
	return m && m->path;
}

void metrics_note(struct metrics *m, const struct result *r, bool stopped, uint64_t bytes,
		  double seconds, time_t now)
{
	enum metrics_outcome o;

	if (!metrics_enabled(m))
		return;
	if (stopped && r->kind != OUTCOME_DONE)
		o = MO_STOPPED;
	else
		o = r->kind == OUTCOME_DONE ? MO_DONE : r->kind == OUTCOME_RETRY ? MO_RETRY
										  : MO_GIVEUP;
	pthread_mutex_lock(&m->mu);
	m->c.transfers[o]++;
	m->c.transfer_seconds += seconds > 0 ? seconds : 0;
	if (o == MO_DONE) {
		m->c.uploaded_bytes += bytes;
		if (now > m->c.last_success)
			m->c.last_success = now;
	} else if (o != MO_STOPPED) {
		m->c.failures[metrics_classify(r->why)]++;
	}
	pthread_mutex_unlock(&m->mu);
}

void metrics_note_removal(struct metrics *m, enum metrics_removal result)
{
	if (!metrics_enabled(m) || (unsigned)result >= RM_COUNT)
		return;
	pthread_mutex_lock(&m->mu);
	m->c.removals[result]++;
	pthread_mutex_unlock(&m->mu);
}

/* ---- the file ----------------------------------------------------------- */

static void help(FILE *f, const char *name, const char *type, const char *text)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

char *metrics_format(const struct metrics_counters *c, const long jobs[5], time_t now)
{
	static const enum spool_state states[] = { SPOOL_NEW, SPOOL_CUR, SPOOL_DONE, SPOOL_FAILED };
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	help(f, "zoom2s3_jobs", "gauge", "Jobs in each spool state when the file was written.");
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
		if (jobs[states[i]] >= 0)
			fprintf(f, "zoom2s3_jobs{state=\"%s\"} %ld\n", spool_state_dir(states[i]),
				jobs[states[i]]);
	help(f, "zoom2s3_uploaded_bytes_total", "counter",
	     "Bytes of the recording files that reached done/.");
	fprintf(f, "zoom2s3_uploaded_bytes_total %" PRIu64 "\n", c->uploaded_bytes);
	help(f, "zoom2s3_transfer_seconds_total", "counter", "Seconds spent in transfers.");
	fprintf(f, "zoom2s3_transfer_seconds_total %.3f\n", c->transfer_seconds);
	help(f, "zoom2s3_transfers_total", "counter", "Transfers (tries) by outcome.");
	for (int i = 0; i < MO_COUNT; i++)
		fprintf(f, "zoom2s3_transfers_total{outcome=\"%s\"} %" PRIu64 "\n", outcome_names[i],
			c->transfers[i]);
	help(f, "zoom2s3_transfer_failures_total", "counter",
	     "Failed tries (retried or given up) by reason class.");
	for (int i = 0; i < REASON_COUNT; i++)
		fprintf(f, "zoom2s3_transfer_failures_total{reason=\"%s\"} %" PRIu64 "\n",
			reason_names[i], c->failures[i]);
	help(f, "zoom2s3_zoom_removals_total", "counter",
	     "Recording files removed from Zoom after a verified upload, by result (trash, "
	     "delete, gone: Zoom no longer had it, error: tried again later).");
	for (int i = 0; i < RM_COUNT; i++)
		fprintf(f, "zoom2s3_zoom_removals_total{result=\"%s\"} %" PRIu64 "\n",
			removal_names[i], c->removals[i]);
	help(f, "zoom2s3_last_success_timestamp_seconds", "gauge",
	     "When a job last reached done/ (Unix time; 0: never).");
	fprintf(f, "zoom2s3_last_success_timestamp_seconds %lld\n", (long long)c->last_success);
	help(f, "zoom2s3_metrics_timestamp_seconds", "gauge",
	     "When the spooler wrote this file (Unix time).");
	fprintf(f, "zoom2s3_metrics_timestamp_seconds %lld\n", (long long)now);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* The value on a line "name{label=\"value\"} N" whose name and label value
 * match (label NULL: no labels). */
static bool line_value(const char *line, const char *name, const char *label, double *out)
{
	size_t n = strlen(name);
	const char *p = line + n;
	char *end;

	if (strncmp(line, name, n) != 0)
		return false;
	if (label) {
		size_t ln = strlen(label);

		if (*p != '{' || !(p = strchr(p, '"')) || strncmp(p + 1, label, ln) != 0 ||
		    strncmp(p + 1 + ln, "\"}", 2) != 0)
			return false;
		p += ln + 3;
	}
	if (*p != ' ')
		return false;
	*out = strtod(p + 1, &end);
	return end != p + 1 && *out >= 0;
}

static void parse_line(const char *line, struct metrics_counters *c)
{
	double v;

	if (line_value(line, "zoom2s3_uploaded_bytes_total", NULL, &v))
		c->uploaded_bytes = (uint64_t)v;
	else if (line_value(line, "zoom2s3_transfer_seconds_total", NULL, &v))
		c->transfer_seconds = v;
	else if (line_value(line, "zoom2s3_last_success_timestamp_seconds", NULL, &v))
		c->last_success = (time_t)v;
	for (int i = 0; i < MO_COUNT; i++)
		if (line_value(line, "zoom2s3_transfers_total", outcome_names[i], &v))
			c->transfers[i] = (uint64_t)v;
	for (int i = 0; i < REASON_COUNT; i++)
		if (line_value(line, "zoom2s3_transfer_failures_total", reason_names[i], &v))
			c->failures[i] = (uint64_t)v;
	for (int i = 0; i < RM_COUNT; i++)
		if (line_value(line, "zoom2s3_zoom_removals_total", removal_names[i], &v))
			c->removals[i] = (uint64_t)v;
}

void metrics_parse(const char *text, struct metrics_counters *c)
{
	char line[512];

	memset(c, 0, sizeof *c);
	for (const char *s = text; *s;) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);

		if (n < sizeof line) {
			memcpy(line, s, n);
			line[n] = '\0';
			parse_line(line, c);
		}
		s += n + (nl ? 1 : 0);
	}
}

static void count_jobs(struct spool *sp, long jobs[5])
{
	for (int st = SPOOL_TMP; st <= SPOOL_FAILED; st++) {
		char **names = NULL;
		size_t n = 0;

		jobs[st] = -1;
		if (st == SPOOL_TMP || spool_list(sp, (enum spool_state)st, &names, &n) != SPOOL_OK)
			continue;
		jobs[st] = (long)n;
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
}

/* Writes text to a new file beside path and renames it over path. */
static int replace_file(const char *path, const char *text, char *err, size_t errlen)
{
	char tmp[4200];
	size_t len = strlen(text);
	int fd, n = snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());

	if (n < 0 || (size_t)n >= sizeof tmp) {
		snprintf(err, errlen, "metrics_file name too long");
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, FILE_MODE);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	bool wrote = log_write_all(fd, text, len) == 0 &&
		     fchmod(fd, FILE_MODE) == 0; /* the umask may cut 0644 */
	int saved = errno;

	if (close(fd) != 0 && wrote) {
		wrote = false;
		saved = errno;
	}
	if (!wrote) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(saved));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int metrics_write(struct metrics *m, struct spool *sp, time_t now, char *err, size_t errlen)
{
	struct metrics_counters snapshot;
	long jobs[5];
	char *text;
	int rc;

	if (!metrics_enabled(m))
		return 0;
	count_jobs(sp, jobs);
	pthread_mutex_lock(&m->mu);
	snapshot = m->c;
	pthread_mutex_unlock(&m->mu);
	text = metrics_format(&snapshot, jobs, now);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = replace_file(m->path, text, err, errlen);
	free(text);
	return rc;
}
