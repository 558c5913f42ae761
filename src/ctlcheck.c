/* zoom2s3ctl check-config. Every finding is one line; only FAIL lines make
 * the exit status non-zero. Secrets are never printed: the config's are
 * registered with log.c when it loads, and messages name keys, not values. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "awscreds.h"
#include "config.h"
#include "ctlcheck.h"
#include "download.h"
#include "jobview.h"
#include "log.h"
#include "pctenc.h"
#include "s3.h"
#include "spool.h"
#include "zoomapi.h"
#include "zoomauth.h"
#include "zoomjson.h"

enum level { OK, WARN, FAIL };

struct checker {
	FILE *out;
	int fails;
};

static void report(struct checker *k, enum level lv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void report(struct checker *k, enum level lv, const char *fmt, ...)
{
	static const char *const tags[] = { "ok  ", "WARN", "FAIL" };
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_scrub(msg, sizeof msg); /* no registered secret, no query string */
	fprintf(k->out, "%s %s\n", tags[lv], msg);
	if (lv == FAIL)
		k->fails++;
}

/* name when there is one, else the number id. */
static const char *name_or_id(const char *name, long id, char *buf, size_t size)
{
	if (name)
		snprintf(buf, size, "%s", name);
	else
		snprintf(buf, size, "%ld", id);
	return buf;
}

/* "user:group 2770" */
static const char *owner_mode(const struct stat *st, char *buf, size_t size)
{
	const struct passwd *pw = getpwuid(st->st_uid);
	const struct group *gr = getgrgid(st->st_gid);
	char u[64], g[64];

	snprintf(buf, size, "%s:%s %04o",
		 name_or_id(pw ? pw->pw_name : NULL, (long)st->st_uid, u, sizeof u),
		 name_or_id(gr ? gr->gr_name : NULL, (long)st->st_gid, g, sizeof g),
		 (unsigned)(st->st_mode & 07777));
	return buf;
}

/* ---- the config file ---------------------------------------------------- */

static bool holds_credentials(const struct config *cfg)
{
	return cfg->aws_secret_access_key || cfg->aws_session_token || cfg->zoom_client_secret ||
	       cfg->zoom_api_secret;
}

static void check_file_mode(struct checker *k, const char *path, const struct config *cfg)
{
	struct stat st;
	char om[160];

	if (stat(path, &st) != 0) {
		report(k, FAIL, "config %s: cannot stat: %s", path, strerror(errno));
		return;
	}
	owner_mode(&st, om, sizeof om);
	if (!cfg->webhook_secret_token && !holds_credentials(cfg))
		report(k, OK, "config %s (%s) holds no secret", path, om);
	else if (st.st_mode & S_IROTH)
		report(k, FAIL, "config %s (%s) holds secrets and others can read it: chmod o-rwx",
		       path, om);
	else
		report(k, OK, "config %s (%s): only its owner and group can read it", path, om);
}

static void check_roles(struct checker *k, const struct config *cfg)
{
	bool responder = cfg->webhook_secret_token != NULL, spooler = cfg->s3_bucket != NULL;

	if (responder)
		report(k, OK, "responder keys: webhook_secret_token is set (zoom2s3.fcgi can use this "
			      "file)");
	if (spooler)
		report(k, OK, "spooler keys: s3_bucket is set (zoom2s3-spooler can use this file)");
	if (!responder && !spooler)
		report(k, FAIL, "neither program can use this file: the responder needs "
				"webhook_secret_token, the spooler s3_bucket");
	if (responder && holds_credentials(cfg))
		report(k, WARN, "this file holds the webhook secret and the spooler's credentials: "
				"give the responder, which faces the internet, its own file "
				"(docs/DEPLOY.md)");
	if (responder && strstr(cfg->webhook_secret_token, "REPLACE"))
		report(k, FAIL, "webhook_secret_token is still the placeholder: copy the Zoom app's "
				"Secret Token");
	if (spooler && strstr(cfg->s3_bucket, "REPLACE"))
		report(k, FAIL, "s3_bucket is still the placeholder");
}

/* ---- the spool ---------------------------------------------------------- */

const char *ctlcheck_spool_mode(mode_t mode, gid_t gid, gid_t want_gid, bool dir)
{
	if (dir && !S_ISDIR(mode))
		return "is not a directory";
	if (!dir && !S_ISREG(mode))
		return "is not a regular file";
	if (gid != want_gid)
		return "has another group than spool_dir: the two programs would not share it";
	if (dir && !(mode & S_ISGID))
		return "lacks the setgid bit (chmod g+s): new files would not get the spool's group";
	if (dir && (mode & 070) != 070)
		return "is not group-readable, -writable and -searchable (chmod g+rwx)";
	if (!dir && (mode & 060) != 060)
		return "is not group-readable and -writable (chmod g+rw)";
	if (mode & 007)
		return "is open to others (chmod o-rwx): job files hold download tokens";
	return NULL;
}

/* "www-data (members: zoom2s3 alice)" */
static const char *group_members(gid_t gid, char *buf, size_t size)
{
	struct group *gr = getgrgid(gid);
	size_t used;

	if (!gr) {
		snprintf(buf, size, "%ld (no such group)", (long)gid);
		return buf;
	}
	if (!gr->gr_mem[0]) {
		snprintf(buf, size, "%s (no members but those whose primary group it is)",
			 gr->gr_name);
		return buf;
	}
	used = (size_t)snprintf(buf, size, "%s (members:", gr->gr_name);
	for (char **m = gr->gr_mem; *m && used < size; m++)
		used += (size_t)snprintf(buf + used, size - used, " %s", *m);
	if (used < size)
		snprintf(buf + used, size - used, ")");
	return buf;
}

static void check_spool_part(struct checker *k, struct spool *sp, const char *what,
			     gid_t want_gid)
{
	bool dir = strcmp(what, ".lock") != 0;
	struct stat st;
	const char *bad;
	char om[160];

	if (spool_stat(sp, what, &st) != SPOOL_OK) {
		report(k, FAIL, "spool %s/%s: %s%s", sp->dir, what, strerror(errno),
		       errno == ENOENT ? " (zoom2s3-spooler makes it on its first run, or see "
					 "docs/DEPLOY.md)" : "");
		return;
	}
	bad = ctlcheck_spool_mode(st.st_mode, st.st_gid, want_gid, dir);
	owner_mode(&st, om, sizeof om);
	if (bad)
		report(k, strncmp(bad, "is open", 7) == 0 ? WARN : FAIL, "spool %s/%s (%s) %s",
		       sp->dir, what, om, bad);
	else
		report(k, OK, "spool %s/%s (%s)", sp->dir, what, om);
}

static void check_spool(struct checker *k, const struct config *cfg)
{
	static const char *const parts[] = { "tmp", "new", "cur", "done", "failed", ".lock" };
	struct spool sp;
	struct stat top;
	char err[512], members[512], om[160];

	if (spool_open_inspect(&sp, cfg->spool_dir, err, sizeof err) != SPOOL_OK) {
		report(k, FAIL, "spool: %s", err);
		return;
	}
	if (spool_stat(&sp, ".", &top) != SPOOL_OK) {
		report(k, FAIL, "spool %s: %s", cfg->spool_dir, strerror(errno));
		goto out;
	}
	if (!(top.st_mode & S_ISGID) || (top.st_mode & 070) != 070)
		report(k, FAIL, "spool %s (%s) should be mode 2770 (setgid, group rwx)", sp.dir,
		       owner_mode(&top, om, sizeof om));
	else
		report(k, OK, "spool %s (%s), group %s", sp.dir, owner_mode(&top, om, sizeof om),
		       group_members(top.st_gid, members, sizeof members));
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		check_spool_part(k, &sp, parts[i], top.st_gid);
out:
	spool_close(&sp);
}

static void check_metrics_file(struct checker *k, const struct config *cfg)
{
	char dir[4096];
	char *slash;

	if (!cfg->metrics_file)
		return;
	snprintf(dir, sizeof dir, "%s", cfg->metrics_file);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	if (access(dir, W_OK | X_OK) == 0)
		report(k, OK, "metrics_file: this user (uid %ld) can write in %s", (long)getuid(),
		       dir);
	else
		report(k, WARN, "metrics_file: this user (uid %ld) cannot write in %s: %s (the "
				"spooler's user must)", (long)getuid(), dir, strerror(errno));
}

/* ---- credentials -------------------------------------------------------- */

/* The credentials the spooler would find, without IMDS unless online. */
static void check_aws(struct checker *k, const struct config *cfg, bool online)
{
	const char *was = getenv("AWS_EC2_METADATA_DISABLED");
	char *saved = was ? strdup(was) : NULL;
	struct aws_credentials cred;
	struct awscreds *ac;
	struct result r;

	if (!online)
		setenv("AWS_EC2_METADATA_DISABLED", "true", 1); /* read once, by awscreds_new */
	ac = awscreds_new(cfg);
	if (!online) {
		if (saved)
			setenv("AWS_EC2_METADATA_DISABLED", saved, 1);
		else
			unsetenv("AWS_EC2_METADATA_DISABLED");
	}
	free(saved);
	if (!ac) {
		report(k, FAIL, "AWS credentials: out of memory");
		return;
	}
	if (awscreds_get(ac, &cred, &r) == OUTCOME_DONE)
		report(k, OK, "AWS credentials: key id %s from the %s (as seen by uid %ld)",
		       cred.access_key_id, cred.source, (long)getuid());
	else if (online)
		report(k, FAIL, "AWS credentials: %s", r.why);
	else
		report(k, WARN, "AWS credentials: none without the EC2 instance role (%s); "
				"--online asks the instance role too", r.why);
	awscreds_clear(&cred);
	awscreds_free(ac);
}

static void check_bucket(struct checker *k, const struct config *cfg)
{
	struct awscreds *ac = awscreds_new(cfg);
	struct s3_client *s3 = NULL;
	struct result r;
	char err[256];
	bool exists = false;

	if (!ac) {
		report(k, FAIL, "bucket: out of memory");
		return;
	}
	s3 = s3_client_new(cfg, ac, NULL, err, sizeof err);
	if (!s3)
		report(k, FAIL, "bucket %s: %s", cfg->s3_bucket, err);
	else if (s3_head_bucket(s3, &exists, &r) != OUTCOME_DONE)
		report(k, FAIL, "bucket %s: %s", cfg->s3_bucket, r.why);
	else if (!exists)
		report(k, FAIL, "bucket %s: S3 answers 404: no such bucket (create it, or fix "
				"s3_bucket)", cfg->s3_bucket);
	else
		report(k, OK, "bucket %s: HEAD answered 200 at %s", cfg->s3_bucket,
		       cfg->s3_endpoint ? cfg->s3_endpoint : "AWS");
	s3_client_free(s3);
	awscreds_free(ac);
}

static void check_oauth_online(struct checker *k, const struct config *cfg)
{
	struct zoomauth *za = zoomauth_new(cfg, NULL); /* no cache: really ask */
	struct http_client *dl = http_client_new(NULL);
	char token[ZOOMAUTH_TOKEN_MAX];
	struct result r;

	if (!za || !dl)
		report(k, FAIL, "Zoom OAuth: out of memory");
	else if (zoomauth_api_token(za, dl, NULL, token, sizeof token, &r) != OUTCOME_DONE)
		report(k, FAIL, "Zoom OAuth: %s", r.why);
	else
		report(k, OK, "Zoom OAuth: %s gave a token", cfg->zoom_oauth_url);
	explicit_bzero(token, sizeof token);
	http_client_free(dl);
	zoomauth_free(za);
}

/* One GET of Zoom's API with the app's token; the answer in resp. false
 * (and a WARN naming the scope) unless it is a 200. */
static bool api_get(struct checker *k, struct zoomapi *api, const char *url, const char *what,
		    const char *scope, struct http_response *resp)
{
	struct http_request req = { .what = "Zoom's API", .method = HTTP_GET, .url = url };
	struct result r;
	char why[600];

	if (zoomapi_call(api, &req, resp, &r) != OUTCOME_DONE) {
		report(k, WARN, "Zoom API: cannot %s: %s", what, r.why);
		return false;
	}
	if (resp->status == 200)
		return true;
	zoomapi_describe(resp, "Zoom's API", why, sizeof why);
	report(k, WARN, "Zoom API: cannot %s: %s; zoom2s3ctl backfill needs the scope %s", what,
	       why, scope);
	return false;
}

/* --online: what zoom2s3ctl backfill asks of Zoom, tried with one user. */
static void check_zoom_api(struct checker *k, const struct config *cfg)
{
	struct zoomauth *za = zoomauth_new(cfg, NULL);
	struct http_client *http = http_client_new(NULL);
	struct zoomapi api = { .za = za, .client = http, .max_tries = 2, .max_wait = 5 };
	struct http_response resp = { 0 };
	struct zuser *users = NULL;
	size_t n = 0;
	char url[ZOOMAPI_URL_MAX], id[512], day[16], *next = NULL, err[200];
	time_t now = time(NULL);
	int len = (int)strlen(cfg->zoom_api_url);

	while (len && cfg->zoom_api_url[len - 1] == '/')
		len--;
	if (!za || !http)
		goto out;
	snprintf(url, sizeof url, "%.*s/users?status=active&page_size=1", len, cfg->zoom_api_url);
	if (!api_get(k, &api, url, "list users", ZOOMAPI_SCOPE_LIST_USERS, &resp))
		goto out;
	if (zoomjson_parse_users_page(resp.body ? resp.body : "", resp.body_len, &users, &n, &next,
				      err, sizeof err) < 0 || n == 0 || !users[0].id) {
		report(k, WARN, "Zoom API: the users listing names no user (%s)", n ? "no id" : err);
		goto out;
	}
	report(k, OK, "Zoom API: the app can list the account's users (for zoom2s3ctl backfill)");
	http_response_free(&resp);
	memset(&resp, 0, sizeof resp);
	strftime(day, sizeof day, "%Y-%m-%d", gmtime(&now));
	if (pctenc_encode(users[0].id, PCTENC_SIGV4, id, sizeof id) < 0)
		goto out;
	snprintf(url, sizeof url, "%.*s/users/%s/recordings?from=%s&to=%s&page_size=1", len,
		 cfg->zoom_api_url, id, day, day);
	if (api_get(k, &api, url, "list a user's recordings", ZOOMAPI_SCOPE_LIST_RECORDINGS,
		    &resp))
		report(k, OK, "Zoom API: the app can list a user's cloud recordings (for "
			      "zoom2s3ctl backfill)");
out:
	if (!za || !http)
		report(k, FAIL, "Zoom API: out of memory");
	http_response_free(&resp);
	zoomjson_free_users(users, n);
	free(next);
	http_client_free(http);
	zoomauth_free(za);
}

/* webhook_secret_token_previous is for the time of a change only. */
static void check_previous_secret(struct checker *k, const struct config *cfg)
{
	if (!cfg->webhook_secret_token_previous)
		return;
	if (cfg->webhook_secret_token &&
	    strcmp(cfg->webhook_secret_token, cfg->webhook_secret_token_previous) == 0)
		report(k, WARN, "webhook_secret_token_previous is webhook_secret_token itself: "
				"remove it");
	else
		report(k, WARN, "webhook_secret_token_previous is set: signatures made with it are "
				"still accepted; remove it once the responder's log no longer says "
				"\"signed with webhook_secret_token_previous\"");
}

/* zoom_after_upload: what the spooler will remove, and the scope it needs. */
static void check_retention(struct checker *k, const struct config *cfg)
{
	char delay[32];

	if (cfg->zoom_after_upload == ZOOM_KEEP) {
		report(k, OK, "zoom_after_upload = keep: nothing is ever removed from Zoom");
		return;
	}
	if (!cfg->zoom_client_secret && !cfg->zoom_api_secret) {
		report(k, FAIL, "zoom_after_upload = %s needs a Zoom app (zoom_account_id, "
				"zoom_client_id, zoom_client_secret)",
		       config_after_upload_name(cfg->zoom_after_upload));
		return;
	}
	report(k, cfg->zoom_after_upload == ZOOM_DELETE ? WARN : OK,
	       "zoom_after_upload = %s: zoom2s3-spooler removes each file from Zoom %s after its "
	       "upload, once a HEAD of the object verifies it; the app needs the scope %s "
	       "(check-config cannot try it without removing a file)%s",
	       config_after_upload_name(cfg->zoom_after_upload),
	       jobview_age(cfg->zoom_after_upload_delay, delay, sizeof delay),
	       ZOOMAPI_SCOPE_DELETE_FILE,
	       cfg->zoom_after_upload == ZOOM_DELETE
		       ? "; delete is for good, trash keeps a file in Zoom's trash for 30 days"
		       : "");
}

static void check_zoom(struct checker *k, const struct config *cfg, bool online)
{
	if (cfg->zoom_account_id) {
		report(k, OK, "Zoom app: Server-to-Server OAuth (account %s, client %s)",
		       cfg->zoom_account_id, cfg->zoom_client_id);
		if (online)
			check_oauth_online(k, cfg);
	} else if (cfg->zoom_api_key) {
		report(k, OK, "Zoom app: legacy JWT (key %s); tokens are signed here, Zoom is not "
			      "asked", cfg->zoom_api_key);
	} else {
		report(k, WARN, "Zoom app: none; a job whose download token was refused or expired "
				"(24 h) cannot be fetched and goes to failed/");
	}
}

int ctlcheck_run(const char *path, bool online, FILE *out)
{
	struct checker k = { .out = out };
	struct config cfg;
	char err[1024];

	if (config_load(path, CONFIG_ANY, &cfg, err, sizeof err) != 0) {
		report(&k, FAIL, "config: %s", err);
		return 1;
	}
	report(&k, OK, "config %s: every key is known and every value good", path);
	check_file_mode(&k, path, &cfg);
	check_roles(&k, &cfg);
	check_previous_secret(&k, &cfg);
	check_spool(&k, &cfg);
	check_metrics_file(&k, &cfg);
	if (cfg.s3_bucket) {
		check_aws(&k, &cfg, online);
		check_zoom(&k, &cfg, online);
		check_retention(&k, &cfg);
		if (online && (cfg.zoom_client_secret || cfg.zoom_api_secret))
			check_zoom_api(&k, &cfg);
		if (online)
			check_bucket(&k, &cfg);
	}
	config_free(&cfg);
	fprintf(out, "%s\n", k.fails ? "check-config: FAILED" : "check-config: OK");
	return k.fails ? 1 : 0;
}
