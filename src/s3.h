/* S3 over libcurl: the few object and multipart operations the spooler
 * needs, every request SigV4-signed by sigv4.c with the credentials that
 * awscreds hands out at that moment.
 *
 * One s3_client per worker thread: it owns a curl easy handle that it
 * reuses, so connections are kept alive between requests. The awscreds
 * object is shared by all clients.
 *
 * Every request carries x-amz-content-sha256 = the hex SHA-256 of its body
 * (bodies are in memory), which S3 and RGW check against the bytes they
 * receive: that is the integrity check of each part. Keys are given raw
 * (UTF-8) and encoded here. Each call does one attempt: retrying, and when,
 * is mostly the caller's choice: a transient answer (s3_again_after) is
 * sent again here, up to 5 tries with backoff, from the bytes held, and a
 * RequestTimeTooSkewed corrects the clock offset (s3_clock_offset, logged
 * once) and is sent again. Each retry is a log line with S3's request id.
 *
 * s3_checksum = sha256: PutObject and UploadPart carry
 * x-amz-checksum-sha256 (base64 of the payload digest), CreateMultipartUpload
 * x-amz-checksum-algorithm: SHA256. s3_acl: x-amz-acl on PutObject and
 * CreateMultipartUpload.
 *
 * A 403 names the permission the request needed:
 * "s3:PutObject denied on BUCKET/KEY (CreateMultipartUpload)".
 *
 * Outcomes. Each call returns DONE, RETRY or GIVEUP and, unless DONE, a
 * sentence in r->why with the S3 error Code, its Message and the HTTP
 * status (never a signature or a secret), plus a hint for the operator.
 *   RETRY:  curl timeouts, resets and connection failures; 5xx, 408, 429;
 *           SlowDown, RequestTimeout, InternalError, ServiceUnavailable;
 *           a payload that arrived corrupted (XAmzContentSHA256Mismatch,
 *           BadDigest); the credentials (AccessDenied, InvalidAccessKeyId,
 *           SignatureDoesNotMatch, ExpiredToken, InvalidToken): an operator
 *           can fix them; NoSuchBucket (an operator can create it); a wrong
 *           s3_region (PermanentRedirect, AuthorizationHeaderMalformed);
 *           RequestTimeTooSkewed (the clock); SIGTERM (why = "stopped").
 *   RETRY with s3_upload_gone() true: the upload id can no longer be used
 *           (NoSuchUpload; RGW's NoSuchKey on an upload-id request;
 *           InvalidPart or InvalidPartOrder from Complete). The caller
 *           starts a new upload rather than failing the job.
 *   GIVEUP: EntityTooLarge, EntityTooSmall, KeyTooLongError,
 *           InvalidArgument, InvalidRequest, MalformedXML, MetadataTooLarge,
 *           InvalidStorageClass, other 4xx; a key or metadata value that
 *           cannot be sent. */
#ifndef ZOOM2S3_S3_H
#define ZOOM2S3_S3_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "awscreds.h"
#include "config.h"
#include "outcome.h"
#include "stopflag.h"

#define S3_ETAG_MAX 128
#define S3_UPLOAD_ID_MAX 1024
#define S3_META_MAX 512
#define S3_CHECKSUM_MAX 48 /* base64 of a SHA-256 is 44 */

/* What an object says about the Zoom file it holds: sent as
 * x-amz-meta-zoom-meeting-uuid and x-amz-meta-zoom-file-id (percent-encoded
 * where a header could not carry the byte: pctenc.h's PCTENC_S3_META). */
struct s3_meta {
	const char *meeting_uuid; /* NULL or "": not sent */
	const char *file_id;      /* NULL or "": not sent */
	const char *content_type; /* NULL: from the key's extension (s3_content_type) */
	/* PutObject only: sent with If-None-Match: *, so that it never replaces
	 * an object (412: s3_key_taken). A server that refuses the header (501,
	 * NotImplemented) gets the request again without it, and never again
	 * from this client: the caller's HEAD before the write is then all
	 * that guards the key. */
	bool if_absent;
};

struct s3_object {
	bool exists;
	uint64_t size;
	char etag[S3_ETAG_MAX];           /* without quotes */
	char file_id[S3_META_MAX];        /* decoded; "" when absent */
	char meeting_uuid[S3_META_MAX];   /* decoded; "" when absent */
};

struct s3_part {
	int number;                       /* 1..10000 */
	uint64_t size;
	char etag[S3_ETAG_MAX];           /* without quotes */
	char checksum_sha256[S3_CHECKSUM_MAX]; /* base64, or "": not sent in Complete */
};

struct s3_upload {
	char upload_id[S3_UPLOAD_ID_MAX];
};

struct s3_client;

/* Reads s3_bucket, s3_region, s3_endpoint, s3_path_style, s3_storage_class,
 * s3_sse, s3_sse_kms_key_id from cfg (which must outlive the client). stop
 * (may be NULL) is polled during transfers: when it becomes non-zero the
 * request is aborted and the call returns RETRY "stopped". NULL with err
 * on a bad endpoint or out of memory. A bucket name that DNS cannot carry
 * ("my.bucket", "My_Bucket") is addressed path-style whatever the config.
 * $AWS_CA_BUNDLE, when set, names the CA file for https (as in the SDKs). */
struct s3_client *s3_client_new(const struct config *cfg, struct awscreds *creds,
				stop_flag_t *stop, char *err, size_t errlen);
void s3_client_free(struct s3_client *c);

/* HEAD: out->exists false (and DONE) when there is no such object. */
enum outcome s3_head(struct s3_client *c, const char *key, struct s3_object *out,
		     struct result *r);

/* HEAD of the bucket itself (zoom2s3ctl check-config --online): *exists
 * false (and DONE) when S3 answers 404. */
enum outcome s3_head_bucket(struct s3_client *c, bool *exists, struct result *r);

/* A single PUT of len bytes (0 allowed), with the metadata, Content-Type,
 * storage class and SSE; etag receives the object's ETag. */
enum outcome s3_put(struct s3_client *c, const char *key, const void *buf, size_t len,
		    const struct s3_meta *meta, char etag[S3_ETAG_MAX], struct result *r);

/* The same, with the body's SHA-256 given (computed while the body was
 * read in): it is sent as x-amz-content-sha256, and S3 refuses the body
 * unless it matches. NULL: computed here. */
enum outcome s3_put_hashed(struct s3_client *c, const char *key, const void *buf, size_t len,
			   const unsigned char *sha256, const struct s3_meta *meta,
			   char etag[S3_ETAG_MAX], struct result *r);

/* CreateMultipartUpload with the metadata, Content-Type, storage class, SSE. */
enum outcome s3_mpu_create(struct s3_client *c, const char *key, const struct s3_meta *meta,
			   char upload_id[S3_UPLOAD_ID_MAX], struct result *r);

enum outcome s3_mpu_upload_part(struct s3_client *c, const char *key, const char *upload_id,
				int number, const void *buf, size_t len,
				char etag[S3_ETAG_MAX], struct result *r);
enum outcome s3_mpu_upload_part_hashed(struct s3_client *c, const char *key,
				       const char *upload_id, int number, const void *buf,
				       size_t len, const unsigned char *sha256,
				       char etag[S3_ETAG_MAX], struct result *r);

/* CompleteMultipartUpload with parts (any order; sizes unused; each
 * part's ChecksumSHA256 when it has one), if_absent as in s3_meta, including
 * its "200 OK with an Error in the body" answer. etag: the object's; when
 * the answer has none (RGW 16 sends <ETag></ETag>) it is read with a HEAD,
 * and left "" if that fails: the upload is complete all the same. */
enum outcome s3_mpu_complete(struct s3_client *c, const char *key, const char *upload_id,
			     const struct s3_part *parts, size_t n, bool if_absent,
			     char etag[S3_ETAG_MAX], struct result *r);

/* AbortMultipartUpload. An upload already gone counts as DONE. */
enum outcome s3_mpu_abort(struct s3_client *c, const char *key, const char *upload_id,
			  struct result *r);

/* ListParts, every page: the parts S3 holds, in part order, with sizes and
 * ETags. *parts is malloc'd (free it; NULL when *n is 0). */
enum outcome s3_mpu_list_parts(struct s3_client *c, const char *key, const char *upload_id,
			       struct s3_part **parts, size_t *n, struct result *r);

/* ListMultipartUploads, every page: the uploads open for exactly this key
 * (not merely under it). *uploads is malloc'd (free it). */
enum outcome s3_mpu_list_uploads(struct s3_client *c, const char *key,
				 struct s3_upload **uploads, size_t *n, struct result *r);

/* About the last call on c. */
bool s3_upload_gone(const struct s3_client *c); /* see "Outcomes" above */
/* A conditional write (s3_meta.if_absent, s3_mpu_complete's if_absent)
 * found the key taken: S3 answered 412 (RETRY). */
bool s3_key_taken(const struct s3_client *c);
long s3_last_status(const struct s3_client *c);  /* HTTP status, 0 when none */
const char *s3_last_code(const struct s3_client *c); /* S3 error Code, or "" */

/* ---- pure helpers, exposed for the tests ---- */

/* Content-Type for a file extension (without the dot, any case): mp4
 * video/mp4, m4a audio/mp4, vtt text/vtt, txt text/plain, json
 * application/json, csv text/csv, else application/octet-stream. */
const char *s3_content_type(const char *ext);

/* The outcome of a failed exchange from its HTTP status and S3 error code
 * ("" when none). upload_op: the request named an upload id. *gone is set
 * as s3_upload_gone() reports it. */
enum outcome s3_error_outcome(long status, const char *code, bool upload_op, bool *gone);

/* The permission an operation needs ("s3:PutObject" for UploadPart), or
 * NULL for an unknown name. */
const char *s3_op_permission(const char *op);

/* Whether a failed request is sent again within the transfer, before it
 * costs the job an attempt. answered: a status line came; o: the outcome
 * of the exchange (for one that got no answer). */
enum s3_again {
	S3_AGAIN_NO,      /* report it */
	S3_AGAIN_BACKOFF, /* transient: 5xx but 501, 408, 429, SlowDown, RequestTimeout,
			     InternalError, a reset or timed-out connection */
	S3_AGAIN_CLOCK,   /* RequestTimeTooSkewed: correct the clock offset, then again */
};
enum s3_again s3_again_after(bool answered, enum outcome o, long status, const char *code);

/* Milliseconds to wait before retry number retry (0 = the first), jitter01
 * in [0, 1]: half of a step that doubles from 250 ms up to 4 s, plus
 * jitter01 of the other half. */
long s3_backoff_ms(int retry, double jitter01);

/* An HTTP Date (IMF-fixdate) -> *out. -1 when unreadable. */
int s3_parse_http_date(const char *value, time_t *out);

/* The correction applied to this host's clock when signing, seconds (the
 * server's clock minus ours, learnt from a RequestTimeTooSkewed answer). */
long s3_clock_offset(void);

#endif
