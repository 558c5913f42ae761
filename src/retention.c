/* Retention in Zoom. See retention.h. The job files are spool.c's (listed
 * with spool_list, read with spool_read, rewritten with spool_edit_done);
 * the HEAD is s3.c's; the DELETE goes through zoomapi.c (the app's token,
 * 429s waited out). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscreds.h"
#include "http.h"
#include "jobview.h"
#include "lockinit.h"
#include "log.h"
#include "pctenc.h"
#include "retention.h"
#include "zoomapi.h"
#include "zoomauth.h"

#define MIN_EVERY 10 /* seconds: --watch passes never come closer than this */

/* ---- the pure parts -------------------------------------------------------- */

enum retention_state retention_state_of(const struct config *cfg, const struct job *job,
					time_t now, time_t *due_at)
{
	time_t completed;

	if (due_at)
		*due_at = 0;
	if (cfg->zoom_after_upload == ZOOM_KEEP)
		return RETENTION_OFF;
	if (job_has(job, "zoom_removed_at"))
		return RETENTION_REMOVED;
	if (job_get_time(job, "completed_at", &completed) != 0)
		return RETENTION_NOT_OURS;
	if (due_at)
		*due_at = completed + cfg->zoom_after_upload_delay;
	if (completed + cfg->zoom_after_upload_delay > now)
		return RETENTION_WAITING;
	return job_has(job, "zoom_removal_error") ? RETENTION_ERROR : RETENTION_DUE;
}

bool retention_awaits(enum retention_state st)
{
	return st == RETENTION_WAITING || st == RETENTION_DUE || st == RETENTION_ERROR;
}

void retention_describe(const struct config *cfg, const struct job *job, time_t now,
			char *buf, size_t size)
{
	time_t due_at;
	char text[120], age[32];
	const char *removal = job_get_str(job, "zoom_removal");

	switch (retention_state_of(cfg, job, now, &due_at)) {
	case RETENTION_REMOVED:
		snprintf(buf, size, "%s", removal && *removal ? removal : "removed");
		break;
	case RETENTION_WAITING:
		snprintf(buf, size, "waiting %s", jobview_age((long long)(due_at - now), age,
							      sizeof age));
		break;
	case RETENTION_DUE:
		snprintf(buf, size, "due");
		break;
	case RETENTION_ERROR:
		jobview_shorten(job_get_str(job, "zoom_removal_error"), 60, text, sizeof text);
		snprintf(buf, size, "error: %s", text);
		break;
	default:
		snprintf(buf, size, "%s", "");
	}
}

int retention_verify(const struct config *cfg, const struct job *job,
		     const struct s3_object *obj, char *why, size_t whylen)
{
	const char *bucket = job_get_str(job, "s3_bucket");
	const char *file_id = job_get_str(job, "recording_file_id");
	int64_t size;

	if (!bucket || !cfg->s3_bucket || strcmp(bucket, cfg->s3_bucket) != 0) {
		snprintf(why, whylen, "the job's s3_bucket is not s3_bucket (%.100s): its upload "
				      "cannot be checked",
			 cfg->s3_bucket ? cfg->s3_bucket : "unset");
		return -1;
	}
	if (job_get_int(job, "file_size", &size) != 0 || !file_id) {
		snprintf(why, whylen, "the job has no file_size or recording_file_id to check the "
				      "upload against");
		return -1;
	}
	if (!obj->exists) {
		snprintf(why, whylen, "S3 no longer holds the object");
		return -1;
	}
	if (strcmp(obj->file_id, file_id) != 0) {
		snprintf(why, whylen, "the object's metadata names another Zoom file (%.80s)",
			 obj->file_id[0] ? obj->file_id : "none");
		return -1;
	}
	if ((int64_t)obj->size != size) {
		snprintf(why, whylen, "the object holds %llu bytes, not file_size %lld",
			 (unsigned long long)obj->size, (long long)size);
		return -1;
	}
	return 0;
}

int retention_delete_url(const char *api_url, const char *meeting_uuid, const char *file_id,
			 enum zoom_after_upload action, char *out, size_t size)
{
	char uuid[1024], id[1024];
	size_t len = strlen(api_url);
	int n;

	while (len && api_url[len - 1] == '/')
		len--;
	if (pctenc_zoom_uuid(meeting_uuid, uuid, sizeof uuid) < 0 ||
	    pctenc_encode(file_id, PCTENC_SIGV4, id, sizeof id) < 0)
		return -1;
	n = snprintf(out, size, "%.*s/meetings/%s/recordings/%s?action=%s", (int)len, api_url,
		     uuid, id, config_after_upload_name(action));
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* ---- the work -------------------------------------------------------------- */

struct retention {
	const struct config *cfg;
	struct spool *sp;
	struct metrics *metrics;
	stop_flag_t *stop;
	struct awscreds *creds;
	struct zoomauth *za;
	struct s3_client *s3;
	struct http_client *http;
	struct zoomapi api;
	pthread_t thread;
	bool running;
	pthread_mutex_t mu;  /* guards quit, for the --watch thread's waits */
	pthread_cond_t cv;
	bool quit;
};

/* What one removal did, for the pass's counts. */
enum removal_result { REMOVAL_NONE, REMOVAL_DONE, REMOVAL_GONE, REMOVAL_ERROR };

struct removal {
	struct retention *r;
	const char *name;
	time_t now;
	enum removal_result result;
};

static bool stopped(const struct retention *r)
{
	return r->stop && *r->stop;
}

static void record_error(struct removal *rm, struct job *job, const char *why)
{
	log_event(LOG_WARNING, "zoom.removal_failed", "job=%s error=\"%s\"", rm->name, why);
	job_set_str(job, "zoom_removal_error", why);
	rm->result = REMOVAL_ERROR;
	metrics_note_removal(rm->r->metrics, RM_ERROR);
}

static void record_removed(struct removal *rm, struct job *job, const char *how)
{
	const char *file_id = job_get_str(job, "recording_file_id");

	log_event(LOG_NOTICE, "zoom.removed", "job=%s file_id=%s removal=%s", rm->name,
		  file_id ? file_id : "", how);
	job_set_time(job, "zoom_removed_at", rm->now);
	job_set_str(job, "zoom_removal", how);
	job_remove(job, "zoom_removal_error");
	rm->result = strcmp(how, "gone") == 0 ? REMOVAL_GONE : REMOVAL_DONE;
	metrics_note_removal(rm->r->metrics, strcmp(how, "gone") == 0 ? RM_GONE
					     : strcmp(how, "delete") == 0 ? RM_DELETE
									  : RM_TRASH);
}

/* A hint for the refusals an operator fixes in the app's settings. */
static const char *scope_hint(long status, const char *answer)
{
	if (status == 401 || status == 403 || strstr(answer, "scope"))
		return ": does the app have the scope to delete recordings, "
		       ZOOMAPI_SCOPE_DELETE_FILE "?";
	return "";
}

/* The DELETE of the job's one file, and what its answer means. */
static void delete_file(struct removal *rm, struct job *job)
{
	struct retention *r = rm->r;
	const char *uuid = job_get_str(job, "meeting_uuid");
	const char *file_id = job_get_str(job, "recording_file_id");
	struct http_request req = { .what = "Zoom's recordings API", .method = HTTP_DELETE };
	struct http_response resp = { 0 };
	struct result res;
	char url[ZOOMAPI_URL_MAX], why[700], answer[500];

	if (!uuid || !*uuid || !file_id ||
	    retention_delete_url(r->cfg->zoom_api_url, uuid, file_id, r->cfg->zoom_after_upload,
				 url, sizeof url) < 0) {
		record_error(rm, job, "the job has no meeting_uuid, or ids too long for a URL");
		return;
	}
	req.url = url;
	if (zoomapi_call(&r->api, &req, &resp, &res) != OUTCOME_DONE) {
		if (!stopped(r)) {
			snprintf(why, sizeof why, "removing it from Zoom: %s", res.why);
			record_error(rm, job, why);
		}
	} else if (resp.status >= 200 && resp.status < 300) {
		record_removed(rm, job, config_after_upload_name(r->cfg->zoom_after_upload));
	} else if (resp.status == 404) {
		record_removed(rm, job, "gone");
	} else {
		zoomapi_describe(&resp, "Zoom's recordings API", answer, sizeof answer);
		snprintf(why, sizeof why, "removing it from Zoom: %s%s", answer,
			 scope_hint(resp.status, answer));
		record_error(rm, job, why);
	}
	http_response_free(&resp);
}

/* spool_edit_done's edit: the job, locked, is checked again (another pass
 * may have removed it meanwhile), its upload verified, its file removed. */
static bool remove_locked(struct job *job, void *ctx)
{
	struct removal *rm = ctx;
	struct retention *r = rm->r;
	enum retention_state st = retention_state_of(r->cfg, job, rm->now, NULL);
	const char *key = job_get_str(job, "s3_key");
	struct s3_object obj;
	struct result res;
	char why[700];

	if (st != RETENTION_DUE && st != RETENTION_ERROR)
		return false;
	memset(&obj, 0, sizeof obj);
	if (!key || !*key) {
		record_error(rm, job, "the job has no s3_key: its upload cannot be checked, nothing "
				      "removed");
		return true;
	}
	if (s3_head(r->s3, key, &obj, &res) != OUTCOME_DONE) {
		if (stopped(r))
			return false;
		snprintf(why, sizeof why, "checking the upload before removing it from Zoom: %s",
			 res.why);
		record_error(rm, job, why);
		return true;
	}
	if (retention_verify(r->cfg, job, &obj, why, sizeof why) < 0) {
		char line[760];

		snprintf(line, sizeof line, "the upload is not verified, nothing removed: %s", why);
		record_error(rm, job, line);
		return true;
	}
	delete_file(rm, job);
	return rm->result != REMOVAL_NONE;
}

/* Tries the job name when its unlocked read says it is due. -1 when the
 * spool could not record the result. */
static int consider(struct retention *r, const char *name, time_t now,
		    struct retention_counts *counts, size_t *tried)
{
	struct removal rm = { .r = r, .name = name, .now = now };
	struct job *job = NULL;
	char err[512];
	enum retention_state st;
	enum spool_result rc;

	if (spool_read(r->sp, SPOOL_DONE, name, &job, NULL, err, sizeof err) != SPOOL_OK)
		return 0; /* gone meanwhile, or unreadable: not ours to judge */
	st = retention_state_of(r->cfg, job, now, NULL);
	job_free(job);
	if (st != RETENTION_DUE && st != RETENTION_ERROR)
		return 0;
	(*tried)++;
	rc = spool_edit_done(r->sp, name, remove_locked, &rm, err, sizeof err);
	if (rc == SPOOL_ERROR) {
		log_event(LOG_ERR, "spool.update_failed", "job=%s error=\"%s\"", name, err);
		return -1;
	}
	if (rc != SPOOL_OK && rm.result == REMOVAL_NONE) /* held, gone or unchanged */
		counts->busy++;
	counts->removed += rm.result == REMOVAL_DONE;
	counts->gone += rm.result == REMOVAL_GONE;
	counts->errors += rm.result == REMOVAL_ERROR;
	return 0;
}

int retention_pass(struct retention *r, time_t now, size_t max, struct retention_counts *counts)
{
	struct retention_counts local = { 0 };
	char **names = NULL;
	size_t n = 0, tried = 0;
	int rc = 0;

	if (!counts)
		counts = &local;
	memset(counts, 0, sizeof *counts);
	if (r->cfg->zoom_after_upload == ZOOM_KEEP)
		return 0;
	if (spool_list(r->sp, SPOOL_DONE, &names, &n) != SPOOL_OK) {
		log_event(LOG_ERR, "spool.scan_failed", "dir=done");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && tried < max && !stopped(r))
			rc = consider(r, names[i], now, counts, &tried);
		free(names[i]);
	}
	free(names);
	if (tried)
		log_event(LOG_INFO, "zoom.removal_pass",
			  "tried=%zu removed=%zu gone=%zu errors=%zu busy=%zu", tried,
			  counts->removed, counts->gone, counts->errors, counts->busy);
	return rc;
}

struct retention *retention_new(const struct config *cfg, struct spool *sp,
				struct metrics *metrics, stop_flag_t *stop, char *err,
				size_t errlen)
{
	struct retention *r = calloc(1, sizeof *r);

	if (!r || lock_init(&r->mu, &r->cv) != 0) {
		snprintf(err, errlen, "out of memory");
		free(r);
		return NULL;
	}
	r->cfg = cfg;
	r->sp = sp;
	r->metrics = metrics;
	r->stop = stop;
	if (cfg->zoom_after_upload == ZOOM_KEEP)
		return r;
	r->creds = awscreds_new(cfg);
	r->za = zoomauth_new(cfg, sp);
	r->http = http_client_new(stop);
	if (!r->creds || !r->za || !r->http) {
		snprintf(err, errlen, "out of memory");
		retention_free(r);
		return NULL;
	}
	r->s3 = s3_client_new(cfg, r->creds, stop, err, errlen);
	if (!r->s3) {
		retention_free(r);
		return NULL;
	}
	r->api = (struct zoomapi){ .za = r->za, .client = r->http, .stop = stop };
	return r;
}

void retention_free(struct retention *r)
{
	if (!r)
		return;
	retention_stop(r);
	s3_client_free(r->s3);
	http_client_free(r->http);
	zoomauth_free(r->za);
	awscreds_free(r->creds);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* Seconds between --watch passes: often enough to honour a short delay,
 * never more often than MIN_EVERY. */
static long pass_every(const struct config *cfg)
{
	long every = cfg->zoom_after_upload_delay / 10;

	return every < MIN_EVERY ? MIN_EVERY : every > RETENTION_EVERY ? RETENTION_EVERY : every;
}

static void *watch_main(void *arg)
{
	struct retention *r = arg;
	long every = pass_every(r->cfg);

	pthread_mutex_lock(&r->mu);
	while (!r->quit && !stopped(r)) {
		struct timespec until;

		pthread_mutex_unlock(&r->mu);
		retention_pass(r, time(NULL), RETENTION_WATCH_MAX, NULL);
		pthread_mutex_lock(&r->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += every;
		/* Woken by retention_stop; a signal sets *stop, seen within a second. */
		while (!r->quit && !stopped(r)) {
			struct timespec step;

			clock_gettime(CLOCK_REALTIME, &step);
			if (step.tv_sec >= until.tv_sec)
				break;
			step.tv_sec += 1;
			pthread_cond_timedwait(&r->cv, &r->mu, &step);
		}
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int retention_start(struct retention *r)
{
	if (r->cfg->zoom_after_upload == ZOOM_KEEP || r->running)
		return 0;
	if (pthread_create(&r->thread, NULL, watch_main, r) != 0)
		return -1;
	r->running = true;
	return 0;
}

void retention_stop(struct retention *r)
{
	if (!r->running)
		return;
	pthread_mutex_lock(&r->mu);
	r->quit = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	r->running = false;
}
