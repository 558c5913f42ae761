/* The config file (zoom2s3.conf(5)). One table describes every key: where its
 * value lives in struct config, how it is parsed and checked, its default
 * (as config text, run through the same parser) and what a good value looks
 * like for the error message. Values of secret keys are never echoed. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "awscreds.h"
#include "config.h"
#include "keytmpl.h"
#include "log.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

#define KIB 1024ULL
#define MIB (1024ULL * KIB)
#define GIB (1024ULL * MIB)
#define CONFIG_MAX_FILE (1024 * 1024) /* a config is a few KB: refuse the absurd */
#define NUMBER_MAX 2147483647LL       /* seconds and counts: 68 years is plenty and
					 keeps every caller's arithmetic in range */

enum storage { STORE_STR, STORE_LIST, STORE_REGEX, STORE_LONG, STORE_SIZE, STORE_BOOL,
	       STORE_ENUM };

enum key_flags {
	KEY_SECRET = 1, /* registered with log_add_secret, never echoed */
	KEY_UPPER = 2,  /* list entries upper-cased */
	KEY_LOWER = 4,  /* list entries lower-cased */
};

struct key_def;
/* Stores value into cfg; -1 on a bad value, with why set or left empty
 * (then the message uses the key's expect). */
typedef int (*setter_fn)(struct config *cfg, const struct key_def *k, const char *value,
			 char *why, size_t whylen);

struct key_def {
	const char *name;
	setter_fn set;
	enum storage store;
	size_t offset, count_offset; /* the value and, for lists, its length */
	long long min, max;          /* numbers and sizes */
	int flags;
	const char *def;    /* default, as config text; NULL: none */
	const char *expect; /* what a good value looks like */
};

static void *field(struct config *cfg, const struct key_def *k)
{
	return (char *)cfg + k->offset;
}

static int store_copy(struct config *cfg, const struct key_def *k, const char *value)
{
	char **slot = field(cfg, k);
	char *copy = strdup(value);

	if (!copy)
		return -1;
	free(*slot);
	*slot = copy;
	if (k->flags & KEY_SECRET)
		log_add_secret(copy);
	return 0;
}

static int set_string(struct config *cfg, const struct key_def *k, const char *value,
		      char *why, size_t whylen)
{
	if (store_copy(cfg, k, value) < 0) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

static bool has_space(const char *value)
{
	for (; *value; value++)
		if (isspace((unsigned char)*value))
			return true;
	return false;
}

/* Names, ids, keys and secrets: one word. A blank inside a secret is
 * nearly always a paste mistake that would only show up as a refused
 * signature much later. */
static int set_word(struct config *cfg, const struct key_def *k, const char *value, char *why,
		    size_t whylen)
{
	if (has_space(value))
		return -1;
	return set_string(cfg, k, value, why, whylen);
}

static int set_url(struct config *cfg, const struct key_def *k, const char *value, char *why,
		   size_t whylen)
{
	size_t scheme = log_url_scheme_len(value);

	if (!scheme || !value[scheme])
		return -1;
	return set_word(cfg, k, value, why, whylen);
}

static int set_sse(struct config *cfg, const struct key_def *k, const char *value, char *why,
		   size_t whylen)
{
	if (strcmp(value, "AES256") != 0 && strcmp(value, "aws:kms") != 0)
		return -1;
	return set_string(cfg, k, value, why, whylen);
}

/* Storage classes travel in an HTTP header: letters, digits, '_' and '-'. */
static int set_storage_class(struct config *cfg, const struct key_def *k, const char *value,
			     char *why, size_t whylen)
{
	for (const char *p = value; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return -1;
	return set_string(cfg, k, value, why, whylen);
}

static int set_checksum(struct config *cfg, const struct key_def *k, const char *value,
			char *why, size_t whylen)
{
	if (strcmp(value, "sha256") != 0 && strcmp(value, "none") != 0)
		return -1;
	return set_string(cfg, k, value, why, whylen);
}

/* S3's canned ACLs (x-amz-acl): a typo would fail every upload. */
static int set_acl(struct config *cfg, const struct key_def *k, const char *value, char *why,
		   size_t whylen)
{
	static const char *const canned[] = {
		"private", "public-read", "public-read-write", "authenticated-read",
		"aws-exec-read", "bucket-owner-read", "bucket-owner-full-control", NULL,
	};

	for (size_t i = 0; canned[i]; i++)
		if (strcmp(value, canned[i]) == 0)
			return set_string(cfg, k, value, why, whylen);
	return -1;
}

/* A file the spooler replaces by rename: an absolute name, so cron and
 * systemd put it in the same place. */
static int set_abs_path(struct config *cfg, const struct key_def *k, const char *value,
			char *why, size_t whylen)
{
	size_t len = strlen(value);

	if (value[0] != '/' || value[len - 1] == '/')
		return -1;
	return set_string(cfg, k, value, why, whylen);
}

static const char *const after_upload_names[] = { "keep", "trash", "delete" };

const char *config_after_upload_name(enum zoom_after_upload what)
{
	return (size_t)what < sizeof after_upload_names / sizeof after_upload_names[0]
		       ? after_upload_names[what]
		       : "?";
}

static int set_after_upload(struct config *cfg, const struct key_def *k, const char *value,
			    char *why, size_t whylen)
{
	(void)k;
	(void)why;
	(void)whylen;
	for (size_t i = 0; i < sizeof after_upload_names / sizeof after_upload_names[0]; i++) {
		if (strcmp(value, after_upload_names[i]) == 0) {
			cfg->zoom_after_upload = (enum zoom_after_upload)i;
			return 0;
		}
	}
	return -1;
}

static int set_template(struct config *cfg, const struct key_def *k, const char *value,
			char *why, size_t whylen)
{
	if (keytmpl_validate(value, why, whylen) < 0) {
		if (!why[0])
			snprintf(why, whylen, "not a valid key template");
		return -1;
	}
	return set_string(cfg, k, value, why, whylen);
}

#define REGEX_MAX_LEN 512
/* glibc's regcomp copies what a bound {n,m} repeats m times, so nested
 * bounds multiply: ((a{1,100}){1,100}){1,100} needs gigabytes. Its memory
 * grows with this count of expanded atoms (about 3 KB each). */
#define REGEX_MAX_EXPANSION 10000

/* The ']' that closes the bracket expression opening at p, or NULL. A ']'
 * first (after an optional '^') is a member, and so is anything in [:...:],
 * [.....] and [=...=]. */
static const char *bracket_end(const char *p)
{
	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	while (*p && *p != ']') {
		if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
			const char *close = p + 2;

			while (*close && !(close[0] == p[1] && close[1] == ']'))
				close++;
			if (!*close)
				return NULL;
			p = close + 2;
			continue;
		}
		p++;
	}
	return *p ? p : NULL;
}

/* glibc's regcomp needs memory exponential in stacked repetitions ("a*++++",
 * undefined in POSIX anyway): refuse a repetition operator that follows
 * another, outside a bracket expression and not escaped. */
static bool regex_stacks_repetitions(const char *re)
{
	bool after_rep = false;

	for (const char *p = re; *p; p++) {
		if (*p == '[') {
			p = bracket_end(p);
			if (!p)
				return false; /* unterminated: regcomp refuses it */
			after_rep = false;
			continue;
		}
		if (*p == '\\' && p[1]) {
			p++;
			after_rep = false;
			continue;
		}
		bool rep = *p == '*' || *p == '+' || *p == '?' || *p == '{';

		if (rep && after_rep)
			return true;
		if (*p == '{') {
			while (p[1] && *p != '}')
				p++;
		}
		after_rep = rep;
	}
	return false;
}

/* The largest count of a bound "{n}", "{n,}" or "{n,m}" at p, and its end
 * in *end; 0 when p does not start a bound. */
static unsigned long bound_count(const char *p, const char **end)
{
	unsigned long n = 0, m = 0;
	bool comma = false, digits = false;

	for (p++; *p >= '0' && *p <= '9'; p++, digits = true)
		n = n < 1000000 ? n * 10 + (unsigned long)(*p - '0') : n;
	if (*p == ',') {
		comma = true;
		for (p++; *p >= '0' && *p <= '9'; p++)
			m = m < 1000000 ? m * 10 + (unsigned long)(*p - '0') : m;
	}
	if (!digits || *p != '}')
		return 0;
	*end = p;
	if (comma && m == 0)
		return n + 1; /* {n,}: n copies and a starred one */
	return (m > n ? m : n) ? (m > n ? m : n) : 1;
}

/* True when regcomp would expand re to more than REGEX_MAX_EXPANSION atoms:
 * sizes are summed per group, and a bound multiplies the atom or group it
 * follows. */
static bool regex_expands_too_much(const char *re)
{
	unsigned long size[REGEX_MAX_LEN + 2] = { 0 }, last = 0, count;
	size_t depth = 0;
	const char *end;

	for (const char *p = re; *p; p++) {
		if (*p == '(' && depth < REGEX_MAX_LEN) {
			size[++depth] = 0;
			last = 0;
			continue;
		}
		if (*p == ')' && depth > 0) {
			last = size[depth--] + 1;
			size[depth] += last;
		} else if (*p == '{' && (count = bound_count(p, &end)) > 0) {
			size[depth] += last * (count - 1);
			last *= count;
			p = end;
		} else if (*p == '[') {
			p = bracket_end(p);
			if (!p)
				return false; /* unterminated: regcomp refuses it */
			last = 1;
			size[depth]++;
		} else {
			if (*p == '\\' && p[1])
				p++;
			last = *p == '|' ? 0 : 1;
			size[depth]++;
		}
		if (last > REGEX_MAX_EXPANSION || size[depth] > REGEX_MAX_EXPANSION)
			return true;
	}
	return false;
}

static int set_regex(struct config *cfg, const struct key_def *k, const char *value, char *why,
		     size_t whylen)
{
	regex_t re;
	char *copy;
	int rc;

	(void)k;
	if (strlen(value) > REGEX_MAX_LEN) {
		snprintf(why, whylen, "longer than %d characters", REGEX_MAX_LEN);
		return -1;
	}
	if (regex_stacks_repetitions(value)) {
		snprintf(why, whylen, "a repetition (*, +, ?, {n}) directly after another");
		return -1;
	}
	if (regex_expands_too_much(value)) {
		snprintf(why, whylen, "its bounds ({n,m}) multiply to over %d copies",
			 REGEX_MAX_EXPANSION);
		return -1;
	}
	rc = regcomp(&re, value, REG_EXTENDED);
	if (rc != 0) {
		regerror(rc, &re, why, whylen);
		return -1;
	}
	copy = strdup(value);
	if (!copy) {
		regfree(&re);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (cfg->topic_regex)
		regfree(&cfg->topic_re);
	free(cfg->topic_regex);
	cfg->topic_re = re;
	cfg->topic_regex = copy; /* set only once compiled: config_free relies on it */
	return 0;
}

/* Digits only: no sign, no blank, no base prefix. */
static int parse_number(const char *text, unsigned long long max, unsigned long long *out)
{
	unsigned long long n = 0;

	if (!isdigit((unsigned char)*text))
		return -1;
	for (; isdigit((unsigned char)*text); text++) {
		unsigned digit = (unsigned)(*text - '0');

		if (n > (max - digit) / 10)
			return -1;
		n = n * 10 + digit;
	}
	if (*text)
		return -1;
	*out = n;
	return 0;
}

static int set_long(struct config *cfg, const struct key_def *k, const char *value, char *why,
		    size_t whylen)
{
	unsigned long long n;

	(void)why;
	(void)whylen;
	if (parse_number(value, (unsigned long long)k->max, &n) < 0 || n < (unsigned long long)k->min)
		return -1;
	*(long *)field(cfg, k) = (long)n;
	return 0;
}

int config_parse_size(const char *text, uint64_t *out)
{
	char digits[32];
	size_t len = text ? strlen(text) : 0;
	unsigned long long unit = 1, n;

	if (len == 0 || len >= sizeof digits)
		return -1;
	memcpy(digits, text, len + 1);
	switch (toupper((unsigned char)digits[len - 1])) {
	case 'K':
		unit = KIB;
		break;
	case 'M':
		unit = MIB;
		break;
	case 'G':
		unit = GIB;
		break;
	}
	if (unit != 1)
		digits[len - 1] = '\0';
	if (parse_number(digits, UINT64_MAX, &n) < 0 || n > UINT64_MAX / unit)
		return -1;
	*out = n * unit;
	return 0;
}

static int set_size(struct config *cfg, const struct key_def *k, const char *value, char *why,
		    size_t whylen)
{
	uint64_t n;

	(void)why;
	(void)whylen;
	if (config_parse_size(value, &n) < 0 || n < (uint64_t)k->min || n > (uint64_t)k->max)
		return -1;
	*(uint64_t *)field(cfg, k) = n;
	return 0;
}

static int set_bool(struct config *cfg, const struct key_def *k, const char *value, char *why,
		    size_t whylen)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	(void)why;
	(void)whylen;
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(value, yes[i]) == 0 || strcasecmp(value, no[i]) == 0) {
			*(bool *)field(cfg, k) = strcasecmp(value, yes[i]) == 0;
			return 0;
		}
	}
	return -1;
}

static bool list_entry_ok(const char *entry, int flags)
{
	if (flags & KEY_UPPER) { /* a Zoom file_type: MP4, M4A, TRANSCRIPT, ... */
		for (const char *p = entry; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '_')
				return false;
		return true;
	}
	/* A host pattern: a name, an IP address, or "*." and a name. */
	if (strncmp(entry, "*.", 2) == 0)
		entry += 2;
	if (!*entry)
		return false;
	for (const char *p = entry; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".-:[]", *p))
			return false;
	return true;
}

static void free_list(char **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i]);
}

/* Fills items from the comma list value (trimmed, case-folded, checked). */
static int split_list(const char *value, int flags, char **items, size_t *n)
{
	const char *p = value;

	*n = 0;
	for (;;) {
		const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);

		while (p < end && isspace((unsigned char)*p))
			p++;
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
		if (end == p || *n == CONFIG_MAX_LIST)
			return -1;
		items[*n] = strndup(p, (size_t)(end - p));
		if (!items[*n])
			return -1;
		for (char *c = items[*n]; *c; c++)
			*c = (char)((flags & KEY_UPPER) ? toupper((unsigned char)*c)
							: tolower((unsigned char)*c));
		if (!list_entry_ok(items[(*n)++], flags))
			return -1;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static int set_list(struct config *cfg, const struct key_def *k, const char *value, char *why,
		    size_t whylen)
{
	char *items[CONFIG_MAX_LIST];
	char **slot = field(cfg, k);
	size_t *count = (size_t *)(void *)((char *)cfg + k->count_offset), n;

	(void)why;
	(void)whylen;
	if (split_list(value, k->flags, items, &n) < 0) {
		free_list(items, n);
		return -1;
	}
	free_list(slot, *count);
	memcpy(slot, items, n * sizeof *items);
	*count = n;
	return 0;
}

#define OFF(f) offsetof(struct config, f)
#define K_WORD(key, fl, dflt) \
	{ .name = #key, .set = set_word, .offset = OFF(key), .flags = (fl), .def = (dflt), \
	  .expect = "one word without blanks" }
#define K_URL(key, dflt) \
	{ .name = #key, .set = set_url, .offset = OFF(key), .def = (dflt), \
	  .expect = "an http:// or https:// URL without blanks" }
#define K_LONG(key, lo, dflt, what) \
	{ .name = #key, .set = set_long, .store = STORE_LONG, .offset = OFF(key), .min = (lo), \
	  .max = NUMBER_MAX, .def = (dflt), .expect = what }
#define K_BOOL(key, dflt) \
	{ .name = #key, .set = set_bool, .store = STORE_BOOL, .offset = OFF(key), .def = (dflt), \
	  .expect = "true or false (also yes/no, on/off, 1/0)" }

static const struct key_def keys[] = {
	{ .name = "spool_dir", .set = set_string, .offset = OFF(spool_dir),
	  .expect = "a directory" },
	K_WORD(webhook_secret_token, KEY_SECRET, NULL),
	K_LONG(webhook_max_skew, 1, "300", "a whole number of seconds, at least 1"),
	{ .name = "max_body_bytes", .set = set_size, .store = STORE_SIZE,
	  .offset = OFF(max_body_bytes), .min = (long long)KIB, .max = LLONG_MAX, .def = "1M",
	  .expect = "a size of at least 1K (a number of bytes, or with suffix K, M or G)" },
	{ .name = "topic_regex", .set = set_regex, .store = STORE_REGEX,
	  .expect = "a POSIX extended regular expression" },
	{ .name = "file_types", .set = set_list, .store = STORE_LIST, .offset = OFF(file_types),
	  .count_offset = OFF(n_file_types), .flags = KEY_UPPER, .def = "MP4",
	  .expect = "a comma list of Zoom file types such as MP4, M4A, TRANSCRIPT" },
	K_LONG(min_duration, 0, "0", "a whole number of seconds"),
	{ .name = "key_template", .set = set_template, .offset = OFF(key_template),
	  .def = "{topic}/{recording_start:%Y-%m-%d_%H%M%S}_{recording_type}.{ext}",
	  .expect = "a key template" },
	{ .name = "download_hosts", .set = set_list, .store = STORE_LIST,
	  .offset = OFF(download_hosts), .count_offset = OFF(n_download_hosts),
	  .flags = KEY_LOWER, .def = "zoom.us,*.zoom.us,zoom.com,*.zoom.com",
	  .expect = "a comma list of host names, *.domain patterns or IP addresses" },
	K_BOOL(allow_http, "false"),
	K_WORD(s3_bucket, 0, NULL),
	K_WORD(s3_region, 0, "us-east-1"),
	K_URL(s3_endpoint, NULL),
	K_BOOL(s3_path_style, NULL), /* default set after parsing: it follows s3_endpoint */
	{ .name = "part_size", .set = set_size, .store = STORE_SIZE, .offset = OFF(part_size),
	  .min = (long long)(5 * MIB), .max = (long long)(5 * GIB), .def = "16M",
	  .expect = "a size from 5M to 5G (suffix K, M or G)" },
	{ .name = "s3_storage_class", .set = set_storage_class, .offset = OFF(s3_storage_class),
	  .expect = "an S3 storage class such as STANDARD_IA (letters, digits, _ and -)" },
	{ .name = "s3_sse", .set = set_sse, .offset = OFF(s3_sse),
	  .expect = "AES256 or aws:kms" },
	K_WORD(s3_sse_kms_key_id, 0, NULL),
	{ .name = "s3_checksum", .set = set_checksum, .offset = OFF(s3_checksum),
	  .expect = "sha256 or none" },
	{ .name = "s3_acl", .set = set_acl, .offset = OFF(s3_acl),
	  .expect = "a canned ACL: private, public-read, public-read-write, authenticated-read, "
		    "aws-exec-read, bucket-owner-read or bucket-owner-full-control" },
	K_WORD(zoom_account_id, 0, NULL),
	K_WORD(zoom_client_id, 0, NULL),
	K_WORD(zoom_client_secret, KEY_SECRET, NULL),
	K_WORD(zoom_api_key, 0, NULL),
	K_WORD(zoom_api_secret, KEY_SECRET, NULL),
	K_URL(zoom_oauth_url, "https://zoom.us/oauth/token"),
	K_URL(zoom_api_url, "https://api.zoom.us/v2"),
	K_LONG(max_attempts, 1, "48", "a whole number, at least 1"),
	K_LONG(retry_delay, 1, "60", "a whole number of seconds, at least 1"),
	K_LONG(retry_max_delay, 1, "3600", "a whole number of seconds, at least 1"),
	K_LONG(watch_rescan_interval, 1, "30", "a whole number of seconds, at least 1"),
	K_WORD(aws_access_key_id, 0, NULL),
	K_WORD(aws_secret_access_key, KEY_SECRET, NULL),
	K_WORD(aws_session_token, KEY_SECRET, NULL),
	{ .name = "metrics_file", .set = set_abs_path, .offset = OFF(metrics_file),
	  .expect = "an absolute file name, such as "
		    "/var/lib/prometheus/node-exporter/zoom2s3.prom" },
	K_WORD(webhook_secret_token_previous, KEY_SECRET, NULL),
	{ .name = "zoom_after_upload", .set = set_after_upload, .store = STORE_ENUM,
	  .def = "keep", .expect = "keep, trash or delete" },
	K_LONG(zoom_after_upload_delay, 0, "604800", "a whole number of seconds"),
};

#define N_KEYS (sizeof keys / sizeof keys[0])

static const struct key_def *find_key(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* The state of one parse: where messages go, and the line of each key. */
struct parser {
	const char *name;
	struct config *cfg;
	char *err;
	size_t errlen;
	int line_of[N_KEYS];
};

static int fail(struct parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct parser *p, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(p->err, p->errlen, "%s:%d: %s", p->name, line, msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->name, msg);
	return -1;
}

static int key_line(const struct parser *p, const char *key)
{
	return p->line_of[find_key(key) - keys];
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < ' ' && *s != '\t') || *s == 0x7f)
			return true;
	return false;
}

/* A key is echoed in a message only when it looks like one: a line such as
 * "webhook_secret_token abc = x" must not print abc. */
static bool looks_like_key(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

/* A non-secret value for a message: short and printable. */
static const char *shown(const char *value, char *buf, size_t size)
{
	size_t i;

	for (i = 0; value[i] && i + 1 < size; i++)
		buf[i] = isprint((unsigned char)value[i]) ? value[i] : '?';
	buf[i] = '\0';
	if (value[i] && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return buf;
}

/* why is the setter's reason (e.g. regerror's text) or, when it has none,
 * the key's description of a good value. */
static int bad_value(struct parser *p, int line, const struct key_def *k, const char *value,
		     const char *why)
{
	const char *lead = why[0] ? "" : "expected ";
	char buf[80];

	if (!why[0])
		why = k->expect;
	if (k->flags & KEY_SECRET)
		return fail(p, line, "bad value for %s (not shown, it is a secret): %s%s", k->name,
			    lead, why);
	return fail(p, line, "bad value '%s' for %s: %s%s", shown(value, buf, sizeof buf),
		    k->name, lead, why);
}

static int parse_assignment(struct parser *p, int line, char *key, char *value)
{
	const struct key_def *k = find_key(key);
	char why[256] = "";

	if (!*key)
		return fail(p, line, "missing key before '='");
	if (!k && !looks_like_key(key))
		return fail(p, line, "unknown key (not shown: it holds characters no key has)");
	if (!k)
		return fail(p, line, "unknown key '%s'", key);
	if (p->line_of[k - keys])
		return fail(p, line, "duplicate key '%s' (first set on line %d)", k->name,
			    p->line_of[k - keys]);
	p->line_of[k - keys] = line;
	if (!*value)
		return fail(p, line, "bad value for %s: empty (remove the line to get the default)",
			    k->name);
	if (has_control(value))
		return fail(p, line, "bad value for %s: it holds a control character", k->name);
	if (k->set(p->cfg, k, value, why, sizeof why) < 0) {
		if (k->flags & KEY_SECRET)
			why[0] = '\0'; /* a setter's detail might quote the value */
		return bad_value(p, line, k, value, why);
	}
	return 0;
}

static int parse_line(struct parser *p, int line, char *text)
{
	char *s = trim(text), *eq;

	if (!*s || *s == '#')
		return 0;
	eq = strchr(s, '=');
	if (!eq)
		return fail(p, line, "missing '=' (expected key = value)");
	*eq = '\0';
	return parse_assignment(p, line, trim(s), trim(eq + 1));
}

/* text is NUL-terminated at len and may be modified. */
static int parse_lines(struct parser *p, char *text, size_t len)
{
	char *end = text + len;
	int line = 0;

	for (char *s = text; s < end;) {
		char *nl = memchr(s, '\n', (size_t)(end - s)), *eol = nl ? nl : end;

		line++;
		if (memchr(s, '\0', (size_t)(eol - s)))
			return fail(p, line, "the line holds a NUL byte");
		*eol = '\0';
		if (parse_line(p, line, s) < 0)
			return -1;
		s = eol + 1;
	}
	return 0;
}

static int apply_defaults(struct config *cfg)
{
	char why[256];

	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].def && keys[i].set(cfg, &keys[i], keys[i].def, why, sizeof why) < 0)
			return -1;
	return 0;
}

static int check_required(struct parser *p, enum config_role role)
{
	const char *need = role == CONFIG_RESPONDER ? "webhook_secret_token"
			   : role == CONFIG_SPOOLER ? "s3_bucket"
						    : NULL;

	if (!p->cfg->spool_dir)
		return fail(p, 0, "missing required key spool_dir");
	if (need && !key_line(p, need))
		return fail(p, 0, "missing required key %s", need);
	return 0;
}

/* Keys that make sense only together: all of them or none. Returns the
 * line of the first one set when some but not all are. */
static int partly_set(const struct parser *p, const char *const *names, size_t n)
{
	int first = 0;
	size_t set = 0;

	for (size_t i = 0; i < n; i++) {
		int line = key_line(p, names[i]);

		if (line) {
			set++;
			if (!first || line < first)
				first = line;
		}
	}
	return set && set < n ? first : 0;
}

static int check_together(struct parser *p)
{
	static const char *const oauth[] = { "zoom_account_id", "zoom_client_id",
					     "zoom_client_secret" };
	static const char *const jwt[] = { "zoom_api_key", "zoom_api_secret" };
	const struct config *cfg = p->cfg;
	int line;

	if ((line = partly_set(p, oauth, 3)))
		return fail(p, line, "zoom_account_id, zoom_client_id and zoom_client_secret "
				     "(a Server-to-Server OAuth app) go together: set all three "
				     "or none");
	if ((line = partly_set(p, jwt, 2)))
		return fail(p, line, "zoom_api_key and zoom_api_secret (a JWT app) go together: "
				     "set both or none");
	if (cfg->s3_sse_kms_key_id && (!cfg->s3_sse || strcmp(cfg->s3_sse, "aws:kms") != 0))
		return fail(p, key_line(p, "s3_sse_kms_key_id"),
			    "s3_sse_kms_key_id needs s3_sse = aws:kms");
	if (cfg->retry_max_delay < cfg->retry_delay) {
		line = key_line(p, "retry_max_delay");
		return fail(p, line ? line : key_line(p, "retry_delay"),
			    "retry_max_delay (%ld) must be at least retry_delay (%ld)",
			    cfg->retry_max_delay, cfg->retry_delay);
	}
	return 0;
}

/* Retention talks to Zoom's API: the spooler cannot remove a file without
 * an app, and finding that out at the first removal would be a week late. */
static int check_retention(struct parser *p, enum config_role role)
{
	const struct config *cfg = p->cfg;

	if (role != CONFIG_SPOOLER || cfg->zoom_after_upload == ZOOM_KEEP ||
	    cfg->zoom_client_secret || cfg->zoom_api_secret)
		return 0;
	return fail(p, key_line(p, "zoom_after_upload"),
		    "zoom_after_upload = %s needs a Zoom app: set zoom_account_id, "
		    "zoom_client_id and zoom_client_secret (or zoom_api_key and zoom_api_secret)",
		    config_after_upload_name(cfg->zoom_after_upload));
}

/* The AWS SDKs' region and S3 endpoint, for a spooler whose file sets no
 * s3_region or s3_endpoint (zoom2s3.conf(5)); checked as the keys are. */
static int apply_aws_env(struct parser *p)
{
	char region[128], from[600], why[256];
	const char *var, *url;
	const struct key_def *k;

	if (!key_line(p, "s3_region") &&
	    awscreds_env_region(region, sizeof region, from, sizeof from) == 1) {
		k = find_key("s3_region");
		if (k->set(p->cfg, k, region, why, sizeof why) < 0)
			return fail(p, 0, "%s (used as s3_region): expected %s", from, k->expect);
	}
	if (!key_line(p, "s3_endpoint") && (url = awscreds_env_endpoint(&var))) {
		k = find_key("s3_endpoint");
		if (k->set(p->cfg, k, url, why, sizeof why) < 0)
			return fail(p, 0, "%s (used as s3_endpoint): expected %s", var, k->expect);
	}
	return 0;
}

int config_parse(const char *name, const char *text, size_t len, enum config_role role,
		 struct config *cfg, char *err, size_t errlen)
{
	struct parser p = { .name = name, .cfg = cfg, .err = err, .errlen = errlen };
	char *copy = NULL;
	int rc = -1;

	memset(cfg, 0, sizeof *cfg);
	if (errlen)
		err[0] = '\0';
	snprintf(cfg->path, sizeof cfg->path, "%s", name);
	copy = malloc(len + 1);
	if (!copy || apply_defaults(cfg) < 0) {
		fail(&p, 0, "out of memory");
		goto out;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (parse_lines(&p, copy, len) < 0 || check_required(&p, role) < 0 ||
	    check_together(&p) < 0 || check_retention(&p, role) < 0 ||
	    (role != CONFIG_RESPONDER && apply_aws_env(&p) < 0))
		goto out;
	if (!key_line(&p, "s3_path_style"))
		cfg->s3_path_style = cfg->s3_endpoint != NULL;
	/* AWS keeps and checks the checksum; servers that predate flexible
	 * checksums (RGW before Reef) ignore it, some refuse it. */
	cfg->s3_checksum_sha256 = cfg->s3_checksum ? strcmp(cfg->s3_checksum, "sha256") == 0
						   : cfg->s3_endpoint == NULL;
	rc = 0;
out:
	free(copy);
	if (rc < 0) {
		config_free(cfg);
		if (errlen)
			log_scrub(err, errlen); /* belt and braces: no secret leaves */
	}
	return rc;
}

static int read_text(const char *path, char **text, size_t *len, struct stat *st, char *err,
		     size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	size_t got = 0;
	int rc = -1;

	if (fd < 0 || fstat(fd, st) < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st->st_mode) || st->st_size > CONFIG_MAX_FILE) {
		snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path,
			 CONFIG_MAX_FILE);
		goto out;
	}
	buf = malloc(CONFIG_MAX_FILE + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, CONFIG_MAX_FILE + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > CONFIG_MAX_FILE) {
			snprintf(err, errlen, "%s: larger than %d bytes", path, CONFIG_MAX_FILE);
			goto out;
		}
	}
	*text = buf;
	*len = got;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

static bool holds_secret(const struct config *cfg)
{
	return cfg->webhook_secret_token || cfg->webhook_secret_token_previous ||
	       cfg->zoom_client_secret || cfg->zoom_api_secret ||
	       cfg->aws_secret_access_key || cfg->aws_session_token;
}

static void stamp(struct config *cfg, const struct stat *st)
{
	cfg->stamp_mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
	cfg->stamp_size = (long long)st->st_size;
	cfg->stamp_ino = (long long)st->st_ino;
}

int config_load(const char *path, enum config_role role, struct config *cfg, char *err,
		size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int rc = -1;

	memset(cfg, 0, sizeof *cfg);
	if (errlen)
		err[0] = '\0';
	if (strlen(path) >= sizeof cfg->path) {
		snprintf(err, errlen, "config file name too long");
		goto out;
	}
	if (read_text(path, &text, &len, &st, err, errlen) < 0 ||
	    config_parse(path, text, len, role, cfg, err, errlen) < 0)
		goto out;
	stamp(cfg, &st);
	if ((st.st_mode & S_IROTH) && holds_secret(cfg)) {
		char q[512];

		log_event(LOG_WARNING, "config_readable_by_others",
			  "file=%s mode=%04o hint=\"it holds secrets: chmod o-r\"",
			  log_q(path, q, sizeof q), (unsigned)(st.st_mode & 07777));
	}
	rc = 0;
out:
	free(text);
	return rc;
}

bool config_changed(const struct config *cfg)
{
	struct stat st;
	struct config now;

	if (stat(cfg->path, &st) < 0)
		return true;
	stamp(&now, &st);
	return now.stamp_mtime_ns != cfg->stamp_mtime_ns || now.stamp_size != cfg->stamp_size ||
	       now.stamp_ino != cfg->stamp_ino;
}

const char *config_find_path(const char *opt_c)
{
	const char *env = getenv("ZOOM2S3_CONFIG");

	if (opt_c)
		return opt_c;
	if (env && *env)
		return env;
	return SYSCONFDIR "/zoom2s3.conf";
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct key_def *k = &keys[i];

		if (k->store == STORE_STR)
			free(*(char **)field(cfg, k));
		else if (k->store == STORE_LIST)
			free_list(field(cfg, k), *(size_t *)(void *)((char *)cfg + k->count_offset));
	}
	if (cfg->topic_regex)
		regfree(&cfg->topic_re);
	free(cfg->topic_regex);
	memset(cfg, 0, sizeof *cfg);
}
