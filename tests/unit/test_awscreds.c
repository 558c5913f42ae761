/* awscreds: the contract's order (environment, config, web identity, the
 * profile's files and credential_process, container, IMDSv2), the parsers,
 * the region and endpoint fallbacks, and the refresh of each temporary
 * source against a stub (STS, container endpoint, IMDS) or a script. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "awscreds.h"
#include "config.h"
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

/* Lets go of the stub's lock, then answers: never a reply under a lock. */
static void reply_unlocked(pthread_mutex_t *lock, int fd, int status, const char *headers,
			   const char *body, size_t len)
{
	pthread_mutex_unlock(lock);
	httpstub_reply(fd, status, headers, body, len);
}

/* The ISO 8601 UTC time seconds from now, as the credential sources write
 * their Expiration. */
static void expiration_in(long seconds, char exp[64])
{
	time_t t = time(NULL) + seconds;

	strftime(exp, 64, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
}

static void imds_handler(void *ctx, const struct httpstub_request *req, int fd)
{
	struct imds_stub *st = ctx;
	char value[256], json[1024], exp[64];
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
		reply_unlocked(&st->lock, fd, 500, NULL, "", 0);
		return;
	}
	st->fetches++;
	expiration_in(st->lifetime, exp);
	n = snprintf(json, sizeof json,
		     "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2026-11-26T20:00:00Z\",\n"
		     "  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIASTUB%04d\",\n"
		     "  \"SecretAccessKey\" : \"stub\\/secret-%04d\",\n"
		     "  \"Token\" : \"stub-session-token-%04d\",\n  \"Expiration\" : \"%s\"\n}\n",
		     st->fetches, st->fetches, st->fetches, exp);
	reply_unlocked(&st->lock, fd, 200, NULL, json, (size_t)n);
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
	setenv("AWS_CONFIG_FILE", "/nonexistent/zoom2s3-test/config", 1);
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	unsetenv("AWS_ROLE_ARN");
	unsetenv("AWS_ROLE_SESSION_NAME");
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_S3");
	unsetenv("AWS_ENDPOINT_URL_STS");
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
}

/* A stub for a credential source: its state's lock ready, no AWS setting
 * left in the environment, the server started. Whether it runs. */
static bool stub_up(struct httpstub *srv, httpstub_handler handler, void *state,
		    pthread_mutex_t *lock, const char *name)
{
	pthread_mutex_init(lock, NULL);
	clear_env();
	return ok(httpstub_start(srv, handler, state) == 0, "%s", name);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

/* The message mentions none of the secrets. */
static int no_secret(const char *text)
{
	static const char *const secrets[] = { "secret-", "session-token", "JWT-", "ctoken" };

	for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
		if (strstr(text, secrets[i]))
			return 0;
	return 1;
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

	if (!stub_up(&srv, imds_handler, &st, &st.lock, "stub IMDS starts"))
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

/* ---- the pure parts ---- */

static void test_config_file_ini(void)
{
	const char *text = "[default]\n"
			   "region = eu-central-1\n"
			   "[profile ops]\n"
			   "aws_access_key_id = AKIDCONF\n"
			   "s3 =\n"
			   "  addressing_style = path\n"
			   "  aws_secret_access_key = nested-not-ours\n"
			   "aws_secret_access_key = conf-secret-1\n"
			   "[ops]\n"
			   "aws_access_key_id = AKIDWRONGSECTION\n"
			   "[profile   tool]\n"
			   "credential_process = /bin/echo one\n"
			   "credential_process = /bin/echo two\n";
	struct aws_credentials c;
	char v[64];

	is_int(awscreds_parse_profile(text, true, "ops", &c), AWSCREDS_INI_FOUND,
	       "config file: [profile ops] read for profile ops");
	is_str(c.access_key_id, "AKIDCONF", "  not the [ops] section (a credentials-file name)");
	is_str(c.secret_access_key, "conf-secret-1", "  an indented sub-setting is not the profile's");
	is_str(c.source, "shared config file", "  source");
	is_int(awscreds_parse_profile(text, false, "ops", &c), AWSCREDS_INI_PARTIAL,
	       "credentials file naming: [ops] is the section, and it is partial");
	is_int(awscreds_ini_value(text, true, "default", "region", v, sizeof v), AWSCREDS_INI_FOUND,
	       "config file: [default] is the default profile");
	is_str(v, "eu-central-1", "  its region");
	is_int(awscreds_ini_value(text, true, "tool", "credential_process", v, sizeof v),
	       AWSCREDS_INI_FOUND, "[profile   tool]: blanks after 'profile'");
	is_str(v, "/bin/echo two", "  a later line wins");
	is_int(awscreds_ini_value(text, true, "tool", "region", v, sizeof v), AWSCREDS_INI_NO_KEY,
	       "a key the profile lacks");
	is_int(awscreds_parse_profile(text, true, "tool", &c), AWSCREDS_INI_NO_KEY,
	       "a profile without keys: no keys, not partial");
	is_int(awscreds_ini_value(text, true, "ops", "aws_access_key_id", v, 4),
	       AWSCREDS_INI_TOO_LONG, "a value that does not fit");
	is_int(awscreds_ini_value(text, true, "nope", "region", v, sizeof v),
	       AWSCREDS_INI_NO_PROFILE, "an absent profile");
}

static void test_process_json(void)
{
	struct aws_credentials c;
	char why[256];

	ok(awscreds_parse_process("{\"Version\": 1, \"AccessKeyId\": \"AKIDP\", "
				  "\"SecretAccessKey\": \"p-secret-1\", \"SessionToken\": \"tok\", "
				  "\"Expiration\": \"2030-01-02T03:04:05Z\"}",
				  &c, why, sizeof why) == 0,
	   "credential_process: full answer");
	is_str(c.access_key_id, "AKIDP", "  key id");
	is_str(c.session_token, "tok", "  token");
	ok(c.expires == 1893553445, "  expiration");
	is_str(c.source, "credential_process", "  source");
	ok(awscreds_parse_process("{\"Version\": 1, \"AccessKeyId\": \"AKIDP\", "
				  "\"SecretAccessKey\": \"p-secret-1\"}",
				  &c, why, sizeof why) == 0 && c.expires == 0 &&
		   !c.session_token[0],
	   "credential_process: without token and Expiration they do not expire");
	ok(awscreds_parse_process("{\"Version\": 2, \"AccessKeyId\": \"A\", "
				  "\"SecretAccessKey\": \"p-secret-1\"}",
				  &c, why, sizeof why) < 0 && strstr(why, "Version"),
	   "credential_process: Version 2 refused (%s)", why);
	ok(awscreds_parse_process("{\"Version\": 1, \"AccessKeyId\": \"A\"}", &c, why,
				  sizeof why) < 0 && !c.access_key_id[0],
	   "credential_process: no secret, nothing kept (%s)", why);
	ok(awscreds_parse_process("{\"Version\": 1, \"AccessKeyId\": \"A\", "
				  "\"SecretAccessKey\": \"p-secret-1\", \"Expiration\": \"soon\"}",
				  &c, why, sizeof why) < 0 && strstr(why, "Expiration"),
	   "credential_process: a bad Expiration (%s)", why);
	ok(awscreds_parse_process("AccessKeyId=A", &c, why, sizeof why) < 0 && no_secret(why),
	   "credential_process: not JSON (%s)", why);
}

static void test_sts_xml(void)
{
	const char *xml =
		"<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/"
		"2011-06-15/\"><AssumeRoleWithWebIdentityResult>"
		"<SubjectFromWebIdentityToken>system:sa</SubjectFromWebIdentityToken>"
		"<Credentials><AccessKeyId>ASIAWEB</AccessKeyId>"
		"<SecretAccessKey>web-secret-1/x+y</SecretAccessKey>"
		"<SessionToken>web-session-token&amp;1</SessionToken>"
		"<Expiration>2030-01-02T03:04:05.123Z</Expiration></Credentials>"
		"</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
	struct aws_credentials c;
	char why[256];

	ok(awscreds_parse_sts(xml, strlen(xml), &c, why, sizeof why) == 0, "STS answer read");
	is_str(c.access_key_id, "ASIAWEB", "  key id");
	is_str(c.secret_access_key, "web-secret-1/x+y", "  secret");
	is_str(c.session_token, "web-session-token&1", "  token, entities decoded");
	ok(c.expires == 1893553445, "  expiration with milliseconds");
	ok(awscreds_parse_sts("<ErrorResponse/>", 16, &c, why, sizeof why) < 0,
	   "an answer without Credentials (%s)", why);
}

static void test_container_url(void)
{
	static const struct {
		const char *rel, *full;
		int rc;
		const char *url;
	} cases[] = {
		{ "/v2/credentials/abc", NULL, 1, "http://169.254.170.2/v2/credentials/abc" },
		{ "/rel", "http://127.0.0.1:9/full", 1, "http://169.254.170.2/rel" },
		{ NULL, "http://127.0.0.1:8080/creds", 1, "http://127.0.0.1:8080/creds" },
		{ NULL, "http://127.1.2.3/creds", 1, "http://127.1.2.3/creds" },
		{ NULL, "http://localhost/creds", 1, "http://localhost/creds" },
		{ NULL, "http://[::1]:80/creds", 1, "http://[::1]:80/creds" },
		{ NULL, "http://169.254.170.2/v2", 1, "http://169.254.170.2/v2" },
		{ NULL, "http://169.254.170.23/v1/credentials", 1,
		  "http://169.254.170.23/v1/credentials" },
		{ NULL, "http://[fd00:ec2::23]/v1/credentials", 1,
		  "http://[fd00:ec2::23]/v1/credentials" },
		{ NULL, "https://creds.example.com/x", 1, "https://creds.example.com/x" },
		{ NULL, "http://10.0.0.1/creds", -1, NULL },
		{ NULL, "http://169.254.170.3/creds", -1, NULL },
		{ NULL, "http://creds.example.invalid/creds", -1, NULL },
		{ NULL, "http://user@127.0.0.1/creds", -1, NULL },
		{ NULL, "ftp://127.0.0.1/creds", -1, NULL },
		{ NULL, "/creds", -1, NULL },
		{ NULL, NULL, 0, NULL },
		{ "", "", 0, NULL },
	};
	char url[256], why[256];

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		int rc = awscreds_container_url(cases[i].rel, cases[i].full, url, sizeof url, why,
						sizeof why);

		ok(rc == cases[i].rc && (rc != 1 || strcmp(url, cases[i].url) == 0),
		   "container URL from %s / %s: %d", cases[i].rel ? cases[i].rel : "-",
		   cases[i].full ? cases[i].full : "-", rc);
	}
}

static void test_region_endpoint(const char *dir)
{
	char v[128], from[600], path[512], err[512];
	const char *name;
	struct config cfg;
	const char *conf = "spool_dir = /s\ns3_bucket = b\n";

	clear_env();
	snprintf(path, sizeof path, "%s/config", dir);
	write_file(path, "[default]\nregion = eu-west-3\n[profile ops]\nregion = ap-south-1\n");
	ok(awscreds_env_region(v, sizeof v, from, sizeof from) == 0,
	   "no region anywhere (no config file)");
	setenv("AWS_CONFIG_FILE", path, 1);
	ok(awscreds_env_region(v, sizeof v, from, sizeof from) == 1 &&
		   strcmp(v, "eu-west-3") == 0,
	   "the default profile's region (%s)", from);
	setenv("AWS_PROFILE", "ops", 1);
	ok(awscreds_env_region(v, sizeof v, from, sizeof from) == 1 &&
		   strcmp(v, "ap-south-1") == 0,
	   "AWS_PROFILE's region");
	setenv("AWS_DEFAULT_REGION", "us-west-1", 1);
	ok(awscreds_env_region(v, sizeof v, from, sizeof from) == 1 &&
		   strcmp(v, "us-west-1") == 0 && strcmp(from, "AWS_DEFAULT_REGION") == 0,
	   "AWS_DEFAULT_REGION over the profile");
	setenv("AWS_REGION", "us-west-2", 1);
	ok(awscreds_env_region(v, sizeof v, from, sizeof from) == 1 &&
		   strcmp(v, "us-west-2") == 0,
	   "AWS_REGION first");

	ok(awscreds_env_endpoint(&name) == NULL, "no endpoint variable");
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000", 1);
	ok(awscreds_env_endpoint(&name) && strcmp(name, "AWS_ENDPOINT_URL") == 0,
	   "AWS_ENDPOINT_URL");
	setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9001", 1);
	ok(awscreds_env_endpoint(&name) && strcmp(awscreds_env_endpoint(&name),
						  "http://127.0.0.1:9001") == 0,
	   "AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL");

	awscreds_sts_url("eu-west-1", v, sizeof v);
	is_str(v, "http://127.0.0.1:9000", "STS: AWS_ENDPOINT_URL applies to STS too");
	setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9002", 1);
	awscreds_sts_url("eu-west-1", v, sizeof v);
	is_str(v, "http://127.0.0.1:9002", "STS: AWS_ENDPOINT_URL_STS");

	/* The spooler's config takes them when the file sets none. */
	ok(config_parse("t.conf", conf, strlen(conf), CONFIG_SPOOLER, &cfg, err, sizeof err) == 0,
	   "config with AWS variables loads (%s)", err);
	is_str(cfg.s3_region, "us-west-2", "  s3_region from AWS_REGION");
	is_str(cfg.s3_endpoint, "http://127.0.0.1:9001", "  s3_endpoint from AWS_ENDPOINT_URL_S3");
	ok(cfg.s3_path_style, "  path style follows the endpoint, as when the file sets it");
	config_free(&cfg);
	{
		const char *own = "spool_dir = /s\ns3_bucket = b\ns3_region = eu-north-1\n"
				  "s3_endpoint = http://127.0.0.1:7000\n";

		ok(config_parse("t.conf", own, strlen(own), CONFIG_SPOOLER, &cfg, err,
				sizeof err) == 0 &&
			   strcmp(cfg.s3_region, "eu-north-1") == 0 &&
			   strcmp(cfg.s3_endpoint, "http://127.0.0.1:7000") == 0,
		   "the config file's s3_region and s3_endpoint win");
		config_free(&cfg);
	}
	ok(config_parse("t.conf", conf, strlen(conf), CONFIG_RESPONDER, &cfg, err, sizeof err) <
		   0 || !cfg.s3_endpoint,
	   "the responder takes no S3 settings from the environment");
	config_free(&cfg);
	setenv("AWS_ENDPOINT_URL_S3", "minio:9000", 1);
	ok(config_parse("t.conf", conf, strlen(conf), CONFIG_SPOOLER, &cfg, err, sizeof err) < 0 &&
		   strstr(err, "AWS_ENDPOINT_URL_S3"),
	   "a bad AWS_ENDPOINT_URL_S3 is a config error naming it (%s)", err);
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	ok(awscreds_env_endpoint(&name) == NULL, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true");
	awscreds_sts_url("eu-west-1", v, sizeof v);
	is_str(v, "https://sts.eu-west-1.amazonaws.com", "STS: regional by default");
	awscreds_sts_url("cn-north-1", v, sizeof v);
	is_str(v, "https://sts.cn-north-1.amazonaws.com.cn", "STS: China's partition");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	setenv("AWS_REGION", "eu west", 1);
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	unsetenv("AWS_ENDPOINT_URL_S3");
	unsetenv("AWS_ENDPOINT_URL");
	ok(config_parse("t.conf", conf, strlen(conf), CONFIG_SPOOLER, &cfg, err, sizeof err) < 0 &&
		   strstr(err, "AWS_REGION"),
	   "a bad AWS_REGION is a config error naming it (%s)", err);
	clear_env();
	unlink(path);
}

/* ---- a stub STS ---- */

struct sts_stub {
	pthread_mutex_t lock;
	int calls;
	long lifetime;
	int refuse;       /* answer 400 InvalidIdentityToken */
	char form[4096];  /* the last request's body */
};

static void sts_handler(void *ctx, const struct httpstub_request *req, int fd)
{
	struct sts_stub *st = ctx;
	char xml[2048], exp[64], ctype[128];
	int n;

	if (strcmp(req->method, "POST") != 0 ||
	    !httpstub_header(req, "Content-Type", ctype, sizeof ctype) ||
	    strcmp(ctype, "application/x-www-form-urlencoded") != 0 ||
	    httpstub_header(req, "Authorization", ctype, sizeof ctype)) {
		httpstub_reply(fd, 400, NULL, "", 0);
		return;
	}
	pthread_mutex_lock(&st->lock);
	snprintf(st->form, sizeof st->form, "%s", req->body ? req->body : "");
	st->calls++;
	if (st->refuse) {
		pthread_mutex_unlock(&st->lock);
		n = snprintf(xml, sizeof xml,
			     "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken"
			     "</Code><Message>Token JWT-abc is expired</Message></Error>"
			     "</ErrorResponse>");
		httpstub_reply(fd, 400, "Content-Type: text/xml\r\n", xml, (size_t)n);
		return;
	}
	expiration_in(st->lifetime, exp);
	n = snprintf(xml, sizeof xml,
		     "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>"
		     "<Credentials><AccessKeyId>ASIAWEB%04d</AccessKeyId>"
		     "<SecretAccessKey>web-secret-%04d</SecretAccessKey>"
		     "<SessionToken>web-session-token-%04d</SessionToken>"
		     "<Expiration>%s</Expiration></Credentials>"
		     "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
		     st->calls, st->calls, st->calls, exp);
	reply_unlocked(&st->lock, fd, 200, "Content-Type: text/xml\r\n", xml, (size_t)n);
}

static void test_web_identity(const char *dir)
{
	struct sts_stub st = {.lifetime = 3600};
	struct httpstub srv;
	struct awscreds *ac;
	struct aws_credentials c;
	struct result r;
	char url[64], tokfile[512], credfile[512];

	if (!stub_up(&srv, sts_handler, &st, &st.lock, "stub STS starts"))
		return;
	snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
	setenv("AWS_ENDPOINT_URL_STS", url, 1);
	snprintf(tokfile, sizeof tokfile, "%s/token", dir);
	write_file(tokfile, "JWT-abc.def+/=\n");
	snprintf(credfile, sizeof credfile, "%s/credentials", dir);
	write_file(credfile, "[default]\naws_access_key_id = AKIDFILE\n"
			     "aws_secret_access_key = file-secret-1\n");
	setenv("AWS_SHARED_CREDENTIALS_FILE", credfile, 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokfile, 1);
	ok(get_once(NULL, &c, &r) == OUTCOME_RETRY && strstr(r.why, "AWS_ROLE_ARN"),
	   "a token file without AWS_ROLE_ARN stops the chain (%s)", r.why);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/zoom2s3", 1);
	setenv("AWS_ROLE_SESSION_NAME", "zoom2s3-test", 1);
	ac = awscreds_new(NULL);
	ok(awscreds_get(ac, &c, &r) == OUTCOME_DONE, "web identity: credentials from STS");
	is_str(c.source, "web identity", "  before the shared credentials file");
	is_str(c.access_key_id, "ASIAWEB0001", "  key id");
	is_str(c.session_token, "web-session-token-0001", "  session token");
	ok(strstr(st.form, "Action=AssumeRoleWithWebIdentity") &&
		   strstr(st.form, "Version=2011-06-15") &&
		   strstr(st.form, "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fzoom2s3") &&
		   strstr(st.form, "RoleSessionName=zoom2s3-test") &&
		   strstr(st.form, "WebIdentityToken=JWT-abc.def%2B%2F%3D") &&
		   !strstr(st.form, "%0A"),
	   "  the form: action, version, role, session name, the token trimmed and encoded");
	ok(awscreds_get(ac, &c, &r) == OUTCOME_DONE && st.calls == 1,
	   "  fresh credentials are reused");
	awscreds_free(ac);

	st.lifetime = 200; /* within the refresh margin */
	ac = awscreds_new(NULL);
	awscreds_get(ac, &c, &r);
	write_file(tokfile, "JWT-rotated\n");
	ok(awscreds_get(ac, &c, &r) == OUTCOME_DONE && strcmp(c.access_key_id, "ASIAWEB0003") == 0,
	   "near their expiry they are refreshed before use");
	ok(strstr(st.form, "WebIdentityToken=JWT-rotated") != NULL,
	   "  with the token file read again (it rotates)");
	st.refuse = 1;
	ok(awscreds_get(ac, &c, &r) == OUTCOME_DONE && strcmp(c.access_key_id, "ASIAWEB0003") == 0,
	   "a refused refresh keeps the old ones while they are valid");
	awscreds_free(ac);
	ok(get_once(NULL, &c, &r) == OUTCOME_RETRY && strstr(r.why, "InvalidIdentityToken") &&
		   strstr(r.why, "arn:aws:iam::123456789012:role/zoom2s3") && no_secret(r.why),
	   "STS refusing: retry naming the role and STS's code, not the token");
	ok(strncmp(r.why, "AWS credentials: ", 17) == 0,
	   "  the message starts \"AWS credentials\" (how operators and metrics class it)");
	tap_diag(r.why);
	httpstub_stop(&srv);
	ok(get_once(NULL, &c, &r) == OUTCOME_RETRY && strstr(r.why, "STS"),
	   "STS unreachable: retry, no fall-through to the credentials file");
	unlink(tokfile);
	ok(get_once(NULL, &c, &r) == OUTCOME_RETRY && strstr(r.why, "AWS_WEB_IDENTITY_TOKEN_FILE"),
	   "a missing token file: retry naming it (%s)", r.why);
	clear_env();
	unlink(credfile);
	pthread_mutex_destroy(&st.lock);
}

/* ---- credential_process ---- */

static void test_process(const char *dir)
{
	char script[512], counter[512], credfile[512], conffile[512], text[2048];
	struct awscreds *ac;
	struct aws_credentials c;
	struct result r;
	FILE *f;
	int calls = 0;

	clear_env();
	snprintf(script, sizeof script, "%s/creds.sh", dir);
	snprintf(counter, sizeof counter, "%s/calls", dir);
	snprintf(credfile, sizeof credfile, "%s/credentials", dir);
	snprintf(conffile, sizeof conffile, "%s/config", dir);
	/* Each run appends a line to the counter and hands out numbered
	 * credentials; LIFETIME seconds long when set. */
	snprintf(text, sizeof text,
		 "#!/bin/sh\n"
		 "echo run >> '%s'\n"
		 "n=$(wc -l < '%s' | tr -d ' ')\n"
		 "if [ \"$1\" = fail ]; then echo 'bad day' >&2; exit 3; fi\n"
		 "exp=$(date -u -d \"@$(( $(date +%%s) + ${LIFETIME:-3600} ))\" +%%Y-%%m-%%dT%%H:%%M:%%SZ)\n"
		 "printf '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC%%s\", "
		 "\"SecretAccessKey\": \"proc-secret-%%s\", \"SessionToken\": \"proc-session-token\", "
		 "\"Expiration\": \"%%s\"}\\n' \"$n\" \"$n\" \"$exp\"\n",
		 counter, counter);
	write_file(script, text);
	chmod(script, 0755);
	setenv("AWS_SHARED_CREDENTIALS_FILE", credfile, 1);
	setenv("AWS_CONFIG_FILE", conffile, 1);
	snprintf(text, sizeof text,
		 "[profile other]\ncredential_process = /bin/false\n"
		 "[default]\ncredential_process = %s\n"
		 "aws_access_key_id = AKIDCONFFILE\naws_secret_access_key = conf-secret-2\n",
		 script);
	write_file(conffile, text);
	ac = awscreds_new(NULL);
	ok(awscreds_get(ac, &c, &r) == OUTCOME_DONE, "credential_process: credentials (%s)",
	   r.why);
	is_str(c.source, "credential_process", "  before the config file's own keys");
	is_str(c.access_key_id, "AKIDPROC1", "  its key id");
	is_str(c.session_token, "proc-session-token", "  its session token");
	ok(awscreds_get(ac, &c, &r) == OUTCOME_DONE && strcmp(c.access_key_id, "AKIDPROC1") == 0,
	   "  reused while fresh (not run again)");
	awscreds_free(ac);

	setenv("LIFETIME", "100", 1);
	ac = awscreds_new(NULL);
	awscreds_get(ac, &c, &r);
	ok(awscreds_get(ac, &c, &r) == OUTCOME_DONE && strcmp(c.access_key_id, "AKIDPROC3") == 0,
	   "credentials near their Expiration: the process runs again");
	unsetenv("LIFETIME");
	awscreds_free(ac);

	write_file(credfile, "[default]\naws_access_key_id = AKIDCREDFILE\n"
			     "aws_secret_access_key = cred-secret-3\n");
	ok(get_once(NULL, &c, &r) == OUTCOME_DONE && strcmp(c.access_key_id, "AKIDCREDFILE") == 0,
	   "the credentials file's keys come before credential_process");
	snprintf(text, sizeof text, "[default]\ncredential_process = %s fail\n", script);
	write_file(credfile, text);
	ok(get_once(NULL, &c, &r) == OUTCOME_RETRY && strstr(r.why, "status 3") &&
		   strstr(r.why, "credential_process") && no_secret(r.why),
	   "a process that fails (named in the credentials file) stops the chain: %s", r.why);
	ok(strncmp(r.why, "AWS credentials: ", 17) == 0, "  the message starts \"AWS credentials\"");
	unlink(credfile);
	snprintf(text, sizeof text, "[default]\naws_access_key_id = AKIDCONFFILE\n"
				    "aws_secret_access_key = conf-secret-2\n");
	write_file(conffile, text);
	ok(get_once(NULL, &c, &r) == OUTCOME_DONE && strcmp(c.access_key_id, "AKIDCONFFILE") == 0 &&
		   strcmp(c.source, "shared config file") == 0,
	   "without a process, the config file's keys");
	write_file(conffile, "[profile x]\ncredential_process = echo '{\"Version\": 1}'\n");
	setenv("AWS_PROFILE", "x", 1);
	ok(get_once(NULL, &c, &r) == OUTCOME_RETRY && strstr(r.why, "AccessKeyId"),
	   "a process whose JSON lacks keys: %s", r.why);
	f = fopen(counter, "r");
	if (f) {
		while (fgets(text, sizeof text, f))
			calls++;
		fclose(f);
	}
	ok(calls == 4, "the script ran 4 times (%d)", calls);
	clear_env();
	unlink(script);
	unlink(counter);
	unlink(conffile);
}

/* ---- a stub container credentials endpoint ---- */

struct container_stub {
	pthread_mutex_t lock;
	int calls;
	int fail;
	char auth[256]; /* the last Authorization */
};

static void container_handler(void *ctx, const struct httpstub_request *req, int fd)
{
	struct container_stub *st = ctx;
	char json[1024], exp[64];
	int n;

	pthread_mutex_lock(&st->lock);
	st->calls++;
	if (!httpstub_header(req, "Authorization", st->auth, sizeof st->auth))
		st->auth[0] = '\0';
	if (st->fail || strcmp(req->target, "/creds") != 0) {
		reply_unlocked(&st->lock, fd, st->fail ? 500 : 404, NULL, "", 0);
		return;
	}
	expiration_in(3600, exp);
	n = snprintf(json, sizeof json,
		     "{\"RoleArn\": \"arn:aws:iam::1:role/task\", \"AccessKeyId\": \"ASIACON%d\", "
		     "\"SecretAccessKey\": \"con-secret-%d\", \"Token\": \"con-session-token\", "
		     "\"Expiration\": \"%s\"}",
		     st->calls, st->calls, exp);
	reply_unlocked(&st->lock, fd, 200, "Content-Type: application/json\r\n", json, (size_t)n);
}

static void test_container(const char *dir)
{
	struct container_stub st = {0};
	struct httpstub srv;
	struct aws_credentials c;
	struct result r;
	char url[128], tokfile[512];

	if (!stub_up(&srv, container_handler, &st, &st.lock, "stub container endpoint"))
		return;
	snprintf(url, sizeof url, "http://127.0.0.1:%d/creds", srv.port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	ok(get_once(NULL, &c, &r) == OUTCOME_DONE && strcmp(c.source, "container") == 0 &&
		   strcmp(c.access_key_id, "ASIACON1") == 0 &&
		   strcmp(c.session_token, "con-session-token") == 0 && c.expires > time(NULL),
	   "container: FULL_URI on loopback, no token");
	ok(st.auth[0] == '\0', "  no Authorization header without a token");
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ctoken-env", 1);
	ok(get_once(NULL, &c, &r) == OUTCOME_DONE && strcmp(st.auth, "ctoken-env") == 0,
	   "  AWS_CONTAINER_AUTHORIZATION_TOKEN is the Authorization header");
	snprintf(tokfile, sizeof tokfile, "%s/ctoken", dir);
	write_file(tokfile, "ctoken-file\n");
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokfile, 1);
	ok(get_once(NULL, &c, &r) == OUTCOME_DONE && strcmp(st.auth, "ctoken-file") == 0,
	   "  the token file wins over the variable, trimmed");
	write_file(tokfile, "ctoken-bad\r\nInjected: yes\n");
	ok(get_once(NULL, &c, &r) == OUTCOME_RETRY && strstr(r.why, "line break") &&
		   no_secret(r.why),
	   "  a token holding a line break is refused: %s", r.why);
	unlink(tokfile);
	ok(get_once(NULL, &c, &r) == OUTCOME_RETRY && strstr(r.why, "TOKEN_FILE"),
	   "  an unreadable token file: %s", r.why);
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	st.fail = 1;
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1", 1);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	ok(get_once(NULL, &c, &r) == OUTCOME_RETRY && strstr(r.why, "HTTP 500") &&
		   !strstr(r.why, "instance metadata") && no_secret(r.why) &&
		   !strstr(r.why, "/creds"),
	   "  a failing endpoint stops the chain before IMDS, named by its origin only "
	   "(an ECS path names the task's credentials): %s", r.why);
	ok(strncmp(r.why, "AWS credentials: ", 17) == 0, "  the message starts \"AWS credentials\"");
	st.fail = 0;
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.1/creds", 1);
	ok(get_once(NULL, &c, &r) == OUTCOME_RETRY && strstr(r.why, "192.0.2.1") && st.calls == 4,
	   "  FULL_URI over plain http to another host is refused, never asked: %s", r.why);
	httpstub_stop(&srv);
	clear_env();
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
	test_config_file_ini();
	test_process_json();
	test_sts_xml();
	test_container_url();
	test_region_endpoint(dir);
	test_web_identity(dir);
	test_process(dir);
	test_container(dir);
	rmdir(dir);
	curl_global_cleanup();
	return done_testing();
}
