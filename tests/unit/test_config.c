/* config.c against zoom2s3.conf(5): defaults, every error kind
 * with its file:line, value syntax, roles, config_find_path, config_changed,
 * secrets kept out of messages and logs, the seed configuration and the
 * example file. Data files come from $top_srcdir/tests/data/config (the
 * source tree is found from __FILE__ when top_srcdir is not set). stderr is
 * captured into a temporary file with ZOOM2S3_LOG=stderr. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "tap.h"

static char srcdir[4096];
static char tmpdir[] = "/tmp/test_config.XXXXXX";
static char capture_path[4200];

static void find_srcdir(void)
{
	const char *env = getenv("top_srcdir"), *file = __FILE__;
	const char *tail = "tests/unit/test_config.c";
	size_t len = strlen(file), tlen = strlen(tail);

	if (env && *env) {
		snprintf(srcdir, sizeof srcdir, "%s", env);
	} else if (len >= tlen && strcmp(file + len - tlen, tail) == 0) {
		snprintf(srcdir, sizeof srcdir, "%.*s", (int)(len - tlen), file);
		if (!srcdir[0])
			snprintf(srcdir, sizeof srcdir, ".");
	} else {
		snprintf(srcdir, sizeof srcdir, ".");
	}
}

static const char *data_path(const char *name)
{
	static char path[4200];

	snprintf(path, sizeof path, "%s/tests/data/config/%s", srcdir, name);
	return path;
}

static const char *tmp_path(const char *name)
{
	static char path[4200];

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	return path;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0 || chmod(path, mode) != 0)
		printf("# cannot write %s\n", path);
}

static char captured[65536];

/* What reached stderr since the previous call. */
static const char *take_captured(void)
{
	static long seen;
	FILE *f = fopen(capture_path, "r");
	size_t n = 0;

	if (f && fseek(f, seen, SEEK_SET) == 0)
		n = fread(captured, 1, sizeof captured - 1, f);
	if (f)
		fclose(f);
	seen += (long)n;
	captured[n] = '\0';
	return captured;
}

static int parse(const char *text, enum config_role role, struct config *cfg, char *err,
		 size_t errlen)
{
	return config_parse("t.conf", text, strlen(text), role, cfg, err, errlen);
}

/* text must be refused with a message that starts with want. */
static void refused(const char *text, enum config_role role, const char *want,
		    const char *name)
{
	struct config cfg;
	char err[1024] = "";
	int rc = parse(text, role, &cfg, err, sizeof err);

	if (!ok(rc == -1 && strncmp(err, want, strlen(want)) == 0, "%s", name))
		printf("#   rc %d, got:  '%s'\n#   want prefix: '%s'\n", rc, err, want);
	ok(cfg.spool_dir == NULL && cfg.key_template == NULL && cfg.n_file_types == 0,
	   "  ... and the config is left freed");
}

static int accepted(const char *text, enum config_role role, struct config *cfg,
		    const char *name)
{
	char err[1024] = "";

	if (!ok(parse(text, role, cfg, err, sizeof err) == 0, "%s", name)) {
		printf("#   error: %s\n", err);
		return 0;
	}
	return 1;
}

static void test_defaults(void)
{
	struct config c;

	accepted("spool_dir = /s\n", CONFIG_ANY, &c, "spool_dir alone is enough for CONFIG_ANY");
	is_str(c.path, "t.conf", "path is the name given");
	is_str(c.spool_dir, "/s", "spool_dir");
	ok(c.webhook_secret_token == NULL, "webhook_secret_token: none");
	is_int(c.webhook_max_skew, 300, "webhook_max_skew default 300");
	is_int(c.max_body_bytes, 1048576, "max_body_bytes default 1M");
	ok(c.topic_regex == NULL, "topic_regex: none");
	is_int(c.n_file_types, 1, "file_types: one entry");
	is_str(c.file_types[0], "MP4", "file_types default MP4");
	is_int(c.min_duration, 0, "min_duration default 0");
	is_str(c.key_template, "{topic}/{recording_start:%Y-%m-%d_%H%M%S}_{recording_type}.{ext}",
	       "key_template default");
	is_int(c.n_download_hosts, 4, "download_hosts: four entries");
	is_str(c.download_hosts[0], "zoom.us", "download_hosts[0]");
	is_str(c.download_hosts[1], "*.zoom.us", "download_hosts[1]");
	is_str(c.download_hosts[2], "zoom.com", "download_hosts[2]");
	is_str(c.download_hosts[3], "*.zoom.com", "download_hosts[3]");
	ok(!c.allow_http, "allow_http default false");
	ok(c.s3_bucket == NULL, "s3_bucket: none");
	is_str(c.s3_region, "us-east-1", "s3_region default");
	ok(c.s3_endpoint == NULL, "s3_endpoint: none (AWS)");
	ok(!c.s3_path_style, "s3_path_style false without an endpoint");
	is_int(c.part_size, 16 * 1048576, "part_size default 16M");
	ok(!c.s3_storage_class && !c.s3_sse && !c.s3_sse_kms_key_id, "no storage class, no SSE");
	ok(!c.zoom_account_id && !c.zoom_client_id && !c.zoom_client_secret, "no OAuth app");
	ok(!c.zoom_api_key && !c.zoom_api_secret, "no JWT app");
	is_str(c.zoom_oauth_url, "https://zoom.us/oauth/token", "zoom_oauth_url default");
	is_str(c.zoom_api_url, "https://api.zoom.us/v2", "zoom_api_url default");
	is_int(c.max_attempts, 48, "max_attempts default 48");
	is_int(c.retry_delay, 60, "retry_delay default 60");
	is_int(c.retry_max_delay, 3600, "retry_max_delay default 3600");
	is_int(c.watch_rescan_interval, 30, "watch_rescan_interval default 30");
	ok(!c.aws_access_key_id && !c.aws_secret_access_key && !c.aws_session_token,
	   "no AWS keys");
	config_free(&c);
	ok(c.spool_dir == NULL && c.key_template == NULL, "config_free clears the struct");
	config_free(&c);
	ok(1, "config_free twice is safe");
}

static void test_full_file(void)
{
	struct config c;
	char err[1024] = "";

	if (!ok(config_load(data_path("full.conf"), CONFIG_ANY, &c, err, sizeof err) == 0,
		"full.conf (every key, CRLF, tabs) loads"))
		printf("#   error: %s\n", err);
	is_str(c.path, data_path("full.conf"), "path recorded");
	is_str(c.spool_dir, "/srv/spool dir", "value trimmed, inner blank kept, CR dropped");
	is_str(c.webhook_secret_token, "fullWebhookSecret1", "webhook_secret_token");
	is_int(c.webhook_max_skew, 60, "webhook_max_skew");
	is_int(c.max_body_bytes, 512 * 1024, "max_body_bytes 512K");
	is_str(c.topic_regex, "^(Math|Physics) ([0-9]+)", "topic_regex");
	is_int(c.n_file_types, 3, "three file types");
	is_str(c.file_types[0], "MP4", "file type upper-cased");
	is_str(c.file_types[1], "M4A", "file type trimmed");
	is_str(c.file_types[2], "TRANSCRIPT", "mixed case upper-cased");
	is_str(c.key_template, "{1}/{2}/{meeting_id}-{file_id}.{ext}", "key_template");
	is_int(c.n_download_hosts, 3, "three hosts");
	is_str(c.download_hosts[0], "zoom.us", "host lower-cased");
	is_str(c.download_hosts[1], "*.example.org", "pattern lower-cased and trimmed");
	is_str(c.download_hosts[2], "127.0.0.1", "IP address");
	ok(c.allow_http, "allow_http = yes");
	is_str(c.s3_bucket, "full-bucket", "s3_bucket");
	is_str(c.s3_region, "eu-west-3", "s3_region");
	is_str(c.s3_endpoint, "http://127.0.0.1:9000", "s3_endpoint");
	ok(!c.s3_path_style, "s3_path_style = off wins over the endpoint's default");
	is_int(c.part_size, 1073741824, "part_size 1G");
	is_str(c.s3_storage_class, "STANDARD_IA", "s3_storage_class");
	is_str(c.s3_sse, "aws:kms", "s3_sse");
	is_str(c.s3_sse_kms_key_id, "arn:aws:kms:eu-west-3:111122223333:key/abcd", "kms key id");
	is_str(c.zoom_account_id, "acct-1", "zoom_account_id");
	is_str(c.zoom_client_id, "client-1", "zoom_client_id");
	is_str(c.zoom_client_secret, "fullClientSecret1", "zoom_client_secret");
	is_str(c.zoom_api_key, "jwt-key-1", "zoom_api_key");
	is_str(c.zoom_api_secret, "fullJwtSecret1", "zoom_api_secret");
	is_str(c.zoom_oauth_url, "http://127.0.0.1:8080/oauth/token", "zoom_oauth_url");
	is_str(c.zoom_api_url, "http://127.0.0.1:8080/v2", "zoom_api_url");
	is_int(c.max_attempts, 3, "max_attempts");
	is_int(c.retry_delay, 5, "retry_delay");
	is_int(c.retry_max_delay, 5, "retry_max_delay equal to retry_delay is fine");
	is_str(c.aws_access_key_id, "AKIAFULLEXAMPLE", "aws_access_key_id");
	is_str(c.aws_secret_access_key, "fullAwsSecretKey1", "aws_secret_access_key");
	is_str(c.aws_session_token, "fullAwsSessionToken1", "aws_session_token");
	is_str(c.webhook_secret_token_previous, "fullPreviousSecret1",
	       "webhook_secret_token_previous");
	ok(c.zoom_after_upload == ZOOM_DELETE, "zoom_after_upload delete");
	is_int(c.zoom_after_upload_delay, 86400, "zoom_after_upload_delay");

	/* Loading registered every secret with the log guard. */
	take_captured();
	log_event(LOG_INFO, "probe", "a=%s b=%s c=%s d=%s e=%s f=%s", "fullWebhookSecret1",
		  "fullClientSecret1", "fullJwtSecret1", "fullAwsSecretKey1", "fullAwsSessionToken1",
		  "fullPreviousSecret1");
	ok(strstr(take_captured(), "a=*** b=*** c=*** d=*** e=*** f=***") != NULL,
	   "every secret key's value is registered with log_add_secret");
	config_free(&c);
}

static void test_seed(void)
{
	struct config c;
	char err[1024] = "";
	regmatch_t m[2];
	const char *topic = "Week 3 [MATH101] Lecture";

	for (int role = CONFIG_RESPONDER; role <= CONFIG_ANY; role++) {
		if (!ok(config_load(data_path("seed.conf"), (enum config_role)role, &c, err, sizeof err) == 0,
			"the contract's seed configuration loads (role %d)", role))
			printf("#   error: %s\n", err);
		if (role != CONFIG_ANY)
			config_free(&c);
	}
	is_int(c.min_duration, 120, "seed: min_duration 120");
	is_int(c.n_file_types, 1, "seed: one file type");
	is_str(c.file_types[0], "MP4", "seed: MP4");
	is_str(c.key_template,
	       "courses/uploads/{1}/GMT{recording_start:%Y%m%d_%H%M%S}_Recording.{ext}",
	       "seed: key_template");
	ok(c.topic_regex && regexec(&c.topic_re, topic, 2, m, 0) == 0 && m[1].rm_so == 8 &&
		   m[1].rm_eo == 15,
	   "seed: topic_regex compiled REG_EXTENDED, group 1 is MATH101");
	ok(c.topic_regex && regexec(&c.topic_re, "No brackets here", 0, NULL, 0) != 0,
	   "seed: a topic without [CODE] does not match");
	config_free(&c);
}

static void test_errors(void)
{
	static const char with_nul[] = "spool_dir = /s\nx\0y = 1\n";
	char err[1024], want[8800];
	struct config c;

	refused("spool_dir = /s\nfoo = 1\n", CONFIG_ANY, "t.conf:2: unknown key 'foo'",
		"unknown key, with its line");
	refused("spool_dir = /s\n\n# c\nspool_dir = /t\n", CONFIG_ANY,
		"t.conf:4: duplicate key 'spool_dir' (first set on line 1)", "duplicate key");
	refused("spool_dir = /s\n part_size 16M\n", CONFIG_ANY, "t.conf:2: missing '='",
		"missing '='");
	refused("spool_dir = /s\n = 1\n", CONFIG_ANY, "t.conf:2: missing key before '='",
		"missing key");
	refused("spool_dir = /s\npart_size =  \n", CONFIG_ANY,
		"t.conf:2: bad value for part_size: empty", "empty value");
	refused("spool_dir = /s\npart_size = 4M\n", CONFIG_ANY,
		"t.conf:2: bad value '4M' for part_size: expected a size from 5M to 5G",
		"bad value says what is expected");
	refused("spool_dir = /s\ns3_region = a\033b\n", CONFIG_ANY,
		"t.conf:2: bad value for s3_region: it holds a control character",
		"control character in a value");
	refused("SPOOL_DIR = /s\n", CONFIG_ANY, "t.conf:1: unknown key 'SPOOL_DIR'",
		"keys are case-sensitive");
	refused("spool_dir = /s # comment\nfile_types = MP4 # video\n", CONFIG_ANY,
		"t.conf:2: bad value 'MP4 # video' for file_types",
		"a '#' after a value is part of the value");
	refused("", CONFIG_ANY, "t.conf: missing required key spool_dir", "empty file");
	refused("# only a comment\n", CONFIG_SPOOLER, "t.conf: missing required key spool_dir",
		"spool_dir required by the spooler");
	refused("spool_dir = /s\ns3_bucket = b\n", CONFIG_RESPONDER,
		"t.conf: missing required key webhook_secret_token",
		"the responder requires webhook_secret_token");
	refused("spool_dir = /s\nwebhook_secret_token = abcdefgh\n", CONFIG_SPOOLER,
		"t.conf: missing required key s3_bucket", "the spooler requires s3_bucket");
	accepted("spool_dir = /s\nwebhook_secret_token = abcdefgh\n", CONFIG_RESPONDER, &c,
		 "the responder does not need s3_bucket");
	config_free(&c);
	accepted("spool_dir = /s\ns3_bucket = b\n", CONFIG_SPOOLER, &c,
		 "the spooler does not need webhook_secret_token");
	config_free(&c);

	ok(config_parse("t.conf", with_nul, sizeof with_nul - 1, CONFIG_ANY, &c, err,
			sizeof err) == -1 &&
		   strncmp(err, "t.conf:2: ", 10) == 0,
	   "a NUL byte is refused with its line (%s)", err);
	ok(config_parse("t.conf", "spool_dir = /s", 14, CONFIG_ANY, &c, err, sizeof err) == 0,
	   "the last line needs no newline");
	config_free(&c);

	/* The same errors through config_load name the real file. */
	snprintf(want, sizeof want, "%s:4: duplicate key 'spool_dir'", data_path("bad-duplicate.conf"));
	ok(config_load(data_path("bad-duplicate.conf"), CONFIG_ANY, &c, err, sizeof err) == -1 &&
		   strncmp(err, want, strlen(want)) == 0,
	   "config_load: file:line of a duplicate (%s)", err);
	snprintf(want, sizeof want, "%s: missing required key spool_dir",
		 data_path("no-spool-dir.conf"));
	ok(config_load(data_path("no-spool-dir.conf"), CONFIG_ANY, &c, err, sizeof err) == -1,
	   "config_load: a file without spool_dir is refused");
	is_str(err, want, "  ... with 'file: missing required key spool_dir'");
	snprintf(want, sizeof want, "%s: ", tmp_path("absent.conf"));
	ok(config_load(tmp_path("absent.conf"), CONFIG_ANY, &c, err, sizeof err) == -1 &&
		   strncmp(err, want, strlen(want)) == 0 && c.spool_dir == NULL,
	   "config_load: a missing file is an error naming it (%s)", err);
	ok(config_load(tmpdir, CONFIG_ANY, &c, err, sizeof err) == -1,
	   "config_load: a directory is refused (%s)", err);
}

static void test_sizes(void)
{
	static const struct {
		const char *text;
		uint64_t want;
	} good[] = {
		{ "0", 0 },
		{ "1", 1 },
		{ "1K", 1024 },
		{ "1k", 1024 },
		{ "16M", 16777216 },
		{ "5G", 5368709120ULL },
		{ "18446744073709551615", UINT64_MAX },
		{ "17179869183G", 17179869183ULL << 30 },
	};
	/* over 2^64 - 1, signs, no number, fractions, units it does not know,
	 * spaces, hex */
	static const char *const bad[] = {
		"18446744073709551616", "17179869184G", "99999999999999999999999M", "-1", "+1",
		"", "K", "1.5M", "1MB", "1 M", " 1", "0x10", "1T",
	};
	struct config c;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		uint64_t got = 12345;
		int rc = config_parse_size(good[i].text, &got);

		ok(rc == 0 && got == good[i].want, "config_parse_size(\"%s\") -> %d %" PRIu64,
		   good[i].text, rc, got);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint64_t got = 12345;

		is_intf(config_parse_size(bad[i], &got), -1, "config_parse_size(\"%s\") refused",
			bad[i]);
	}
	accepted("spool_dir = /s\npart_size = 5M\n", CONFIG_ANY, &c, "part_size 5M: lowest");
	config_free(&c);
	accepted("spool_dir = /s\npart_size = 5G\n", CONFIG_ANY, &c, "part_size 5G: highest");
	is_int(c.part_size, 5368709120LL, "part_size 5G in bytes");
	config_free(&c);
	refused("spool_dir = /s\npart_size = 5242879\n", CONFIG_ANY,
		"t.conf:2: bad value '5242879' for part_size", "part_size one byte under 5M");
	refused("spool_dir = /s\npart_size = 5368709121\n", CONFIG_ANY,
		"t.conf:2: bad value '5368709121' for part_size", "part_size one byte over 5G");
	accepted("spool_dir = /s\nmax_body_bytes = 1024\n", CONFIG_ANY, &c,
		 "max_body_bytes 1K: lowest");
	config_free(&c);
	refused("spool_dir = /s\nmax_body_bytes = 1023\n", CONFIG_ANY,
		"t.conf:2: bad value '1023' for max_body_bytes: expected a size of at least 1K",
		"max_body_bytes under 1K");
	refused("spool_dir = /s\nmax_body_bytes = 99999999999G\n", CONFIG_ANY,
		"t.conf:2: bad value '99999999999G' for max_body_bytes", "size overflow");
}

static void test_numbers(void)
{
	struct config c;

	refused("spool_dir = /s\nmin_duration = -1\n", CONFIG_ANY,
		"t.conf:2: bad value '-1' for min_duration: expected a whole number of seconds",
		"negative duration");
	refused("spool_dir = /s\nmin_duration = 60s\n", CONFIG_ANY,
		"t.conf:2: bad value '60s' for min_duration", "duration with a unit");
	refused("spool_dir = /s\nmin_duration = 1.5\n", CONFIG_ANY,
		"t.conf:2: bad value '1.5' for min_duration", "fractional duration");
	refused("spool_dir = /s\nmin_duration = 99999999999999999999\n", CONFIG_ANY,
		"t.conf:2: bad value '99999999999999999999' for min_duration", "duration overflow");
	refused("spool_dir = /s\nwebhook_max_skew = 0\n", CONFIG_ANY,
		"t.conf:2: bad value '0' for webhook_max_skew: expected a whole number of seconds, at least 1",
		"webhook_max_skew >= 1");
	refused("spool_dir = /s\nmax_attempts = 0\n", CONFIG_ANY,
		"t.conf:2: bad value '0' for max_attempts", "max_attempts >= 1");
	refused("spool_dir = /s\nretry_delay = 0\n", CONFIG_ANY,
		"t.conf:2: bad value '0' for retry_delay", "retry_delay >= 1");
	refused("spool_dir = /s\nretry_delay = 7200\n", CONFIG_ANY,
		"t.conf:2: retry_max_delay (3600) must be at least retry_delay (7200)",
		"retry_delay over the default retry_max_delay: the line of retry_delay");
	refused("spool_dir = /s\nretry_delay = 10\n\nretry_max_delay = 9\n", CONFIG_ANY,
		"t.conf:4: retry_max_delay (9) must be at least retry_delay (10)",
		"retry_max_delay < retry_delay: the line of retry_max_delay");
	accepted("spool_dir = /s\nmin_duration = 0\nmax_attempts = 1\nretry_delay = 1\n"
		 "retry_max_delay = 1\nwebhook_max_skew = 1\n",
		 CONFIG_ANY, &c, "the smallest accepted numbers");
	is_int(c.max_attempts, 1, "max_attempts 1");
	config_free(&c);
}

static void test_booleans(void)
{
	static const char *const yes[] = { "true", "yes", "on", "1", "TRUE", "Yes", "ON" };
	static const char *const no[] = { "false", "no", "off", "0", "False", "NO", "Off" };
	char text[128];
	struct config c;

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		snprintf(text, sizeof text, "spool_dir = /s\nallow_http = %s\n", yes[i]);
		ok(parse(text, CONFIG_ANY, &c, NULL, 0) == 0 && c.allow_http, "'%s' is true", yes[i]);
		config_free(&c);
		snprintf(text, sizeof text, "spool_dir = /s\nallow_http = %s\n", no[i]);
		ok(parse(text, CONFIG_ANY, &c, NULL, 0) == 0 && !c.allow_http, "'%s' is false", no[i]);
		config_free(&c);
	}
	refused("spool_dir = /s\nallow_http = 2\n", CONFIG_ANY,
		"t.conf:2: bad value '2' for allow_http: expected true or false", "'2' is no boolean");
	refused("spool_dir = /s\nallow_http = y\n", CONFIG_ANY,
		"t.conf:2: bad value 'y' for allow_http", "'y' is no boolean");
}

static void test_lists(void)
{
	struct config c;
	char text[1024];
	size_t o;

	accepted("spool_dir = /s\nfile_types = mp4 ,\tm4a,chat\n", CONFIG_ANY, &c,
		 "file_types list");
	ok(c.n_file_types == 3 && strcmp(c.file_types[0], "MP4") == 0 &&
		   strcmp(c.file_types[1], "M4A") == 0 && strcmp(c.file_types[2], "CHAT") == 0,
	   "entries trimmed and upper-cased");
	config_free(&c);
	refused("spool_dir = /s\nfile_types = MP4,,M4A\n", CONFIG_ANY,
		"t.conf:2: bad value 'MP4,,M4A' for file_types", "empty list entry");
	refused("spool_dir = /s\nfile_types = MP4,\n", CONFIG_ANY,
		"t.conf:2: bad value 'MP4,' for file_types", "trailing comma");
	refused("spool_dir = /s\nfile_types = ,\n", CONFIG_ANY,
		"t.conf:2: bad value ',' for file_types", "only a comma");
	refused("spool_dir = /s\nfile_types = MP 4\n", CONFIG_ANY,
		"t.conf:2: bad value 'MP 4' for file_types", "a blank inside an entry");

	o = (size_t)snprintf(text, sizeof text, "spool_dir = /s\nfile_types = A");
	for (int i = 1; i < CONFIG_MAX_LIST; i++)
		o += (size_t)snprintf(text + o, sizeof text - o, ",A");
	accepted(text, CONFIG_ANY, &c, "CONFIG_MAX_LIST entries fit");
	is_int(c.n_file_types, CONFIG_MAX_LIST, "all of them kept");
	config_free(&c);
	snprintf(text + o, sizeof text - o, ",A\n");
	refused(text, CONFIG_ANY, "t.conf:2: bad value", "one more entry is refused");

	accepted("spool_dir = /s\ndownload_hosts = *.ZOOM.us,Example.COM,[::1],10.0.0.1\n",
		 CONFIG_ANY, &c, "download_hosts list");
	ok(c.n_download_hosts == 4 && strcmp(c.download_hosts[0], "*.zoom.us") == 0 &&
		   strcmp(c.download_hosts[1], "example.com") == 0 &&
		   strcmp(c.download_hosts[2], "[::1]") == 0,
	   "hosts lower-cased");
	config_free(&c);
	refused("spool_dir = /s\ndownload_hosts = zoom.*\n", CONFIG_ANY,
		"t.conf:2: bad value 'zoom.*' for download_hosts", "'*' only as a leading '*.'");
	refused("spool_dir = /s\ndownload_hosts = https://zoom.us/\n", CONFIG_ANY,
		"t.conf:2: bad value 'https://zoom.us/' for download_hosts", "a URL is no host");
	refused("spool_dir = /s\ndownload_hosts = zoom.us,,x\n", CONFIG_ANY,
		"t.conf:2: bad value", "empty host entry");
}

static void test_s3(void)
{
	struct config c;

	accepted("spool_dir = /s\ns3_endpoint = http://127.0.0.1:9000\n", CONFIG_ANY, &c,
		 "endpoint set");
	ok(c.s3_path_style, "s3_path_style defaults to true with an endpoint");
	config_free(&c);
	accepted("spool_dir = /s\ns3_path_style = true\n", CONFIG_ANY, &c,
		 "path style on AWS by hand");
	ok(c.s3_path_style, "s3_path_style = true kept without an endpoint");
	config_free(&c);
	accepted("s3_path_style = no\nspool_dir = /s\ns3_endpoint = HTTPS://minio.example\n",
		 CONFIG_ANY, &c, "path style off with an endpoint, scheme in any case");
	ok(!c.s3_path_style, "s3_path_style = no kept with an endpoint");
	config_free(&c);
	refused("spool_dir = /s\ns3_endpoint = 127.0.0.1:9000\n", CONFIG_ANY,
		"t.conf:2: bad value '127.0.0.1:9000' for s3_endpoint: expected an http:// or https:// URL",
		"endpoint without a scheme");
	refused("spool_dir = /s\nzoom_api_url = ftp://x\n", CONFIG_ANY,
		"t.conf:2: bad value 'ftp://x' for zoom_api_url", "zoom_api_url scheme");
	refused("spool_dir = /s\nzoom_oauth_url = https://\n", CONFIG_ANY,
		"t.conf:2: bad value 'https://' for zoom_oauth_url", "URL without a host");

	accepted("spool_dir = /s\ns3_sse = AES256\n", CONFIG_ANY, &c, "s3_sse AES256");
	config_free(&c);
	accepted("spool_dir = /s\ns3_sse = aws:kms\ns3_sse_kms_key_id = k1\n", CONFIG_ANY, &c,
		 "s3_sse aws:kms with a key id");
	is_str(c.s3_sse_kms_key_id, "k1", "kms key id kept");
	config_free(&c);
	refused("spool_dir = /s\ns3_sse = aes256\n", CONFIG_ANY,
		"t.conf:2: bad value 'aes256' for s3_sse: expected AES256 or aws:kms", "s3_sse values");
	refused("spool_dir = /s\ns3_sse_kms_key_id = k1\n", CONFIG_ANY,
		"t.conf:2: s3_sse_kms_key_id needs s3_sse = aws:kms", "kms key id without s3_sse");
	refused("spool_dir = /s\ns3_sse = AES256\n\ns3_sse_kms_key_id = k1\n", CONFIG_ANY,
		"t.conf:4: s3_sse_kms_key_id needs s3_sse = aws:kms", "kms key id with AES256");
	accepted("spool_dir = /s\n", CONFIG_ANY, &c, "s3_checksum unset, AWS");
	ok(c.s3_checksum_sha256 && !c.s3_acl, "  sha256 by default for AWS; no ACL");
	config_free(&c);
	accepted("spool_dir = /s\ns3_endpoint = http://127.0.0.1:7480\n", CONFIG_ANY, &c,
		 "s3_checksum unset, another endpoint");
	ok(!c.s3_checksum_sha256, "  none by default for an s3_endpoint");
	config_free(&c);
	accepted("spool_dir = /s\ns3_endpoint = http://h\ns3_checksum = sha256\n", CONFIG_ANY, &c,
		 "s3_checksum = sha256 with an endpoint");
	ok(c.s3_checksum_sha256, "  on");
	config_free(&c);
	accepted("spool_dir = /s\ns3_checksum = none\n", CONFIG_ANY, &c, "s3_checksum = none");
	ok(!c.s3_checksum_sha256, "  off for AWS too");
	config_free(&c);
	refused("spool_dir = /s\ns3_checksum = crc32\n", CONFIG_ANY,
		"t.conf:2: bad value 'crc32' for s3_checksum: expected sha256 or none",
		"s3_checksum values");
	accepted("spool_dir = /s\ns3_acl = bucket-owner-full-control\n", CONFIG_ANY, &c, "s3_acl");
	is_str(c.s3_acl, "bucket-owner-full-control", "  kept");
	config_free(&c);
	refused("spool_dir = /s\ns3_acl = bucket-owner-full\n", CONFIG_ANY,
		"t.conf:2: bad value 'bucket-owner-full' for s3_acl", "s3_acl: only canned ACLs");
	refused("spool_dir = /s\ns3_storage_class = STANDARD IA\n", CONFIG_ANY,
		"t.conf:2: bad value 'STANDARD IA' for s3_storage_class", "storage class syntax");
	refused("spool_dir = /s\ns3_bucket = my bucket\n", CONFIG_ANY,
		"t.conf:2: bad value 'my bucket' for s3_bucket: expected one word", "bucket with a blank");
}

static void test_apps(void)
{
	struct config c;

	refused("spool_dir = /s\n\nzoom_client_id = c\n", CONFIG_ANY,
		"t.conf:3: zoom_account_id, zoom_client_id and zoom_client_secret", "OAuth: one of three");
	refused("spool_dir = /s\nzoom_client_secret = secretsecret\nzoom_account_id = a\n",
		CONFIG_ANY, "t.conf:2: zoom_account_id, zoom_client_id and zoom_client_secret",
		"OAuth: two of three, the first line named");
	accepted("spool_dir = /s\nzoom_account_id = a\nzoom_client_id = c\n"
		 "zoom_client_secret = secretsecret\n",
		 CONFIG_ANY, &c, "OAuth: all three");
	config_free(&c);
	refused("spool_dir = /s\nzoom_api_key = k\n", CONFIG_ANY,
		"t.conf:2: zoom_api_key and zoom_api_secret", "JWT: key without secret");
	refused("spool_dir = /s\nzoom_api_secret = secretsecret\n", CONFIG_ANY,
		"t.conf:2: zoom_api_key and zoom_api_secret", "JWT: secret without key");
	accepted("spool_dir = /s\nzoom_api_key = k\nzoom_api_secret = secretsecret\n", CONFIG_ANY,
		 &c, "JWT: both");
	config_free(&c);
}

/* webhook_secret_token_previous, zoom_after_upload, zoom_after_upload_delay. */
static void test_lifecycle_keys(void)
{
	static const char app[] = "zoom_account_id = a\nzoom_client_id = c\n"
				  "zoom_client_secret = secretsecret\n";
	char text[512];
	struct config c;

	accepted("spool_dir = /s\n", CONFIG_ANY, &c, "lifecycle keys: defaults");
	ok(c.webhook_secret_token_previous == NULL, "webhook_secret_token_previous: none");
	ok(c.zoom_after_upload == ZOOM_KEEP, "zoom_after_upload default keep");
	is_int(c.zoom_after_upload_delay, 604800, "zoom_after_upload_delay default 604800");
	config_free(&c);

	accepted("spool_dir = /s\nwebhook_secret_token = newSecret1\n"
		 "webhook_secret_token_previous = oldSecret1\n",
		 CONFIG_RESPONDER, &c, "webhook_secret_token_previous accepted");
	is_str(c.webhook_secret_token_previous, "oldSecret1", "  ... and kept");
	config_free(&c);
	refused("spool_dir = /s\nwebhook_secret_token_previous = old secret\n", CONFIG_ANY,
		"t.conf:2: bad value for webhook_secret_token_previous (not shown, it is a secret)",
		"webhook_secret_token_previous is a secret: a bad one is not echoed");

	snprintf(text, sizeof text, "spool_dir = /s\ns3_bucket = b\n%szoom_after_upload = trash\n"
		 "zoom_after_upload_delay = 0\n", app);
	accepted(text, CONFIG_SPOOLER, &c, "zoom_after_upload = trash with an OAuth app");
	ok(c.zoom_after_upload == ZOOM_TRASH, "  ... is ZOOM_TRASH");
	is_int(c.zoom_after_upload_delay, 0, "  ... zoom_after_upload_delay 0 is allowed");
	is_str(config_after_upload_name(c.zoom_after_upload), "trash", "  ... named trash");
	config_free(&c);
	accepted("spool_dir = /s\ns3_bucket = b\nzoom_api_key = k\nzoom_api_secret = secretsecret\n"
		 "zoom_after_upload = delete\n",
		 CONFIG_SPOOLER, &c, "zoom_after_upload = delete with a JWT app");
	ok(c.zoom_after_upload == ZOOM_DELETE, "  ... is ZOOM_DELETE");
	config_free(&c);
	accepted("spool_dir = /s\ns3_bucket = b\nzoom_after_upload = keep\n", CONFIG_SPOOLER, &c,
		 "zoom_after_upload = keep needs no app");
	config_free(&c);
	refused("spool_dir = /s\ns3_bucket = b\n\nzoom_after_upload = trash\n", CONFIG_SPOOLER,
		"t.conf:4: zoom_after_upload = trash needs a Zoom app",
		"the spooler refuses retention without a Zoom app, naming the line");
	accepted("spool_dir = /s\nwebhook_secret_token = abcdefgh\nzoom_after_upload = trash\n",
		 CONFIG_RESPONDER, &c, "the responder does not use zoom_after_upload");
	config_free(&c);
	refused("spool_dir = /s\nzoom_after_upload = Trash\n", CONFIG_ANY,
		"t.conf:2: bad value 'Trash' for zoom_after_upload: expected keep, trash or delete",
		"zoom_after_upload values are lower case words");
	refused("spool_dir = /s\nzoom_after_upload = remove\n", CONFIG_ANY,
		"t.conf:2: bad value 'remove' for zoom_after_upload", "an unknown action");
	refused("spool_dir = /s\nzoom_after_upload_delay = 7d\n", CONFIG_ANY,
		"t.conf:2: bad value '7d' for zoom_after_upload_delay: expected a whole number "
		"of seconds",
		"zoom_after_upload_delay is seconds");
}

static void test_regex_and_template(void)
{
	struct config c;
	char err[1024], want[512], reason[256];
	regex_t re;
	int rc = regcomp(&re, "(", REG_EXTENDED);

	regerror(rc, &re, reason, sizeof reason);
	snprintf(want, sizeof want, "t.conf:2: bad value '(' for topic_regex: %s", reason);
	ok(rc != 0 && parse("spool_dir = /s\ntopic_regex = (\n", CONFIG_ANY, &c, err, sizeof err) == -1,
	   "a bad topic_regex is refused");
	is_str(err, want, "  ... with regerror's text");
	accepted("spool_dir = /s\ntopic_regex = a+|b{2}\n", CONFIG_ANY, &c,
		 "topic_regex is extended syntax");
	ok(regexec(&c.topic_re, "xbbx", 0, NULL, 0) == 0 && regexec(&c.topic_re, "b+", 0, NULL, 0) != 0,
	   "  ... '|' and '{2}' are operators, '+' is not literal");
	config_free(&c);
	/* glibc's regcomp would need exponential memory for these. */
	ok(parse("spool_dir = /s\ntopic_regex = ^(.*++++++++++++)\n", CONFIG_ANY, &c, err,
		 sizeof err) == -1 && strstr(err, "t.conf:2:") && strstr(err, "repetition"),
	   "stacked repetitions are refused, naming the line");
	ok(parse("spool_dir = /s\ntopic_regex = a{2}*\n", CONFIG_ANY, &c, err, sizeof err) == -1,
	   "  ... also after a bound");
	accepted("spool_dir = /s\ntopic_regex = [*+?]+ \\++ (a*)+\n", CONFIG_ANY, &c,
		 "a repetition after a bracket, an escape or a group is fine");
	config_free(&c);
	/* Found by fuzz_config (tests/fuzz/corpus/fuzz_config/regex-*): "[^" inside
	 * a bracket expression is no new bracket; the "+++" after it was hidden. */
	ok(parse("spool_dir = /s\ntopic_regex = [e\\[^] x\\+++++\n", CONFIG_ANY, &c, err,
		 sizeof err) == -1 && strstr(err, "repetition"),
	   "stacked repetitions after a bracket holding \"[^\" are refused");
	ok(parse("spool_dir = /s\ntopic_regex = ((a{1,100}){1,100}){1,100}\n", CONFIG_ANY, &c, err,
		 sizeof err) == -1 && strstr(err, "t.conf:2:") && strstr(err, "multiply"),
	   "nested bounds that multiply to a million copies are refused");
	ok(parse("spool_dir = /s\ntopic_regex = x{1,32767}\n", CONFIG_ANY, &c, err,
		 sizeof err) == -1, "  ... and so is one bound of 32767");
	ok(parse("spool_dir = /s\ntopic_regex = (ab|[[:alpha:]]{9}){3,}{2}\n", CONFIG_ANY, &c, err,
		 sizeof err) == -1, "  ... and a stacked {n,}");
	accepted("spool_dir = /s\ntopic_regex = ^([A-Z]{2,8})[-_ ]?([0-9]{3,4}){1,2} []a[:digit:]]+ "
		 "[^]]*\n", CONFIG_ANY, &c, "bounds of a real topic regex, brackets with ']' are fine");
	ok(regexec(&c.topic_re, "MATH 1010 a]1 x", 0, NULL, 0) == 0, "  ... and it matches");
	config_free(&c);

	snprintf(want, sizeof want, "t.conf:2: bad value 'a/{nope}.{ext}' for key_template: ");
	ok(parse("spool_dir = /s\nkey_template = a/{nope}.{ext}\n", CONFIG_ANY, &c, err,
		 sizeof err) == -1 &&
		   strncmp(err, want, strlen(want)) == 0 && strstr(err + strlen(want), "nope") != NULL,
	   "an unknown placeholder is a config error naming it (%s)", err);
	accepted("spool_dir = /s\nkey_template = {meeting_id}/{start_time:%Y/%m}/{file_id}.{ext}\n",
		 CONFIG_ANY, &c, "a good template");
	config_free(&c);
}

/* The message of a refused text must not contain secret. */
static void no_secret_in(const char *text, const char *secret, const char *name)
{
	struct config c;
	char err[1024] = "";
	int rc = parse(text, CONFIG_ANY, &c, err, sizeof err);

	if (!ok(rc == -1 && strncmp(err, "t.conf:", 7) == 0 && !strstr(err, secret), "%s", name))
		printf("#   rc %d, err: %s\n", rc, err);
}

static void test_secrets_hidden(void)
{
	static const char *const secret_keys[] = { "webhook_secret_token", "zoom_client_secret",
						   "zoom_api_secret", "aws_secret_access_key",
						   "aws_session_token" };
	char text[512], want[256];

	for (size_t i = 0; i < sizeof secret_keys / sizeof secret_keys[0]; i++) {
		struct config c;
		char err[1024] = "";

		snprintf(text, sizeof text, "spool_dir = /s\n%s = Pasted Twice%zu\n", secret_keys[i], i);
		snprintf(want, sizeof want, "t.conf:2: bad value for %s (not shown", secret_keys[i]);
		ok(parse(text, CONFIG_ANY, &c, err, sizeof err) == -1 &&
			   strncmp(err, want, strlen(want)) == 0 && !strstr(err, "Pasted") &&
			   !strstr(err, "Twice"),
		   "a bad %s is refused without showing it", secret_keys[i]);
	}
	no_secret_in("spool_dir = /s\nwebhook_secret_token = Dup1Secret\n"
		     "webhook_secret_token = Dup2Secret\n",
		     "Dup", "a duplicate secret key shows neither value");
	no_secret_in("spool_dir = /s\nwebhook_secret_token VeryHush1\n", "VeryHush1",
		     "a secret line without '=' is not echoed");
	no_secret_in("spool_dir = /s\nwebhook_secret_token VeryHush2 = x\n", "VeryHush2",
		     "a malformed key holding a secret is not echoed");
	no_secret_in("spool_dir = /s\nwebhook_secret_token = Echo0Me0Hush\n"
		     "s3_region = Echo0Me0Hush x\n",
		     "Echo0Me0Hush", "a secret pasted into another key's bad value is masked");
	no_secret_in("spool_dir = /s\nzoom_api_key = k\nzoom_api_secret = JwtHush123\n"
		     "foo = JwtHush123\n",
		     "JwtHush123", "a secret in an unknown-key line is not echoed");
}

static void test_find_path(void)
{
	unsetenv("ZOOM2S3_CONFIG");
	is_str(config_find_path(NULL), SYSCONFDIR "/zoom2s3.conf", "default: SYSCONFDIR/zoom2s3.conf");
	setenv("ZOOM2S3_CONFIG", "/from/env.conf", 1);
	is_str(config_find_path(NULL), "/from/env.conf", "$ZOOM2S3_CONFIG over the default");
	is_str(config_find_path("/from/c.conf"), "/from/c.conf", "-c over $ZOOM2S3_CONFIG");
	setenv("ZOOM2S3_CONFIG", "", 1);
	is_str(config_find_path(NULL), SYSCONFDIR "/zoom2s3.conf", "an empty $ZOOM2S3_CONFIG is unset");
	unsetenv("ZOOM2S3_CONFIG");
	is_str(config_find_path("rel.conf"), "rel.conf", "-c alone");
}

static int load(const char *path, struct config *c)
{
	char err[1024] = "";
	int rc = config_load(path, CONFIG_ANY, c, err, sizeof err);

	if (rc < 0)
		printf("# load %s: %s\n", path, err);
	return rc;
}

static void test_changed(void)
{
	char path[4200], next[4200];
	struct timespec times[2];
	struct config c;

	/* tmp_path's buffer is reused by every call: copy. */
	snprintf(path, sizeof path, "%s", tmp_path("live.conf"));
	snprintf(next, sizeof next, "%s", tmp_path("next.conf"));
	write_file(path, "spool_dir = /s\n", 0600);
	ok(load(path, &c) == 0 && !config_changed(&c), "unchanged right after loading");
	write_file(path, "spool_dir = /s\nmin_duration = 5\n", 0600);
	ok(config_changed(&c), "changed after a rewrite");
	config_free(&c);

	ok(load(path, &c) == 0 && !config_changed(&c), "unchanged after reloading");
	times[0].tv_sec = times[1].tv_sec = 1000000000;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	ok(utimensat(AT_FDCWD, path, times, 0) == 0 && config_changed(&c),
	   "changed when only the mtime differs");
	config_free(&c);

	/* A file with the same size and mtime renamed over it: only the inode. */
	ok(load(path, &c) == 0, "reloaded");
	write_file(next, "spool_dir = /s\nmin_duration = 5\n", 0600);
	ok(utimensat(AT_FDCWD, next, times, 0) == 0 && rename(next, path) == 0 &&
		   config_changed(&c),
	   "changed when replaced by another file of the same size and mtime");
	config_free(&c);

	ok(load(path, &c) == 0 && unlink(path) == 0 && config_changed(&c), "changed when removed");
	config_free(&c);
}

static void test_readable_warning(void)
{
	const char *path = tmp_path("exposed.conf");
	const char *got;
	struct config c;

	take_captured();
	write_file(path, "spool_dir = /s\nwebhook_secret_token = ExposedHush1\n", 0644);
	ok(load(path, &c) == 0, "a world-readable file with a secret still loads");
	got = take_captured();
	ok(strstr(got, " warning event=config_readable_by_others file=") != NULL,
	   "  ... with a warning");
	ok(!strstr(got, "ExposedHush1"), "  ... which does not show the secret");
	config_free(&c);

	chmod(path, 0640);
	ok(load(path, &c) == 0 && !strstr(take_captured(), "config_readable_by_others"),
	   "no warning when others cannot read it");
	config_free(&c);

	write_file(path, "spool_dir = /s\ns3_bucket = b\n", 0644);
	ok(load(path, &c) == 0 && !strstr(take_captured(), "config_readable_by_others"),
	   "no warning for a readable file without secrets");
	config_free(&c);
	unlink(path);
}

/* The example documents every key; its "#key = value" lines are good values,
 * and for keys with a default they are exactly the default. */
static const char *const contract_keys[] = {
	"spool_dir", "webhook_secret_token", "webhook_max_skew", "max_body_bytes",
	"topic_regex", "file_types", "min_duration", "key_template", "download_hosts",
	"allow_http", "s3_bucket", "s3_region", "s3_endpoint", "s3_path_style", "part_size",
	"zoom_account_id", "zoom_client_id", "zoom_client_secret", "zoom_api_key",
	"zoom_api_secret", "zoom_oauth_url", "zoom_api_url", "max_attempts", "retry_delay",
	"retry_max_delay", "watch_rescan_interval", "s3_storage_class", "s3_sse", "s3_sse_kms_key_id",
	"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "s3_checksum",
	"s3_acl", "webhook_secret_token_previous", "zoom_after_upload", "zoom_after_upload_delay",
};
static const char *const defaulted_keys[] = {
	"webhook_max_skew", "max_body_bytes", "file_types", "min_duration", "key_template",
	"download_hosts", "allow_http", "s3_region", "part_size", "zoom_oauth_url",
	"zoom_api_url", "max_attempts", "retry_delay", "retry_max_delay", "zoom_after_upload",
	"zoom_after_upload_delay", "watch_rescan_interval",
};

static bool is_defaulted(const char *line)
{
	for (size_t i = 0; i < sizeof defaulted_keys / sizeof defaulted_keys[0]; i++) {
		size_t n = strlen(defaulted_keys[i]);

		if (strncmp(line, defaulted_keys[i], n) == 0 && strncmp(line + n, " = ", 3) == 0)
			return true;
	}
	return false;
}

static bool same_list(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static bool same_defaults(const struct config *a, const struct config *b)
{
	return a->webhook_max_skew == b->webhook_max_skew &&
	       a->max_body_bytes == b->max_body_bytes &&
	       same_list(a->file_types, a->n_file_types, b->file_types, b->n_file_types) &&
	       a->min_duration == b->min_duration && strcmp(a->key_template, b->key_template) == 0 &&
	       same_list(a->download_hosts, a->n_download_hosts, b->download_hosts,
			 b->n_download_hosts) &&
	       a->allow_http == b->allow_http && strcmp(a->s3_region, b->s3_region) == 0 &&
	       a->part_size == b->part_size && strcmp(a->zoom_oauth_url, b->zoom_oauth_url) == 0 &&
	       strcmp(a->zoom_api_url, b->zoom_api_url) == 0 && a->max_attempts == b->max_attempts &&
	       a->retry_delay == b->retry_delay && a->retry_max_delay == b->retry_max_delay &&
	       a->zoom_after_upload == b->zoom_after_upload &&
	       a->zoom_after_upload_delay == b->zoom_after_upload_delay;
}

static void test_example(void)
{
	static char text[32768], all[32768], defaults_only[32768];
	char path[4200];
	size_t n, o_all = 0, o_def = 0;
	struct config c, d;
	FILE *f;

	snprintf(path, sizeof path, "%s/zoom2s3.conf.example", srcdir);
	f = fopen(path, "r");
	n = f ? fread(text, 1, sizeof text - 1, f) : 0;
	if (f)
		fclose(f);
	text[n] = '\0';
	ok(n > 0, "zoom2s3.conf.example is readable at %s", path);
	ok(load(path, &c) == 0, "the example loads as it is");
	config_free(&c);

	o_def = (size_t)snprintf(defaults_only, sizeof defaults_only, "spool_dir = /s\n");
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		const char *body = line[0] == '#' && line[1] >= 'a' && line[1] <= 'z' ? line + 1
										     : line;

		o_all += (size_t)snprintf(all + o_all, sizeof all - o_all, "%s\n", body);
		if (body != line && is_defaulted(body))
			o_def += (size_t)snprintf(defaults_only + o_def, sizeof defaults_only - o_def,
						  "%s\n", body);
	}
	for (size_t i = 0; i < sizeof contract_keys / sizeof contract_keys[0]; i++) {
		char want[128];

		snprintf(want, sizeof want, "\n%s = ", contract_keys[i]);
		ok(strstr(all, want) != NULL, "the example shows %s", contract_keys[i]);
	}
	accepted(all, CONFIG_SPOOLER, &c, "every '#key = value' line of the example is good");
	config_free(&c);
	ok(accepted(defaults_only, CONFIG_ANY, &c, "the example's defaults parse") &&
		   accepted("spool_dir = /s\n", CONFIG_ANY, &d, "a config with no keys set") &&
		   same_defaults(&c, &d),
	   "the example's '#key = value' lines are the real defaults");
	config_free(&c);
	config_free(&d);
}

int main(void)
{
	int fd;
	struct config zero;

	find_srcdir();
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(capture_path, sizeof capture_path, "%s/stderr", tmpdir);
	fd = open(capture_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (tap_capture_stderr(fd, capture_path) != 0)
		return 1;
	setenv("ZOOM2S3_LOG", "stderr", 1);
	log_init("test_config", LOG_DEST_AUTO, false);
	/* The spooler's file takes a region from ~/.aws/config when it sets
	 * none: the tester's own must not change the defaults checked here. */
	{
		char none[sizeof tmpdir + 16];

		snprintf(none, sizeof none, "%s/no-aws-file", tmpdir);
		setenv("AWS_CONFIG_FILE", none, 1);
		setenv("AWS_SHARED_CREDENTIALS_FILE", none, 1);
	}

	memset(&zero, 0, sizeof zero);
	config_free(&zero);
	ok(1, "config_free on a zeroed struct");

	test_defaults();
	test_full_file();
	test_seed();
	test_errors();
	test_sizes();
	test_numbers();
	test_booleans();
	test_lists();
	test_s3();
	test_apps();
	test_lifecycle_keys();
	test_regex_and_template();
	test_secrets_hidden();
	test_find_path();
	test_changed();
	test_readable_warning();
	test_example();

	if (!tap_failed) {
		unlink(capture_path);
		rmdir(tmpdir);
	}
	return done_testing();
}
