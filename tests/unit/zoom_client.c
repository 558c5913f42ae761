/* zoom_client: drives download.c and zoomauth.c from the command line, for
 * tests/e2e/download_fakezoom.py (against the stand-in Zoom) and by hand.
 *
 *   zoom_client download --url U [--token T] [--offset N] [--size N]
 *               [--hosts a,b] [--allow-http] [--out FILE] [--repeat N]
 *               [--low-speed-time S] [--low-speed-limit B] [--connect-timeout S]
 *               [--stop-at BYTES] [--progress]
 *   zoom_client oauth      ZOOMOPTS [--refused TOKEN]
 *   zoom_client fresh-link ZOOMOPTS --uuid UUID --file-id ID
 *   zoom_client jwt --api-key K --api-secret S --exp EPOCH
 *   zoom_client encode TEXT
 *
 * ZOOMOPTS: [--oauth-url U] [--api-url U] [--account A] [--client-id C]
 * [--client-secret S] [--api-key K] [--api-secret S] [--cache-dir DIR].
 *
 * Each download/oauth/fresh-link run prints one line of key=value fields
 * on stdout ("outcome=... why=..."); the body goes to --out. SIGTERM and
 * SIGINT set the stop flag. Exit status 0 when the outcome is done. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "download.h"
#include "log.h"
#include "pctenc.h"
#include "spool.h"
#include "zoomauth.h"

static stop_flag_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct opts {
	const char *url, *token, *out, *hosts, *refused, *uuid, *file_id, *cache_dir;
	unsigned long long offset, stop_at;
	long long size, exp;
	long low_speed_time, low_speed_limit, connect_timeout, repeat;
	bool allow_http, progress;
	struct config cfg;
};

/* ---- download ------------------------------------------------------------ */

struct sink {
	int fd;
	uint64_t written, stop_at;
};

static int write_sink(void *ctx, const void *data, size_t len)
{
	struct sink *s = ctx;
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(s->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
		s->written += (uint64_t)n;
	}
	if (s->stop_at && s->written >= s->stop_at)
		stop_flag = 1;
	return 0;
}

static void print_progress(void *ctx, uint64_t done, int64_t total)
{
	(void)ctx;
	fprintf(stderr, "progress %" PRIu64 " %" PRId64 "\n", done, total);
}

static int split_hosts(char *list, char **out, size_t max)
{
	size_t n = 0;

	for (char *tok = strtok(list, ","); tok && n < max; tok = strtok(NULL, ","))
		out[n++] = tok;
	return (int)n;
}

static void print_download(const struct download_result *r)
{
	char why[700], ct[300];

	printf("outcome=%s status=%ld bytes=%" PRIu64 " total=%" PRId64
	       " auth_refused=%d gone=%d stopped=%d sink_failed=%d range_ignored=%d"
	       " redirects=%d retry_after=%ld curl=%d host=%s content_type=%s why=%s\n",
	       outcome_name(r->res.kind), r->http_status, r->bytes, r->total, r->auth_refused,
	       r->gone, r->stopped, r->sink_failed, r->range_ignored, r->redirects,
	       r->retry_after, r->curl_code, r->host[0] ? r->host : "-",
	       log_q(r->content_type[0] ? r->content_type : "-", ct, sizeof ct),
	       log_q(r->res.why[0] ? r->res.why : "-", why, sizeof why));
	fflush(stdout);
}

static int cmd_download(struct opts *o)
{
	char *hosts[CONFIG_MAX_LIST], *list = strdup(o->hosts ? o->hosts : "zoom.us,*.zoom.us");
	struct sink sink = { .fd = STDOUT_FILENO, .stop_at = o->stop_at };
	struct http_client *client = http_client_new(&stop_flag);
	struct download_result r = { 0 };
	struct download_request req = {
		.url = o->url, .bearer = o->token, .offset = o->offset,
		.expected_total = o->size, .hosts = hosts, .allow_http = o->allow_http,
		.sink = write_sink, .sink_ctx = &sink, .low_speed_time = o->low_speed_time,
		.low_speed_limit = o->low_speed_limit, .connect_timeout = o->connect_timeout,
	};
	int rc = 2;

	if (!list || !client || !o->url)
		goto out;
	req.n_hosts = (size_t)split_hosts(list, hosts, CONFIG_MAX_LIST);
	if (o->progress)
		req.progress = print_progress;
	if (o->out) {
		sink.fd = open(o->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (sink.fd < 0) {
			perror(o->out);
			goto out;
		}
	}
	/* --repeat: the same client again, as a worker does (keep-alive). */
	for (long i = 0; i < (o->repeat > 0 ? o->repeat : 1); i++) {
		download_run(client, &req, &r);
		print_download(&r);
	}
	rc = r.res.kind == OUTCOME_DONE ? 0 : 1;
out:
	if (sink.fd >= 0 && sink.fd != STDOUT_FILENO)
		close(sink.fd);
	http_client_free(client);
	free(list);
	return rc;
}

/* ---- zoomauth ---------------------------------------------------------------- */

static int open_cache(const struct opts *o, struct spool *sp, struct spool **out)
{
	char err[512];

	*out = NULL;
	if (!o->cache_dir)
		return 0;
	if (spool_open(sp, o->cache_dir, true, err, sizeof err) < 0) {
		fprintf(stderr, "zoom_client: %s\n", err);
		return -1;
	}
	*out = sp;
	return 0;
}

static void print_result(const struct result *r, const char *extra)
{
	char why[700];

	printf("outcome=%s%s why=%s\n", outcome_name(r->kind), extra,
	       log_q(r->why[0] ? r->why : "-", why, sizeof why));
	fflush(stdout);
}

static int cmd_zoom(struct opts *o, bool fresh_link)
{
	struct spool spool, *sp = NULL;
	struct http_client *client = http_client_new(&stop_flag);
	struct zoomauth *za = NULL;
	struct result res = { 0 };
	char token[ZOOMAUTH_TOKEN_MAX], *extra = NULL, *url = NULL, *dtoken = NULL;
	enum outcome kind;
	int rc = 2;

	if (!client || open_cache(o, &spool, &sp) < 0)
		goto out;
	za = zoomauth_new(&o->cfg, sp);
	if (!za)
		goto out;
	if (fresh_link) {
		kind = zoomauth_fresh_link(za, client, o->uuid, o->file_id, &url, &dtoken, &res);
		if (asprintf(&extra, " url=%s token=%s", url ? url : "-", dtoken ? dtoken : "-") < 0)
			extra = NULL;
	} else {
		kind = zoomauth_api_token(za, client, o->refused, token, sizeof token, &res);
		if (asprintf(&extra, " token=%s", kind == OUTCOME_DONE ? token : "-") < 0)
			extra = NULL;
	}
	print_result(&res, extra ? extra : "");
	rc = kind == OUTCOME_DONE ? 0 : 1;
out:
	free(extra);
	free(url);
	free(dtoken);
	zoomauth_free(za);
	if (sp)
		spool_close(sp);
	http_client_free(client);
	return rc;
}

static int cmd_jwt(const struct opts *o)
{
	char jwt[2048];

	if (!o->cfg.zoom_api_key || !o->cfg.zoom_api_secret ||
	    zoomauth_jwt(o->cfg.zoom_api_key, o->cfg.zoom_api_secret, (time_t)o->exp, jwt,
			 sizeof jwt) < 0)
		return 2;
	printf("%s\n", jwt);
	return 0;
}

static int cmd_encode(const char *text)
{
	char out[4096];

	if (!text || pctenc_zoom_uuid(text, out, sizeof out) < 0)
		return 2;
	printf("%s\n", out);
	return 0;
}

/* ---- options ------------------------------------------------------------------ */

enum {
	O_URL = 256, O_TOKEN, O_OFFSET, O_SIZE, O_HOSTS, O_ALLOW_HTTP, O_OUT, O_REPEAT, O_LST,
	O_LSL, O_CT, O_STOP_AT, O_PROGRESS, O_OAUTH_URL, O_API_URL, O_ACCOUNT, O_CLIENT_ID,
	O_CLIENT_SECRET, O_API_KEY, O_API_SECRET, O_CACHE_DIR, O_REFUSED, O_UUID, O_FILE_ID,
	O_EXP,
};

static const struct option longopts[] = {
	{ "url", 1, NULL, O_URL }, { "token", 1, NULL, O_TOKEN },
	{ "offset", 1, NULL, O_OFFSET }, { "size", 1, NULL, O_SIZE },
	{ "hosts", 1, NULL, O_HOSTS }, { "allow-http", 0, NULL, O_ALLOW_HTTP },
	{ "out", 1, NULL, O_OUT }, { "repeat", 1, NULL, O_REPEAT },
	{ "low-speed-time", 1, NULL, O_LST }, { "low-speed-limit", 1, NULL, O_LSL },
	{ "connect-timeout", 1, NULL, O_CT }, { "stop-at", 1, NULL, O_STOP_AT },
	{ "progress", 0, NULL, O_PROGRESS }, { "oauth-url", 1, NULL, O_OAUTH_URL },
	{ "api-url", 1, NULL, O_API_URL }, { "account", 1, NULL, O_ACCOUNT },
	{ "client-id", 1, NULL, O_CLIENT_ID }, { "client-secret", 1, NULL, O_CLIENT_SECRET },
	{ "api-key", 1, NULL, O_API_KEY }, { "api-secret", 1, NULL, O_API_SECRET },
	{ "cache-dir", 1, NULL, O_CACHE_DIR }, { "refused", 1, NULL, O_REFUSED },
	{ "uuid", 1, NULL, O_UUID }, { "file-id", 1, NULL, O_FILE_ID },
	{ "exp", 1, NULL, O_EXP }, { NULL, 0, NULL, 0 },
};

static void set_opt(struct opts *o, int c, char *arg)
{
	switch (c) {
	case O_URL: o->url = arg; break;
	case O_TOKEN: o->token = arg; break;
	case O_OFFSET: o->offset = strtoull(arg, NULL, 10); break;
	case O_SIZE: o->size = strtoll(arg, NULL, 10); break;
	case O_HOSTS: o->hosts = arg; break;
	case O_ALLOW_HTTP: o->allow_http = true; break;
	case O_OUT: o->out = arg; break;
	case O_REPEAT: o->repeat = strtol(arg, NULL, 10); break;
	case O_LST: o->low_speed_time = strtol(arg, NULL, 10); break;
	case O_LSL: o->low_speed_limit = strtol(arg, NULL, 10); break;
	case O_CT: o->connect_timeout = strtol(arg, NULL, 10); break;
	case O_STOP_AT: o->stop_at = strtoull(arg, NULL, 10); break;
	case O_PROGRESS: o->progress = true; break;
	case O_OAUTH_URL: o->cfg.zoom_oauth_url = arg; break;
	case O_API_URL: o->cfg.zoom_api_url = arg; break;
	case O_ACCOUNT: o->cfg.zoom_account_id = arg; break;
	case O_CLIENT_ID: o->cfg.zoom_client_id = arg; break;
	case O_CLIENT_SECRET: o->cfg.zoom_client_secret = arg; break;
	case O_API_KEY: o->cfg.zoom_api_key = arg; break;
	case O_API_SECRET: o->cfg.zoom_api_secret = arg; break;
	case O_CACHE_DIR: o->cache_dir = arg; break;
	case O_REFUSED: o->refused = arg; break;
	case O_UUID: o->uuid = arg; break;
	case O_FILE_ID: o->file_id = arg; break;
	case O_EXP: o->exp = strtoll(arg, NULL, 10); break;
	}
}

int main(int argc, char **argv)
{
	struct opts o = { .size = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	const char *cmd = argc > 1 ? argv[1] : "";
	int c, rc = 2;

	o.cfg.zoom_oauth_url = "https://zoom.us/oauth/token";
	o.cfg.zoom_api_url = "https://api.zoom.us/v2";
	while ((c = getopt_long(argc - 1, argv + 1, "", longopts, NULL)) != -1) {
		if (c == '?')
			return 2;
		set_opt(&o, c, optarg);
	}
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return 2;
	log_init("zoom_client", LOG_DEST_STDERR, true);
	zoomauth_note_token(o.token);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 2;
	if (strcmp(cmd, "download") == 0)
		rc = cmd_download(&o);
	else if (strcmp(cmd, "oauth") == 0)
		rc = cmd_zoom(&o, false);
	else if (strcmp(cmd, "fresh-link") == 0)
		rc = cmd_zoom(&o, true);
	else if (strcmp(cmd, "jwt") == 0)
		rc = cmd_jwt(&o);
	else if (strcmp(cmd, "encode") == 0)
		rc = cmd_encode(optind + 1 < argc ? argv[optind + 1] : NULL);
	else
		fprintf(stderr, "usage: zoom_client download|oauth|fresh-link|jwt|encode ...\n");
	curl_global_cleanup();
	return rc;
}
