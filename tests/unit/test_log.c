/* log.c: the guard (secrets, URL query strings, control characters), the
 * stderr line format, the verbose switch and log_q. stderr is redirected
 * to a temporary file (ZOOM2S3_LOG=stderr forces that destination) and
 * read back after each event. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

static char capture_path[] = "/tmp/test_log.XXXXXX";
static char captured[262144];

/* Everything written to stderr since the previous call. */
static const char *take_captured(void)
{
	static off_t seen;
	int fd = open(capture_path, O_RDONLY);
	size_t got = 0;
	ssize_t n = 1;

	if (fd >= 0 && lseek(fd, seen, SEEK_SET) == seen)
		while (n > 0 && got < sizeof captured - 1) {
			n = read(fd, captured + got, sizeof captured - 1 - got);
			if (n > 0)
				got += (size_t)n;
		}
	if (fd >= 0)
		close(fd);
	seen += (off_t)got;
	captured[got] = '\0';
	return captured;
}

static int count_lines(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

static void test_format(void)
{
	char want[128];
	const char *got;

	log_event(LOG_INFO, "job_done", "key=%s bytes=%d", "a/b.mp4", 42);
	got = take_captured();
	snprintf(want, sizeof want, "test_log[%ld]: info event=job_done key=a/b.mp4 bytes=42\n",
		 (long)getpid());
	is_str(got, want, "stderr line: ident[pid]: level event=NAME fields");

	log_event(LOG_ERR, "bare", "%s", "");
	got = take_captured();
	snprintf(want, sizeof want, "test_log[%ld]: error event=bare\n", (long)getpid());
	is_str(got, want, "an event without fields has no trailing blank");
}

static void test_secrets(void)
{
	const char *got;

	log_add_secret("Sup3rSecretToken");
	log_event(LOG_WARNING, "auth", "token=%s again=x%sx", "Sup3rSecretToken",
		  "Sup3rSecretToken");
	got = take_captured();
	ok(!strstr(got, "Sup3r") && !strstr(got, "Token"), "a registered secret never appears");
	ok(strstr(got, "token=*** again=x***x") != NULL, "each occurrence becomes ***");

	/* One secret inside another: the longer one must go whole. */
	log_add_secret("abcd1234");
	log_add_secret("abcd1234-and-more");
	log_event(LOG_INFO, "nested", "v=%s", "abcd1234-and-more");
	got = take_captured();
	ok(strstr(got, "v=***\n") != NULL, "a secret that contains another is masked whole");

	log_add_secret("abc");
	log_event(LOG_INFO, "short", "v=abc");
	ok(strstr(take_captured(), "v=abc") != NULL, "secrets under 4 bytes are ignored");

	log_add_secret("Sup3rSecretToken"); /* registering twice is harmless */
	log_forget_secrets();
	log_event(LOG_INFO, "forgotten", "v=%s", "abcd1234");
	ok(strstr(take_captured(), "v=abcd1234") != NULL, "log_forget_secrets empties the list");
}

static void test_long_line(void)
{
	static char big[10000];
	const char *got;
	size_t len;

	memset(big, 'x', sizeof big - 1);
	/* A secret right across the place where the line gets cut. */
	memcpy(big + 3960, "CutHereSecret-0123456789", 24);
	log_add_secret("CutHereSecret-0123456789");
	log_event(LOG_INFO, "long", "v=%s", big);
	got = take_captured();
	len = strlen(got);
	ok(len <= 4096 && len > 3000, "a long line is cut to at most 4096 bytes (%zu)", len);
	ok(count_lines(got) == 1 && got[len - 1] == '\n', "still exactly one line");
	ok(!strstr(got, "CutH"), "no piece of a secret survives the cut");
	ok(strstr(got, "[truncated]\n") != NULL, "the cut is marked");
	log_forget_secrets();
}

static void test_urls(void)
{
	const char *got;
	char buf[64];

	log_event(LOG_INFO, "fetch",
		  "url=https://bucket.s3.amazonaws.com/k.mp4?X-Amz-Signature=deadbeef&X=1 "
		  "next=\"HTTP://h/p?token=t0k\" plain=a?b <http://h/?x=k3y>");
	got = take_captured();
	ok(!strstr(got, "deadbeef") && !strstr(got, "t0k"), "URL query strings never appear");
	ok(strstr(got, "url=https://bucket.s3.amazonaws.com/k.mp4?[redacted] next=") != NULL,
	   "query replaced up to the blank");
	ok(strstr(got, "next=\"HTTP://h/p?[redacted]\"") != NULL,
	   "query replaced up to the quote, scheme in any case");
	ok(strstr(got, "plain=a?b <http://h/?[redacted]>\n") != NULL,
	   "a '?' outside a URL is kept; '>' ends a URL");
	ok(!strstr(got, "k3y"), "no query survives");

	/* Redaction grows a short query; in a full buffer the tail is cut. */
	snprintf(buf, 16, "x https://h/?a");
	log_scrub(buf, 16);
	is_str(buf, "x https://h/?[r", "growth in a small buffer cuts the tail, never the mask");
	snprintf(buf, sizeof buf, "https://h/?a https://i/?b");
	log_scrub(buf, sizeof buf);
	is_str(buf, "https://h/?[redacted] https://i/?[redacted]", "every URL in the text");
	log_scrub(buf, sizeof buf);
	is_str(buf, "https://h/?[redacted] https://i/?[redacted]", "scrubbing twice is stable");
}

static void test_control_chars(void)
{
	const char *got;
	char buf[32];

	log_event(LOG_INFO, "multi", "topic=%s", "line1\nline2\r\tend\x1b[31m");
	got = take_captured();
	ok(count_lines(got) == 1, "a newline inside a value does not start a new line");
	ok(strstr(got, "topic=line1?line2??end?[31m\n") != NULL, "control characters become '?'");

	snprintf(buf, sizeof buf, "caf\xc3\xa9 ok");
	log_scrub(buf, sizeof buf);
	is_str(buf, "caf\xc3\xa9 ok", "UTF-8 text is kept");
}

static void test_verbose(void)
{
	log_event(LOG_DEBUG, "chatty", "n=1");
	is_str(take_captured(), "", "debug lines are dropped unless verbose");
	log_init("test_log", LOG_DEST_STDERR, true);
	log_event(LOG_DEBUG, "chatty", "n=2");
	ok(strstr(take_captured(), ": debug event=chatty n=2\n") != NULL,
	   "debug lines appear when verbose");
}

static void test_env_override(void)
{
	setenv("ZOOM2S3_LOG", "syslog", 1);
	log_init("test_log", LOG_DEST_STDERR, false);
	log_event(LOG_INFO, "to_syslog", "n=1");
	is_str(take_captured(), "", "ZOOM2S3_LOG=syslog overrides a stderr destination");
	setenv("ZOOM2S3_LOG", "stderr", 1);
	log_init("test_log", LOG_DEST_SYSLOG, false);
	log_event(LOG_INFO, "to_stderr", "n=1");
	ok(strstr(take_captured(), "event=to_stderr n=1\n") != NULL,
	   "ZOOM2S3_LOG=stderr overrides a syslog destination");
}

static void test_log_q(void)
{
	char buf[64], small[8], seven[7];

	is_str(log_q("plain", buf, sizeof buf), "plain", "a plain value is left alone");
	is_str(log_q("two words", buf, sizeof buf), "\"two words\"", "a blank means quotes");
	is_str(log_q("a\"b\\c", buf, sizeof buf), "\"a\\\"b\\\\c\"", "quote and backslash escaped");
	is_str(log_q("a\nb\x01", buf, sizeof buf), "\"a\\nb\\x01\"", "control characters escaped");
	is_str(log_q("", buf, sizeof buf), "\"\"", "empty value is \"\"");
	is_str(log_q(NULL, buf, sizeof buf), "\"\"", "NULL is \"\"");
	is_str(log_q("caf\xc3\xa9", buf, sizeof buf), "caf\xc3\xa9", "UTF-8 needs no quotes");
	is_str(log_q("a b c d e f", small, sizeof small), "\"a b c\"", "cut keeps the closing quote");
	is_str(log_q("\"\"\"\"", small, sizeof small), "\"\\\"\\\"\"", "cut never splits an escape");
	is_str(log_q("abc\"", seven, sizeof seven), "\"abc\"", "an escape that does not fit is left out");
	is_str(log_q("a\\b", buf, sizeof buf), "\"a\\\\b\"", "a backslash means quotes");
}

/* Threads log while another registers secrets: every line must stay whole
 * and no registered secret may appear once registered before the event. */
#define THREADS 4
#define PER_THREAD 200

static void *logger(void *arg)
{
	for (int i = 0; i < PER_THREAD; i++)
		log_event(LOG_INFO, "thread", "t=%ld i=%d s=ThreadSecretXYZ", (long)arg, i);
	return NULL;
}

static void *registrar(void *arg)
{
	char s[32];

	(void)arg;
	for (int i = 0; i < 100; i++) {
		snprintf(s, sizeof s, "unused-secret-%d", i);
		log_add_secret(s);
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t t[THREADS + 1];
	const char *got, *line;
	int whole = 0;

	log_add_secret("ThreadSecretXYZ");
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, logger, (void *)i);
	pthread_create(&t[THREADS], NULL, registrar, NULL);
	for (int i = 0; i <= THREADS; i++)
		pthread_join(t[i], NULL);
	got = take_captured();
	for (line = got; *line; line = strchr(line, '\n') + 1) {
		if (strncmp(line, "test_log[", 9) == 0 && strstr(line, " s=***\n") ==
								   strchr(line, '\n') - 6)
			whole++;
	}
	is_int(whole, THREADS * PER_THREAD, "concurrent events each come out as one whole line");
	ok(!strstr(got, "ThreadSecret"), "and none shows the secret");
	log_forget_secrets();
}

/* A job's token is held while its transfer runs, then released: the list
 * does not grow for as long as a --watch spooler runs. */
static void test_held_secrets(void)
{
	char line[256];

	log_hold_secret("MeetingToken1234");
	log_hold_secret("MeetingToken1234"); /* two jobs of one meeting */
	snprintf(line, sizeof line, "t=MeetingToken1234");
	is_str(log_scrub(line, sizeof line), "t=***", "a held token is scrubbed");
	log_release_secret("MeetingToken1234");
	snprintf(line, sizeof line, "t=MeetingToken1234");
	is_str(log_scrub(line, sizeof line), "t=***", "  ... still, while another job holds it");
	log_release_secret("MeetingToken1234");
	snprintf(line, sizeof line, "t=MeetingToken1234");
	is_str(log_scrub(line, sizeof line), "t=MeetingToken1234",
	       "  ... and gone from the list after the last release");
	log_release_secret("MeetingToken1234"); /* one release too many: harmless */

	log_add_secret("ConfigSecret5678");
	log_hold_secret("ConfigSecret5678");
	log_release_secret("ConfigSecret5678");
	snprintf(line, sizeof line, "t=ConfigSecret5678");
	is_str(log_scrub(line, sizeof line), "t=***",
	       "a secret added for good stays, whatever is held and released");
	log_hold_secret("HeldThenAdded9012");
	log_add_secret("HeldThenAdded9012");
	log_release_secret("HeldThenAdded9012");
	snprintf(line, sizeof line, "t=HeldThenAdded9012");
	is_str(log_scrub(line, sizeof line), "t=***", "  ... also when it was held first");
	log_forget_secrets();
}

int main(void)
{
	if (tap_capture_stderr(mkstemp(capture_path), capture_path) != 0)
		return 1;
	setenv("ZOOM2S3_LOG", "stderr", 1);
	log_init("test_log", LOG_DEST_AUTO, false);

	test_format();
	test_secrets();
	test_long_line();
	test_urls();
	test_control_chars();
	test_verbose();
	test_env_override();
	test_log_q();
	test_held_secrets();
	log_init("test_log", LOG_DEST_STDERR, false);
	test_threads();
	if (!tap_failed)
		unlink(capture_path);
	return done_testing();
}
