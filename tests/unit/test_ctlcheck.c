/* ctlcheck.c: the spool mode rules, and check-config run offline over a
 * spool and config files made here. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctlcheck.h"
#include "log.h"
#include "spool.h"
#include "tap.h"

static char root[] = "/tmp/test_ctlcheck.XXXXXX";

static void test_modes(void)
{
	ok(ctlcheck_spool_mode(S_IFDIR | 02770, 33, 33, true) == NULL, "2770, same group: fine");
	ok(ctlcheck_spool_mode(S_IFDIR | 02775, 33, 33, true) != NULL, "others may read: flagged");
	ok(ctlcheck_spool_mode(S_IFDIR | 0770, 33, 33, true) != NULL, "no setgid: flagged");
	ok(ctlcheck_spool_mode(S_IFDIR | 02750, 33, 33, true) != NULL, "group cannot write: flagged");
	ok(ctlcheck_spool_mode(S_IFDIR | 02770, 0, 33, true) != NULL, "another group: flagged");
	ok(ctlcheck_spool_mode(S_IFREG | 02770, 33, 33, true) != NULL, "not a directory: flagged");
	ok(ctlcheck_spool_mode(S_IFREG | 0660, 33, 33, false) == NULL, ".lock 0660: fine");
	ok(ctlcheck_spool_mode(S_IFREG | 0640, 33, 33, false) != NULL,
	   ".lock the group cannot write: flagged");
	ok(ctlcheck_spool_mode(S_IFLNK | 0777, 33, 33, false) != NULL, ".lock a symlink: flagged");
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	return chmod(path, mode);
}

/* Runs check-config on a config; its output in buf. */
static int run(const char *conf, char *buf, size_t size)
{
	FILE *out = fmemopen(buf, size, "w");
	int rc;

	if (!out)
		return -1;
	rc = ctlcheck_run(conf, false, out);
	fclose(out);
	return rc;
}

static void test_run(void)
{
	char conf[300], spool[300], text[1024], out[16384], err[256], path[400];
	struct spool sp;

	snprintf(conf, sizeof conf, "%s/spooler.conf", root);
	snprintf(spool, sizeof spool, "%s/spool", root);
	if (spool_open(&sp, spool, true, err, sizeof err) != SPOOL_OK) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	spool_close(&sp);
	snprintf(text, sizeof text,
		 "spool_dir = %s\ns3_bucket = b\naws_access_key_id = AKIATEST\n"
		 "aws_secret_access_key = topSECRETkey\nzoom_api_key = k\nzoom_api_secret = jwtSECRET\n",
		 spool);
	write_file(conf, text, 0640);
	ok(run(conf, out, sizeof out) == 0, "a good spooler config and spool pass");
	ok(strstr(out, "spooler keys") && strstr(out, "AWS credentials: key id AKIATEST from the config file") &&
		   strstr(out, "legacy JWT") && strstr(out, "check-config: OK"),
	   "it reports the roles, the credentials' source and the Zoom app");
	ok(!strstr(out, "SECRET"), "no secret in the report");
	ok(strstr(out, "/new (") && strstr(out, "/.lock ("), "every part of the spool is listed");
	ok(strstr(out, "ok   zoom_after_upload = keep: nothing is ever removed from Zoom") != NULL,
	   "retention off is said");

	snprintf(text, sizeof text,
		 "spool_dir = %s\ns3_bucket = b\naws_access_key_id = AKIATEST\n"
		 "aws_secret_access_key = topSECRETkey\nzoom_api_key = k\nzoom_api_secret = jwtSECRET\n"
		 "zoom_after_upload = trash\nzoom_after_upload_delay = 86400\n",
		 spool);
	write_file(conf, text, 0640);
	ok(run(conf, out, sizeof out) == 0 &&
		   strstr(out, "ok   zoom_after_upload = trash: zoom2s3-spooler removes each file from "
			       "Zoom 1d 00h after its upload") &&
		   strstr(out, "cloud_recording:delete:recording_file:admin (classic: "
			       "recording:write:admin)"),
	   "retention on: the delay and the scope the app needs to delete");
	snprintf(text, sizeof text,
		 "spool_dir = %s\ns3_bucket = b\naws_access_key_id = AKIATEST\n"
		 "aws_secret_access_key = topSECRETkey\nzoom_after_upload = delete\n", spool);
	write_file(conf, text, 0640);
	ok(run(conf, out, sizeof out) == 1 && strstr(out, "FAIL zoom_after_upload = delete needs a "
							  "Zoom app"),
	   "retention without a Zoom app FAILs");
	snprintf(text, sizeof text,
		 "spool_dir = %s\nwebhook_secret_token = newTOKENnew\n"
		 "webhook_secret_token_previous = oldTOKENold\n", spool);
	write_file(conf, text, 0640);
	ok(run(conf, out, sizeof out) == 0 &&
		   strstr(out, "WARN webhook_secret_token_previous is set") &&
		   !strstr(out, "oldTOKENold") && !strstr(out, "newTOKENnew"),
	   "webhook_secret_token_previous: a reminder to remove it, no token shown");
	snprintf(text, sizeof text,
		 "spool_dir = %s\ns3_bucket = b\naws_access_key_id = AKIATEST\n"
		 "aws_secret_access_key = topSECRETkey\nzoom_api_key = k\nzoom_api_secret = jwtSECRET\n",
		 spool);
	write_file(conf, text, 0640);

	chmod(conf, 0644);
	ok(run(conf, out, sizeof out) == 1 && strstr(out, "others can read it"),
	   "a world-readable config with secrets FAILs");
	chmod(conf, 0640);

	snprintf(path, sizeof path, "%s/cur", spool);
	chmod(path, 0770);
	ok(run(conf, out, sizeof out) == 1 && strstr(out, "cur (") && strstr(out, "setgid"),
	   "cur/ without setgid FAILs, named");
	chmod(path, 02770);
	snprintf(path, sizeof path, "%s/failed", spool);
	rmdir(path);
	ok(run(conf, out, sizeof out) == 1 && strstr(out, "/failed: No such file"),
	   "a missing state directory FAILs");
	mkdir(path, 02770);
	chmod(path, 02770);

	snprintf(text, sizeof text, "spool_dir = %s\n", spool);
	write_file(conf, text, 0644);
	ok(run(conf, out, sizeof out) == 1 && strstr(out, "neither program"),
	   "a file neither program can use FAILs");

	snprintf(text, sizeof text,
		 "spool_dir = %s\nwebhook_secret_token = webhookSECRET\ns3_bucket = b\n"
		 "zoom_account_id = a\nzoom_client_id = c\nzoom_client_secret = clientSECRET\n"
		 "metrics_file = %s/no-such-dir/z.prom\n", spool, root);
	write_file(conf, text, 0600);
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envSECRETkey", 1);
	ok(run(conf, out, sizeof out) == 0, "one file for both programs passes, with warnings");
	ok(strstr(out, "WARN this file holds the webhook secret and the spooler's credentials") != NULL,
	   "it warns that the responder should get its own file");
	ok(strstr(out, "key id AKIAENV from the environment") != NULL,
	   "the environment's credentials come first");
	ok(strstr(out, "WARN metrics_file") != NULL, "an unwritable metrics directory is a WARN");
	ok(strstr(out, "Server-to-Server OAuth") && !strstr(out, "SECRET"),
	   "the OAuth app is named, its secret is not");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");

	write_file(conf, "spool_dir = /x\nbogus_key = 1\n", 0600);
	ok(run(conf, out, sizeof out) == 1 && strstr(out, "FAIL config:") &&
		   strstr(out, "spooler.conf:2: unknown key 'bogus_key'"),
	   "a bad key FAILs with file:line");
}

int main(void)
{
	log_init("test_ctlcheck", LOG_DEST_STDERR, false);
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	chmod(root, 0755);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	test_modes();
	test_run();
	tap_remove_dir(root);
	return done_testing();
}
