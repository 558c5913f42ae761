/* zoom2s3ctl backfill. See backfill.h. The selection, the jobs and their
 * keys are webhook_select's; the spool writes are spool_enqueue's; the
 * Zoom requests are zoomapi.c's. This file only walks the listings. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backfill.h"
#include "http.h"
#include "jobview.h"
#include "log.h"
#include "pctenc.h"
#include "webhook.h"
#include "zoomapi.h"
#include "zoomauth.h"
#include "zoomjson.h"

/* ---- arguments ------------------------------------------------------------- */

int backfill_parse_day(const char *text, time_t *day)
{
	char stamp[32];

	if (!text || strlen(text) != 10)
		return -1;
	snprintf(stamp, sizeof stamp, "%sT00:00:00Z", text);
	return job_parse_time(stamp, day);
}

void backfill_format_day(time_t day, char *buf, size_t size)
{
	char stamp[32];

	if (job_format_time(day, stamp, sizeof stamp) < 0)
		snprintf(stamp, sizeof stamp, "(bad date)");
	snprintf(buf, size, "%.10s", stamp);
}

time_t backfill_window_end(time_t from, time_t to)
{
	time_t end = from + (BACKFILL_WINDOW_DAYS - 1) * BACKFILL_DAY;

	return end < to ? end : to;
}

size_t backfill_count_windows(time_t from, time_t to)
{
	size_t n = 0;

	for (time_t day = from; day <= to; day = backfill_window_end(day, to) + BACKFILL_DAY)
		n++;
	return n;
}

static time_t day_of(time_t t)
{
	return t - ((t % BACKFILL_DAY) + BACKFILL_DAY) % BACKFILL_DAY;
}

static int arg_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int arg_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The value of option argv[*i], moving *i past it; NULL when missing. */
static const char *value_of(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

int backfill_parse_args(int argc, char **argv, time_t now, struct backfill_opts *opts,
			char *err, size_t errlen)
{
	const char *from = NULL, *to = NULL, *since = NULL, *v;
	time_t today = day_of(now);
	long seconds;

	memset(opts, 0, sizeof *opts);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--dry-run") == 0) {
			opts->dry_run = true;
		} else if (strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0 ||
			   strcmp(a, "--since") == 0 || strcmp(a, "--user") == 0) {
			if (!(v = value_of(argc, argv, &i)) || !*v)
				return arg_error(err, errlen, "%s needs a value", a);
			if (strcmp(a, "--user") == 0) {
				if (opts->n_users == BACKFILL_MAX_USERS)
					return arg_error(err, errlen, "more than %d --user",
							 BACKFILL_MAX_USERS);
				opts->users[opts->n_users++] = v;
			} else if ((strcmp(a, "--from") == 0 && from) ||
				   (strcmp(a, "--to") == 0 && to) ||
				   (strcmp(a, "--since") == 0 && since)) {
				return arg_error(err, errlen, "%s given twice", a);
			} else {
				*(strcmp(a, "--from") == 0 ? &from : strcmp(a, "--to") == 0 ? &to
											  : &since) = v;
			}
		} else {
			return arg_error(err, errlen, "unknown argument '%.60s'", a);
		}
	}
	if (since && (from || to))
		return arg_error(err, errlen, "--since goes without --from and --to");
	if (!since && !from)
		return arg_error(err, errlen, "give --from DATE [--to DATE] or --since DURATION");
	if (since) {
		if (jobview_parse_duration(since, &seconds) < 0)
			return arg_error(err, errlen,
					 "--since takes a duration such as 36h or 2d, not '%.40s'",
					 since);
		opts->from = day_of(now - seconds);
		opts->to = today;
		return 0;
	}
	if (backfill_parse_day(from, &opts->from) < 0)
		return arg_error(err, errlen, "--from takes a date YYYY-MM-DD, not '%.40s'", from);
	opts->to = today;
	if (to && backfill_parse_day(to, &opts->to) < 0)
		return arg_error(err, errlen, "--to takes a date YYYY-MM-DD, not '%.40s'", to);
	if (opts->to > today)
		return arg_error(err, errlen, "--to %s is in the future", to);
	if (opts->from > opts->to)
		return arg_error(err, errlen, "--from %s is after --to", from);
	return 0;
}

/* ---- the run --------------------------------------------------------------- */

/* What a run has done so far. */
struct backfill {
	const struct config *cfg;
	const struct backfill_opts *opts;
	struct spool *sp;
	struct zoomapi api;
	FILE *out, *errout;
	time_t now;
	stop_flag_t *stop;
	size_t users, listings, pages, meetings, spooled, exists, skipped;
	size_t topic_ignored, other_type, too_short, failed_listings;
	bool spool_broken;
};

static void listing_failed(struct backfill *bf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void listing_failed(struct backfill *bf, const char *fmt, ...)
{
	char line[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log_scrub(line, sizeof line);
	fprintf(bf->errout, "zoom2s3ctl: backfill: %s\n", line);
	bf->failed_listings++;
}

/* GETs url and keeps the answer when it is a 200; else says why in res. */
static enum outcome get_page(struct backfill *bf, const char *what, const char *url,
			     struct http_response *resp, struct result *res)
{
	struct http_request req = { .what = what, .method = HTTP_GET, .url = url };
	enum outcome kind = zoomapi_call(&bf->api, &req, resp, res);
	char why[400];

	if (kind != OUTCOME_DONE)
		return kind;
	if (resp->status == 200)
		return OUTCOME_DONE;
	zoomapi_describe(resp, what, why, sizeof why);
	return result_set(res, outcome_from_http(resp->status), "%s", why);
}

/* url + "&next_page_token=" + the encoded token, or url itself. */
static int page_url(char *out, size_t size, const char *url, const char *token)
{
	char encoded[1024];
	int n;

	if (!token)
		n = snprintf(out, size, "%s", url);
	else if (pctenc_encode(token, PCTENC_SIGV4, encoded, sizeof encoded) < 0)
		return -1;
	else
		n = snprintf(out, size, "%s&next_page_token=%s", url, encoded);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static const char *api_base(const struct config *cfg, int *len)
{
	size_t n = strlen(cfg->zoom_api_url);

	while (n && cfg->zoom_api_url[n - 1] == '/')
		n--;
	*len = (int)n;
	return cfg->zoom_api_url;
}

/* ---- one meeting ----------------------------------------------------------- */

static void print_skip(struct backfill *bf, const struct zevent *m, const struct webhook_skip *s)
{
	char name[SPOOL_NAME_MAX];

	bf->skipped++;
	if (s->file_id && spool_job_name(s->file_id, name, sizeof name) == SPOOL_OK)
		fprintf(bf->out, "skipped %s: %s\n", name, s->reason);
	else
		fprintf(bf->out, "skipped a file of meeting %.80s: %s\n", m->uuid ? m->uuid : "?",
			s->reason);
}

/* Spools one job unless its name is already in a state. false when the
 * spool cannot be written. */
static bool spool_one(struct backfill *bf, struct job *job)
{
	const char *id = job_get_str(job, "recording_file_id");
	char name[SPOOL_NAME_MAX], err[512];
	size_t placed = 0;
	enum spool_state state;

	if (!id || spool_job_name(id, name, sizeof name) != SPOOL_OK)
		return true; /* webhook_select spools no job without an id */
	state = spool_find(bf->sp, name);
	if (state == SPOOL_NOWHERE && !bf->opts->dry_run) {
		if (spool_enqueue(bf->sp, &job, 1, &placed, err, sizeof err) != SPOOL_OK) {
			fprintf(bf->errout, "zoom2s3ctl: backfill: cannot spool %s: %s\n", name, err);
			bf->spool_broken = true;
			return false;
		}
		if (!placed) /* it arrived meanwhile: the responder or another run */
			state = spool_find(bf->sp, name);
	}
	if (state == SPOOL_NOWHERE) {
		bf->spooled++;
		fprintf(bf->out, "spooled %s\n", name);
	} else {
		bf->exists++;
		fprintf(bf->out, "exists %s %s\n", spool_state_dir(state), name);
	}
	return true;
}

/* One meeting of a listing, through the responder's own selection. */
static bool take_meeting(struct backfill *bf, struct zevent *m, const char *user_email)
{
	struct webhook_reply reply;
	bool ok = true;

	bf->meetings++;
	free(m->event);
	m->event = strdup("backfill");
	/* The listing may leave host_email out; the user it lists has it, and
	 * a key_template with {host_email} must give the webhook's key. */
	if (!m->host_email && user_email)
		m->host_email = strdup(user_email);
	if (!m->event || (!m->host_email && user_email)) {
		fprintf(bf->errout, "zoom2s3ctl: backfill: out of memory\n");
		bf->spool_broken = true;
		return false;
	}
	webhook_select(bf->cfg, m, bf->now, &reply);
	if (reply.status != 200) {
		fprintf(bf->errout, "zoom2s3ctl: backfill: %s\n", reply.note);
		bf->spool_broken = true;
		ok = false;
		goto out;
	}
	bf->topic_ignored += reply.topic_ignored;
	bf->other_type += reply.n_other_type;
	bf->too_short += reply.n_short;
	for (size_t i = 0; i < reply.n_skipped; i++)
		print_skip(bf, m, &reply.skipped[i]);
	for (size_t i = 0; i < reply.n_jobs && ok; i++)
		ok = spool_one(bf, reply.jobs[i]);
out:
	webhook_reply_free(&reply);
	return ok;
}

/* ---- listings -------------------------------------------------------------- */

/* Takes one page of a listing: 0 read (*next: its next_page_token, or
 * NULL), -1 unreadable (err says why: the listing failed), 1 the run must
 * stop (the spool broke). */
typedef int (*page_fn)(struct backfill *bf, const struct http_response *resp,
		       const void *ctx, char **next, char *err, size_t errlen);

/* Every page of the listing at base (a URL with its query), each to take.
 * false when the run must stop. */
static bool walk_pages(struct backfill *bf, const char *what, const char *api_what,
		       const char *base, page_fn take, const void *ctx)
{
	char url[ZOOMAPI_URL_MAX], err[300];
	struct http_response resp;
	struct result res;
	char *token = NULL, *next = NULL;
	int rc = 0;

	bf->listings++;
	do {
		memset(&resp, 0, sizeof resp);
		if (page_url(url, sizeof url, base, token) < 0) {
			listing_failed(bf, "%s: the next_page_token is too long", what);
			break;
		}
		if (get_page(bf, api_what, url, &resp, &res) != OUTCOME_DONE) {
			listing_failed(bf, "%s: %s", what, res.why);
			http_response_free(&resp);
			break;
		}
		bf->pages++;
		rc = take(bf, &resp, ctx, &next, err, sizeof err);
		http_response_free(&resp);
		if (rc < 0)
			listing_failed(bf, "%s: %s", what, err);
		free(token);
		token = next;
		next = NULL;
	} while (rc == 0 && token && !(bf->stop && *bf->stop));
	free(token);
	return rc <= 0;
}

struct user_ref {
	const char *user, *email;
};

static int take_recordings_page(struct backfill *bf, const struct http_response *resp,
				const void *ctx, char **next, char *err, size_t errlen)
{
	const struct user_ref *u = ctx;
	struct zevent *meetings = NULL;
	size_t n = 0;
	bool ok = true;

	if (zoomjson_parse_recordings_page(resp->body ? resp->body : "", resp->body_len,
					   &meetings, &n, next, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n && ok; i++)
		ok = take_meeting(bf, &meetings[i], u->email);
	zoomjson_free_meetings(meetings, n);
	return ok ? 0 : 1;
}

/* Every page of one user's recordings in one window. false when the spool
 * broke (the run stops). */
static bool list_window(struct backfill *bf, const struct user_ref *u, time_t first,
			time_t last)
{
	char encoded[1024], from[16], to[16], what[1200], base[ZOOMAPI_URL_MAX];
	int len;
	const char *api = api_base(bf->cfg, &len);

	backfill_format_day(first, from, sizeof from);
	backfill_format_day(last, to, sizeof to);
	snprintf(what, sizeof what, "the recordings of user %.200s from %s to %s", u->user, from,
		 to);
	if (pctenc_encode(u->user, PCTENC_SIGV4, encoded, sizeof encoded) < 0 ||
	    snprintf(base, sizeof base, "%.*s/users/%s/recordings?from=%s&to=%s&page_size=%d", len,
		     api, encoded, from, to, BACKFILL_PAGE_SIZE) >= (int)sizeof base) {
		bf->listings++;
		listing_failed(bf, "%s: the user is too long for a URL", what);
		return true;
	}
	return walk_pages(bf, what, "Zoom's recordings listing", base, take_recordings_page, u);
}

/* Every window of one user. */
static bool list_user(struct backfill *bf, const char *user, const char *email)
{
	struct user_ref u = { user, email };

	bf->users++;
	for (time_t day = bf->opts->from; day <= bf->opts->to;) {
		time_t last = backfill_window_end(day, bf->opts->to);

		if (!list_window(bf, &u, day, last) || (bf->stop && *bf->stop))
			return false;
		day = last + BACKFILL_DAY;
	}
	return true;
}

static int take_users_page(struct backfill *bf, const struct http_response *resp,
			   const void *ctx, char **next, char *err, size_t errlen)
{
	struct zuser *users = NULL;
	size_t n = 0;
	bool ok = true;

	(void)ctx;
	if (zoomjson_parse_users_page(resp->body ? resp->body : "", resp->body_len, &users, &n,
				      next, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n && ok; i++)
		if (users[i].id && *users[i].id)
			ok = list_user(bf, users[i].id, users[i].email);
	zoomjson_free_users(users, n);
	return ok ? 0 : 1;
}

/* Every page of GET /users?status=status; each user listed at once. false
 * when the run must stop. */
static bool list_users(struct backfill *bf, const char *status)
{
	char base[ZOOMAPI_URL_MAX], what[64];
	int len;
	const char *api = api_base(bf->cfg, &len);

	snprintf(base, sizeof base, "%.*s/users?status=%s&page_size=%d", len, api, status,
		 BACKFILL_PAGE_SIZE);
	snprintf(what, sizeof what, "the %s users", status);
	return walk_pages(bf, what, "Zoom's users listing", base, take_users_page, NULL);
}

static void summary(struct backfill *bf)
{
	char from[16], to[16];

	backfill_format_day(bf->opts->from, from, sizeof from);
	backfill_format_day(bf->opts->to, to, sizeof to);
	fprintf(bf->out,
		"backfill %s to %s: %zu users, %zu windows, %zu listings failed; %zu meetings, "
		"%zu files spooled, %zu already in the spool, %zu skipped (%zu meetings "
		"ignored for their topic, %zu files of another file_type, %zu under "
		"min_duration); %lu API requests, %zu pages, %lu rate-limited answers waited "
		"out (%ld s)%s\n",
		from, to, bf->users, backfill_count_windows(bf->opts->from, bf->opts->to),
		bf->failed_listings, bf->meetings, bf->spooled, bf->exists, bf->skipped,
		bf->topic_ignored, bf->other_type, bf->too_short, bf->api.requests, bf->pages,
		bf->api.rate_limited, bf->api.waited,
		bf->opts->dry_run ? "; dry run: nothing written" : "");
}

/* Users from --user: an email also serves as the user's host_email. */
static void list_given_users(struct backfill *bf)
{
	for (size_t i = 0; i < bf->opts->n_users; i++) {
		const char *u = bf->opts->users[i];

		if (!list_user(bf, u, strchr(u, '@') ? u : NULL))
			return;
	}
}

int backfill_run(const struct config *cfg, const struct backfill_opts *opts, time_t now,
		 FILE *out, FILE *errout, stop_flag_t *stop)
{
	struct backfill bf = { .cfg = cfg, .opts = opts, .out = out, .errout = errout,
			       .now = now, .stop = stop };
	struct spool sp;
	struct zoomauth *za = NULL;
	struct http_client *client = NULL;
	char err[1024];
	int rc = BACKFILL_USAGE;

	if (spool_open(&sp, cfg->spool_dir, false, err, sizeof err) != SPOOL_OK) {
		fprintf(errout, "zoom2s3ctl: %s\n", err);
		return BACKFILL_SPOOL;
	}
	bf.sp = &sp;
	/* No file cache: a backfill run by hand as another user leaves the
	 * spooler's token file alone, and a dry run writes nothing. */
	za = zoomauth_new(cfg, NULL);
	client = http_client_new(stop);
	if (!za || !client) {
		fprintf(errout, "zoom2s3ctl: backfill: out of memory\n");
		goto out;
	}
	if (!zoomauth_has_oauth(za) && !zoomauth_has_jwt(za)) {
		fprintf(errout, "zoom2s3ctl: backfill needs a Zoom app in %s: zoom_account_id, "
				"zoom_client_id and zoom_client_secret (Server-to-Server OAuth), or "
				"zoom_api_key and zoom_api_secret (JWT)\n",
			cfg->path);
		goto out;
	}
	bf.api = (struct zoomapi){ .za = za, .client = client, .stop = stop };
	if (opts->n_users)
		list_given_users(&bf);
	else if (list_users(&bf, "active"))
		list_users(&bf, "inactive");
	summary(&bf);
	rc = bf.spool_broken ? BACKFILL_SPOOL
	     : bf.failed_listings || (stop && *stop) ? BACKFILL_PARTIAL
						     : BACKFILL_OK;
out:
	http_client_free(client);
	zoomauth_free(za);
	spool_close(&sp);
	return rc;
}
