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
