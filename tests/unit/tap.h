/* A tiny TAP producer for the C unit tests (automake's tap-driver reads it).
 * Header-only: each test is one program. */
#ifndef ZOOM2S3_TAP_H
#define ZOOM2S3_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

static inline void tap_diag(const char *msg) { printf("# %s\n", msg); }

/* Prints the plan at the end; exit status 1 when anything failed. */
static inline int done_testing(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
