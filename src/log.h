/* One logging interface for both programs: one line per event, as
 * "event=NAME key=value ...". Lines go to stderr when it is a terminal or
 * when asked to, else to syslog. Every line passes through a guard that
 * replaces each registered secret, and the query string of any URL, so no
 * token or pre-signed signature can reach a log. */
#ifndef ZOOM2S3_LOG_H
#define ZOOM2S3_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

enum log_dest { LOG_DEST_AUTO, LOG_DEST_STDERR, LOG_DEST_SYSLOG };

void log_init(const char *ident, enum log_dest dest, bool verbose);

/* Register a secret: from now on it is never printed (replaced by "***").
 * Empty or very short strings (< 4 bytes) are ignored. The string is copied. */
void log_add_secret(const char *secret);
void log_forget_secrets(void);

/* A secret that matters for one piece of work (a job's download token):
 * hold it while the work runs, release it after. Holds are counted (jobs
 * of one meeting share a token); the last release removes it, unless it
 * was also added with log_add_secret. */
void log_hold_secret(const char *secret);
void log_release_secret(const char *secret);

/* prio is a syslog priority (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG).
 * LOG_DEBUG lines are dropped unless verbose. fmt continues the line after
 * "event=EVENT ". Values with spaces should be quoted by the caller with
 * log_q(). */
void log_event(int prio, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes all of buf to fd, again after EINTR: 0, or -1 with errno (EIO
 * when write made no progress). Every file the project writes whole: log
 * lines on stderr, spool files, the metrics file. */
int log_write_all(int fd, const char *buf, size_t len);

/* The length of an "http://" or "https://" (any case) that text starts
 * with, else 0: where log_scrub finds a URL, and what config.c's URL checks
 * accept. */
size_t log_url_scheme_len(const char *text);

/* Apply the guard to text in place (also used for messages that leave the
 * program another way, e.g. last_error). Returns buf. */
char *log_scrub(char *buf, size_t size);

/* Quote a value for a key=value field into buf: wraps it in double quotes
 * when it holds space, quote or control characters, escaping them. */
const char *log_q(const char *value, char *buf, size_t size);

#endif
