/* zoom2s3ctl: the operator's tool. Reads the config like the other two
 * programs (-c FILE, else $ZOOM2S3_CONFIG, else SYSCONFDIR/zoom2s3.conf)
 * and runs one command: the spool commands are ctl.c's, check-config is
 * ctlcheck.c's, test-webhook ctlwebhook.c's, backfill backfill.c's. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backfill.h"
#include "config.h"
#include "ctl.h"
#include "ctlcheck.h"
#include "ctlwebhook.h"
#include "jobview.h"
#include "log.h"
#include "spool.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: zoom2s3ctl [-c FILE] [-v] COMMAND [ARGS]\n"
		"  status [--max-new-age DURATION]   jobs per state, last success and failure;\n"
		"                                    exits 1 when failed/ holds a job or new/ one\n"
		"                                    older than DURATION (default 1h; 90m, 6h, 2d)\n"
		"  list [new|cur|done|failed] [--json]   one line (or JSON object) per job\n"
		"  show JOB                          the job, tokens masked\n"
		"  requeue JOB... | requeue --all-failed   back to new/, attempts reset\n"
		"  retry-now                         every job waiting in new/ due now\n"
		"  prune --older-than DAYS           remove jobs finished that long ago from done/\n"
		"  check-config [--online]           keys, spool modes and owners, credentials;\n"
		"                                    --online: HEAD the bucket, get a Zoom token\n"
		"  test-webhook URL                  signed requests to the responder at URL\n"
		"  backfill (--from DATE [--to DATE] | --since DURATION) [--user ID_OR_EMAIL]...\n"
		"           [--dry-run]              spool the recordings whose webhook never came\n"
		"  -c FILE   config file (else $ZOOM2S3_CONFIG, else %s/zoom2s3.conf)\n"
		"JOB is a file name in the spool (X.json, failed/X.json) or a recording file id.\n",
		SYSCONFDIR);
}

struct command {
	const char *name;
	int (*run)(const char *config_path, int argc, char **argv);
};

/* Loads the config and opens the spool (never creating it); runs fn. */
static int with_spool(const char *config_path, int (*fn)(struct ctl *c, void *arg), void *arg)
{
	struct config cfg;
	struct spool sp;
	struct ctl c = { .cfg = &cfg, .sp = &sp, .out = stdout, .errout = stderr };
	char err[1024];
	int rc;

	if (config_load(config_path, CONFIG_ANY, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "zoom2s3ctl: %s\n", err);
		return CTL_USAGE;
	}
	if (spool_open(&sp, cfg.spool_dir, false, err, sizeof err) != SPOOL_OK) {
		fprintf(stderr, "zoom2s3ctl: %s\n", err);
		config_free(&cfg);
		return CTL_SPOOL;
	}
	c.now = time(NULL);
	rc = fn(&c, arg);
	spool_close(&sp);
	config_free(&cfg);
	return rc;
}

static int bad_usage(const char *why)
{
	fprintf(stderr, "zoom2s3ctl: %s\n", why);
	usage(stderr);
	return CTL_USAGE;
}

static int status_fn(struct ctl *c, void *arg)
{
	return ctl_status(c, *(long *)arg);
}

static int cmd_status(const char *path, int argc, char **argv)
{
	long max_age = CTL_DEFAULT_MAX_NEW_AGE;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--max-new-age") == 0 && i + 1 < argc &&
		    jobview_parse_duration(argv[i + 1], &max_age) == 0)
			i++;
		else
			return bad_usage("status takes --max-new-age DURATION (e.g. 90m, 6h, 2d)");
	}
	return with_spool(path, status_fn, &max_age);
}

struct list_args {
	int state;
	bool json;
};

static int list_fn(struct ctl *c, void *arg)
{
	struct list_args *a = arg;

	return ctl_list(c, a->state, a->json);
}

static int state_named(const char *name)
{
	for (int st = SPOOL_NEW; st <= SPOOL_FAILED; st++)
		if (strcmp(name, spool_state_dir((enum spool_state)st)) == 0)
			return st;
	return -1;
}

static int cmd_list(const char *path, int argc, char **argv)
{
	struct list_args a = { .state = -1 };

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			a.json = true;
		else if (a.state < 0 && state_named(argv[i]) >= 0)
			a.state = state_named(argv[i]);
		else
			return bad_usage("list takes a state (new, cur, done, failed) and --json");
	}
	return with_spool(path, list_fn, &a);
}

static int show_fn(struct ctl *c, void *arg)
{
	return ctl_show(c, arg);
}

static int cmd_show(const char *path, int argc, char **argv)
{
	if (argc != 2)
		return bad_usage("show takes one JOB");
	return with_spool(path, show_fn, argv[1]);
}

struct requeue_args {
	char **jobs;
	size_t n;
	bool all_failed;
};

static int requeue_fn(struct ctl *c, void *arg)
{
	struct requeue_args *a = arg;

	return ctl_requeue(c, a->jobs, a->n, a->all_failed);
}

static int cmd_requeue(const char *path, int argc, char **argv)
{
	struct requeue_args a = { .jobs = argv + 1, .n = (size_t)argc - 1 };

	if (argc == 2 && strcmp(argv[1], "--all-failed") == 0) {
		a.all_failed = true;
		a.n = 0;
	} else if (argc < 2) {
		return bad_usage("requeue takes JOB... or --all-failed");
	}
	for (size_t i = 0; i < a.n; i++)
		if (a.jobs[i][0] == '-')
			return bad_usage("requeue takes JOB... or --all-failed alone");
	return with_spool(path, requeue_fn, &a);
}

static int retry_now_fn(struct ctl *c, void *arg)
{
	(void)arg;
	return ctl_retry_now(c);
}

static int cmd_retry_now(const char *path, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return bad_usage("retry-now takes no arguments");
	return with_spool(path, retry_now_fn, NULL);
}

static int prune_fn(struct ctl *c, void *arg)
{
	return ctl_prune(c, *(long *)arg);
}

static int cmd_prune(const char *path, int argc, char **argv)
{
	char *end;
	long days;

	if (argc != 3 || strcmp(argv[1], "--older-than") != 0)
		return bad_usage("prune takes --older-than DAYS");
	errno = 0;
	days = strtol(argv[2], &end, 10);
	if (errno || end == argv[2] || *end || days < 0 || days > 36500)
		return bad_usage("prune --older-than takes a whole number of days");
	return with_spool(path, prune_fn, &days);
}

static int cmd_check_config(const char *path, int argc, char **argv)
{
	bool online = argc == 2 && strcmp(argv[1], "--online") == 0;
	int rc;

	if (argc > 2 || (argc == 2 && !online))
		return bad_usage("check-config takes --online");
	if (online && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return bad_usage("cannot initialise libcurl");
	rc = ctlcheck_run(path, online, stdout);
	if (online)
		curl_global_cleanup();
	return rc ? CTL_PROBLEM : CTL_OK;
}

static int cmd_test_webhook(const char *path, int argc, char **argv)
{
	struct config cfg;
	char err[1024];
	int rc;

	if (argc != 2)
		return bad_usage("test-webhook takes the URL Zoom posts to");
	if (config_load(path, CONFIG_RESPONDER, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "zoom2s3ctl: %s (test-webhook signs with the responder's "
				"webhook_secret_token: use -c with the responder's config)\n", err);
		return CTL_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		config_free(&cfg);
		return bad_usage("cannot initialise libcurl");
	}
	rc = ctlwebhook_run(&cfg, argv[1], stdout);
	curl_global_cleanup();
	config_free(&cfg);
	return rc ? CTL_PROBLEM : CTL_OK;
}

static int cmd_backfill(const char *path, int argc, char **argv)
{
	struct backfill_opts opts;
	struct config cfg;
	char err[1024];
	int rc;

	if (backfill_parse_args(argc, argv, time(NULL), &opts, err, sizeof err) < 0)
		return bad_usage(err);
	if (config_load(path, CONFIG_ANY, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "zoom2s3ctl: %s\n", err);
		return CTL_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		config_free(&cfg);
		return bad_usage("cannot initialise libcurl");
	}
	rc = backfill_run(&cfg, &opts, time(NULL), stdout, stderr, NULL);
	curl_global_cleanup();
	config_free(&cfg);
	return rc;
}

static const struct command commands[] = {
	{ "status", cmd_status },
	{ "list", cmd_list },
	{ "show", cmd_show },
	{ "requeue", cmd_requeue },
	{ "retry-now", cmd_retry_now },
	{ "prune", cmd_prune },
	{ "check-config", cmd_check_config },
	{ "test-webhook", cmd_test_webhook },
	{ "backfill", cmd_backfill },
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL;
	bool verbose = false;
	int ch;

	/* "+": options end at the command; its own arguments follow */
	while ((ch = getopt_long(argc, argv, "+c:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return CTL_OK;
		default:
			usage(stderr);
			return CTL_USAGE;
		}
	}
	if (optind >= argc)
		return bad_usage("no command given");
	log_init("zoom2s3ctl", LOG_DEST_STDERR, verbose);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			return commands[i].run(config_find_path(config_path), argc - optind,
					       argv + optind);
	return bad_usage("unknown command");
}
