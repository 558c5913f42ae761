/* One line per event, to stderr or syslog, always through the guard that
 * removes registered secrets and URL query strings. The secret list is the
 * one piece of global mutable state this module exists for; threads of the
 * spooler (-j N) log concurrently, so it sits behind a mutex. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"

/* A whole stderr line, prefix and newline included. Writes of at most
 * PIPE_BUF (4096 on Linux) bytes to a pipe are atomic, so lines from
 * concurrent processes sharing one stderr never interleave. */
#define LOG_LINE_MAX 4096
#define LOG_TRUNCATED " [truncated]"
#define LOG_REDACTED "?[redacted]"
#define LOG_SECRET_MASK "***"
#define LOG_SECRET_MIN 4

static char log_ident[64] = "zoom2s3";
static enum log_dest log_dest_now = LOG_DEST_STDERR;
static bool log_verbose;

static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
/* Longest first, so a secret that contains another is replaced whole.
 * refs: PERMANENT for config and credential secrets; else how many
 * transfers hold it (a job's download token), so the list does not grow for
 * as long as a --watch spooler runs. */
#define PERMANENT (-1L)
struct secret {
	char *text;
	long refs;
};
static struct secret *secrets;
static size_t n_secrets, cap_secrets;

static enum log_dest dest_from_env(enum log_dest asked)
{
	const char *env = getenv("ZOOM2S3_LOG");

	if (env && strcmp(env, "stderr") == 0)
		return LOG_DEST_STDERR;
	if (env && strcmp(env, "syslog") == 0)
		return LOG_DEST_SYSLOG;
	if (asked != LOG_DEST_AUTO)
		return asked;
	return isatty(STDERR_FILENO) ? LOG_DEST_STDERR : LOG_DEST_SYSLOG;
}

void log_init(const char *ident, enum log_dest dest, bool verbose)
{
	if (ident && *ident)
		snprintf(log_ident, sizeof log_ident, "%s", ident);
	log_verbose = verbose;
	log_dest_now = dest_from_env(dest);
	if (log_dest_now == LOG_DEST_SYSLOG)
		openlog(log_ident, LOG_PID, LOG_DAEMON); /* keeps the pointer: static */
}

/* Index of secret in the list, or -1. Called with secrets_lock held. */
static long secret_find(const char *secret)
{
	for (size_t i = 0; i < n_secrets; i++)
		if (strcmp(secrets[i].text, secret) == 0)
			return (long)i;
	return -1;
}

/* Called with secrets_lock held. */
static void secret_insert(char *copy, long refs)
{
	size_t len = strlen(copy), at = 0;

	while (at < n_secrets && strlen(secrets[at].text) >= len)
		at++;
	memmove(secrets + at + 1, secrets + at, (n_secrets - at) * sizeof *secrets);
	secrets[at].text = copy;
	secrets[at].refs = refs;
	n_secrets++;
}

/* Called with secrets_lock held. Wipes the copy: no secret lies in freed
 * memory. */
static void secret_remove(size_t i)
{
	memset(secrets[i].text, 0, strlen(secrets[i].text));
	free(secrets[i].text);
	memmove(secrets + i, secrets + i + 1, (n_secrets - i - 1) * sizeof *secrets);
	n_secrets--;
}

/* refs is PERMANENT or 1 (one more holder). */
static void secret_add(const char *secret, long refs)
{
	char *copy = NULL;
	long i;

	if (!secret || strlen(secret) < LOG_SECRET_MIN)
		return;
	pthread_mutex_lock(&secrets_lock);
	i = secret_find(secret);
	if (i >= 0) {
		if (refs == PERMANENT || secrets[i].refs == PERMANENT)
			secrets[i].refs = PERMANENT;
		else
			secrets[i].refs++;
		goto out;
	}
	if (n_secrets == cap_secrets) {
		size_t cap = cap_secrets ? 2 * cap_secrets : 8;
		struct secret *grown = realloc(secrets, cap * sizeof *grown);

		if (!grown)
			goto out;
		secrets = grown;
		cap_secrets = cap;
	}
	copy = strdup(secret);
	if (copy)
		secret_insert(copy, refs);
out:
	pthread_mutex_unlock(&secrets_lock);
}

void log_add_secret(const char *secret)
{
	secret_add(secret, PERMANENT);
}

void log_hold_secret(const char *secret)
{
	secret_add(secret, 1);
}

void log_release_secret(const char *secret)
{
	long i;

	if (!secret)
		return;
	pthread_mutex_lock(&secrets_lock);
	i = secret_find(secret);
	if (i >= 0 && secrets[i].refs != PERMANENT && --secrets[i].refs == 0)
		secret_remove((size_t)i);
	pthread_mutex_unlock(&secrets_lock);
}

void log_forget_secrets(void)
{
	pthread_mutex_lock(&secrets_lock);
	while (n_secrets > 0)
		secret_remove(n_secrets - 1);
	free(secrets);
	secrets = NULL;
	n_secrets = cap_secrets = 0;
	pthread_mutex_unlock(&secrets_lock);
}

/* Replaces text[at, at+oldlen) with repl, moving the tail; the tail is cut
 * when the buffer is too small. Returns the new length of text. */
static size_t splice(char *text, size_t len, size_t size, size_t at, size_t oldlen,
		     const char *repl)
{
	size_t repl_len = strlen(repl), tail = len - at - oldlen;

	if (at + repl_len >= size)
		repl_len = size - 1 - at;
	if (at + repl_len + tail >= size)
		tail = size - 1 - at - repl_len;
	memmove(text + at + repl_len, text + at + oldlen, tail);
	memcpy(text + at, repl, repl_len);
	text[at + repl_len + tail] = '\0';
	return at + repl_len + tail;
}

/* Called with secrets_lock held. Masks only shrink the text. */
static size_t mask_secrets(char *text, size_t len, size_t size)
{
	for (size_t i = 0; i < n_secrets; i++) {
		size_t slen = strlen(secrets[i].text), from = 0;
		char *hit;

		while ((hit = memmem(text + from, len - from, secrets[i].text, slen))) {
			size_t at = (size_t)(hit - text);

			len = splice(text, len, size, at, slen, LOG_SECRET_MASK);
			from = at + strlen(LOG_SECRET_MASK);
		}
	}
	return len;
}

static bool ends_url(unsigned char c)
{
	return c == '\0' || c <= ' ' || c == 0x7f || c == '"' || c == '\'' || c == '<' || c == '>';
}

size_t log_url_scheme_len(const char *text)
{
	if (strncasecmp(text, "http://", 7) == 0)
		return 7;
	if (strncasecmp(text, "https://", 8) == 0)
		return 8;
	return 0;
}

/* A pre-signed URL's signature is its query string: every URL loses it. */
static size_t redact_queries(char *text, size_t len, size_t size)
{
	size_t i = 0;

	while (i < len) {
		size_t scheme = log_url_scheme_len(text + i), end, q;

		if (!scheme) {
			i++;
			continue;
		}
		for (end = i + scheme; !ends_url((unsigned char)text[end]); end++)
			;
		for (q = i + scheme; q < end && text[q] != '?'; q++)
			;
		if (q == end) {
			i = end;
			continue;
		}
		len = splice(text, len, size, q, end - q, LOG_REDACTED);
		i = q + strlen(LOG_REDACTED);
	}
	return len;
}

char *log_scrub(char *buf, size_t size)
{
	size_t len;

	if (!buf || size == 0)
		return buf;
	buf[size - 1] = '\0';
	len = strlen(buf);
	pthread_mutex_lock(&secrets_lock);
	len = mask_secrets(buf, len, size);
	pthread_mutex_unlock(&secrets_lock);
	len = redact_queries(buf, len, size);
	/* One event is one line: no newline, tab or escape code gets through. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < ' ' || buf[i] == 0x7f)
			buf[i] = '?';
	return buf;
}

static const char *level_name(int prio)
{
	switch (prio) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
		return "critical";
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* "event=NAME rest" into stack if it fits, else into a heap buffer (freed
 * by the caller when != stack). The whole text is scrubbed before it is
 * cut to size, so a cut never leaves half a secret behind. */
static char *format_body(char *stack, size_t stacksize, size_t *size, const char *event,
			 const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static char *format_body(char *stack, size_t stacksize, size_t *size, const char *event,
			 const char *fmt, va_list ap)
{
	int head = snprintf(stack, stacksize, "event=%s ", event ? event : "?");
	char *body = stack;
	va_list again;
	int rest;

	*size = stacksize;
	if (head < 0 || (size_t)head >= stacksize / 2) {
		snprintf(stack, stacksize, "event=? [bad event name]");
		return stack;
	}
	va_copy(again, ap);
	rest = vsnprintf(stack + head, stacksize - (size_t)head, fmt, ap);
	if (rest >= 0 && (size_t)(head + rest) >= stacksize) {
		/* Room for the text plus the growth of a few redacted queries. */
		size_t want = (size_t)head + (size_t)rest + 1 + 256;

		body = malloc(want);
		if (body) {
			memcpy(body, stack, (size_t)head);
			vsnprintf(body + head, want - (size_t)head, fmt, again);
			*size = want;
		} else {
			snprintf(stack + head, stacksize - (size_t)head, "[line lost: out of memory]");
			body = stack;
		}
	} else if (rest < 0) {
		snprintf(stack + head, stacksize - (size_t)head, "[bad log format]");
	}
	va_end(again);
	if (rest == 0)
		stack[head - 1] = '\0'; /* no trailing blank after a bare event */
	return body;
}

/* Cuts body so that it fits max bytes, saying so at the end. */
static void truncate_body(char *body, size_t max)
{
	size_t mark = strlen(LOG_TRUNCATED);

	if (strlen(body) <= max)
		return;
	memcpy(body + max - mark, LOG_TRUNCATED, mark + 1);
}

int log_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO; /* no progress and no reason given */
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void emit_stderr(int prio, const char *body)
{
	char line[LOG_LINE_MAX];
	int n = snprintf(line, sizeof line, "%s[%ld]: %s %s\n", log_ident, (long)getpid(),
			 level_name(prio), body);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof line) {
		n = sizeof line - 1;
		line[n - 1] = '\n';
	}
	/* nowhere left to report a failing stderr */
	(void)log_write_all(STDERR_FILENO, line, (size_t)n);
}

void log_event(int prio, const char *event, const char *fmt, ...)
{
	char stack[LOG_LINE_MAX];
	int saved_errno = errno; /* callers may log, then look at errno */
	size_t size;
	char *body;
	va_list ap;

	if (prio == LOG_DEBUG && !log_verbose)
		return;
	va_start(ap, fmt);
	body = format_body(stack, sizeof stack, &size, event, fmt, ap);
	va_end(ap);
	log_scrub(body, size);
	/* Room for "ident[pid]: level " and the newline on stderr. */
	truncate_body(body, LOG_LINE_MAX - sizeof log_ident - 40);
	if (log_dest_now == LOG_DEST_SYSLOG)
		syslog(prio, "%s", body);
	else
		emit_stderr(prio, body);
	if (body != stack)
		free(body);
	errno = saved_errno;
}

static bool needs_quotes(const char *value)
{
	if (!*value)
		return true;
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '\\')
			return true;
	return false;
}

/* The escaped form of c into esc (at most 5 bytes with the NUL). */
static void escape_char(unsigned char c, char esc[5])
{
	if (c == '"' || c == '\\')
		snprintf(esc, 5, "\\%c", c);
	else if (c == '\n')
		snprintf(esc, 5, "\\n");
	else if (c == '\t')
		snprintf(esc, 5, "\\t");
	else if (c == '\r')
		snprintf(esc, 5, "\\r");
	else if (c < ' ' || c == 0x7f)
		snprintf(esc, 5, "\\x%02x", c);
	else
		snprintf(esc, 5, "%c", c);
}

const char *log_q(const char *value, char *buf, size_t size)
{
	size_t o = 0;

	if (!buf || size == 0)
		return "";
	if (!value)
		value = "";
	if (!needs_quotes(value)) {
		snprintf(buf, size, "%s", value);
		return buf;
	}
	if (size < 3) {
		buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		char esc[5];
		size_t n;

		escape_char(*p, esc);
		n = strlen(esc);
		if (o + n + 2 > size) /* keep room for the closing quote and NUL */
			break;
		memcpy(buf + o, esc, n);
		o += n;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
