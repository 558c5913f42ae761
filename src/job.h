/* The job record and its JSON form. json-c is used here for job files and
 * nowhere else (Zoom's own JSON is read by zoomjson.c). A job keeps every
 * field it was read with, known or not, and writes them back in order. */
#ifndef ZOOM2S3_JOB_H
#define ZOOM2S3_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct job; /* opaque */

struct job *job_new(void);
void job_free(struct job *job);

/* Parses a job file's text. NULL with err when it is not a JSON object. */
struct job *job_parse(const char *text, size_t len, char *err, size_t errlen);

/* Pretty-printed, '/' not escaped, ending in "\n". malloc'd; *len set. */
char *job_serialize(const struct job *job, size_t *len);

bool job_has(const struct job *job, const char *field);
/* NULL when absent or not a string. Valid until the field changes. */
const char *job_get_str(const struct job *job, const char *field);
/* 0 and *out when the field is a JSON integer; -1 otherwise. */
int job_get_int(const struct job *job, const char *field, int64_t *out);
/* RFC 3339 UTC text field -> epoch seconds; -1 when absent or malformed. */
int job_get_time(const struct job *job, const char *field, time_t *out);

void job_set_str(struct job *job, const char *field, const char *value);
void job_set_int(struct job *job, const char *field, int64_t value);
void job_set_time(struct job *job, const char *field, time_t t); /* RFC 3339 UTC */
void job_remove(struct job *job, const char *field);

/* Multipart upload state: "upload_id" (string, via job_set_str) and
 * "parts": [{"part":N,"etag":"...","size":B}, ...] in part order. */
size_t job_parts_count(const struct job *job);
/* 0 and the values of the i-th part; -1 when i is out of range or malformed. */
int job_part_get(const struct job *job, size_t i, int *number, const char **etag, int64_t *size);
void job_part_add(struct job *job, int number, const char *etag, int64_t size);
void job_parts_clear(struct job *job);

/* "2026-11-26T20:06:21Z" <-> epoch seconds. Parse accepts a fractional part
 * and a numeric offset. */
int job_format_time(time_t t, char *buf, size_t size);
int job_parse_time(const char *text, time_t *out);

#endif
