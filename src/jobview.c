/* zoom2s3ctl's view of jobs: summary rows, people's ages and sizes, JSON
 * for scripts, and jobs shown with their tokens masked. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobview.h"
#include "log.h"

#define MASK "***"

time_t jobview_since(const struct job *job, enum spool_state st, time_t mtime)
{
	const char *field = st == SPOOL_DONE ? "completed_at"
			    : st == SPOOL_FAILED ? "failed_at"
						 : "received_at";
	time_t t, requeued;

	if (!job || job_get_time(job, field, &t) != 0)
		t = mtime;
	/* a job requeued by hand waits from its requeue on */
	if (st != SPOOL_DONE && st != SPOOL_FAILED && job &&
	    job_get_time(job, "requeued_at", &requeued) == 0 && requeued > t)
		t = requeued;
	return t;
}

static void copy_field(char *dst, size_t size, const struct job *job, const char *field)
{
	const char *v = job_get_str(job, field);

	snprintf(dst, size, "%s", v ? v : "");
}

void jobview_row_fill(struct jobview_row *row, enum spool_state st,
		      const struct spool_entry *entry, const struct job *job)
{
	memset(row, 0, sizeof *row);
	snprintf(row->name, sizeof row->name, "%s", entry->name);
	row->state = st;
	row->file_size = -1;
	row->attempts = -1;
	row->running = SPOOL_GONE; /* unknown until probed */
	row->since = jobview_since(job, st, entry->mtime);
	row->mtime = entry->mtime;
	if (!job) {
		row->unparsable = true;
		return;
	}
	copy_field(row->topic, sizeof row->topic, job, "topic");
	copy_field(row->file_type, sizeof row->file_type, job, "file_type");
	copy_field(row->s3_key, sizeof row->s3_key, job, "s3_key");
	copy_field(row->last_error, sizeof row->last_error, job, "last_error");
	copy_field(row->claimed_by, sizeof row->claimed_by, job, "claimed_by");
	if (job_get_int(job, "file_size", &row->file_size) != 0)
		row->file_size = -1;
	if (job_get_int(job, "attempts", &row->attempts) != 0)
		row->attempts = -1;
	if (job_get_time(job, "next_attempt_at", &row->next_attempt_at) != 0)
		row->next_attempt_at = 0;
}

const char *jobview_age(long long seconds, char *buf, size_t size)
{
	if (seconds < 0)
		seconds = 0;
	if (seconds < 60)
		snprintf(buf, size, "%llds", seconds);
	else if (seconds < 3600)
		snprintf(buf, size, "%lldm", seconds / 60);
	else if (seconds < 86400)
		snprintf(buf, size, "%lldh %02lldm", seconds / 3600, seconds % 3600 / 60);
	else
		snprintf(buf, size, "%lldd %02lldh", seconds / 86400, seconds % 86400 / 3600);
	return buf;
}

const char *jobview_size(int64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 0) {
		snprintf(buf, size, "-");
		return buf;
	}
	if (bytes < 1024) {
		snprintf(buf, size, "%" PRId64 " B", bytes);
		return buf;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, v < 10 ? "%.2f %s" : "%.1f %s", v, units[u]);
	return buf;
}

/* Bytes of the UTF-8 sequence starting with lead (1 for a stray byte). */
static size_t utf8_len(unsigned char lead)
{
	if (lead >= 0xf0 && lead < 0xf8)
		return 4;
	if (lead >= 0xe0)
		return lead < 0xf0 ? 3 : 1;
	if (lead >= 0xc0)
		return 2;
	return 1;
}

/* Characters (UTF-8 sequences) in text, counting at most limit + 1. */
static size_t count_chars(const char *text, size_t limit)
{
	size_t chars = 0, len = strlen(text);

	for (size_t i = 0; i < len && chars <= limit; chars++)
		i += utf8_len((unsigned char)text[i]);
	return chars;
}

const char *jobview_shorten(const char *text, size_t max, char *buf, size_t size)
{
	size_t in = 0, out = 0, len = strlen(text);
	bool cut = count_chars(text, max) > max;
	size_t keep = cut && max >= 3 ? max - 3 : max;

	if (size == 0)
		return buf;
	for (size_t chars = 0; in < len && chars < keep; chars++) {
		size_t n = utf8_len((unsigned char)text[in]);

		if (in + n > len)
			n = 1;
		if (out + n >= size)
			break;
		if (n == 1 && ((unsigned char)text[in] < ' ' || text[in] == 0x7f)) {
			buf[out++] = '?';
		} else {
			memcpy(buf + out, text + in, n);
			out += n;
		}
		in += n;
	}
	if (cut && max >= 3 && out + 3 < size) {
		memcpy(buf + out, "...", 3);
		out += 3;
	}
	buf[out] = '\0';
	return buf;
}

const char *jobview_header(void)
{
	return "STATE  NAME                                      TOPIC                     TYPE"
	       "            SIZE TRIES       AGE  S3 KEY / LAST ERROR";
}

/* "-" when text is empty. */
static const char *or_dash(const char *text)
{
	return text[0] ? text : "-";
}

int jobview_line(const struct jobview_row *row, time_t now, char *buf, size_t size)
{
	char name[160], topic[100], type[40], sz[32], age[32], tries[24], err[256], key[1200];
	int n;

	jobview_shorten(row->name, 40, name, sizeof name);
	jobview_age((long long)(now - row->since), age, sizeof age);
	if (row->unparsable) {
		n = snprintf(buf, size, "%-6s %-40s %-25s %-10s %9s %5s %9s  (not a job: it does "
					"not parse)",
			     spool_state_dir(row->state), name, "-", "-", "-", "-", age);
		return n < 0 || (size_t)n >= size ? -1 : 0;
	}
	jobview_shorten(row->topic, 25, topic, sizeof topic);
	jobview_shorten(row->file_type, 10, type, sizeof type);
	jobview_size(row->file_size, sz, sizeof sz);
	if (row->attempts >= 0)
		snprintf(tries, sizeof tries, "%" PRId64, row->attempts);
	else
		snprintf(tries, sizeof tries, "-");
	jobview_shorten(row->s3_key, 1024, key, sizeof key);
	jobview_shorten(row->last_error, JOBVIEW_ERROR_SHORT, err, sizeof err);
	n = snprintf(buf, size, "%-6s %-40s %-25s %-10s %9s %5s %9s  %s%s%s%s%s%s%s",
		     spool_state_dir(row->state), name, or_dash(topic), or_dash(type), sz, tries,
		     age, or_dash(key), err[0] ? "  (" : "", err, err[0] ? ")" : "",
		     row->removal[0] ? "  [zoom: " : "", row->removal, row->removal[0] ? "]" : "");
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int jobview_json_string(const char *s, char *out, size_t size)
{
	size_t o = 0;

	if (size < 3)
		return -1;
	out[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		size_t n;

		if (*p == '"' || *p == '\\') {
			n = (size_t)snprintf(esc, sizeof esc, "\\%c", *p);
		} else if (*p < 0x20 || *p == 0x7f) {
			n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", *p);
		} else {
			esc[0] = (char)*p;
			n = 1;
		}
		if (o + n + 2 > size)
			return -1;
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o++] = '"';
	out[o] = '\0';
	return 0;
}

/* Appends text to buf at *used; -1 when it does not fit. */
static int append(char *buf, size_t size, size_t *used, const char *text)
{
	size_t n = strlen(text);

	if (*used + n + 1 > size)
		return -1;
	memcpy(buf + *used, text, n + 1);
	*used += n;
	return 0;
}

/* ,"name":"value" (or a bare number/literal when raw). */
static int member(char *buf, size_t size, size_t *used, const char *name, const char *value,
		  bool raw)
{
	char quoted[2600];

	if (!raw && jobview_json_string(value, quoted, sizeof quoted) != 0)
		return -1;
	if (*used > 1 && append(buf, size, used, ",") != 0)
		return -1;
	if (append(buf, size, used, "\"") != 0 || append(buf, size, used, name) != 0 ||
	    append(buf, size, used, "\":") != 0)
		return -1;
	return append(buf, size, used, raw ? value : quoted);
}

static int member_time(char *buf, size_t size, size_t *used, const char *name, time_t t)
{
	char text[40];

	if (t == 0)
		return member(buf, size, used, name, "null", true);
	if (job_format_time(t, text, sizeof text) != 0)
		return -1;
	return member(buf, size, used, name, text, false);
}

static int member_int(char *buf, size_t size, size_t *used, const char *name, int64_t v)
{
	char text[32];

	if (v < 0)
		return member(buf, size, used, name, "null", true);
	snprintf(text, sizeof text, "%" PRId64, v);
	return member(buf, size, used, name, text, true);
}

int jobview_json(const struct jobview_row *row, time_t now, char *buf, size_t size)
{
	size_t used = 0;
	const char *running = row->running == SPOOL_RUNNING     ? "true"
			      : row->running == SPOOL_ABANDONED ? "false"
								: "null";
	int rc = 0;

	if (append(buf, size, &used, "{") != 0)
		return -1;
	rc |= member(buf, size, &used, "state", spool_state_dir(row->state), false);
	rc |= member(buf, size, &used, "name", row->name, false);
	rc |= member(buf, size, &used, "unparsable", row->unparsable ? "true" : "false", true);
	rc |= member(buf, size, &used, "topic", row->topic, false);
	rc |= member(buf, size, &used, "file_type", row->file_type, false);
	rc |= member_int(buf, size, &used, "file_size", row->file_size);
	rc |= member_int(buf, size, &used, "attempts", row->attempts);
	rc |= member_time(buf, size, &used, "since", row->since);
	rc |= member_int(buf, size, &used, "age_seconds",
			 now > row->since ? (int64_t)(now - row->since) : 0);
	rc |= member_time(buf, size, &used, "next_attempt_at", row->next_attempt_at);
	rc |= member(buf, size, &used, "running", row->state == SPOOL_CUR ? running : "null", true);
	rc |= member(buf, size, &used, "s3_key", row->s3_key, false);
	rc |= member(buf, size, &used, "last_error", row->last_error, false);
	rc |= member(buf, size, &used, "removal", row->removal, false);
	if (rc != 0 || append(buf, size, &used, "}") != 0)
		return -1;
	return 0;
}

/* True when a member of this (JSON-escaped) name holds a credential. */
static bool secret_name(const char *name, size_t len)
{
	static const char *const words[] = { "token", "secret", "password" };
	char lower[128];

	if (len >= sizeof lower)
		len = sizeof lower - 1;
	for (size_t i = 0; i < len; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	lower[len] = '\0';
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strstr(lower, words[i]))
			return true;
	return false;
}

/* End of the JSON string that starts at p (on its opening quote): the
 * closing quote, or NULL. */
static const char *string_end(const char *p)
{
	for (p++; *p; p++) {
		if (*p == '\\' && p[1])
			p++;
		else if (*p == '"')
			return p;
	}
	return NULL;
}

/* One line of the pretty-printed job into out: a credential member's
 * string value masked, then log_scrub for query strings and known secrets. */
static void mask_line(const char *line, size_t len, char *out, size_t size)
{
	const char *p = line, *end = line + len, *key_end, *value, *value_end;
	int n;

	snprintf(out, size, "%.*s", (int)len, line);
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end && *p == '"' && (key_end = string_end(p)) && key_end < end &&
	    secret_name(p + 1, (size_t)(key_end - p - 1))) {
		value = key_end + 1;
		while (value < end && (*value == ':' || *value == ' '))
			value++;
		if (value < end && *value == '"' && (value_end = string_end(value)) &&
		    value_end < end) {
			n = snprintf(out, size, "%.*s\"" MASK "\"%.*s", (int)(value - line), line,
				     (int)(end - value_end - 1), value_end + 1);
			if (n < 0 || (size_t)n >= size)
				snprintf(out, size, "(a line holding a secret, too long to show)");
		}
	}
	log_scrub(out, size);
}

char *jobview_masked(const struct job *job)
{
	size_t len, outlen = 0;
	char *text = job_serialize(job, &len), *out = NULL, *line = NULL;
	FILE *f = NULL;
	bool ok = false;

	if (!text)
		return NULL;
	line = malloc(len + 64); /* a line, plus room for "?[redacted]" */
	f = open_memstream(&out, &outlen);
	if (!line || !f)
		goto done;
	for (char *s = text; s < text + len;) {
		char *nl = memchr(s, '\n', (size_t)(text + len - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(text + len - s);

		mask_line(s, n, line, len + 64);
		fprintf(f, "%s\n", line);
		s += n + 1;
	}
	ok = true;
done:
	if (f && fclose(f) != 0)
		ok = false;
	if (!ok) {
		free(out);
		out = NULL;
	}
	free(line);
	free(text);
	return out;
}

int jobview_parse_duration(const char *text, long *seconds)
{
	char *end;
	long long v, unit = 1;

	if (!text || !isdigit((unsigned char)text[0]))
		return -1;
	v = strtoll(text, &end, 10);
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		unit = 1;
	else if (strcmp(end, "m") == 0)
		unit = 60;
	else if (strcmp(end, "h") == 0)
		unit = 3600;
	else if (strcmp(end, "d") == 0)
		unit = 86400;
	else
		return -1;
	if (v < 0 || v > 100LL * 365 * 86400 / unit)
		return -1;
	*seconds = (long)(v * unit);
	return 0;
}
