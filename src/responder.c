/* zoom2s3.fcgi, the webhook responder. This is the one file that knows
 * libfcgi: it takes each request from FastCGI, or the one request of a
 * plain CGI run from the environment and stdin, through the same code;
 * hands it to webhook_handle(); spools the jobs that returns; answers; and
 * logs one line. The config is read once per process and again only when
 * its file changes; the spool is opened once per config. */
#include <errno.h>
#include <fcgiapp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "job.h"
#include "log.h"
#include "spool.h"
#include "webhook.h"

#define READ_CHUNK 65536
/* A body that is refused is still read and thrown away: mod_fcgid and
 * mod_cgid write the whole body before they read the answer, and turn a
 * program that stops reading into their own 500. Beyond this much the web
 * server's own limit (LimitRequestBody, FcgidMaxRequestLen) should apply. */
#define DISCARD_MAX ((uint64_t)64 << 20)

/* One request as the handler sees it, however it came. */
struct exchange {
	FCGX_Request *fcgi; /* NULL: plain CGI (environ, stdin, stdout) */
};

/* The answer and what the log line says about it. */
struct answer {
	int status;
	const char *body;  /* NULL: a short JSON error for the status */
	char note[512];
	size_t n_jobs;     /* jobs the event selected */
	size_t n_spooled;  /* of those, newly placed in new/ */
};

/* The file as it was when it last failed to load: no new attempt (and no
 * new log line) until it changes. */
struct file_stamp {
	bool exists;
	long long mtime_ns, size, ino;
};

/* What lasts from one request to the next. */
struct responder {
	const char *config_path;
	struct config cfg;
	bool have_cfg;
	struct file_stamp bad_stamp;
	bool have_bad_stamp;
	struct spool spool;
	bool have_spool;
};

static void stamp_file(const char *path, struct file_stamp *st)
{
	struct stat sb;

	memset(st, 0, sizeof *st);
	if (stat(path, &sb) != 0)
		return;
	st->exists = true;
	st->mtime_ns = (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
	st->size = (long long)sb.st_size;
	st->ino = (long long)sb.st_ino;
}

static bool stamp_equal(const struct file_stamp *a, const struct file_stamp *b)
{
	return a->exists == b->exists && a->mtime_ns == b->mtime_ns && a->size == b->size &&
	       a->ino == b->ino;
}

static void responder_drop(struct responder *r)
{
	if (r->have_spool)
		spool_close(&r->spool);
	r->have_spool = false;
	if (r->have_cfg)
		config_free(&r->cfg);
	r->have_cfg = false;
}

/* (Re)reads the config. A failure is logged here, once per version of the
 * file; every request then answers 500 until the file changes. */
static void responder_load(struct responder *r)
{
	struct file_stamp before;
	char err[1024], q[1200];

	stamp_file(r->config_path, &before);
	responder_drop(r);
	if (config_load(r->config_path, CONFIG_RESPONDER, &r->cfg, err, sizeof err) != 0) {
		r->bad_stamp = before;
		r->have_bad_stamp = true;
		log_event(LOG_ERR, "config_error", "reason=%s", log_q(err, q, sizeof q));
		return;
	}
	r->have_cfg = true;
	r->have_bad_stamp = false;
}

/* Before each request: reload when the file is not what was loaded. */
static void responder_refresh(struct responder *r)
{
	struct file_stamp now;
	char q[4200];

	if (r->have_cfg) {
		if (!config_changed(&r->cfg))
			return;
		log_event(LOG_NOTICE, "config_reload", "file=%s",
			  log_q(r->config_path, q, sizeof q));
	} else if (r->have_bad_stamp) {
		stamp_file(r->config_path, &now);
		if (stamp_equal(&now, &r->bad_stamp))
			return;
	}
	responder_load(r);
}

/* True while spool_dir still names the directory we hold open. A spool
 * moved aside and made anew, restored, or mounted over after we opened it
 * would otherwise get jobs the spooler never sees, answered 200. */
static bool spool_still_there(const struct responder *r)
{
	struct stat named, held;

	return stat(r->cfg.spool_dir, &named) == 0 && fstat(r->spool.dirfd, &held) == 0 &&
	       named.st_dev == held.st_dev && named.st_ino == held.st_ino;
}

/* Opened at the first job and kept while spool_dir names it; tried again at
 * each request while it fails, so a spool made usable is picked up without
 * a restart. */
static bool responder_spool(struct responder *r, char *err, size_t errlen)
{
	if (r->have_spool && spool_still_there(r))
		return true;
	if (r->have_spool) {
		log_event(LOG_NOTICE, "spool_reopen", "reason=\"spool_dir names another directory\"");
		spool_close(&r->spool);
		r->have_spool = false;
	}
	if (spool_open(&r->spool, r->cfg.spool_dir, false, err, errlen) != SPOOL_OK)
		return false;
	r->have_spool = true;
	return true;
}

static const char *ex_param(const struct exchange *ex, const char *name)
{
	if (ex->fcgi)
		return FCGX_GetParam(name, ex->fcgi->envp);
	return getenv(name);
}

/* Up to len bytes of the body; fewer only at its end. -1 on a read error. */
static long long ex_read(const struct exchange *ex, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		size_t want = len - got < READ_CHUNK ? len - got : READ_CHUNK;
		int n;

		if (!ex->fcgi) {
			size_t m = fread(buf + got, 1, want, stdin);

			if (m == 0)
				return ferror(stdin) ? -1 : (long long)got;
			got += m;
			continue;
		}
		n = FCGX_GetStr(buf + got, (int)want, ex->fcgi->in);
		if (n < 0 || FCGX_GetError(ex->fcgi->in) != 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (long long)got;
}

static int ex_write(const struct exchange *ex, const char *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (len > INT_MAX)
		return -1;
	if (ex->fcgi)
		return FCGX_PutStr(buf, (int)len, ex->fcgi->out) == (int)len ? 0 : -1;
	if (fwrite(buf, 1, len, stdout) != len)
		return -1;
	return 0;
}

/* CONTENT_LENGTH: 1 and *out when present and valid, 0 when absent or
 * empty, -1 when malformed. */
static int content_length(const struct exchange *ex, uint64_t *out)
{
	const char *text = ex_param(ex, "CONTENT_LENGTH");
	char *end;
	unsigned long long v;

	if (!text || !*text)
		return 0;
	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 1;
}

/* Whether a body without CONTENT_LENGTH can be read to its end. FastCGI's
 * stream has one. Under plain CGI a web server gives a chunked body that
 * way too (Apache does), and stops with a broken answer unless it is read;
 * only a terminal (someone trying the program by hand) has no end. */
static bool body_has_end(const struct exchange *ex)
{
	return ex->fcgi || !isatty(STDIN_FILENO);
}

/* Reads and drops what is left of a refused body (see DISCARD_MAX). */
static void discard_body(const struct exchange *ex)
{
	char sink[16384];
	uint64_t left = DISCARD_MAX, cl;
	int has_cl = content_length(ex, &cl);

	if (has_cl == 1 && cl < left)
		left = cl;
	else if (has_cl != 1 && !body_has_end(ex))
		return;
	while (left > 0) {
		size_t want = left < sizeof sink ? (size_t)left : sizeof sink;
		long long n = ex_read(ex, sink, want);

		if (n <= 0)
			return;
		left -= (uint64_t)n;
	}
}

static void answer_set(struct answer *a, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void answer_set(struct answer *a, int status, const char *fmt, ...)
{
	va_list ap;

	a->status = status;
	a->body = NULL;
	va_start(ap, fmt);
	vsnprintf(a->note, sizeof a->note, fmt, ap);
	va_end(ap);
}

/* The body of a POST into *body (malloc'd, NUL-terminated), never more
 * than max_body_bytes + 1 bytes read into memory. 0 on success, else -1
 * with the answer (400, 413, 503) set and the rest of the body discarded. */
static int read_body(const struct responder *r, const struct exchange *ex, char **body,
		     size_t *body_len, struct answer *a)
{
	uint64_t max = r->cfg.max_body_bytes, want, cl = 0;
	int has_cl = content_length(ex, &cl), rc = -1;
	long long got;
	char *buf = NULL;

	if (has_cl < 0) {
		answer_set(a, 400, "malformed CONTENT_LENGTH");
		goto refuse;
	}
	if (has_cl == 1 && cl > max) {
		answer_set(a, 413, "body of %llu bytes over max_body_bytes %llu",
			   (unsigned long long)cl, (unsigned long long)max);
		goto refuse;
	}
	/* Without CONTENT_LENGTH, read to the end, one byte past the limit to
	 * know it is over. */
	want = has_cl == 1 ? cl : body_has_end(ex) ? max + 1 : 0;
	buf = want < SIZE_MAX ? malloc((size_t)want + 1) : NULL;
	if (!buf) {
		answer_set(a, 503, "out of memory for a body of %llu bytes",
			   (unsigned long long)want);
		goto refuse;
	}
	got = ex_read(ex, buf, (size_t)want);
	if (got < 0 || (has_cl == 1 && (uint64_t)got != cl)) {
		answer_set(a, 400, "body cut short");
		goto out;
	}
	if ((uint64_t)got > max) {
		answer_set(a, 413, "body over max_body_bytes %llu", (unsigned long long)max);
		goto refuse;
	}
	buf[got] = '\0';
	*body = buf;
	*body_len = (size_t)got;
	buf = NULL;
	rc = 0;
	goto out;
refuse:
	discard_body(ex);
out:
	free(buf);
	return rc;
}

/* The jobs go to the spool before the answer: 200 only once they are
 * there, 503 (and nothing of the event in new/) when they cannot be. */
static void spool_jobs(struct responder *r, struct webhook_reply *reply, struct answer *a)
{
	char err[1024];

	if (!responder_spool(r, err, sizeof err) ||
	    spool_enqueue(&r->spool, reply->jobs, reply->n_jobs, &a->n_spooled, err,
			  sizeof err) != SPOOL_OK) {
		answer_set(a, 503, "spool: %s", err);
		a->n_spooled = 0;
	}
}

/* Each status the responder answers with: its reason phrase, and the body
 * of an answer that webhook_handle gave none: never more than the kind of
 * refusal, so nothing of the request or the config leaks. */
static const struct status_answer {
	int status;
	const char *reason, *body;
} status_answers[] = {
	{ 200, "OK", "" },
	{ 400, "Bad Request", "{\"error\":\"bad request\"}" },
	{ 401, "Unauthorized", "{\"error\":\"unauthorized\"}" },
	{ 405, "Method Not Allowed", "{\"error\":\"method not allowed\"}" },
	{ 413, "Content Too Large", "{\"error\":\"body too large\"}" },
	{ 500, "Internal Server Error", "{\"error\":\"configuration error\"}" },
	{ 503, "Service Unavailable", "{\"error\":\"spool unavailable\"}" },
};

static const struct status_answer *status_answer(int status)
{
	static const struct status_answer other = { 0, "Error", "{\"error\":\"error\"}" };

	for (size_t i = 0; i < sizeof status_answers / sizeof status_answers[0]; i++)
		if (status_answers[i].status == status)
			return &status_answers[i];
	return &other;
}

/* 0 when the whole answer went out. */
static int send_answer(const struct exchange *ex, const struct answer *a)
{
	const char *body = a->body ? a->body : status_answer(a->status)->body;
	size_t len = strlen(body);
	char head[256];
	int n = snprintf(head, sizeof head,
			 "Status: %d %s\r\n%s%sContent-Length: %zu\r\n"
			 "Cache-Control: no-store\r\n\r\n",
			 a->status, status_answer(a->status)->reason,
			 a->status == 405 ? "Allow: POST\r\n" : "",
			 len > 0 ? "Content-Type: application/json\r\n" : "", len);

	if (n < 0 || (size_t)n >= sizeof head)
		return -1;
	if (ex_write(ex, head, (size_t)n) != 0 || ex_write(ex, body, len) != 0)
		return -1;
	if (!ex->fcgi && fflush(stdout) != 0)
		return -1;
	return 0;
}

static void monotonic_now(struct timespec *t)
{
	if (clock_gettime(CLOCK_MONOTONIC, t) != 0)
		memset(t, 0, sizeof *t);
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	monotonic_now(&t1);
	return (long)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* The event's name when the request got as far as jobs (each job carries
 * it); otherwise webhook_handle's note names what it saw. */
static const char *event_name(const struct webhook_reply *reply)
{
	const char *name = reply->n_jobs > 0 ? job_get_str(reply->jobs[0], "event") : NULL;

	return name ? name : "-";
}

/* One line per request, after the skip notes of its files. */
static void log_request(const struct exchange *ex, const struct webhook_reply *reply,
			const struct answer *a, bool sent, const struct timespec *t0)
{
	char qe[200], qt[200], qn[1100];
	const char *tracking = ex_param(ex, "HTTP_X_ZM_TRACKINGID");

	log_q(tracking ? tracking : "-", qt, sizeof qt);
	for (size_t i = 0; i < reply->n_notes; i++)
		log_event(LOG_WARNING, "webhook_file_skipped", "tracking_id=%s note=%s", qt,
			  log_q(reply->notes[i], qn, sizeof qn));
	log_event(a->status >= 500 ? LOG_ERR : LOG_INFO, "webhook",
		  "status=%d zoom_event=%s tracking_id=%s jobs=%zu spooled=%zu ms=%ld%s note=%s",
		  a->status, log_q(event_name(reply), qe, sizeof qe), qt, a->n_jobs,
		  a->n_spooled, elapsed_ms(t0), sent ? "" : " answer=lost",
		  log_q(a->note, qn, sizeof qn));
}

/* One request, start to end: it always gets an answer and a log line. */
static void serve(struct responder *r, const struct exchange *ex)
{
	struct webhook_reply reply;
	struct webhook_request req;
	struct answer a;
	struct timespec t0;
	const char *method = ex_param(ex, "REQUEST_METHOD");
	char *body = NULL;
	size_t body_len = 0;
	bool sent;

	monotonic_now(&t0);
	memset(&reply, 0, sizeof reply);
	memset(&a, 0, sizeof a);
	responder_refresh(r);
	if (!r->have_cfg) {
		answer_set(&a, 500, "configuration error (logged when the file was read)");
		discard_body(ex);
		goto send;
	}
	if (method && strcmp(method, "POST") == 0 && read_body(r, ex, &body, &body_len, &a) != 0)
		goto send;
	req = (struct webhook_request){
		.method = method ? method : "",
		.signature = ex_param(ex, "HTTP_X_ZM_SIGNATURE"),
		.timestamp = ex_param(ex, "HTTP_X_ZM_REQUEST_TIMESTAMP"),
		.body = body ? body : "",
		.body_len = body_len,
		.now = time(NULL),
	};
	webhook_handle(&r->cfg, &req, &reply);
	a.status = reply.status;
	a.body = reply.body;
	a.n_jobs = reply.n_jobs;
	snprintf(a.note, sizeof a.note, "%s", reply.note);
	if (reply.n_jobs > 0)
		spool_jobs(r, &reply, &a);
	if (!body)
		discard_body(ex);
send:
	sent = send_answer(ex, &a) == 0;
	log_request(ex, &reply, &a, sent, &t0);
	webhook_reply_free(&reply);
	free(body);
}

/* A signal that stops the server (SIGTERM from mod_fcgid or lighttpd) is
 * held while a request is served, so that an event is answered once it is
 * spooled; it takes effect when the request is done. */
static void hold_stop_signals(int how)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(how, &set, NULL) != 0)
		log_event(LOG_WARNING, "signal_mask", "reason=\"sigprocmask failed\"");
}

/* SIGTERM between requests (the server stops, or shrinks its pool): leave
 * the accept loop and return from main, so exit does its work (the leak
 * check of a sanitizer build among it). Without SA_RESTART accept() fails
 * with EINTR and libfcgi sees the shutdown. FCGX_ShutdownPending only sets
 * a flag. */
static void on_stop_signal(int sig)
{
	(void)sig;
	FCGX_ShutdownPending();
}

static int serve_fastcgi(struct responder *r)
{
	FCGX_Request request;
	struct exchange ex = { .fcgi = &request };
	struct sigaction stop;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&request, 0, 0) != 0) {
		log_event(LOG_ERR, "fastcgi_error", "reason=\"cannot initialise libfcgi\"");
		return 1;
	}
	memset(&stop, 0, sizeof stop);
	stop.sa_handler = on_stop_signal;
	sigemptyset(&stop.sa_mask);
	if (sigaction(SIGTERM, &stop, NULL) != 0)
		log_event(LOG_WARNING, "signal_handler", "reason=\"sigaction failed\"");
	while (FCGX_Accept_r(&request) >= 0) {
		hold_stop_signals(SIG_BLOCK);
		serve(r, &ex);
		FCGX_Finish_r(&request);
		hold_stop_signals(SIG_UNBLOCK);
	}
	FCGX_Free(&request, 1);
	return 0;
}

int main(void)
{
	struct responder r;
	struct sigaction ignore;
	int rc;

	/* A client gone before its answer must not end the process. */
	memset(&ignore, 0, sizeof ignore);
	ignore.sa_handler = SIG_IGN;
	sigemptyset(&ignore.sa_mask);
	if (sigaction(SIGPIPE, &ignore, NULL) != 0)
		return 1;
	/* The web server keeps its programs' stderr in its error log;
	 * ZOOM2S3_LOG=syslog sends the lines to syslog instead. */
	log_init("zoom2s3.fcgi", LOG_DEST_STDERR, false);
	memset(&r, 0, sizeof r);
	r.config_path = config_find_path(NULL);
	responder_load(&r);
	if (FCGX_IsCGI()) {
		struct exchange ex = { .fcgi = NULL };

		serve(&r, &ex);
		rc = 0;
	} else {
		rc = serve_fastcgi(&r);
	}
	responder_drop(&r);
	return rc;
}
