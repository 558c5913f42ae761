/* metrics.c: reason classes of real error texts, the file's format, the
 * counters carried over from an earlier file, and the atomic write. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "tap.h"

struct sample {
	const char *why;
	enum metrics_reason want;
};

/* Texts as s3.c, awscreds.c, download.c, zoomauth.c, transfer.c and
 * spooler.c write them (their format strings with values filled in). */
static const struct sample samples[] = {
	{ "Zoom refused the download token, and no Server-to-Server OAuth or JWT app is "
	  "configured to ask Zoom for a fresh link (the webhook's download token lives 24 h)",
	  REASON_ZOOM_AUTH },
	{ "Zoom refused the fresh download link too: Zoom answered 401 Unauthorized for the "
	  "download link", REASON_ZOOM_AUTH },
	{ "Zoom's OAuth endpoint answered 401 Unauthorized; invalid_client: check "
	  "zoom_account_id, zoom_client_id and zoom_client_secret", REASON_ZOOM_AUTH },
	{ "Zoom's recordings API refused the OAuth token even after a refresh (403 Forbidden): "
	  "does the app have the recording:read scope?", REASON_ZOOM_AUTH },
	{ "no Zoom app is configured to renew the download token (zoom_account_id, "
	  "zoom_client_id, zoom_client_secret)", REASON_ZOOM_AUTH },
	{ "Zoom answered with an HTML page instead of the recording (the file was deleted, or "
	  "the token was refused)", REASON_ZOOM_AUTH },
	{ "Zoom answered 404 Not Found for the download link", REASON_ZOOM_GONE },
	{ "Zoom answered 410 Gone for the download's redirect to 127.0.0.2", REASON_ZOOM_GONE },
	{ "Zoom no longer has this recording (the recordings API answered 404 Not Found)",
	  REASON_ZOOM_GONE },
	{ "Zoom answered 503 Service Unavailable for the download link", REASON_ZOOM_UNAVAILABLE },
	{ "Zoom answered 429 Too Many Requests for the download link", REASON_ZOOM_UNAVAILABLE },
	{ "the download from 127.0.0.2 failed after 1048576 bytes: Operation timed out after "
	  "60000 milliseconds", REASON_ZOOM_UNAVAILABLE },
	{ "the download from zoom.us failed after 0 bytes: Failed to connect to zoom.us port "
	  "443: Connection refused", REASON_ZOOM_UNAVAILABLE },
	{ "Zoom's OAuth endpoint could not be reached: Could not resolve host: zoom.us",
	  REASON_ZOOM_UNAVAILABLE },
	{ "Zoom's recordings API answered 502 Bad Gateway", REASON_ZOOM_UNAVAILABLE },
	{ "Zoom announced 1000 bytes but file_size is 2000", REASON_DOWNLOAD_CONTENT },
	{ "Zoom's answer ended at byte 100 of 2000", REASON_DOWNLOAD_CONTENT },
	{ "Zoom sent more bytes than the file_size of 2000", REASON_DOWNLOAD_CONTENT },
	{ "Zoom answered a range starting at byte 0 instead of 5242880", REASON_DOWNLOAD_CONTENT },
	{ "Zoom answered 206 Partial Content without a usable Content-Range",
	  REASON_DOWNLOAD_CONTENT },
	{ "Zoom answered 200 OK for the download link, not the file", REASON_DOWNLOAD_CONTENT },
	{ "no AWS credentials: AWS_ACCESS_KEY_ID is not set; the config file has no "
	  "aws_access_key_id; /root/.aws/credentials does not exist; IMDS is disabled",
	  REASON_S3_CREDENTIALS },
	{ "AWS credentials in the config file are incomplete: aws_access_key_id is set but "
	  "aws_secret_access_key is not", REASON_S3_CREDENTIALS },
	{ "S3 PutObject rec/a.mp4: HTTP 403 InvalidAccessKeyId: The AWS Access Key Id you "
	  "provided does not exist in our records. (check the AWS credentials, key id AKIA from "
	  "the config file, and the bucket policy)", REASON_S3_CREDENTIALS },
	{ "S3 HeadObject rec/a.mp4: HTTP 403 (check the AWS credentials, key id AKIA from the "
	  "environment, and the bucket policy)", REASON_S3_CREDENTIALS },
	{ "S3 UploadPart rec/a.mp4: HTTP 403 SignatureDoesNotMatch (the secret access key does "
	  "not belong to the key id AKIA, from the config file)", REASON_S3_CREDENTIALS },
	{ "S3 HeadObject rec/a.mp4: HTTP 404 NoSuchBucket: The specified bucket does not exist "
	  "(create bucket b, or fix s3_bucket)", REASON_S3_BUCKET },
	{ "S3 HeadObject rec/a.mp4: HTTP 301 (the bucket is in region eu-west-1: fix s3_region)",
	  REASON_S3_BUCKET },
	{ "S3 PutObject rec/a.mp4: HTTP 503 SlowDown: Please reduce your request rate.",
	  REASON_S3_UNAVAILABLE },
	{ "S3 UploadPart rec/a.mp4: HTTP 500 InternalError: We encountered an internal error.",
	  REASON_S3_UNAVAILABLE },
	{ "S3 PutObject rec/a.mp4: Couldn't connect to server: Failed to connect to 127.0.0.1 "
	  "port 7480", REASON_S3_UNAVAILABLE },
	{ "S3 PutObject rec/a.mp4: HTTP 400 EntityTooLarge: Your proposed upload exceeds the "
	  "maximum allowed size", REASON_S3_REFUSED },
	{ "S3 PutObject rec/a.mp4: HTTP 403 RequestTimeTooSkewed (check this machine's clock)",
	  REASON_S3_CREDENTIALS },
	{ "S3 PutObject rec/a.mp4: the key is too long for a request", REASON_POLICY },
	{ "the download link is refused: a host outside download_hosts: evil.example",
	  REASON_POLICY },
	{ "redirect to a plain-http URL (allow_http is off)", REASON_POLICY },
	{ "Zoom redirected the download more than 5 times", REASON_POLICY },
	{ "the S3 key is 1100 bytes, over S3's limit of 1024: shorten key_template, or edit "
	  "s3_key in the job and requeue it", REASON_POLICY },
	{ "the job lacks s3_key, download_url or recording_file_id", REASON_POLICY },
	{ "cannot record progress in the spool: cannot fsync cur/: Input/output error",
	  REASON_SPOOL },
	{ "gave up after 48 attempts: Zoom answered 503 Service Unavailable for the download link",
	  REASON_ZOOM_UNAVAILABLE },
	{ "gave up: the spooler running the last attempt died", REASON_OTHER },
	{ "out of memory", REASON_OTHER },
	{ "", REASON_OTHER },
};

static void test_classify(void)
{
	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		enum metrics_reason got = metrics_classify(samples[i].why);

		if (!ok(got == samples[i].want, "%s <- %.70s", metrics_reason_name(samples[i].want),
			samples[i].why))
			printf("#   got: %s\n", metrics_reason_name(got));
	}
	is_str(metrics_reason_name(REASON_COUNT), "other", "an out-of-range reason is other");
}

static void test_format_parse(void)
{
	struct metrics_counters c = {
		.uploaded_bytes = 12345678901ULL,
		.transfer_seconds = 12.5,
		.last_success = 1790000000,
		.transfers = { [MO_DONE] = 7, [MO_RETRY] = 2 },
		.failures = { [REASON_ZOOM_GONE] = 1, [REASON_S3_UNAVAILABLE] = 4 },
	}, back;
	long jobs[5] = { -1, 3, 1, 120, 2 };
	char *text;

	text = metrics_format(&c, jobs, 1790000100);
	ok(text != NULL, "formatted");
	if (!text)
		return;
	ok(strstr(text, "# TYPE zoom2s3_jobs gauge\n") && strstr(text, "zoom2s3_jobs{state=\"new\"} 3\n") &&
		   strstr(text, "zoom2s3_jobs{state=\"done\"} 120\n") &&
		   strstr(text, "zoom2s3_jobs{state=\"failed\"} 2\n") && !strstr(text, "\"tmp\""),
	   "jobs by state (tmp/ left out)");
	ok(strstr(text, "# TYPE zoom2s3_uploaded_bytes_total counter\nzoom2s3_uploaded_bytes_total "
			"12345678901\n") != NULL, "bytes uploaded, a counter");
	ok(strstr(text, "zoom2s3_transfer_seconds_total 12.500\n") != NULL, "transfer seconds");
	ok(strstr(text, "zoom2s3_transfers_total{outcome=\"done\"} 7\n") &&
		   strstr(text, "zoom2s3_transfers_total{outcome=\"stopped\"} 0\n"),
	   "transfers by outcome");
	ok(strstr(text, "zoom2s3_transfer_failures_total{reason=\"zoom_gone\"} 1\n") &&
		   strstr(text, "zoom2s3_transfer_failures_total{reason=\"s3_unavailable\"} 4\n") &&
		   strstr(text, "zoom2s3_transfer_failures_total{reason=\"other\"} 0\n"),
	   "failures by reason, every class listed");
	ok(strstr(text, "zoom2s3_last_success_timestamp_seconds 1790000000\n") &&
		   strstr(text, "zoom2s3_metrics_timestamp_seconds 1790000100\n"),
	   "last success and the time of writing");
	for (char *line = text, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl || (line[0] != '#' && !strchr(line, ' '))) {
			ok(0, "every line ends in a newline and holds a value");
			break;
		}
	}
	metrics_parse(text, &back);
	ok(back.uploaded_bytes == c.uploaded_bytes && back.transfer_seconds - c.transfer_seconds < 1e-9 &&
		   c.transfer_seconds - back.transfer_seconds < 1e-9 &&
		   back.last_success == c.last_success && back.transfers[MO_DONE] == 7 &&
		   back.transfers[MO_RETRY] == 2 && back.failures[REASON_ZOOM_GONE] == 1 &&
		   back.failures[REASON_S3_UNAVAILABLE] == 4 && back.failures[REASON_OTHER] == 0,
	   "the counters read back from the file");
	free(text);
	metrics_parse("zoom2s3_uploaded_bytes_total x\ngarbage\nzoom2s3_transfers_total{outcome=\"done\"} -3\n"
		      "zoom2s3_transfer_failures_total{reason=\"nope\"} 5\n", &back);
	ok(back.uploaded_bytes == 0 && back.transfers[MO_DONE] == 0,
	   "bad or unknown lines are ignored");
}

static char dir[] = "/tmp/test_metrics.XXXXXX";

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[65536];
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_write(void)
{
	char path[256], spooldir[256], err[256];
	struct spool sp;
	struct metrics *m;
	struct result done = { .kind = OUTCOME_DONE }, retry = { .kind = OUTCOME_RETRY };
	struct stat st;
	const char *text;
	FILE *f;

	snprintf(path, sizeof path, "%s/zoom2s3.prom", dir);
	snprintf(spooldir, sizeof spooldir, "%s/spool", dir);
	if (spool_open(&sp, spooldir, true, err, sizeof err) != SPOOL_OK) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	f = fopen(path, "w");
	if (!f) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	fputs("zoom2s3_uploaded_bytes_total 1000\nzoom2s3_transfers_total{outcome=\"done\"} 1\n"
	      "zoom2s3_last_success_timestamp_seconds 50\n", f);
	fclose(f);

	m = metrics_new(NULL);
	ok(m && !metrics_enabled(m) && metrics_write(m, &sp, 1, err, sizeof err) == 0,
	   "without metrics_file nothing is written");
	metrics_free(m);

	m = metrics_new(path);
	ok(m && metrics_enabled(m), "metrics on");
	snprintf(retry.why, sizeof retry.why, "Zoom answered 503 Service Unavailable for the download link");
	metrics_note(m, &done, false, 5000, 2.5, 100);
	metrics_note(m, &retry, false, 0, 1.0, 101);
	metrics_note(m, &retry, true, 0, 0.5, 102); /* SIGTERM: stopped, not a failure */
	{
		char p[300];

		snprintf(p, sizeof p, "%s/new/x.json", spooldir);
		f = fopen(p, "w");
		if (f) {
			fputs("{}\n", f);
			fclose(f);
		}
	}
	umask(077);
	ok(metrics_write(m, &sp, 200, err, sizeof err) == 0, "written: %s", err);
	text = slurp(path);
	ok(text && strstr(text, "zoom2s3_uploaded_bytes_total 6000\n"),
	   "bytes carried over from the earlier file and added to");
	ok(text && strstr(text, "zoom2s3_transfers_total{outcome=\"done\"} 2\n") &&
		   strstr(text, "zoom2s3_transfers_total{outcome=\"retry\"} 1\n") &&
		   strstr(text, "zoom2s3_transfers_total{outcome=\"stopped\"} 1\n"),
	   "transfers by outcome");
	ok(text && strstr(text, "zoom2s3_transfer_failures_total{reason=\"zoom_unavailable\"} 1\n"),
	   "the retry counted under its reason, the stop under none");
	ok(text && strstr(text, "zoom2s3_transfer_seconds_total 4.000\n"), "seconds summed");
	ok(text && strstr(text, "zoom2s3_last_success_timestamp_seconds 100\n"), "last success");
	ok(text && strstr(text, "zoom2s3_jobs{state=\"new\"} 1\n") &&
		   strstr(text, "zoom2s3_jobs{state=\"done\"} 0\n"),
	   "jobs counted in the spool");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644,
	   "mode 0644 whatever the umask (node_exporter reads it)");
	{
		char p[300];

		snprintf(p, sizeof p, "%s.%ld.tmp", path, (long)getpid());
		ok(access(p, F_OK) != 0, "no temporary file left");
	}
	metrics_free(m);

	snprintf(path, sizeof path, "%s/missing-dir/zoom2s3.prom", dir);
	m = metrics_new(path);
	ok(metrics_write(m, &sp, 300, err, sizeof err) == -1 && strstr(err, "missing-dir"),
	   "a directory that does not exist: -1 naming the file (%s)", err);
	metrics_free(m);
	spool_close(&sp);
}

/* The removal counters (retention.c): noted, written, read back. */
static void test_removals(void)
{
	struct metrics_counters c = {
		.removals = { [RM_TRASH] = 7, [RM_DELETE] = 1, [RM_GONE] = 2, [RM_ERROR] = 3 },
	}, back;
	struct metrics *off = metrics_new(NULL);
	long jobs[5] = { -1, 0, 0, 0, 0 };
	char *text;

	text = metrics_format(&c, jobs, 1790000100);
	ok(text && strstr(text, "# TYPE zoom2s3_zoom_removals_total counter\n"),
	   "removals: a counter with its TYPE line");
	ok(text && strstr(text, "zoom2s3_zoom_removals_total{result=\"trash\"} 7\n") &&
		   strstr(text, "zoom2s3_zoom_removals_total{result=\"delete\"} 1\n") &&
		   strstr(text, "zoom2s3_zoom_removals_total{result=\"gone\"} 2\n") &&
		   strstr(text, "zoom2s3_zoom_removals_total{result=\"error\"} 3\n"),
	   "removals: one line per result");
	metrics_parse(text ? text : "", &back);
	ok(back.removals[RM_TRASH] == 7 && back.removals[RM_DELETE] == 1 &&
		   back.removals[RM_GONE] == 2 && back.removals[RM_ERROR] == 3,
	   "removals: read back, so they keep counting across runs");
	free(text);
	metrics_note_removal(off, RM_TRASH);
	metrics_note_removal(NULL, RM_GONE);
	ok(1, "removals: noting with metrics off (or none) does nothing");
	metrics_free(off);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_classify();
	test_format_parse();
	test_removals();
	test_write();
	tap_remove_dir(dir);
	return done_testing();
}
