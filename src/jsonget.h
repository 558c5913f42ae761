/* Reading JSON with json-c, the one way every module does it: parse one
 * object, then take a member as an object, a string or an int64. A member
 * that is absent, null or of another type reads as absent (NULL or -1), so
 * each caller decides what absence means. */
#ifndef ZOOM2S3_JSONGET_H
#define ZOOM2S3_JSONGET_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

/* Parses text as exactly one JSON object (white space around it allowed,
 * nesting at most 64 deep). NULL with a phrase in err otherwise ("not
 * JSON: ...", "not a JSON object"). Release with json_object_put. */
struct json_object *jsonget_parse_object(const char *text, size_t len, char *err,
					 size_t errlen);

/* obj[key] when obj is an object holding key, else NULL. */
struct json_object *jsonget_member(struct json_object *obj, const char *key);

/* obj[key] when it is an object, else NULL. */
struct json_object *jsonget_object(struct json_object *obj, const char *key);

/* The text of v when it is a string without an embedded NUL (as a C string
 * it would be cut short), else NULL. jsonget_string: of obj[key]. */
const char *jsonget_string_of(struct json_object *v);
const char *jsonget_string(struct json_object *obj, const char *key);

/* v as an int64 when it is a JSON integer that fits (json-c keeps larger
 * ones as unsigned: refused, not clamped). 0, or -1. jsonget_int64: of
 * obj[key]. */
int jsonget_int64_of(struct json_object *v, int64_t *out);
int jsonget_int64(struct json_object *obj, const char *key, int64_t *out);

#endif
