/* Reading what Zoom sends, with json-c. Tolerant by design: a field that is
 * missing, null or of an unexpected type reads as absent, so one odd field
 * never costs a recording. A string with an embedded NUL also reads as
 * absent: as a C string it would silently be cut short. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonget.h"
#include "zoomjson.h"

/* A malloc'd copy of obj[key] when it is a usable string. *oom is set when
 * the copy could not be made, so no absence is ever caused by memory. */
static char *dup_member(struct json_object *obj, const char *key, bool *oom)
{
	const char *s = jsonget_string(obj, key);
	char *copy;

	if (!s)
		return NULL;
	copy = strdup(s);
	if (!copy)
		*oom = true;
	return copy;
}

/* A count or id: a JSON integer or a string of digits, 0..INT64_MAX. */
static bool count_member(struct json_object *obj, const char *key, int64_t *out)
{
	struct json_object *v = jsonget_member(obj, key);
	const char *s;
	char *end;
	long long n;

	if (v && json_object_is_type(v, json_type_int)) {
		int64_t i = json_object_get_int64(v);

		/* json-c clamps a larger value to INT64_MAX; uint64 tells them apart. */
		if (i < 0 || (i == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX))
			return false;
		*out = i;
		return true;
	}
	s = jsonget_string_of(v);
	if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19)
		return false;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = n;
	return true;
}

/* The string fields of a zfile and of a meeting, each read from the JSON
 * member of that name and freed from the same table, so a field added to
 * one is never missed by the other. */
struct string_field {
	const char *key;
	size_t offset;
};

static const struct string_field file_fields[] = {
	{ "id", offsetof(struct zfile, id) },
	{ "meeting_id", offsetof(struct zfile, meeting_uuid) },
	{ "recording_start", offsetof(struct zfile, recording_start) },
	{ "recording_end", offsetof(struct zfile, recording_end) },
	{ "file_type", offsetof(struct zfile, file_type) },
	{ "file_extension", offsetof(struct zfile, file_extension) },
	{ "download_url", offsetof(struct zfile, download_url) },
	{ "status", offsetof(struct zfile, status) },
	{ "recording_type", offsetof(struct zfile, recording_type) },
};

static const struct string_field meeting_fields[] = {
	{ "uuid", offsetof(struct zevent, uuid) },
	{ "topic", offsetof(struct zevent, topic) },
	{ "host_id", offsetof(struct zevent, host_id) },
	{ "host_email", offsetof(struct zevent, host_email) },
	{ "account_id", offsetof(struct zevent, account_id) },
	{ "start_time", offsetof(struct zevent, start_time) },
};

/* The field's pointer in record, through memcpy, not a char ** cast: the
 * struct's bytes hold the pointer, and a cast from char * would not respect
 * its alignment in the compiler's eyes. */
static char *string_at(const void *record, const struct string_field *field)
{
	char *value;

	memcpy(&value, (const char *)record + field->offset, sizeof value);
	return value;
}

static void set_string_at(void *record, const struct string_field *field, char *value)
{
	memcpy((char *)record + field->offset, &value, sizeof value);
}

static void read_strings(struct json_object *obj, void *record, const struct string_field *fields,
			 size_t n, bool *oom)
{
	for (size_t i = 0; i < n; i++)
		set_string_at(record, &fields[i], dup_member(obj, fields[i].key, oom));
}

static void free_strings(void *record, const struct string_field *fields, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(string_at(record, &fields[i]));
}

static void read_file_entry(struct json_object *entry, struct zfile *f, bool *oom)
{
	read_strings(entry, f, file_fields, sizeof file_fields / sizeof file_fields[0], oom);
	f->has_file_size = count_member(entry, "file_size", &f->file_size);
}

/* recording_files[]: every element gets a zfile, a non-object one with all
 * fields absent, so the caller can report it. */
static int read_files(struct json_object *files, struct zevent *ev, bool *oom)
{
	size_t n;

	ev->files_is_array = files && json_object_is_type(files, json_type_array);
	if (!ev->files_is_array)
		return 0;
	n = json_object_array_length(files);
	if (n == 0)
		return 0;
	ev->files = calloc(n, sizeof *ev->files);
	if (!ev->files)
		return -1;
	ev->n_files = n;
	for (size_t i = 0; i < n; i++)
		read_file_entry(json_object_array_get_idx(files, i), &ev->files[i], oom);
	return 0;
}

/* The fields of a meeting object: a webhook's payload.object, or one
 * meeting of the recordings API's listing (the same shape). */
static void read_meeting(struct json_object *object, struct zevent *ev, bool *oom)
{
	ev->has_object = object && json_object_is_type(object, json_type_object);
	read_strings(object, ev, meeting_fields, sizeof meeting_fields / sizeof meeting_fields[0],
		     oom);
	ev->has_meeting_id = count_member(object, "id", &ev->meeting_id);
	if (read_files(jsonget_member(object, "recording_files"), ev, oom) < 0)
		*oom = true;
}

static int read_event(struct json_object *root, struct zevent *ev)
{
	struct json_object *payload = jsonget_member(root, "payload");
	bool oom = false;

	ev->event = dup_member(root, "event", &oom);
	ev->download_token = dup_member(root, "download_token", &oom);
	ev->plain_token = dup_member(payload, "plainToken", &oom);
	read_meeting(jsonget_member(payload, "object"), ev, &oom);
	/* The meeting's account; the envelope's when the object lacks it. */
	if (!ev->account_id)
		ev->account_id = dup_member(payload, "account_id", &oom);
	return oom ? -1 : 0;
}

int zoomjson_parse_event(const char *body, size_t len, struct zevent *ev, char *err, size_t errlen)
{
	struct json_object *root;
	int rc = -1;

	memset(ev, 0, sizeof *ev);
	root = jsonget_parse_object(body, len, err, errlen);
	if (!root)
		goto out;
	if (read_event(root, ev) < 0) {
		snprintf(err, errlen, "out of memory");
		zoomjson_free_event(ev);
		goto out;
	}
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

void zoomjson_free_event(struct zevent *ev)
{
	for (size_t i = 0; i < ev->n_files; i++)
		free_strings(&ev->files[i], file_fields,
			     sizeof file_fields / sizeof file_fields[0]);
	free(ev->files);
	free(ev->event);
	free(ev->download_token);
	free(ev->plain_token);
	free_strings(ev, meeting_fields, sizeof meeting_fields / sizeof meeting_fields[0]);
	memset(ev, 0, sizeof *ev);
}

/* ---- listings (backfill) ------------------------------------------------- */

/* root[key] as an array, or -1 with err naming what the page lacks. */
static struct json_object *page_array(struct json_object *root, const char *key,
				      const char *what, char *err, size_t errlen)
{
	struct json_object *v = jsonget_member(root, key);

	if (v && json_object_is_type(v, json_type_array))
		return v;
	if (!v || json_object_is_type(v, json_type_null))
		return NULL; /* an empty page may leave the list out */
	snprintf(err, errlen, "%s: \"%s\" is not an array", what, key);
	return NULL;
}

/* next_page_token, or NULL when there is none (absent or ""). */
static char *next_token(struct json_object *root, bool *oom)
{
	const char *s = jsonget_string(root, "next_page_token");
	char *copy;

	if (!s || !*s)
		return NULL;
	copy = strdup(s);
	if (!copy)
		*oom = true;
	return copy;
}

/* How one kind of listing reads its entries. */
struct page_kind {
	const char *key, *what;   /* the list's member, and the listing for messages */
	size_t item_size;
	void (*read)(struct json_object *entry, void *item, bool *oom);
	void (*free_items)(void *items, size_t n);
};

/* One page of a listing: its entries (calloc'd array of kind->item_size),
 * and next_page_token. */
static int parse_page(const struct page_kind *kind, const char *body, size_t len, void **items,
		      size_t *n, char **next_page_token, char *err, size_t errlen)
{
	struct json_object *root, *list;
	bool oom = false;
	int rc = -1;

	*items = NULL;
	*n = 0;
	*next_page_token = NULL;
	err[0] = '\0';
	root = jsonget_parse_object(body, len, err, errlen);
	if (!root)
		goto out;
	list = page_array(root, kind->key, kind->what, err, errlen);
	if (!list && err[0])
		goto out;
	if (list && json_object_array_length(list) > 0) {
		*items = calloc(json_object_array_length(list), kind->item_size);
		if (*items)
			*n = json_object_array_length(list);
		else
			oom = true;
	}
	for (size_t i = 0; i < *n; i++)
		kind->read(json_object_array_get_idx(list, i), (char *)*items + i * kind->item_size,
			   &oom);
	*next_page_token = next_token(root, &oom);
	if (oom) {
		snprintf(err, errlen, "out of memory");
		kind->free_items(*items, *n);
		free(*next_page_token);
		*items = NULL;
		*n = 0;
		*next_page_token = NULL;
		goto out;
	}
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

static void read_listed_meeting(struct json_object *entry, void *item, bool *oom)
{
	read_meeting(entry, item, oom);
}

static void free_meetings(void *items, size_t n)
{
	zoomjson_free_meetings(items, n);
}

static const struct page_kind meetings_page = {
	"meetings", "the recordings listing", sizeof(struct zevent), read_listed_meeting,
	free_meetings,
};

int zoomjson_parse_recordings_page(const char *body, size_t len, struct zevent **meetings,
				   size_t *n, char **next_page_token, char *err, size_t errlen)
{
	void *items;
	int rc = parse_page(&meetings_page, body, len, &items, n, next_page_token, err, errlen);

	*meetings = items;
	return rc;
}

void zoomjson_free_meetings(struct zevent *meetings, size_t n)
{
	for (size_t i = 0; meetings && i < n; i++)
		zoomjson_free_event(&meetings[i]);
	free(meetings);
}

static void read_user(struct json_object *entry, void *item, bool *oom)
{
	struct zuser *user = item;

	user->id = dup_member(entry, "id", oom);
	user->email = dup_member(entry, "email", oom);
}

static void free_users(void *items, size_t n)
{
	zoomjson_free_users(items, n);
}

static const struct page_kind users_page = {
	"users", "the users listing", sizeof(struct zuser), read_user, free_users,
};

int zoomjson_parse_users_page(const char *body, size_t len, struct zuser **users, size_t *n,
			      char **next_page_token, char *err, size_t errlen)
{
	void *items;
	int rc = parse_page(&users_page, body, len, &items, n, next_page_token, err, errlen);

	*users = items;
	return rc;
}

void zoomjson_free_users(struct zuser *users, size_t n)
{
	for (size_t i = 0; users && i < n; i++) {
		free(users[i].id);
		free(users[i].email);
	}
	free(users);
}

/* A field of an error answer, fit for a message: printable ASCII only, cut
 * short. Zoom's "error"/"reason" texts carry no secret. */
static void describe_member(struct json_object *obj, const char *key, char *buf, size_t size)
{
	const char *s = jsonget_string(obj, key);
	size_t o = 0;

	for (; s && *s && o + 1 < size && o < 100; s++)
		if (*s >= 0x20 && *s < 0x7f)
			buf[o++] = *s;
	buf[o] = '\0';
}

void zoomjson_api_error(const char *body, size_t len, char *buf, size_t size)
{
	char err[64], message[128];
	struct json_object *root = jsonget_parse_object(body ? body : "", len, err, sizeof err);
	int64_t code;

	buf[0] = '\0';
	if (!root)
		return;
	describe_member(root, "message", message, sizeof message);
	if (count_member(root, "code", &code))
		snprintf(buf, size, "code %lld: %s", (long long)code, message);
	else if (message[0])
		snprintf(buf, size, "%s", message);
	json_object_put(root);
}

int zoomjson_parse_oauth(const char *body, size_t len, char **access_token, long *expires_in,
			 char *err, size_t errlen)
{
	struct json_object *root;
	const char *token;
	char error[128], reason[128];
	int64_t secs;
	int rc = -1;

	*access_token = NULL;
	*expires_in = 0;
	root = jsonget_parse_object(body, len, err, errlen);
	if (!root)
		goto out;
	token = jsonget_string_of(jsonget_member(root, "access_token"));
	if (!token || !*token) {
		describe_member(root, "error", error, sizeof error);
		describe_member(root, "reason", reason, sizeof reason);
		snprintf(err, errlen, "the OAuth answer has no access_token (error \"%s\": %s)",
			 error, reason);
		goto out;
	}
	*access_token = strdup(token);
	if (!*access_token) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (count_member(root, "expires_in", &secs))
		*expires_in = secs > LONG_MAX ? LONG_MAX : (long)secs;
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

/* The recording_files[] entry of root whose id is file_id, else NULL. */
static struct json_object *find_file(struct json_object *root, const char *file_id)
{
	struct json_object *files = jsonget_member(root, "recording_files");
	size_t n;

	if (!files || !json_object_is_type(files, json_type_array))
		return NULL;
	n = json_object_array_length(files);
	for (size_t i = 0; i < n; i++) {
		struct json_object *entry = json_object_array_get_idx(files, i);
		const char *id = jsonget_string_of(jsonget_member(entry, "id"));

		if (id && strcmp(id, file_id) == 0)
			return entry;
	}
	return NULL;
}

int zoomjson_find_recording(const char *body, size_t len, const char *file_id,
			    char **download_url, char **download_access_token,
			    char *err, size_t errlen)
{
	struct json_object *root, *entry;
	bool oom = false;
	int rc = -1;

	*download_url = NULL;
	*download_access_token = NULL;
	root = jsonget_parse_object(body, len, err, errlen);
	if (!root)
		goto out;
	entry = find_file(root, file_id);
	if (!entry) {
		snprintf(err, errlen, "the recordings API does not list file %.80s", file_id);
		goto out;
	}
	*download_url = dup_member(entry, "download_url", &oom);
	*download_access_token = dup_member(root, "download_access_token", &oom);
	if (oom) {
		snprintf(err, errlen, "out of memory");
		free(*download_url);
		free(*download_access_token);
		*download_url = *download_access_token = NULL;
		goto out;
	}
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

char *zoomjson_url_validation_reply(const char *plain_token, const char *encrypted_token)
{
	struct json_object *obj = json_object_new_object();
	struct json_object *plain = json_object_new_string(plain_token);
	struct json_object *encrypted = json_object_new_string(encrypted_token);
	const char *serialized;
	char *text = NULL;

	if (!obj || !plain || !encrypted)
		goto out;
	if (json_object_object_add(obj, "plainToken", plain) < 0)
		goto out;
	plain = NULL; /* owned by obj now */
	if (json_object_object_add(obj, "encryptedToken", encrypted) < 0)
		goto out;
	encrypted = NULL;
	serialized = json_object_to_json_string_ext(
		obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (serialized)
		text = strdup(serialized);
out:
	json_object_put(plain);
	json_object_put(encrypted);
	json_object_put(obj);
	return text;
}
