/* A job is a json-c object kept whole: json-c's objects remember the
 * insertion order of their keys, so every field read, known or not, is
 * written back in its place. Setting an existing field replaces its value
 * in place; a new field goes at the end. */

#include <json-c/json.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "jsonget.h"

/* Nesting deeper than this is refused (json-c's own default too). */
#define JOB_MAX_DEPTH 32

/* json-c reports only allocation failure from these setters; the setters
 * of this interface return nothing, so running out of memory ends here. */
static void must(int rc)
{
	if (rc != 0) {
		fputs("zoom2s3: out of memory in job.c\n", stderr);
		abort();
	}
}

static struct json_object *must_obj(struct json_object *obj)
{
	must(obj == NULL);
	return obj;
}

struct job {
	struct json_object *root; /* always a JSON object */
};

struct job *job_new(void)
{
	struct job *job = malloc(sizeof *job);

	must(job == NULL);
	job->root = must_obj(json_object_new_object());
	return job;
}

void job_free(struct job *job)
{
	if (!job)
		return;
	json_object_put(job->root);
	free(job);
}

static bool only_space(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
			return false;
	return true;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and nothing else */
static bool json_number_text(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return false;
	if (*p == '.') {
		if (*++p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/* json-c reads number texts that are not JSON (NaN, Infinity, "1.") and
 * writes a double back as it read it, so a job could come out as a file
 * jq cannot read. Refuses values that are not finite; a finite one with a
 * non-JSON text is written in json-c's own form instead. */
static int check_numbers(struct json_object *obj)
{
	const char *text;
	size_t n;

	switch (json_object_get_type(obj)) {
	case json_type_double:
		if (!isfinite(json_object_get_double(obj)))
			return -1;
		text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
		if (!text || !json_number_text(text))
			json_object_set_serializer(obj, NULL, NULL, NULL);
		return 0;
	case json_type_array:
		n = json_object_array_length(obj);
		for (size_t i = 0; i < n; i++)
			if (check_numbers(json_object_array_get_idx(obj, i)) != 0)
				return -1;
		return 0;
	case json_type_object: {
		json_object_object_foreach(obj, key, value) {
			(void)key;
			if (check_numbers(value) != 0)
				return -1;
		}
		return 0;
	}
	default:
		return 0;
	}
}

struct job *job_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct json_tokener *tok = json_tokener_new_ex(JOB_MAX_DEPTH);
	struct json_object *root = NULL;
	struct job *job = NULL;
	enum json_tokener_error jerr;
	size_t used;

	if (!tok) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (len > INT_MAX) {
		snprintf(err, errlen, "not a job: the text is too long");
		goto out;
	}
	if (len > 0 && memchr(text, '\0', len)) {
		snprintf(err, errlen, "not a job: the text holds a NUL byte");
		goto out;
	}
	root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue || (!root && jerr == json_tokener_success)) {
		snprintf(err, errlen, "not a job: the JSON text ends early");
		goto out;
	}
	if (jerr != json_tokener_success) {
		snprintf(err, errlen, "not a job: %s at offset %zu",
			 jerr == json_tokener_error_depth ? "nested too deeply"
							  : json_tokener_error_desc(jerr),
			 json_tokener_get_parse_end(tok));
		goto out;
	}
	used = json_tokener_get_parse_end(tok);
	if (used < len && !only_space(text + used, len - used)) {
		snprintf(err, errlen, "not a job: text follows the JSON value at offset %zu", used);
		goto out;
	}
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "not a job: the JSON value is not an object");
		goto out;
	}
	if (check_numbers(root) != 0) { /* depth is bounded by the tokener's */
		snprintf(err, errlen, "not a job: a number is not finite (NaN or Infinity)");
		goto out;
	}
	job = malloc(sizeof *job);
	if (!job) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	job->root = root;
	root = NULL;
out:
	json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	return job;
}

char *job_serialize(const struct job *job, size_t *len)
{
	const char *text;
	size_t n;
	char *copy;

	text = json_object_to_json_string_length(
		job->root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (!text)
		return NULL;
	copy = malloc(n + 2);
	if (!copy)
		return NULL;
	memcpy(copy, text, n);
	copy[n] = '\n';
	copy[n + 1] = '\0';
	*len = n + 1;
	return copy;
}

static struct json_object *field(const struct job *job, const char *name)
{
	struct json_object *value = NULL;

	if (!json_object_object_get_ex(job->root, name, &value))
		return NULL;
	return value;
}

bool job_has(const struct job *job, const char *name)
{
	return json_object_object_get_ex(job->root, name, NULL);
}

const char *job_get_str(const struct job *job, const char *name)
{
	struct json_object *value = field(job, name);

	if (!value || !json_object_is_type(value, json_type_string))
		return NULL;
	return json_object_get_string(value);
}

int job_get_int(const struct job *job, const char *name, int64_t *out)
{
	return jsonget_int64_of(field(job, name), out);
}

int job_get_time(const struct job *job, const char *name, time_t *out)
{
	const char *text = job_get_str(job, name);

	if (!text)
		return -1;
	return job_parse_time(text, out);
}

/* json_object_object_add replaces an existing key's value where it stands,
 * which keeps the field order. */
static void set_field(struct job *job, const char *name, struct json_object *value)
{
	must(json_object_object_add(job->root, name, must_obj(value)));
}

void job_set_str(struct job *job, const char *name, const char *value)
{
	set_field(job, name, json_object_new_string(value));
}

void job_set_int(struct job *job, const char *name, int64_t value)
{
	set_field(job, name, json_object_new_int64(value));
}

void job_set_time(struct job *job, const char *name, time_t t)
{
	char text[32];

	if (job_format_time(t, text, sizeof text) != 0)
		snprintf(text, sizeof text, "1970-01-01T00:00:00Z"); /* t beyond year 9999 */
	job_set_str(job, name, text);
}

void job_remove(struct job *job, const char *name)
{
	json_object_object_del(job->root, name);
}

static struct json_object *parts_array(const struct job *job)
{
	struct json_object *parts = field(job, "parts");

	if (!parts || !json_object_is_type(parts, json_type_array))
		return NULL;
	return parts;
}

size_t job_parts_count(const struct job *job)
{
	struct json_object *parts = parts_array(job);

	return parts ? json_object_array_length(parts) : 0;
}

int job_part_get(const struct job *job, size_t i, int *number, const char **etag, int64_t *size)
{
	struct json_object *parts = parts_array(job), *part, *value;
	int64_t n;

	if (!parts || i >= json_object_array_length(parts))
		return -1;
	part = json_object_array_get_idx(parts, i);
	if (!part || !json_object_is_type(part, json_type_object))
		return -1;
	if (!json_object_object_get_ex(part, "part", &value) || jsonget_int64_of(value, &n) != 0 ||
	    n < 1 || n > 10000)
		return -1;
	*number = (int)n;
	if (!json_object_object_get_ex(part, "etag", &value) ||
	    !json_object_is_type(value, json_type_string))
		return -1;
	*etag = json_object_get_string(value);
	if (!json_object_object_get_ex(part, "size", &value) || jsonget_int64_of(value, size) != 0 ||
	    *size < 0)
		return -1;
	return 0;
}

void job_part_add(struct job *job, int number, const char *etag, int64_t size)
{
	struct json_object *parts = parts_array(job);
	struct json_object *part = must_obj(json_object_new_object());

	if (!parts) {
		parts = must_obj(json_object_new_array());
		set_field(job, "parts", parts);
	}
	must(json_object_object_add(part, "part", must_obj(json_object_new_int(number))));
	must(json_object_object_add(part, "etag", must_obj(json_object_new_string(etag))));
	must(json_object_object_add(part, "size", must_obj(json_object_new_int64(size))));
	must(json_object_array_add(parts, part));
}

void job_parts_clear(struct job *job)
{
	job_remove(job, "parts");
}

int job_format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;
	int n;

	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
		return -1;
	n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Exactly width ASCII digits at *p, advancing p. */
static int digits(const char **p, int width, int *out)
{
	int v = 0;

	for (int i = 0; i < width; i++) {
		char ch = (*p)[i];

		if (ch < '0' || ch > '9')
			return -1;
		v = v * 10 + (ch - '0');
	}
	*p += width;
	*out = v;
	return 0;
}

static int expect(const char **p, char ch)
{
	if (**p != ch)
		return -1;
	(*p)++;
	return 0;
}

static int days_in_month(int year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/* "Z", "z" or "+hh:mm"/"-hh:mm" -> seconds east of UTC. */
static int parse_offset(const char **p, long *offset)
{
	int sign, hh, mm;

	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		*offset = 0;
		return 0;
	}
	if (**p != '+' && **p != '-')
		return -1;
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (digits(p, 2, &hh) || expect(p, ':') || digits(p, 2, &mm) || hh > 23 || mm > 59)
		return -1;
	*offset = sign * (hh * 3600L + mm * 60L);
	return 0;
}

int job_parse_time(const char *text, time_t *out)
{
	const char *p = text;
	struct tm tm = { 0 };
	int year, month, day, hour, min, sec;
	long offset;
	time_t t;

	if (!text || digits(&p, 4, &year) || expect(&p, '-') || digits(&p, 2, &month) ||
	    expect(&p, '-') || digits(&p, 2, &day))
		return -1;
	if (*p != 'T' && *p != 't')
		return -1;
	p++;
	if (digits(&p, 2, &hour) || expect(&p, ':') || digits(&p, 2, &min) ||
	    expect(&p, ':') || digits(&p, 2, &sec))
		return -1;
	if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
	    hour > 23 || min > 59 || sec > 60)
		return -1;
	if (*p == '.') { /* fractional seconds: at least one digit, dropped */
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (parse_offset(&p, &offset) || *p != '\0')
		return -1;
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec; /* a leap second 60 becomes the next minute's 00 */
	errno = 0;
	t = timegm(&tm);
	if (t == (time_t)-1 && errno != 0)
		return -1;
	*out = t - offset;
	return 0;
}
