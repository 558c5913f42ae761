/* Reading what Zoom sends: webhook events and the answers of its OAuth and
 * recordings APIs. Any field may be missing or of another type; such a
 * field reads as absent. */
#ifndef ZOOM2S3_ZOOMJSON_H
#define ZOOM2S3_ZOOMJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zfile {
	char *id, *meeting_uuid, *recording_start, *recording_end, *file_type,
		*file_extension, *download_url, *status, *recording_type;
	int64_t file_size;
	bool has_file_size;
};

struct zevent {
	char *event;            /* NULL when absent / not a string */
	char *download_token;   /* top level */
	char *plain_token;      /* payload.plainToken (url_validation) */
	bool has_object;        /* payload.object is an object */
	bool files_is_array;    /* payload.object.recording_files is an array */
	char *uuid, *topic, *host_id, *host_email, *account_id, *start_time;
	int64_t meeting_id;
	bool has_meeting_id;
	struct zfile *files;
	size_t n_files;
};

/* 0 on a JSON object (whatever its fields); -1 with err when the body is
 * not JSON or not an object, or nests deeper than 64. */
int zoomjson_parse_event(const char *body, size_t len, struct zevent *ev, char *err, size_t errlen);
void zoomjson_free_event(struct zevent *ev);

/* OAuth token answer: access_token (malloc'd) and expires_in seconds (0 when
 * the answer does not say). -1 with err, naming Zoom's "error" and "reason",
 * when there is no access_token. */
int zoomjson_parse_oauth(const char *body, size_t len, char **access_token, long *expires_in,
			 char *err, size_t errlen);

/* Recordings API answer: the download_url of the recording_files entry whose
 * id is file_id, and the top-level download_access_token (either may come
 * back NULL). -1 when the body is not an object or the file is not listed. */
int zoomjson_find_recording(const char *body, size_t len, const char *file_id,
			    char **download_url, char **download_access_token,
			    char *err, size_t errlen);

/* ---- listings (zoom2s3ctl backfill) --------------------------------------- */

/* One page of GET /users/{userId}/recordings: each meetings[] element read
 * as a webhook's payload.object is (event, download_token and plain_token
 * absent), and next_page_token (NULL when absent or empty). A page without
 * meetings is an empty page. -1 with err when the body is not a JSON object
 * or meetings is not an array. Free with zoomjson_free_meetings. */
int zoomjson_parse_recordings_page(const char *body, size_t len, struct zevent **meetings,
				   size_t *n, char **next_page_token, char *err, size_t errlen);
void zoomjson_free_meetings(struct zevent *meetings, size_t n);

/* A user of GET /users: id and email, each NULL when absent. */
struct zuser {
	char *id, *email;
};

/* One page of GET /users, as zoomjson_parse_recordings_page reads its page. */
int zoomjson_parse_users_page(const char *body, size_t len, struct zuser **users, size_t *n,
			      char **next_page_token, char *err, size_t errlen);
void zoomjson_free_users(struct zuser *users, size_t n);

/* Zoom's API error answer {"code":N,"message":"..."} as "code N: message",
 * printable ASCII and cut short; "" when the body says neither. */
void zoomjson_api_error(const char *body, size_t len, char *buf, size_t size);

/* The answer to endpoint.url_validation, {"plainToken":P,"encryptedToken":E},
 * properly escaped (P comes from the request). malloc'd; NULL when out of
 * memory. */
char *zoomjson_url_validation_reply(const char *plain_token, const char *encrypted_token);

#endif
