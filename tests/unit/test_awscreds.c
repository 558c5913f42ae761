/* awscreds: the contract's order (environment, config, shared file, IMDSv2),
 * INI and JSON parsing, and the instance-role refresh against a stub IMDS. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "awscreds.h"
#include "httpstub.h"
#include "log.h"
#include "tap.h"

/* ---- a stub IMDS ---- */

struct imds_stub {
	pthread_mutex_t lock;
	int fetches;       /* answers with credentials */
	long lifetime;     /* seconds until the credentials it hands out expire */
	int fail_creds;    /* answer 500 to the credentials request */
	int saw_token_put; /* the PUT carried the TTL header */
};

static void imds_handler(void *ctx, const struct httpstub_request *req, int fd)
{
	struct imds_stub *st = ctx;
	char value[256], json[1024], exp[64];
	time_t t;
	int n;

	if (strcmp(req->method, "PUT") == 0 && strcmp(req->target, "/latest/api/token") == 0) {
		if (!httpstub_header(req, "X-aws-ec2-metadata-token-ttl-seconds", value,
				     sizeof value)) {
			httpstub_reply(fd, 400, NULL, "", 0);
			return;
		}
		st->saw_token_put = 1;
		httpstub_reply(fd, 200, NULL, "STUBTOKEN-abcdef", 16);
		return;
	}
	if (!httpstub_header(req, "X-aws-ec2-metadata-token", value, sizeof value) ||
	    strcmp(value, "STUBTOKEN-abcdef") != 0) {
		httpstub_reply(fd, 401, NULL, "", 0);
		return;
	}
	if (strcmp(req->target, "/latest/meta-data/iam/security-credentials/") == 0) {
		httpstub_reply(fd, 200, NULL, "zoom-role\n", 10);
		return;
	}
	if (strcmp(req->target, "/latest/meta-data/iam/security-credentials/zoom-role") != 0) {
		httpstub_reply(fd, 404, NULL, "", 0);
		return;
	}
	pthread_mutex_lock(&st->lock);
	if (st->fail_creds) {
		pthread_mutex_unlock(&st->lock);
		httpstub_reply(fd, 500, NULL, "", 0);
		return;
	}
	st->fetches++;
	t = time(NULL) + st->lifetime;
	strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	n = snprintf(json, sizeof json,
		     "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2026-11-26T20:00:00Z\",\n"
		     "  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIASTUB%04d\",\n"
		     "  \"SecretAccessKey\" : \"stub\\/secret-%04d\",\n"
		     "  \"Token\" : \"stub-session-token-%04d\",\n  \"Expiration\" : \"%s\"\n}\n",
		     st->fetches, st->fetches, st->fetches, exp);
	pthread_mutex_unlock(&st->lock);
	httpstub_reply(fd, 200, NULL, json, (size_t)n);
}

static void clear_env(void)
{
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/zoom2s3-test/credentials", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
}

static void test_ini(void)
{
	struct aws_credentials c;
	const char *text = "# comment\r\n"
			   "[default]\r\n"
			   "aws_access_key_id = AKIDDEFAULT\r\n"
			   "aws_secret_access_key=secretdefault \r\n"
			   "\n"
			   "; another comment\n"
			   "[ other ]\n"
			   "  aws_access_key_id   =   AKIDOTHER  \n"
			   "aws_secret_access_key = sec=ret/other+x\n"
			   "aws_session_token = tok\n"
			   "region = eu-west-1\n"
			   "[half]\n"
			   "aws_access_key_id = AKIDHALF\n";

	is_int(awscreds_parse_ini(text, "default", &c), AWSCREDS_INI_FOUND, "ini: default found");
	is_str(c.access_key_id, "AKIDDEFAULT", "ini: key id, CRLF trimmed");
	is_str(c.secret_access_key, "secretdefault", "ini: secret, blanks trimmed");
	is_str(c.session_token, "", "ini: no token");
	is_int(awscreds_parse_ini(text, "other", &c), AWSCREDS_INI_FOUND, "ini: [ other ] found");
	is_str(c.access_key_id, "AKIDOTHER", "ini: other's key id");
	is_str(c.secret_access_key, "sec=ret/other+x", "ini: '=' inside a value is kept");
	is_str(c.session_token, "tok", "ini: other's token");
	is_int(awscreds_parse_ini(text, "half", &c), AWSCREDS_INI_PARTIAL, "ini: half is partial");
	is_int(awscreds_parse_ini(text, "nope", &c), AWSCREDS_INI_NO_PROFILE,
	       "ini: absent profile");
	is_int(awscreds_parse_ini("", "default", &c), AWSCREDS_INI_NO_PROFILE, "ini: empty file");
}

static enum outcome get_once(const struct config *cfg, struct aws_credentials *c,
			     struct result *r)
{
	struct awscreds *ac = awscreds_new(cfg);
	enum outcome o = awscreds_get(ac, c, r);

	awscreds_free(ac);
	return o;
}

static void test_order(const char *dir)
{
	static char ck[] = "AKIDCONFIG", cs[] = "configsecret-1234";
	struct config cfg = {0};
	struct aws_credentials c;
	struct result r;
	char path[512], scrub[128];
	FILE *f;

	clear_env();
	cfg.aws_access_key_id = ck;
	cfg.aws_secret_access_key = cs;
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret-5678", 1);
	setenv("AWS_SESSION_TOKEN", "envtoken-9999", 1);
	ok(get_once(&cfg, &c, &r) == OUTCOME_DONE, "environment: found");
	is_str(c.source, "environment", "environment comes first");
	is_str(c.access_key_id, "AKIDENV", "  its key id");
	is_str(c.session_token, "envtoken-9999", "  its session token");
	ok(c.expires == 0, "  does not expire");
	snprintf(scrub, sizeof scrub, "x envsecret-5678 envtoken-9999 y");
	log_scrub(scrub, sizeof scrub);
	ok(!strstr(scrub, "envsecret") && !strstr(scrub, "envtoken"),
	   "environment secret and token are registered with the log guard");

	unsetenv("AWS_SECRET_ACCESS_KEY");
	ok(get_once(&cfg, &c, &r) == OUTCOME_RETRY && strstr(r.why, "AWS_SECRET_ACCESS_KEY"),
	   "a partial environment pair is an error naming the missing variable");
	ok(c.access_key_id[0] == '\0', "  and hands out nothing");

	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SESSION_TOKEN");
	ok(get_once(&cfg, &c, &r) == OUTCOME_DONE, "config: found");
	is_str(c.source, "config file", "the config file comes second");
	is_str(c.access_key_id, "AKIDCONFIG", "  its key id");
	is_str(c.session_token, "", "  no token");

	snprintf(path, sizeof path, "%s/credentials", dir);
	f = fopen(path, "w");
	fprintf(f, "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = filesecret-1\n"
		   "[ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = opssecret-1\n");
	fclose(f);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	cfg.aws_access_key_id = NULL;
	cfg.aws_secret_access_key = NULL;
	ok(get_once(&cfg, &c, &r) == OUTCOME_DONE, "file: found");
	is_str(c.source, "shared credentials file", "the shared credentials file comes third");
	is_str(c.access_key_id, "AKIDFILE", "  profile default");
	setenv("AWS_PROFILE", "ops", 1);
	ok(get_once(NULL, &c, &r) == OUTCOME_DONE && strcmp(c.access_key_id, "AKIDOPS") == 0,
	   "AWS_PROFILE picks the profile (and cfg may be NULL)");

	{
		struct awscreds *ac = awscreds_new(&cfg);

		f = fopen(path, "w");
		fprintf(f, "[ops]\naws_access_key_id = AKIDOPS2\naws_secret_access_key = x2-secret\n");
		fclose(f);
		ok(awscreds_get(ac, &c, &r) == OUTCOME_DONE &&
			   strcmp(c.access_key_id, "AKIDOPS2") == 0,
		   "a fixed credentials file is read again without a restart");
		setenv("AWS_PROFILE", "nope", 1);
		awscreds_free(ac);
	}
	ok(get_once(&cfg, &c, &r) == OUTCOME_RETRY, "nothing anywhere: retry");
	tap_diag(r.why);
	ok(strstr(r.why, "no AWS credentials") && strstr(r.why, "no profile [nope]") &&
		   strstr(r.why, "AWS_EC2_METADATA_DISABLED"),
	   "  and the message says what was looked at");
	unsetenv("AWS_PROFILE");
	unlink(path);
}

static void test_imds(void)
{
	struct imds_stub st = {.lifetime = 3600};
	struct httpstub srv;
	struct awscreds *ac;
	struct aws_credentials c;
	struct result r;
	char url[64], scrub[128];
	time_t now = time(NULL);

	pthread_mutex_init(&st.lock, NULL);
	clear_env();
	if (!ok(httpstub_start(&srv, imds_handler, &st) == 0, "stub IMDS starts"))
		return;
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", srv.port);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	ac = awscreds_new(NULL);
	ok(awscreds_get(ac, &c, &r) == OUTCOME_DONE, "IMDS: credentials fetched");
	ok(st.saw_token_put, "  after an IMDSv2 token PUT with a TTL header");
	is_str(c.source, "instance role", "  source is the instance role");
	is_str(c.access_key_id, "ASIASTUB0001", "  key id");
	is_str(c.secret_access_key, "stub/secret-0001", "  secret (JSON-unescaped)");
	is_str(c.session_token, "stub-session-token-0001", "  session token");
	ok(c.expires >= now + 3590 && c.expires <= now + 3700, "  expiry read from Expiration");
	snprintf(scrub, sizeof scrub, "stub/secret-0001 stub-session-token-0001");
	log_scrub(scrub, sizeof scrub);
	ok(!strstr(scrub, "secret-0001") && !strstr(scrub, "token-0001"),
	   "  secret and token are registered with the log guard");
	ok(awscreds_get(ac, &c, &r) == OUTCOME_DONE && st.fetches == 1,
	   "credentials far from expiry are reused, IMDS is not asked again");
	awscreds_free(ac);

	st.lifetime = 200; /* inside the 5-minute margin */
	ac = awscreds_new(NULL);
	ok(awscreds_get(ac, &c, &r) == OUTCOME_DONE && strcmp(c.access_key_id, "ASIASTUB0002") == 0,
	   "IMDS: fetched again for a new object");
	ok(awscreds_get(ac, &c, &r) == OUTCOME_DONE && strcmp(c.access_key_id, "ASIASTUB0003") == 0,
	   "credentials within 5 minutes of expiry are refreshed before use");
	st.fail_creds = 1;
	ok(awscreds_get(ac, &c, &r) == OUTCOME_DONE && strcmp(c.access_key_id, "ASIASTUB0003") == 0,
	   "a failed refresh keeps the old credentials while they are still valid");
	awscreds_free(ac);

	ac = awscreds_new(NULL);
	ok(awscreds_get(ac, &c, &r) == OUTCOME_RETRY && strstr(r.why, "HTTP 500"),
	   "IMDS failing with nothing cached: retry, with the reason");
	tap_diag(r.why);
	awscreds_free(ac);
	httpstub_stop(&srv);

	ac = awscreds_new(NULL); /* the stub is gone: nothing listens there now */
	ok(awscreds_get(ac, &c, &r) == OUTCOME_RETRY && strstr(r.why, "instance metadata"),
	   "IMDS unreachable: retry");
	awscreds_free(ac);
	pthread_mutex_destroy(&st.lock);
}

int main(void)
{
	char dir[] = "/tmp/test_awscreds.XXXXXX";

	curl_global_init(CURL_GLOBAL_DEFAULT);
	setenv("NO_PROXY", "127.0.0.1,localhost", 1); /* the stubs are on loopback */
	log_init("test_awscreds", LOG_DEST_STDERR, false);
	if (!mkdtemp(dir))
		return 1;
	test_ini();
	test_order(dir);
	test_imds();
	rmdir(dir);
	curl_global_cleanup();
	return done_testing();
}
