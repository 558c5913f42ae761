/* The responder's request logic as a pure function. The order of the checks
 * is the contract's: method, size, signature (before the body is even
 * parsed, and for endpoint.url_validation too), JSON, event, topic, files.
 * Nothing here echoes the secret, the signature, a token or a URL into a
 * note or an answer. */
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "keytmpl.h"
#include "webhook.h"
#include "zoomjson.h"

#define DEFAULT_KEY_TEMPLATE "{topic}/{recording_start:%Y-%m-%d_%H%M%S}_{recording_type}.{ext}"
#define MAX_PLAIN_TOKEN 128 /* bytes */
#define MAX_TS_DIGITS 18    /* fits an int64 */
#define NOTE_ID_MAX 64      /* bytes of an id shown in a note */

static void set_reply(struct webhook_reply *reply, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_reply(struct webhook_reply *reply, int status, const char *fmt, ...)
{
	va_list ap;

	reply->status = status;
	va_start(ap, fmt);
	vsnprintf(reply->note, sizeof reply->note, fmt, ap);
	va_end(ap);
}

/* A value from the request, fit for a note: printable ASCII, cut short. */
static const char *shown(const char *value, char *buf, size_t size)
{
	size_t o = 0;

	for (const char *s = value ? value : ""; *s && o + 1 < size; s++)
		buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	buf[o] = '\0';
	return buf;
}

static void add_note(struct webhook_reply *reply, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void add_note(struct webhook_reply *reply, const char *fmt, ...)
{
	char line[256], **grown;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* A note is only a log line: without memory for it, the file is still
	 * skipped and the summary note still counts it. */
	grown = realloc(reply->notes, (reply->n_notes + 1) * sizeof *grown);
	if (!grown)
		return;
	reply->notes = grown;
	reply->notes[reply->n_notes] = strdup(line);
	if (reply->notes[reply->n_notes])
		reply->n_notes++;
}

/* Records a file the selection took but cannot spool. -1 when out of memory. */
static int add_skip(struct webhook_reply *reply, const char *file_id, const char *reason)
{
	struct webhook_skip *grown = realloc(reply->skipped,
					     (reply->n_skipped + 1) * sizeof *grown);
	struct webhook_skip *skip;

	if (!grown)
		return -1;
	reply->skipped = grown;
	skip = &reply->skipped[reply->n_skipped];
	skip->file_id = file_id ? strdup(file_id) : NULL;
	skip->reason = strdup(reason);
	if ((file_id && !skip->file_id) || !skip->reason) {
		free(skip->file_id);
		free(skip->reason);
		return -1;
	}
	reply->n_skipped++;
	return 0;
}

/* ---- signature ---------------------------------------------------------- */

/* 0 when the timestamp is all digits and within webhook_max_skew of now;
 * else -1 with the reason in reply. */
static int check_timestamp(const struct config *cfg, const struct webhook_request *req,
			   struct webhook_reply *reply)
{
	const char *ts = req->timestamp;
	size_t n = strlen(ts);
	long long when = 0, now = (long long)req->now, skew;

	if (n == 0 || n > MAX_TS_DIGITS || strspn(ts, "0123456789") != n) {
		set_reply(reply, 401, "refused: x-zm-request-timestamp is not a number of seconds");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		when = when * 10 + (ts[i] - '0');
	skew = when > now ? when - now : now - when;
	if (skew > cfg->webhook_max_skew) {
		set_reply(reply, 401,
			  "refused: x-zm-request-timestamp is %lld s %s (webhook_max_skew %ld)",
			  skew, when > now ? "ahead" : "old", cfg->webhook_max_skew);
		return -1;
	}
	return 0;
}

/* True when signature is "v0=" + hex(HMAC-SHA256(secret, message)),
 * compared in constant time. */
static bool signed_with(const char *secret, const char *message, size_t msg_len,
			const char *signature)
{
	unsigned char mac[SHA256_LEN];
	char expected[3 + SHA256_HEX_LEN + 1];

	if (!secret || !*secret)
		return false;
	crypto_hmac_sha256(secret, strlen(secret), message, msg_len, mac);
	memcpy(expected, "v0=", 3);
	crypto_hex(mac, sizeof mac, expected + 3);
	return crypto_str_equal(signature, expected);
}

/* x-zm-signature = "v0=" + hex(HMAC-SHA256(secret, "v0:" + ts + ":" + body)),
 * where secret is webhook_secret_token or, during a change of the Secret
 * Token, webhook_secret_token_previous. 0 when good (reply->signed_with_previous
 * says which); else -1 with the reason in reply (503 when out of memory).
 * The legacy `authorization` verification token is never looked at. */
static int check_signature(const struct config *cfg, const struct webhook_request *req,
			   struct webhook_reply *reply)
{
	char *message = NULL;
	size_t ts_len, msg_len;
	int rc = -1;

	if (!cfg->webhook_secret_token || !*cfg->webhook_secret_token) {
		set_reply(reply, 401, "refused: no webhook_secret_token configured");
		goto out;
	}
	if (!req->signature || !req->timestamp) {
		set_reply(reply, 401, "refused: x-zm-signature or x-zm-request-timestamp missing");
		goto out;
	}
	if (check_timestamp(cfg, req, reply) < 0)
		goto out;
	ts_len = strlen(req->timestamp);
	msg_len = 3 + ts_len + 1 + req->body_len;
	message = malloc(msg_len);
	if (!message) {
		set_reply(reply, 503, "out of memory checking the signature");
		goto out;
	}
	memcpy(message, "v0:", 3);
	memcpy(message + 3, req->timestamp, ts_len);
	message[3 + ts_len] = ':';
	if (req->body_len)
		memcpy(message + 4 + ts_len, req->body, req->body_len);
	if (!signed_with(cfg->webhook_secret_token, message, msg_len, req->signature)) {
		if (!signed_with(cfg->webhook_secret_token_previous, message, msg_len,
				 req->signature)) {
			set_reply(reply, 401, "refused: x-zm-signature does not match");
			goto out;
		}
		reply->signed_with_previous = true;
	}
	rc = 0;
out:
	free(message);
	return rc;
}

/* ---- endpoint.url_validation -------------------------------------------- */

/* A plainToken holding ':' could be a signature's message ("v0:ts:body"):
 * refusing it keeps this answer from being a signing oracle. The answer is
 * made with webhook_secret_token alone, also when the request was signed
 * with the previous token: Zoom validates the URL against the token its app
 * holds now, and that is the current one. */
static void answer_validation(const struct config *cfg, const struct zevent *ev,
			      struct webhook_reply *reply)
{
	const char *plain = ev->plain_token;
	const char *secret = cfg->webhook_secret_token;
	size_t n = plain ? strlen(plain) : 0;
	unsigned char mac[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];

	if (n == 0 || n > MAX_PLAIN_TOKEN || strchr(plain, ':')) {
		set_reply(reply, 400,
			  "refused: url_validation plainToken missing, over %d bytes or holding ':'",
			  MAX_PLAIN_TOKEN);
		return;
	}
	crypto_hmac_sha256(secret, strlen(secret), plain, n, mac);
	crypto_hex(mac, sizeof mac, hex);
	reply->body = zoomjson_url_validation_reply(plain, hex);
	if (!reply->body) {
		set_reply(reply, 503, "out of memory answering url_validation");
		return;
	}
	set_reply(reply, 200, "answered endpoint.url_validation");
}

/* ---- recording events --------------------------------------------------- */

/* What one recording event builds up while its files are considered. */
struct spooling {
	const struct config *cfg;
	time_t now;            /* each job's received_at */
	const struct zevent *ev;
	char *groups[10];      /* topic_regex groups 1..9, malloc'd or NULL */
	char meeting_id[24];   /* decimal text of the numeric id, or "" */
	char **keys;           /* s3_key of each job so far, parallel to reply->jobs */
	bool oom;
};

static bool type_selected(const struct config *cfg, const char *file_type)
{
	if (!file_type)
		return false;
	for (size_t i = 0; i < cfg->n_file_types; i++)
		if (cfg->file_types[i] && strcasecmp(cfg->file_types[i], file_type) == 0)
			return true;
	return false;
}

/* Shorter than min_duration. A file whose times are missing, unreadable or
 * reversed is kept: a missing field never costs a recording. */
static bool too_short(const struct config *cfg, const struct zfile *f)
{
	time_t start, end;

	if (cfg->min_duration <= 0)
		return false;
	if (job_parse_time(f->recording_start, &start) < 0 ||
	    job_parse_time(f->recording_end, &end) < 0 || end < start)
		return false;
	return end - start < cfg->min_duration;
}

/* The fault that makes a file unfit to spool, or NULL. */
static const char *fault_of(const struct zfile *f, char *buf, size_t size)
{
	char status[40];

	if (!f->id || !*f->id)
		return "no id";
	if (!f->download_url || !*f->download_url)
		return "no download_url";
	if (f->status && *f->status && strcasecmp(f->status, "completed") != 0) {
		snprintf(buf, size, "status \"%s\"", shown(f->status, status, sizeof status));
		return buf;
	}
	return NULL;
}

static bool key_taken(const struct spooling *sp, size_t n_jobs, const char *key)
{
	for (size_t i = 0; i < n_jobs; i++)
		if (sp->keys[i] && strcmp(sp->keys[i], key) == 0)
			return true;
	return false;
}

static bool id_taken(const struct webhook_reply *reply, const char *id)
{
	for (size_t i = 0; i < reply->n_jobs; i++) {
		const char *other = job_get_str(reply->jobs[i], "recording_file_id");

		if (other && strcmp(other, id) == 0)
			return true;
	}
	return false;
}

static void set_str_if(struct job *job, const char *field, const char *value)
{
	if (value)
		job_set_str(job, field, value);
}

/* Times go into a job as RFC 3339 UTC; one that does not parse is absent. */
static void set_time_if(struct job *job, const char *field, const char *value)
{
	time_t t;

	if (job_parse_time(value, &t) == 0)
		job_set_time(job, field, t);
}

/* The key of f, with the collision suffixes of the contract. Writes notes
 * for keys the spooler will refuse. key has KEYTMPL_BUF bytes. */
static void make_key(struct spooling *sp, struct webhook_reply *reply, const struct zfile *f,
		     char *key)
{
	const struct zevent *ev = sp->ev;
	const char *tmpl = sp->cfg->key_template ? sp->cfg->key_template : DEFAULT_KEY_TEMPLATE;
	struct keyvars v;
	char ext[64], err[160], id[NOTE_ID_MAX + 1];
	size_t i;
	int rc;

	memset(&v, 0, sizeof v);
	v.topic = ev->topic;
	for (i = 1; i <= 9; i++)
		v.groups[i] = sp->groups[i];
	v.meeting_id = ev->has_meeting_id ? sp->meeting_id : NULL;
	v.uuid = ev->uuid;
	v.host_id = ev->host_id;
	v.host_email = ev->host_email;
	v.account_id = ev->account_id;
	v.file_id = f->id;
	v.file_type = f->file_type;
	v.recording_type = f->recording_type;
	if (f->file_extension) {
		for (i = 0; f->file_extension[i] && i + 1 < sizeof ext; i++)
			ext[i] = (f->file_extension[i] >= 'A' && f->file_extension[i] <= 'Z')
					 ? (char)(f->file_extension[i] - 'A' + 'a')
					 : f->file_extension[i];
		ext[i] = '\0';
		v.ext = ext;
	}
	v.has_start_time = job_parse_time(ev->start_time, &v.start_time) == 0;
	v.has_recording_start = job_parse_time(f->recording_start, &v.recording_start) == 0;
	v.has_recording_end = job_parse_time(f->recording_end, &v.recording_end) == 0;

	rc = keytmpl_expand(tmpl, &v, key, KEYTMPL_BUF, err, sizeof err);
	if (rc < 0) {
		/* Spooled all the same: the spooler fails it where people look. */
		key[0] = '\0';
		add_note(reply, "file %s: %s", shown(f->id, id, sizeof id), err);
		return;
	}
	if (key_taken(sp, reply->n_jobs, key) && f->recording_type && *f->recording_type &&
	    keytmpl_add_suffix(key, KEYTMPL_BUF, f->recording_type) < 0)
		add_note(reply, "file %s: no room for a -recording_type suffix",
			 shown(f->id, id, sizeof id));
	if (key_taken(sp, reply->n_jobs, key) && keytmpl_add_suffix(key, KEYTMPL_BUF, f->id) < 0)
		add_note(reply, "file %s: no room for a -file_id suffix", shown(f->id, id, sizeof id));
	if (strlen(key) > KEYTMPL_MAX_KEY)
		add_note(reply, "file %s: the S3 key is over %d bytes", shown(f->id, id, sizeof id),
			 KEYTMPL_MAX_KEY);
}

/* The job of one file: the contract's fields, in its order, then extras.
 * A value the event lacks stays absent. */
static struct job *make_job(const struct spooling *sp, const struct zfile *f, const char *key)
{
	const struct zevent *ev = sp->ev;
	struct job *job = job_new();

	if (!job)
		return NULL;
	job_set_str(job, "recording_file_id", f->id);
	set_str_if(job, "meeting_uuid", ev->uuid ? ev->uuid : f->meeting_uuid);
	if (ev->has_meeting_id)
		job_set_int(job, "meeting_id", ev->meeting_id);
	set_str_if(job, "topic", ev->topic);
	set_str_if(job, "host_email", ev->host_email);
	set_time_if(job, "start_time", ev->start_time);
	set_time_if(job, "recording_start", f->recording_start);
	set_time_if(job, "recording_end", f->recording_end);
	set_str_if(job, "file_type", f->file_type);
	set_str_if(job, "file_extension", f->file_extension);
	if (f->has_file_size)
		job_set_int(job, "file_size", f->file_size);
	set_str_if(job, "recording_type", f->recording_type);
	job_set_str(job, "download_url", f->download_url);
	job_set_str(job, "s3_key", key);
	job_set_time(job, "received_at", sp->now);
	job_set_int(job, "attempts", 0);
	set_str_if(job, "download_token", ev->download_token);
	set_str_if(job, "account_id", ev->account_id);
	set_str_if(job, "host_id", ev->host_id);
	set_str_if(job, "event", ev->event);
	return job;
}

static void consider_file(struct spooling *sp, struct webhook_reply *reply, size_t i)
{
	const struct zfile *f = &sp->ev->files[i];
	char why[64], id[NOTE_ID_MAX + 1], key[KEYTMPL_BUF];
	const char *fault;
	struct job *job;

	if (!type_selected(sp->cfg, f->file_type)) {
		reply->n_other_type++;
		return;
	}
	fault = fault_of(f, why, sizeof why);
	if (!fault && id_taken(reply, f->id))
		fault = "listed twice";
	if (fault) {
		reply->n_faulty++;
		add_note(reply, "skipped recording_files[%zu] (id %s): %s", i,
			 f->id ? shown(f->id, id, sizeof id) : "none", fault);
		if (add_skip(reply, f->id, fault) < 0)
			sp->oom = true;
		return;
	}
	if (too_short(sp->cfg, f)) {
		reply->n_short++;
		return;
	}
	make_key(sp, reply, f, key);
	job = make_job(sp, f, key);
	sp->keys[reply->n_jobs] = strdup(key);
	if (!job || !sp->keys[reply->n_jobs]) {
		job_free(job);
		sp->oom = true;
		return;
	}
	reply->jobs[reply->n_jobs++] = job;
}

/* The topic_regex gate and its groups. false: the topic does not match. */
static bool match_topic(struct spooling *sp)
{
	const struct config *cfg = sp->cfg;
	regmatch_t m[10];
	const char *topic = sp->ev->topic ? sp->ev->topic : "";

	if (!cfg->topic_regex)
		return true;
	for (size_t i = 0; i < 10; i++)
		m[i].rm_so = m[i].rm_eo = -1;
	if (regexec(&cfg->topic_re, topic, 10, m, 0) != 0)
		return false;
	for (size_t i = 1; i < 10; i++) {
		if (m[i].rm_so < 0 || m[i].rm_eo < m[i].rm_so)
			continue;
		sp->groups[i] = strndup(topic + m[i].rm_so, (size_t)(m[i].rm_eo - m[i].rm_so));
		if (!sp->groups[i])
			sp->oom = true;
	}
	return true;
}

/* webhook_select on a reply that may already say something (the
 * signature's findings). */
static void select_files(const struct config *cfg, const struct zevent *ev, time_t now,
			 struct webhook_reply *reply)
{
	struct spooling sp = { .cfg = cfg, .now = now, .ev = ev };
	size_t i;

	reply->n_files = ev->n_files;
	if (!match_topic(&sp)) {
		reply->topic_ignored = true;
		set_reply(reply, 200, "ignored: topic does not match topic_regex");
		goto out;
	}
	if (ev->has_meeting_id)
		snprintf(sp.meeting_id, sizeof sp.meeting_id, "%lld", (long long)ev->meeting_id);
	if (ev->n_files) {
		reply->jobs = calloc(ev->n_files, sizeof *reply->jobs);
		sp.keys = calloc(ev->n_files, sizeof *sp.keys);
		if (!reply->jobs || !sp.keys)
			sp.oom = true;
	}
	for (i = 0; i < ev->n_files && !sp.oom; i++)
		consider_file(&sp, reply, i);
	if (sp.oom) {
		set_reply(reply, 503, "out of memory building the jobs");
		goto out;
	}
	set_reply(reply, 200,
		  "%s %zu of %zu files (%zu of another file_type, %zu under min_duration, %zu faulty)",
		  reply->n_jobs ? "spooled" : "no eligible file: spooled", reply->n_jobs,
		  ev->n_files, reply->n_other_type, reply->n_short, reply->n_faulty);
out:
	for (i = 0; i < 10; i++)
		free(sp.groups[i]);
	for (i = 0; sp.keys && i < ev->n_files; i++)
		free(sp.keys[i]);
	free(sp.keys);
	if (reply->status != 200) {
		/* Nothing half-built leaves: the caller spools all of an event or none. */
		for (i = 0; i < reply->n_jobs; i++)
			job_free(reply->jobs[i]);
		reply->n_jobs = 0;
	}
}

void webhook_select(const struct config *cfg, const struct zevent *meeting, time_t now,
		    struct webhook_reply *reply)
{
	memset(reply, 0, sizeof *reply);
	select_files(cfg, meeting, now, reply);
}

/* The operator rotating the Secret Token watches for this in the log: once
 * no request says it, webhook_secret_token_previous can go. */
static void note_previous_secret(struct webhook_reply *reply)
{
	size_t used = strlen(reply->note);
	static const char tail[] = " (signed with webhook_secret_token_previous)";

	if (used + sizeof tail <= sizeof reply->note)
		memcpy(reply->note + used, tail, sizeof tail);
}

static bool is_recording_event(const char *event)
{
	return event && (strcmp(event, "recording.completed") == 0 ||
			 strcmp(event, "recording.transcript_completed") == 0);
}

void webhook_handle(const struct config *cfg, const struct webhook_request *req,
		    struct webhook_reply *reply)
{
	struct zevent ev;
	char err[160], name[64];
	bool parsed = false;

	memset(reply, 0, sizeof *reply);
	if (!req->method || strcmp(req->method, "POST") != 0) {
		set_reply(reply, 405, "refused: method is not POST");
		goto out;
	}
	if (req->body_len > cfg->max_body_bytes) {
		set_reply(reply, 413, "refused: body of %zu bytes is over max_body_bytes",
			  req->body_len);
		goto out;
	}
	if (check_signature(cfg, req, reply) < 0)
		goto out;
	if (zoomjson_parse_event(req->body ? req->body : "", req->body_len, &ev, err,
				 sizeof err) < 0) {
		set_reply(reply, strcmp(err, "out of memory") == 0 ? 503 : 400, "refused: %s", err);
		goto out;
	}
	parsed = true;
	if (ev.event && strcmp(ev.event, "endpoint.url_validation") == 0) {
		answer_validation(cfg, &ev, reply);
		goto out;
	}
	if (!is_recording_event(ev.event)) {
		set_reply(reply, 200, "ignored: event %s", ev.event ? shown(ev.event, name, sizeof name)
								    : "(none)");
		goto out;
	}
	if (!ev.has_object || !ev.files_is_array) {
		set_reply(reply, 400, "refused: %s",
			  !ev.has_object ? "payload.object is not an object"
					 : "payload.object.recording_files is not an array");
		goto out;
	}
	if (ev.n_files > WEBHOOK_MAX_FILES) {
		set_reply(reply, 400, "refused: %zu recording_files, over the limit of %d",
			  ev.n_files, WEBHOOK_MAX_FILES);
		goto out;
	}
	select_files(cfg, &ev, req->now, reply);
out:
	if (reply->signed_with_previous)
		note_previous_secret(reply);
	if (parsed)
		zoomjson_free_event(&ev);
}

void webhook_reply_free(struct webhook_reply *reply)
{
	for (size_t i = 0; i < reply->n_jobs; i++)
		job_free(reply->jobs[i]);
	free(reply->jobs);
	for (size_t i = 0; i < reply->n_notes; i++)
		free(reply->notes[i]);
	free(reply->notes);
	for (size_t i = 0; i < reply->n_skipped; i++) {
		free(reply->skipped[i].file_id);
		free(reply->skipped[i].reason);
	}
	free(reply->skipped);
	free(reply->body);
	reply->jobs = NULL;
	reply->notes = NULL;
	reply->skipped = NULL;
	reply->body = NULL;
	reply->n_jobs = reply->n_notes = reply->n_skipped = 0;
}
