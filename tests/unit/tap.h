/* A tiny TAP producer for the C unit tests (automake's tap-driver reads it).
 * Header-only: each test is one program. */
#ifndef ZOOM2S3_TAP_H
#define ZOOM2S3_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_count, tap_failed;

static inline int tap_ok(int cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)

#define is_str(got, want, name)                                                        \
	do {                                                                           \
		const char *g_ = (got), *w_ = (want);                                  \
		if (!ok(g_ && w_ ? strcmp(g_, w_) == 0 : g_ == w_, "%s", name))        \
			printf("#   got:  '%s'\n#   want: '%s'\n", g_ ? g_ : "(null)",     \
			       w_ ? w_ : "(null)");                                    \
	} while (0)

#define is_int(got, want, name)                                                        \
	do {                                                                           \
		long long g_ = (long long)(got), w_ = (long long)(want);               \
		if (!ok(g_ == w_, "%s", name))                                         \
			printf("#   got:  %lld\n#   want: %lld\n", g_, w_);               \
	} while (0)

/* is_int with a printf-style name. */
#define is_intf(got, want, ...)                                                        \
	do {                                                                           \
		long long g_ = (long long)(got), w_ = (long long)(want);               \
		if (!ok(g_ == w_, __VA_ARGS__))                                        \
			printf("#   got:  %lld\n#   want: %lld\n", g_, w_);               \
	} while (0)

static inline void tap_diag(const char *msg) { printf("# %s\n", msg); }

/* Sends stderr (log lines, and a sanitizer's report) to the file open at
 * fd, named path, so the TAP stream stays clean; 0, or -1 (perror'ed). */
static inline int tap_capture_stderr(int fd, const char *path)
{
	if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) {
		perror("capture");
		return -1;
	}
	close(fd);
	/* A sanitizer report goes there too: it is kept when something fails. */
	printf("# stderr is captured in %s\n", path);
	return 0;
}

/* The test data file tests/data/REL under $top_srcdir (make check sets it;
 * else the current directory), whole and NUL-terminated, malloc'd; *len
 * its size. A file that cannot be read ends the test: "Bail out!". */
static inline char *tap_read_data(const char *rel, size_t *len)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	char *buf = NULL;
	size_t cap = 0, got = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/tests/data/%s", top ? top : ".", rel);
	f = fopen(path, "rb");
	while (f && !ferror(f) && !feof(f)) {
		if (cap - got < 4097) { /* room for a read of 4096 and the NUL */
			char *bigger = realloc(buf, 2 * cap + 4097);

			if (!bigger)
				break;
			buf = bigger;
			cap = 2 * cap + 4097;
		}
		got += fread(buf + got, 1, cap - got - 1, f);
	}
	if (!f || !buf || ferror(f) || !feof(f)) {
		printf("Bail out! cannot read %s (set top_srcdir)\n", path);
		exit(1);
	}
	fclose(f);
	buf[got] = '\0';
	*len = got;
	return buf;
}

/* Removes a test's temporary directory (rm -rf) when every test passed;
 * keeps it for a look when one failed. */
static inline void tap_remove_dir(const char *dir)
{
	char cmd[4200];

	if (tap_failed != 0) {
		printf("# kept %s\n", dir);
		return;
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		tap_diag("could not remove the temporary directory");
}

/* Prints the plan at the end; exit status 1 when anything failed. */
static inline int done_testing(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
