/* One job's transfer: Zoom -> S3. A small file is read into one buffer and
 * sent by one PUT; a large one is streamed part by part: the download fills
 * the worker's buffer of part_size while UPLOADERS threads send the parts
 * before it, and the parts S3 confirmed are recorded in the job in order,
 * so a later try resumes from them. docs/INTERNALS.md ("The spooler's
 * transfer") walks through it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "awscreds.h"
#include "crypto.h"
#include "download.h"
#include "keytmpl.h"
#include "lockinit.h"
#include "log.h"
#include "retry.h"
#include "s3.h"
#include "transfer.h"
#include "zoomauth.h"

#define MIB (1024ULL * 1024ULL)
#define MAX_PARTS 10000

/* Shared by every worker thread: set before they start and read-only
 * after; awscreds.c and zoomauth.c guard their caches with their own
 * mutexes. Two jobs bound for one key are serialised by spool_lock_key. */
struct transfer_shared {
	const struct config *cfg;
	struct spool *sp;
	struct awscreds *creds;
	struct zoomauth *auth;
};

/* A multipart transfer's part uploads run on UPLOADERS threads, each with
 * its own S3 client and buffer: the download fills one buffer while the
 * parts before it go up. UPLOADERS + 1 parts in flight per job, memory
 * (UPLOADERS + 1) x part_size. Two uploads at once keep the S3 server
 * busy while each waits on its network round trips; parts are still
 * recorded in order (collect_part), so a crash resumes from a run of
 * whole parts. */
#define UPLOADERS 2

/* Shared between the worker thread and the uploader's thread: pending,
 * finished and quit are under mu. The part's fields (buf .. sha256) are
 * written by the worker under mu before it sets pending, and read by the
 * uploader only while pending && !finished; etag and res are written by
 * the uploader before it sets finished under mu, and read by the worker
 * only once it saw finished. So each field has one owner at a time, handed
 * over under mu. thread, started and s3 are set before the thread runs. */
struct uploader {
	pthread_t thread;
	bool locked, started; /* mu and cv initialized; thread running */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct s3_client *s3;
	unsigned char *buf;
	size_t bufcap;
	bool pending, finished, quit; /* under mu: a part handed over; its upload ended */
	const char *key, *upload_id;
	int number;
	size_t len;
	unsigned char sha256[SHA256_LEN]; /* of buf[0, len), hashed as it came in */
	char etag[S3_ETAG_MAX];
	struct result res;
};

struct transfer_worker {
	struct transfer_shared *sh;
	stop_flag_t *stop;
	struct s3_client *s3;
	struct http_client *dl;
	unsigned char *buf;
	size_t bufcap;
	struct crypto_sha256_stream *hash; /* of buf[0, fill) */
	struct uploader up[UPLOADERS];
	/* atomic: written by this worker's download, read by the main thread's
	 * live progress line (transfer_progress). The rest is the worker's. */
	atomic_llong progress_bytes, progress_total;
};

/* What the transfer reads from the job, and its Zoom credentials. */
struct tjob {
	struct claim *claim;
	const char *file_id, *uuid, *ext;
	int64_t size;          /* -1 when the job has no file_size */
	char key[KEYTMPL_BUF];
	char *url;             /* malloc'd: the job's, or a fresh link */
	char *bearer;          /* malloc'd, or NULL */
	bool refreshed;        /* the link/token came from the API already */
	bool token_held;       /* the job's download token is held in the log guard */
	uint64_t part_size;
	/* The key may hold an object of this very file (HEAD said so): the
	 * upload may replace it. Otherwise every write is conditional (If-None-
	 * Match: *), so that no other file's object is ever replaced, also
	 * where a HEAD cannot tell "missing" from "forbidden" (no
	 * s3:ListBucket: S3 answers 403 for a missing key). */
	bool own_object;
	/* s3_checksum: each part's SHA-256 (base64) by part number, for
	 * CompleteMultipartUpload; "" where unknown (ListParts fills it). */
	char (*sums)[S3_CHECKSUM_MAX];
	int n_sums;
};

/* The download's sink: fills the buffer; in multipart mode each full
 * buffer becomes a part. */
struct sink {
	struct transfer_worker *w;
	struct tjob *tj;
	bool multipart;
	const char *upload_id;
	size_t fill;
	int next_part;      /* the number the next handed-over part gets */
	int inflight;       /* parts with the uploaders, not yet recorded */
	int oldest;         /* the uploader with the first of them */
	bool part_failed;   /* a part did not go up: none after it is recorded */
	bool upload_gone;   /* an uploader found the upload id gone */
	struct result fail; /* why the sink refused data */
};

struct transfer_shared *transfer_shared_new(const struct config *cfg, struct spool *sp,
					    char *err, size_t errlen)
{
	struct transfer_shared *sh = calloc(1, sizeof *sh);
	struct s3_client *probe;
	char why[512];

	if (!sh)
		goto nomem;
	sh->cfg = cfg;
	sh->sp = sp;
	sh->creds = awscreds_new(cfg);
	sh->auth = zoomauth_new(cfg, sp);
	if (!sh->creds || !sh->auth)
		goto nomem;
	/* The S3 settings s3.c alone can judge (an endpoint that virtual-host
	 * addressing cannot use, say) are config errors: say so before any job
	 * is taken, naming the file, rather than failing every worker. */
	probe = s3_client_new(cfg, sh->creds, NULL, why, sizeof why);
	if (!probe) {
		snprintf(err, errlen, "%s: %s", cfg->path, why);
		transfer_shared_free(sh);
		return NULL;
	}
	s3_client_free(probe);
	return sh;
nomem:
	snprintf(err, errlen, "out of memory");
	transfer_shared_free(sh);
	return NULL;
}

void transfer_shared_free(struct transfer_shared *sh)
{
	if (!sh)
		return;
	awscreds_free(sh->creds);
	zoomauth_free(sh->auth);
	free(sh);
}

static void *uploader_main(void *arg)
{
	struct uploader *u = arg;

	pthread_mutex_lock(&u->mu);
	for (;;) {
		while (!u->quit && !(u->pending && !u->finished))
			pthread_cond_wait(&u->cv, &u->mu);
		if (u->quit)
			break;
		pthread_mutex_unlock(&u->mu);
		s3_mpu_upload_part_hashed(u->s3, u->key, u->upload_id, u->number, u->buf, u->len,
					  u->sha256, u->etag, &u->res);
		pthread_mutex_lock(&u->mu);
		u->finished = true;
		pthread_cond_broadcast(&u->cv);
	}
	pthread_mutex_unlock(&u->mu);
	return NULL;
}

struct transfer_worker *transfer_worker_new(struct transfer_shared *sh,
					    stop_flag_t *stop)
{
	struct transfer_worker *w = calloc(1, sizeof *w);
	char err[256] = "";

	if (!w)
		return NULL;
	w->sh = sh;
	w->stop = stop;
	for (int i = 0; i < UPLOADERS; i++) {
		if (lock_init(&w->up[i].mu, &w->up[i].cv) != 0)
			goto fail;
		w->up[i].locked = true;
	}
	w->dl = http_client_new(stop);
	w->hash = crypto_sha256_stream_new();
	w->s3 = s3_client_new(sh->cfg, sh->creds, stop, err, sizeof err);
	if (!w->dl || !w->hash || !w->s3)
		goto fail;
	for (int i = 0; i < UPLOADERS; i++) {
		struct uploader *u = &w->up[i];

		u->s3 = s3_client_new(sh->cfg, sh->creds, stop, err, sizeof err);
		if (!u->s3 || pthread_create(&u->thread, NULL, uploader_main, u) != 0)
			goto fail;
		u->started = true;
	}
	return w;
fail:
	log_event(LOG_ERR, "transfer.init_failed", "error=\"%s\"",
		  err[0] ? err : "cannot make a download client or an upload thread");
	transfer_worker_free(w);
	return NULL;
}

void transfer_worker_free(struct transfer_worker *w)
{
	if (!w)
		return;
	for (int i = 0; i < UPLOADERS; i++) {
		struct uploader *u = &w->up[i];

		if (u->started) {
			pthread_mutex_lock(&u->mu);
			u->quit = true;
			pthread_cond_broadcast(&u->cv);
			pthread_mutex_unlock(&u->mu);
			pthread_join(u->thread, NULL);
		}
		if (u->locked) {
			pthread_cond_destroy(&u->cv);
			pthread_mutex_destroy(&u->mu);
		}
		s3_client_free(u->s3);
		free(u->buf);
	}
	s3_client_free(w->s3);
	http_client_free(w->dl);
	crypto_sha256_stream_free(w->hash);
	free(w->buf);
	free(w);
}

void transfer_progress(struct transfer_worker *w, int64_t *bytes, int64_t *total)
{
	*bytes = atomic_load(&w->progress_bytes);
	*total = atomic_load(&w->progress_total);
}

static void on_progress(void *ctx, uint64_t done, int64_t total)
{
	struct transfer_worker *w = ctx;

	atomic_store(&w->progress_bytes, (long long)done);
	atomic_store(&w->progress_total, (long long)total);
}

/* Writes the job's progress into cur/ so a crash resumes from here. */
static enum outcome save_job(struct transfer_worker *w, struct tjob *tj, struct result *r)
{
	char err[512];

	if (spool_update(w->sh->sp, tj->claim, err, sizeof err) != SPOOL_OK)
		return result_set(r, OUTCOME_RETRY, "cannot record progress in the spool: %s", err);
	return OUTCOME_DONE;
}

/* The part size for this file: the configured one, grown (in whole MiB)
 * when the file would need more than 10,000 parts. */
static uint64_t choose_part_size(const struct config *cfg, int64_t size)
{
	uint64_t ps = cfg->part_size;

	if (size > 0 && (uint64_t)size / ps >= MAX_PARTS) {
		ps = ((uint64_t)size + MAX_PARTS - 1) / MAX_PARTS;
		ps = (ps + MIB - 1) / MIB * MIB;
	}
	return ps;
}

static int grow_buffer(unsigned char **buf, size_t *cap, size_t size)
{
	unsigned char *grown;

	if (*cap >= size)
		return 0;
	grown = realloc(*buf, size ? size : 1);
	if (!grown)
		return -1;
	*buf = grown;
	*cap = size;
	return 0;
}

/* The download's buffer, and the uploaders' for a multipart transfer. */
static int ensure_buffer(struct transfer_worker *w, size_t size, bool multipart)
{
	if (grow_buffer(&w->buf, &w->bufcap, size) != 0)
		return -1;
	for (int i = 0; multipart && i < UPLOADERS; i++)
		if (grow_buffer(&w->up[i].buf, &w->up[i].bufcap, size) != 0)
			return -1;
	return 0;
}

static void record_done(struct tjob *tj, const char *bucket, const char *etag, uint64_t bytes)
{
	struct job *job = tj->claim->job;

	retry_clear_upload_state(job);
	job_set_int(job, "bytes", (int64_t)bytes);
	job_set_str(job, "s3_bucket", bucket);
	job_set_str(job, "s3_etag", etag);
	job_set_str(job, "s3_key", tj->key);
}

/* A HEAD answer that cannot tell whether the key is free: 403 (S3's answer
 * for a missing key to a caller without s3:ListBucket) or a bodiless 400.
 * The conditional write decides then. */
static bool head_undecided(const struct s3_client *s3)
{
	long status = s3_last_status(s3);
	const char *code = s3_last_code(s3);

	return (status == 403 && (!code[0] || strcmp(code, "AccessDenied") == 0)) ||
	       (status == 400 && !code[0]);
}

/* Before a new upload: the key must not hold another Zoom file's object.
 * *done when it already holds this very file, whole (an earlier run
 * finished the upload but died before moving the job). known_taken: a
 * conditional write just found the key taken, so a HEAD that cannot read
 * it is an error, not "maybe free". */
static enum outcome check_destination(struct transfer_worker *w, struct tjob *tj, bool known_taken,
				      bool *done, struct result *r)
{
	struct s3_object obj;

	tj->own_object = false;
	for (int tries = 0; tries < 2; tries++) {
		if (s3_head(w->s3, tj->key, &obj, r) != OUTCOME_DONE) {
			if (known_taken || !head_undecided(w->s3))
				return r->kind;
			log_event(LOG_INFO, "transfer.head_undecided",
				  "job=%s status=%ld (the upload is conditional: If-None-Match)",
				  tj->claim->name, s3_last_status(w->s3));
			return OUTCOME_DONE;
		}
		if (!obj.exists)
			return OUTCOME_DONE;
		known_taken = false; /* a moved-aside key is judged afresh */
		if (strcmp(obj.file_id, tj->file_id) == 0) {
			if (tj->size >= 0 && obj.size == (uint64_t)tj->size) {
				record_done(tj, w->sh->cfg->s3_bucket, obj.etag, obj.size);
				*done = true;
			}
			tj->own_object = true;
			return OUTCOME_DONE; /* ours: replacing it loses nothing */
		}
		if (tries == 1)
			break;
		/* Another file's object: never replaced; this file moves aside. */
		if (keytmpl_add_suffix(tj->key, sizeof tj->key, tj->file_id) != 0 ||
		    strlen(tj->key) > KEYTMPL_MAX_KEY)
			return result_set(r, OUTCOME_GIVEUP,
					  "the key holds another Zoom file's object and the key "
					  "with -%s added is over %d bytes",
					  tj->file_id, KEYTMPL_MAX_KEY);
		log_event(LOG_NOTICE, "transfer.key_taken", "job=%s new_key=\"%s\"",
			  tj->claim->name, tj->key);
		transfer_abandon(w, tj->claim); /* an upload open for the old key */
		job_set_str(tj->claim->job, "s3_key", tj->key);
		if (save_job(w, tj, r) != OUTCOME_DONE)
			return r->kind;
	}
	return result_set(r, OUTCOME_GIVEUP,
			  "both %s and the key without -%s hold other Zoom files' objects", tj->key,
			  tj->file_id);
}

/* Replaces the job's link and token with fresh ones from Zoom's recordings
 * API. GIVEUP when no app is configured to ask with. */
static enum outcome refresh_link(struct transfer_worker *w, struct tjob *tj, struct result *r)
{
	struct zoomauth *za = w->sh->auth;
	char *url = NULL, *token = NULL;
	char api_token[ZOOMAUTH_TOKEN_MAX];

	if (!zoomauth_has_oauth(za) && !zoomauth_has_jwt(za))
		return result_set(r, OUTCOME_GIVEUP,
				  "%s, and no Server-to-Server OAuth or JWT app is configured to "
				  "ask Zoom for a fresh link (the webhook's download token lives 24 h)",
				  tj->bearer ? "Zoom refused the download token"
					     : "the job has no download token");
	if (!tj->uuid || !*tj->uuid)
		return result_set(r, OUTCOME_GIVEUP, "the job has no meeting_uuid to ask Zoom "
						     "for a fresh link with");
	if (zoomauth_fresh_link(za, w->dl, tj->uuid, tj->file_id, &url, &token, r) != OUTCOME_DONE)
		return r->kind;
	if (!token) {
		/* No download_access_token: the API token itself may download. */
		if (zoomauth_api_token(za, w->dl, NULL, api_token, sizeof api_token, r) !=
		    OUTCOME_DONE) {
			free(url);
			return r->kind;
		}
		token = strdup(api_token);
		explicit_bzero(api_token, sizeof api_token);
		if (!token) {
			free(url);
			return result_set(r, OUTCOME_RETRY, "out of memory");
		}
	}
	free(tj->url);
	free(tj->bearer);
	tj->url = url;
	tj->bearer = token;
	tj->refreshed = true;
	return OUTCOME_DONE;
}

/* Room for part number's checksum in tj->sums. -1 when out of memory. */
static int grow_sums(struct tjob *tj, int number)
{
	char(*grown)[S3_CHECKSUM_MAX];
	int n;

	if (number < tj->n_sums)
		return 0;
	n = number + 64 > MAX_PARTS + 1 ? MAX_PARTS + 1 : number + 64;
	if (number >= n)
		return -1;
	grown = realloc(tj->sums, (size_t)n * sizeof *grown);
	if (!grown)
		return -1;
	memset(grown + tj->n_sums, 0, (size_t)(n - tj->n_sums) * sizeof *grown);
	tj->sums = grown;
	tj->n_sums = n;
	return 0;
}

/* Keeps a part's SHA-256 (base64, as CompleteMultipartUpload names it). */
static int keep_sum(struct tjob *tj, int number, const unsigned char sha256[SHA256_LEN])
{
	if (number < 1 || grow_sums(tj, number) != 0)
		return -1;
	crypto_base64(sha256, SHA256_LEN, tj->sums[number]);
	return 0;
}

/* Waits for the oldest part in flight and records it in the job (progress
 * a crash resumes from). -1 with s->fail when it failed, or one before it
 * did: parts are recorded in order, so none after a failed one is. */
static int collect_part(struct sink *s)
{
	struct uploader *u;

	if (s->inflight == 0)
		return 0;
	u = &s->w->up[s->oldest];
	pthread_mutex_lock(&u->mu);
	while (!u->finished)
		pthread_cond_wait(&u->cv, &u->mu);
	u->pending = false;
	pthread_mutex_unlock(&u->mu);
	s->inflight--;
	s->oldest = (s->oldest + 1) % UPLOADERS;
	if (s->part_failed)
		return -1;
	if (u->res.kind != OUTCOME_DONE) {
		s->part_failed = true;
		s->fail = u->res;
		s->upload_gone = s3_upload_gone(u->s3);
		return -1;
	}
	job_part_add(s->tj->claim->job, u->number, u->etag, (int64_t)u->len);
	if (s->w->sh->cfg->s3_checksum_sha256 && keep_sum(s->tj, u->number, u->sha256) != 0) {
		s->part_failed = true;
		result_set(&s->fail, OUTCOME_RETRY, "out of memory");
		return -1;
	}
	if (save_job(s->w, s->tj, &s->fail) != OUTCOME_DONE) {
		s->part_failed = true;
		return -1;
	}
	return 0;
}

/* Every part in flight collected: the uploaders hold no buffer after it. */
static int collect_all(struct sink *s)
{
	int rc = 0;

	while (s->inflight > 0)
		if (collect_part(s) != 0)
			rc = -1;
	return rc;
}

static bool oldest_finished(struct sink *s)
{
	struct uploader *u = &s->w->up[s->oldest];
	bool finished;

	pthread_mutex_lock(&u->mu);
	finished = u->finished;
	pthread_mutex_unlock(&u->mu);
	return finished;
}

/* The buffer starts over empty, its running hash with it. */
static int sink_restart(struct sink *s)
{
	s->fill = 0;
	if (crypto_sha256_stream_reset(s->w->hash) != 0) {
		result_set(&s->fail, OUTCOME_RETRY, "cannot start a SHA-256 (OpenSSL failed)");
		return -1;
	}
	return 0;
}

/* Hands the filled buffer to a free uploader as the next part (recording
 * the parts that went up before it) and goes on with that uploader's
 * buffer. */
static int flush_part(struct sink *s)
{
	struct transfer_worker *w = s->w;
	struct uploader *u;
	unsigned char *spare;
	size_t spare_cap;

	while (s->inflight > 0 && (s->inflight == UPLOADERS || oldest_finished(s)))
		if (collect_part(s) != 0)
			return -1;
	if (s->next_part > MAX_PARTS) {
		result_set(&s->fail, OUTCOME_GIVEUP, "the file needs more than %d parts: its "
						     "size is larger than file_size said", MAX_PARTS);
		return -1;
	}
	u = &w->up[(s->oldest + s->inflight) % UPLOADERS];
	pthread_mutex_lock(&u->mu);
	if (crypto_sha256_stream_end(w->hash, u->sha256) != 0) {
		pthread_mutex_unlock(&u->mu);
		result_set(&s->fail, OUTCOME_RETRY, "cannot finish a SHA-256 (OpenSSL failed)");
		return -1;
	}
	spare = u->buf;
	spare_cap = u->bufcap;
	u->buf = w->buf;
	u->bufcap = w->bufcap;
	u->key = s->tj->key;
	u->upload_id = s->upload_id;
	u->number = s->next_part;
	u->len = s->fill;
	u->pending = true;
	u->finished = false;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
	w->buf = spare;
	w->bufcap = spare_cap;
	s->inflight++;
	s->next_part++;
	s->fill = 0; /* the hash started over when it ended */
	return 0;
}

/* Copies a piece of the download into the buffer and hashes it there,
 * while it is still in the cache: the part's SHA-256 is ready when the
 * part is full, and the buffer is read once more only to be sent. */
static int sink_write(void *ctx, const void *data, size_t len)
{
	struct sink *s = ctx;
	const unsigned char *p = data;
	size_t cap = (size_t)s->tj->part_size;

	while (len > 0) {
		size_t n = cap - s->fill < len ? cap - s->fill : len;

		if (n == 0) {
			/* Single-PUT mode and the buffer is full: more than file_size. */
			result_set(&s->fail, OUTCOME_GIVEUP,
				   "Zoom sent more bytes than the file_size of %lld",
				   (long long)s->tj->size);
			return -1;
		}
		memcpy(s->w->buf + s->fill, p, n);
		if (crypto_sha256_stream_add(s->w->hash, s->w->buf + s->fill, n) != 0) {
			result_set(&s->fail, OUTCOME_RETRY, "cannot hash a part (OpenSSL failed)");
			return -1;
		}
		s->fill += n;
		p += n;
		len -= n;
		if (s->multipart && s->fill == cap && flush_part(s) != 0)
			return -1;
	}
	return 0;
}

static uint64_t parts_bytes(const struct job *job)
{
	uint64_t bytes = 0;
	int number;
	const char *etag;
	int64_t size;

	for (size_t i = 0; i < job_parts_count(job); i++)
		if (job_part_get(job, i, &number, &etag, &size) == 0)
			bytes += (uint64_t)size;
	return bytes;
}

/* Downloads from offset into the sink, with one fresh link when Zoom
 * refuses the credentials (or the job came without any). */
static enum outcome fetch(struct transfer_worker *w, struct tjob *tj, struct sink *s,
			  uint64_t offset, struct result *r)
{
	const struct config *cfg = w->sh->cfg;
	struct download_result dr;

	if (!tj->bearer && refresh_link(w, tj, r) != OUTCOME_DONE)
		return r->kind;
	if (sink_restart(s) != 0) {
		*r = s->fail;
		return r->kind;
	}
	for (;;) {
		struct download_request req = {
			.url = tj->url,
			.bearer = tj->bearer,
			.offset = offset,
			.expected_total = tj->size,
			.hosts = cfg->download_hosts,
			.n_hosts = cfg->n_download_hosts,
			.allow_http = cfg->allow_http,
			.sink = sink_write,
			.sink_ctx = s,
			.progress = on_progress,
			.progress_ctx = w,
			.stop = w->stop,
		};

		memset(&dr, 0, sizeof dr);
		if (download_run(w->dl, &req, &dr) == OUTCOME_DONE)
			return result_set(r, OUTCOME_DONE, "downloaded");
		if (dr.sink_failed) {
			*r = s->fail;
			return r->kind;
		}
		if (!dr.auth_refused || tj->refreshed) {
			*r = dr.res;
			if (dr.auth_refused)
				return result_set(r, OUTCOME_GIVEUP,
						  "Zoom refused the fresh download link too: %s",
						  dr.res.why);
			return r->kind;
		}
		log_event(LOG_NOTICE, "transfer.token_refused", "job=%s asking=fresh_link",
			  tj->claim->name);
		if (refresh_link(w, tj, r) != OUTCOME_DONE)
			return r->kind;
		/* A single PUT starts its buffer over; a multipart upload resumes
		 * after the parts it has (the partial buffer is dropped). */
		if (sink_restart(s) != 0 || (s->multipart && collect_all(s) != 0)) {
			*r = s->fail;
			return r->kind;
		}
		offset = s->multipart ? parts_bytes(tj->claim->job) : 0;
	}
}

static void meta_of(const struct tjob *tj, struct s3_meta *meta)
{
	meta->meeting_uuid = tj->uuid;
	meta->file_id = tj->file_id;
	/* From the file, not the key: a key_template may drop the extension. */
	meta->content_type = tj->ext && *tj->ext ? s3_content_type(tj->ext) : NULL;
}

static enum outcome single_put(struct transfer_worker *w, struct tjob *tj, struct result *r)
{
	struct sink s = { .w = w, .tj = tj };
	struct s3_meta meta;
	char etag[S3_ETAG_MAX];
	unsigned char sha256[SHA256_LEN];

	if (fetch(w, tj, &s, 0, r) != OUTCOME_DONE)
		return r->kind;
	if (crypto_sha256_stream_end(w->hash, sha256) != 0)
		return result_set(r, OUTCOME_RETRY, "cannot finish a SHA-256 (OpenSSL failed)");
	meta_of(tj, &meta);
	/* A key found taken is judged, and the bytes held go to the key it
	 * leads to: nothing is fetched from Zoom again. */
	for (int tries = 0;; tries++) {
		bool done = false;

		meta.if_absent = !tj->own_object;
		if (s3_put_hashed(w->s3, tj->key, w->buf, s.fill, sha256, &meta, etag, r) ==
		    OUTCOME_DONE)
			break;
		if (!s3_key_taken(w->s3) || tries == 2)
			return r->kind;
		log_event(LOG_NOTICE, "transfer.key_exists", "job=%s op=PutObject", tj->claim->name);
		if (check_destination(w, tj, true, &done, r) != OUTCOME_DONE)
			return r->kind;
		if (done)
			return result_set(r, OUTCOME_DONE, "already in the bucket");
	}
	record_done(tj, w->sh->cfg->s3_bucket, etag, s.fill);
	return result_set(r, OUTCOME_DONE, "uploaded");
}

/* Keeps the longest run of the job's parts, from part 1, that S3 holds with
 * the same ETag and size; drops the rest from the job. Returns the bytes
 * they cover and sets *next to the next part number. */
static uint64_t reconcile_parts(struct job *job, const struct s3_part *held, size_t nheld,
				int *next)
{
	size_t n = job_parts_count(job), keep = 0;
	uint64_t bytes = 0;
	int number;
	const char *etag;
	int64_t size;

	for (size_t i = 0; i < n && i < nheld; i++) {
		if (job_part_get(job, i, &number, &etag, &size) != 0 || number != (int)i + 1 ||
		    held[i].number != number || held[i].size != (uint64_t)size ||
		    strcmp(held[i].etag, etag) != 0)
			break;
		bytes += (uint64_t)size;
		keep++;
	}
	if (keep < n) {
		struct s3_part *kept = malloc((keep ? keep : 1) * sizeof *kept);

		for (size_t i = 0; kept && i < keep; i++) {
			job_part_get(job, i, &kept[i].number, &etag, &size);
			snprintf(kept[i].etag, sizeof kept[i].etag, "%s", etag);
			kept[i].size = (uint64_t)size;
		}
		job_parts_clear(job);
		for (size_t i = 0; kept && i < keep; i++)
			job_part_add(job, kept[i].number, kept[i].etag, (int64_t)kept[i].size);
		if (!kept) {
			keep = 0;
			bytes = 0;
		}
		free(kept);
	}
	*next = (int)keep + 1;
	return bytes;
}

/* The last S3 call failed for a reason that passes (no answer, 5xx, 429,
 * 408), not a refusal. */
static bool s3_failure_passes(const struct s3_client *s3)
{
	long status = s3_last_status(s3);

	/* 501: the server has no such operation (ListMultipartUploads on some
	 * S3-compatible servers): it will not pass. */
	return status == 0 || (status >= 500 && status != 501) || status == 429 || status == 408;
}

/* Aborts uploads left open for this key by a run that died, or lost S3's
 * answer, between creating one and recording it: no upload is ever left
 * behind. Once the job records a new upload nobody looks for the orphan
 * again, so a failure that passes is a retry of the job; a refusal (no
 * s3:ListBucketMultipartUploads or s3:AbortMultipartUpload permission) is
 * logged and the transfer goes on. */
static enum outcome abort_orphans(struct transfer_worker *w, const struct tjob *tj,
				  struct result *r)
{
	struct s3_upload *ups = NULL;
	size_t n = 0;
	enum outcome o = OUTCOME_DONE;

	if (s3_mpu_list_uploads(w->s3, tj->key, &ups, &n, r) != OUTCOME_DONE) {
		log_event(LOG_WARNING, "transfer.list_uploads_failed", "job=%s error=\"%s\"",
			  tj->claim->name, r->why);
		return s3_failure_passes(w->s3) ? r->kind : OUTCOME_DONE;
	}
	for (size_t i = 0; i < n && o == OUTCOME_DONE; i++) {
		if (s3_mpu_abort(w->s3, tj->key, ups[i].upload_id, r) == OUTCOME_DONE)
			log_event(LOG_NOTICE, "transfer.orphan_aborted", "job=%s", tj->claim->name);
		else if (s3_failure_passes(w->s3))
			o = r->kind;
		else
			log_event(LOG_WARNING, "transfer.orphan_abort_failed", "job=%s error=\"%s\"",
				  tj->claim->name, r->why);
	}
	free(ups);
	return o;
}

/* A CreateMultipartUpload still on its way when its run died, or whose
 * answer was lost, can open an upload after the next try looked for
 * orphans: that upload would stay in the bucket for good. So the time of a
 * create is recorded in the job before it is sent, and a later try waits
 * this long after it, as long as a live client waits for a stalled answer,
 * before it aborts orphans and opens its own upload. */
#define CREATE_LANDS_WITHIN 60 /* seconds */

static enum outcome wait_for_late_create(const struct tjob *tj, struct result *r)
{
	time_t sent, now = time(NULL);

	if (job_get_time(tj->claim->job, "upload_requested_at", &sent) != 0 || sent > now ||
	    now - sent >= CREATE_LANDS_WITHIN)
		return OUTCOME_DONE;
	return result_set(r, OUTCOME_RETRY,
			  "the CreateMultipartUpload of an earlier try (%lds ago) may still reach "
			  "S3: its upload is aborted once it can no longer arrive",
			  (long)(now - sent));
}

/* Opens (or reopens) the job's multipart upload; sets the resume point. */
static enum outcome open_upload(struct transfer_worker *w, struct tjob *tj, uint64_t *offset,
				int *next, struct result *r)
{
	struct job *job = tj->claim->job;
	const char *upload_id = job_get_str(job, "upload_id");
	char new_id[S3_UPLOAD_ID_MAX];
	struct s3_meta meta;

	if (upload_id) {
		struct s3_part *held = NULL;
		size_t nheld = 0;

		if (s3_mpu_list_parts(w->s3, tj->key, upload_id, &held, &nheld, r) == OUTCOME_DONE) {
			*offset = reconcile_parts(job, held, nheld, next);
			free(held);
			log_event(LOG_INFO, "transfer.resume", "job=%s offset=%llu next_part=%d",
				  tj->claim->name, (unsigned long long)*offset, *next);
			return OUTCOME_DONE;
		}
		if (!s3_upload_gone(w->s3))
			return r->kind;
		log_event(LOG_NOTICE, "transfer.upload_gone", "job=%s", tj->claim->name);
		retry_clear_upload_state(job);
	}
	if (wait_for_late_create(tj, r) != OUTCOME_DONE || abort_orphans(w, tj, r) != OUTCOME_DONE)
		return r->kind;
	meta_of(tj, &meta);
	job_set_time(job, "upload_requested_at", time(NULL));
	if (save_job(w, tj, r) != OUTCOME_DONE)
		return r->kind;
	if (s3_mpu_create(w->s3, tj->key, &meta, new_id, r) != OUTCOME_DONE) {
		long status = s3_last_status(w->s3);

		if (status >= 300) /* S3 answered no: nothing can arrive late */
			job_remove(job, "upload_requested_at");
		return r->kind;
	}
	job_remove(job, "upload_requested_at");
	job_set_str(job, "upload_id", new_id);
	job_set_int(job, "part_size", (int64_t)tj->part_size);
	*offset = 0;
	*next = 1;
	return save_job(w, tj, r);
}

/* Each part's ChecksumSHA256 for Complete: the ones this run computed, and
 * ListParts' for parts an earlier run sent. */
static enum outcome fill_sums(struct transfer_worker *w, struct tjob *tj, const char *upload_id,
			      struct s3_part *parts, size_t n, struct result *r)
{
	struct s3_part *held = NULL;
	size_t nheld = 0;
	bool missing = false;

	for (size_t i = 0; i < n; i++) {
		int number = parts[i].number;

		if (number > 0 && number < tj->n_sums && tj->sums[number][0])
			snprintf(parts[i].checksum_sha256, S3_CHECKSUM_MAX, "%s", tj->sums[number]);
		else
			missing = true;
	}
	if (!missing)
		return OUTCOME_DONE;
	if (s3_mpu_list_parts(w->s3, tj->key, upload_id, &held, &nheld, r) != OUTCOME_DONE)
		return r->kind;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; !parts[i].checksum_sha256[0] && j < nheld; j++)
			if (held[j].number == parts[i].number &&
			    strcmp(held[j].etag, parts[i].etag) == 0)
				snprintf(parts[i].checksum_sha256, S3_CHECKSUM_MAX, "%s",
					 held[j].checksum_sha256);
	free(held);
	return OUTCOME_DONE;
}

/* CompleteMultipartUpload, conditional unless the key holds this very
 * file. A 412 is judged by a HEAD: this file, uploaded meanwhile, is done
 * (*already; the upload is aborted); another file's object moves the job
 * to key-{file_id} for its next try (the parts belong to the old key). */
static enum outcome complete_guarded(struct transfer_worker *w, struct tjob *tj,
				     const char *upload_id, const struct s3_part *parts, size_t n,
				     char etag[S3_ETAG_MAX], bool *already, struct result *r)
{
	struct result ar;

	while (s3_mpu_complete(w->s3, tj->key, upload_id, parts, n, !tj->own_object, etag, r) !=
	       OUTCOME_DONE) {
		if (!s3_key_taken(w->s3) || tj->own_object)
			return r->kind;
		log_event(LOG_NOTICE, "transfer.key_exists", "job=%s op=CompleteMultipartUpload",
			  tj->claim->name);
		if (check_destination(w, tj, true, already, r) != OUTCOME_DONE)
			return r->kind;
		if (*already) {
			if (s3_mpu_abort(w->s3, tj->key, upload_id, &ar) != OUTCOME_DONE)
				log_event(LOG_WARNING, "transfer.abort_failed", "job=%s error=\"%s\"",
					  tj->claim->name, ar.why);
			return result_set(r, OUTCOME_DONE, "already in the bucket");
		}
		if (!tj->own_object)
			return result_set(r, OUTCOME_RETRY,
					  "the key was taken by another Zoom file's object during the "
					  "upload: the file goes to %s on the next try", tj->key);
	}
	return OUTCOME_DONE;
}

static enum outcome complete_upload(struct transfer_worker *w, struct tjob *tj,
				    const char *upload_id, struct result *r)
{
	struct job *job = tj->claim->job;
	size_t n = job_parts_count(job);
	struct s3_part *parts = calloc(n ? n : 1, sizeof *parts);
	struct s3_object obj;
	char etag[S3_ETAG_MAX];
	uint64_t total = 0;
	bool already = false;

	if (!parts)
		return result_set(r, OUTCOME_RETRY, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *e;
		int64_t size;

		if (job_part_get(job, i, &parts[i].number, &e, &size) != 0) {
			free(parts);
			return result_set(r, OUTCOME_GIVEUP, "the job's parts list is malformed");
		}
		snprintf(parts[i].etag, sizeof parts[i].etag, "%s", e);
		parts[i].size = (uint64_t)size;
		total += (uint64_t)size;
	}
	if (tj->size >= 0 && total != (uint64_t)tj->size) {
		/* Complete would make an object of the wrong size visible under
		 * the key; giving up aborts the upload instead. */
		free(parts);
		return result_set(r, OUTCOME_GIVEUP,
				  "the job's parts add up to %llu bytes, not its file_size of %lld: "
				  "requeue it to upload the file again",
				  (unsigned long long)total, (long long)tj->size);
	}
	if ((w->sh->cfg->s3_checksum_sha256 &&
	     fill_sums(w, tj, upload_id, parts, n, r) != OUTCOME_DONE) ||
	    complete_guarded(w, tj, upload_id, parts, n, etag, &already, r) != OUTCOME_DONE ||
	    already) {
		free(parts);
		return r->kind;
	}
	free(parts);
	if (s3_head(w->s3, tj->key, &obj, r) != OUTCOME_DONE)
		return r->kind;
	if (!obj.exists || obj.size != total)
		return result_set(r, OUTCOME_RETRY,
				  "the finished object is %llu bytes, not the %llu uploaded",
				  (unsigned long long)obj.size, (unsigned long long)total);
	record_done(tj, w->sh->cfg->s3_bucket, etag[0] ? etag : obj.etag, total);
	return result_set(r, OUTCOME_DONE, "uploaded");
}

static enum outcome multipart(struct transfer_worker *w, struct tjob *tj, struct result *r)
{
	struct sink s = { .w = w, .tj = tj, .multipart = true };
	uint64_t offset = 0;
	char upload_id[S3_UPLOAD_ID_MAX];

	if (open_upload(w, tj, &offset, &s.next_part, r) != OUTCOME_DONE)
		goto out;
	snprintf(upload_id, sizeof upload_id, "%s", job_get_str(tj->claim->job, "upload_id"));
	s.upload_id = upload_id;
	if (tj->size < 0 || offset < (uint64_t)tj->size) {
		if (fetch(w, tj, &s, offset, r) != OUTCOME_DONE)
			goto out;
	}
	/* The last part, or an empty one for an empty file of unknown size. */
	if ((s.fill > 0 || (job_parts_count(tj->claim->job) == 0 && s.inflight == 0)) &&
	    flush_part(&s) != 0) {
		*r = s.fail;
		goto out;
	}
	if (collect_all(&s) != 0) {
		*r = s.fail;
		goto out;
	}
	complete_upload(w, tj, upload_id, r);
out:
	/* Parts still in flight after a failure: wait for them, and keep
	 * those that went up, in order (fewer parts to send again). */
	collect_all(&s);
	if (r->kind == OUTCOME_RETRY && (s3_upload_gone(w->s3) || s.upload_gone)) {
		/* Start over next time rather than fail on a dead upload id. */
		retry_clear_upload_state(tj->claim->job);
	}
	return r->kind;
}

/* Reads what the transfer needs from the job. GIVEUP when it lacks it. */
static enum outcome read_job(struct transfer_worker *w, struct claim *c, struct tjob *tj,
			     struct result *r)
{
	struct job *job = c->job;
	const char *key = job_get_str(job, "s3_key");
	const char *url = job_get_str(job, "download_url");
	const char *token = job_get_str(job, "download_token");
	int64_t ps = 0;

	tj->claim = c;
	tj->file_id = job_get_str(job, "recording_file_id");
	tj->uuid = job_get_str(job, "meeting_uuid");
	tj->ext = job_get_str(job, "file_extension");
	if (!key || !*key || !url || !*url || !tj->file_id || !*tj->file_id)
		return result_set(r, OUTCOME_GIVEUP,
				  "the job lacks s3_key, download_url or recording_file_id");
	if (strlen(key) > KEYTMPL_MAX_KEY)
		return result_set(r, OUTCOME_GIVEUP,
				  "the S3 key is %zu bytes, over S3's limit of %d: shorten "
				  "key_template, or edit s3_key in the job and requeue it",
				  strlen(key), KEYTMPL_MAX_KEY);
	snprintf(tj->key, sizeof tj->key, "%s", key);
	if (job_get_int(job, "file_size", &tj->size) != 0 || tj->size < 0)
		tj->size = -1;
	tj->url = strdup(url);
	tj->bearer = token && *token ? strdup(token) : NULL;
	if (!tj->url || (token && *token && !tj->bearer))
		return result_set(r, OUTCOME_RETRY, "out of memory");
	log_hold_secret(token); /* released when the transfer ends */
	tj->token_held = true;
	if (job_get_str(job, "upload_id") && job_get_int(job, "part_size", &ps) == 0 &&
	    ps >= (int64_t)(5 * MIB))
		tj->part_size = (uint64_t)ps; /* a resumed upload keeps its part size */
	else
		tj->part_size = choose_part_size(w->sh->cfg, tj->size);
	return OUTCOME_DONE;
}

/* Waits until no other transfer, in this process or another on the spool,
 * writes to the key: two jobs bound for one key must not both find it free.
 * *held is the lock to hand to spool_unlock_key. */
static enum outcome key_hold(struct transfer_worker *w, const struct tjob *tj, int *held,
			     struct result *r)
{
	char err[512];
	bool waited;

	enum spool_result got =
		spool_lock_key(w->sh->sp, tj->key, w->stop, held, &waited, err, sizeof err);

	if (got == SPOOL_STOPPED)
		return result_set(r, OUTCOME_RETRY, "stopped");
	if (got != SPOOL_OK)
		return result_set(r, OUTCOME_RETRY, "%s", err);
	if (waited)
		log_event(LOG_INFO, "transfer.key_waited", "job=%s", tj->claim->name);
	return OUTCOME_DONE;
}

enum outcome transfer_run(struct transfer_worker *w, struct claim *c, struct result *r)
{
	struct tjob tj = { 0 };
	int held_key = -1;
	bool done = false;

	atomic_store(&w->progress_bytes, 0);
	atomic_store(&w->progress_total, -1);
	if (read_job(w, c, &tj, r) != OUTCOME_DONE)
		goto out;
	atomic_store(&w->progress_total, tj.size);
	if (ensure_buffer(w, (size_t)tj.part_size,
			  tj.size < 0 || (uint64_t)tj.size > tj.part_size ||
				  job_get_str(c->job, "upload_id")) != 0) {
		result_set(r, OUTCOME_RETRY, "cannot allocate a buffer of %llu bytes",
			   (unsigned long long)tj.part_size);
		goto out;
	}
	if (key_hold(w, &tj, &held_key, r) != OUTCOME_DONE)
		goto out;
	/* Also with an upload open: a run that died after Complete left the
	 * whole object, and its upload id is gone. */
	if (check_destination(w, &tj, false, &done, r) != OUTCOME_DONE || done)
		goto out;
	if (tj.size >= 0 && (uint64_t)tj.size <= tj.part_size && !job_get_str(c->job, "upload_id"))
		single_put(w, &tj, r);
	else
		multipart(w, &tj, r);
out:
	spool_unlock_key(held_key);
	if (tj.token_held)
		log_release_secret(job_get_str(c->job, "download_token"));
	if (done)
		result_set(r, OUTCOME_DONE, "already in the bucket");
	free(tj.url);
	free(tj.sums);
	if (tj.bearer)
		explicit_bzero(tj.bearer, strlen(tj.bearer));
	free(tj.bearer);
	return r->kind;
}

void transfer_abandon(struct transfer_worker *w, struct claim *c)
{
	const char *key = job_get_str(c->job, "s3_key");
	const char *upload_id = job_get_str(c->job, "upload_id");
	struct result r;

	if (!key || !upload_id)
		return;
	if (s3_mpu_abort(w->s3, key, upload_id, &r) != OUTCOME_DONE) {
		log_event(LOG_WARNING, "transfer.abort_failed", "job=%s error=\"%s\"", c->name,
			  r.why);
		return;
	}
	retry_clear_upload_state(c->job);
}
