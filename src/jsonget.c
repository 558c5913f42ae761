/* json-c, read one way: see jsonget.h. */
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "jsonget.h"

#define MAX_DEPTH 64

struct json_object *jsonget_parse_object(const char *body, size_t len, char *err,
					 size_t errlen)
{
	struct json_tokener *tok = NULL;
	struct json_object *obj = NULL;
	enum json_tokener_error jerr;
	size_t end;

	if (len >= INT_MAX) {
		snprintf(err, errlen, "body too large to parse");
		goto out;
	}
	tok = json_tokener_new_ex(MAX_DEPTH);
	if (!tok) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, body, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr != json_tokener_success) {
		snprintf(err, errlen, "not JSON: %s",
			 jerr == json_tokener_continue ? "unexpected end of data"
			 : jerr == json_tokener_error_depth
				 ? "nested deeper than 64"
				 : json_tokener_error_desc(jerr));
		goto fail;
	}
	/* json-c stops at the end of the value: what follows (even after a
	 * NUL) must be white space. */
	for (end = json_tokener_get_parse_end(tok); end < len; end++) {
		if (!strchr(" \t\r\n", body[end]) || body[end] == '\0') {
			snprintf(err, errlen, "not JSON: data after the object");
			goto fail;
		}
	}
	if (!json_object_is_type(obj, json_type_object)) {
		snprintf(err, errlen, "not a JSON object");
		goto fail;
	}
	goto out;
fail:
	json_object_put(obj);
	obj = NULL;
out:
	json_tokener_free(tok);
	return obj;
}

struct json_object *jsonget_member(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	if (!obj || !json_object_is_type(obj, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

const char *jsonget_string_of(struct json_object *v)
{
	const char *s;

	if (!v || !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	if (!s || strlen(s) != (size_t)json_object_get_string_len(v))
		return NULL;
	return s;
}

struct json_object *jsonget_object(struct json_object *obj, const char *key)
{
	struct json_object *v = jsonget_member(obj, key);

	return v && json_object_is_type(v, json_type_object) ? v : NULL;
}

const char *jsonget_string(struct json_object *obj, const char *key)
{
	return jsonget_string_of(jsonget_member(obj, key));
}

int jsonget_int64_of(struct json_object *v, int64_t *out)
{
	int64_t n;

	if (!v || !json_object_is_type(v, json_type_int))
		return -1;
	n = json_object_get_int64(v);
	if (n == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
		return -1;
	*out = n;
	return 0;
}

int jsonget_int64(struct json_object *obj, const char *key, int64_t *out)
{
	return jsonget_int64_of(jsonget_member(obj, key), out);
}
