/* The config file (zoom2s3.conf(5)): key = value lines, every key known to
 * every program, defaults applied, values checked, errors naming file:line. */
#ifndef ZOOM2S3_CONFIG_H
#define ZOOM2S3_CONFIG_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_LIST 64

/* What becomes of a recording file in Zoom's cloud once its upload is
 * verified (zoom_after_upload; "Retention in Zoom"). */
enum zoom_after_upload { ZOOM_KEEP, ZOOM_TRASH, ZOOM_DELETE };

/* "keep", "trash", "delete": the key's values, and the DELETE's action. */
const char *config_after_upload_name(enum zoom_after_upload what);

struct config {
	char path[4096];              /* the file it was read from */
	char *spool_dir;
	char *webhook_secret_token;
	long webhook_max_skew;        /* seconds, default 300 */
	uint64_t max_body_bytes;      /* default 1M */
	char *topic_regex;            /* NULL when unset */
	regex_t topic_re;             /* compiled REG_EXTENDED when topic_regex */
	char *file_types[CONFIG_MAX_LIST]; /* upper-cased; default {"MP4"} */
	size_t n_file_types;
	long min_duration;            /* seconds, default 0 */
	char *key_template;           /* validated with keytmpl_validate */
	char *download_hosts[CONFIG_MAX_LIST]; /* lower-cased patterns */
	size_t n_download_hosts;
	bool allow_http;
	char *s3_bucket;
	char *s3_region;              /* default us-east-1 */
	char *s3_endpoint;            /* NULL = AWS */
	bool s3_path_style;           /* default: true iff s3_endpoint set */
	uint64_t part_size;           /* 5M..5G, default 16M */
	char *s3_storage_class, *s3_sse, *s3_sse_kms_key_id;
	char *s3_checksum;            /* "sha256" or "none"; NULL: unset */
	bool s3_checksum_sha256;      /* s3_checksum, or its default: on for AWS (no s3_endpoint) */
	char *s3_acl;                 /* a canned ACL (x-amz-acl), or NULL */
	char *zoom_account_id, *zoom_client_id, *zoom_client_secret;
	char *zoom_api_key, *zoom_api_secret;
	char *zoom_oauth_url;         /* default https://zoom.us/oauth/token */
	char *zoom_api_url;           /* default https://api.zoom.us/v2 */
	long max_attempts;            /* default 48 */
	long retry_delay;             /* default 60 */
	long retry_max_delay;         /* default 3600 */
	long watch_rescan_interval;   /* default 30: --watch rescans at least this often */
	char *aws_access_key_id, *aws_secret_access_key, *aws_session_token;
	char *metrics_file;           /* NULL: no node_exporter textfile */
	char *webhook_secret_token_previous; /* NULL; accepted for signatures only */
	enum zoom_after_upload zoom_after_upload; /* default ZOOM_KEEP */
	long zoom_after_upload_delay; /* seconds, default 604800 */
	/* Set by config_load: mtime/size/inode of the file, so a long-lived
	 * responder can notice a change and reload. */
	long long stamp_mtime_ns, stamp_size, stamp_ino;
};

enum config_role { CONFIG_RESPONDER, CONFIG_SPOOLER, CONFIG_ANY };

/* The file to read: opt_c (the spooler's -c) if non-NULL, else
 * $ZOOM2S3_CONFIG if set and non-empty, else SYSCONFDIR "/zoom2s3.conf". */
const char *config_find_path(const char *opt_c);

/* Reads and checks path; role adds the keys that program requires
 * (responder: webhook_secret_token; spooler: s3_bucket; both: spool_dir).
 * On error returns -1 with "file:line: message" (or "file: message") in err,
 * and leaves cfg freed. Registers every secret value with log_add_secret. */
int config_load(const char *path, enum config_role role, struct config *cfg,
		char *err, size_t errlen);

/* Parses a config from memory; name stands for the file in messages. Used by
 * config_load and the tests/fuzzer. */
int config_parse(const char *name, const char *text, size_t len, enum config_role role,
		 struct config *cfg, char *err, size_t errlen);

/* True when the file at cfg->path no longer matches the stamp taken at load. */
bool config_changed(const struct config *cfg);

void config_free(struct config *cfg);

/* "16M" -> 16777216. Suffixes K, M, G (powers of 1024). -1 on bad input. */
int config_parse_size(const char *text, uint64_t *out);

#endif
