/* key_template: checking a template and expanding it for one file.
 *
 * The key is written through a small writer that applies the contract's
 * rules as it goes: a '/' from the template (or an strftime format) ends a
 * segment, empty segments and a leading '/' vanish, "." and ".." segments
 * become "_", control characters are dropped. It counts the key's exact
 * length even past the caller's buffer, so the 1024-byte limit is judged on
 * the whole key, not on what fitted. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "keytmpl.h"

#define FMT_MAX 256 /* longest strftime format accepted in a placeholder */

enum ph_id {
	PH_TOPIC,
	PH_MEETING_ID,
	PH_UUID,
	PH_HOST_ID,
	PH_HOST_EMAIL,
	PH_ACCOUNT_ID,
	PH_FILE_ID,
	PH_FILE_TYPE,
	PH_RECORDING_TYPE,
	PH_EXT,
	PH_START_TIME,
	PH_RECORDING_START,
	PH_RECORDING_END,
	PH_GROUP, /* PH_GROUP + n for {n}, n = 1..9 */
	PH_UNKNOWN = PH_GROUP + 10,
};

/* Indexed by enum ph_id up to PH_RECORDING_END. */
static const char *const ph_names[] = {
	"topic",	  "meeting_id", "uuid",	      "host_id",
	"host_email",	  "account_id", "file_id",    "file_type",
	"recording_type", "ext",	"start_time", "recording_start",
	"recording_end",
};

/* One "{name}" or "{name:fmt}" as written in the template. */
struct ph {
	const char *name, *fmt;
	size_t name_len, fmt_len;
	bool has_fmt;
	size_t len; /* from '{' through '}' */
};

static bool is_time_ph(enum ph_id id)
{
	return id == PH_START_TIME || id == PH_RECORDING_START || id == PH_RECORDING_END;
}

static enum ph_id ph_lookup(const char *name, size_t len)
{
	if (len == 1 && name[0] >= '1' && name[0] <= '9')
		return (enum ph_id)(PH_GROUP + (name[0] - '0'));
	for (size_t i = 0; i < sizeof ph_names / sizeof ph_names[0]; i++)
		if (strlen(ph_names[i]) == len && memcmp(ph_names[i], name, len) == 0)
			return (enum ph_id)i;
	return PH_UNKNOWN;
}

/* at points at '{'. Fills ph, or returns -1 with err for a '{' never closed
 * or a nested '{'. */
static int ph_scan(const char *at, struct ph *ph, char *err, size_t errlen)
{
	const char *p = at + 1;

	memset(ph, 0, sizeof *ph);
	ph->name = p;
	while (*p && *p != '}' && *p != '{' && *p != ':')
		p++;
	ph->name_len = (size_t)(p - ph->name);
	if (*p == ':') {
		ph->has_fmt = true;
		ph->fmt = ++p;
		while (*p && *p != '}' && *p != '{')
			p++;
		ph->fmt_len = (size_t)(p - ph->fmt);
	}
	if (*p != '}') {
		snprintf(err, errlen, "unbalanced brace: '{%.*s' is not closed",
			 (int)(p - at - 1 > 64 ? 64 : p - at - 1), at + 1);
		return -1;
	}
	ph->len = (size_t)(p - at) + 1;
	return 0;
}

/* The placeholder's id, or -1 with err naming it when it is unknown or its
 * format part does not suit it. */
static int ph_check(const struct ph *ph, enum ph_id *id, char *err, size_t errlen)
{
	int shown = (int)(ph->len - 2 > 64 ? 64 : ph->len - 2);
	const char *text = ph->name;

	*id = ph_lookup(ph->name, ph->name_len);
	if (*id == PH_UNKNOWN) {
		snprintf(err, errlen, "unknown placeholder {%.*s}", shown, text);
		return -1;
	}
	if (is_time_ph(*id) && (!ph->has_fmt || ph->fmt_len == 0)) {
		snprintf(err, errlen,
			 "placeholder {%.*s} needs a strftime format, e.g. {%.*s:%%Y-%%m-%%d}",
			 shown, text, (int)ph->name_len, ph->name);
		return -1;
	}
	if (!is_time_ph(*id) && ph->has_fmt) {
		snprintf(err, errlen, "placeholder {%.*s} takes no format", shown,
			 text);
		return -1;
	}
	if (ph->fmt_len >= FMT_MAX) {
		snprintf(err, errlen, "the format of {%.*s} is too long", shown,
			 text);
		return -1;
	}
	return 0;
}

int keytmpl_validate(const char *tmpl, char *err, size_t errlen)
{
	const char *p = tmpl;
	struct ph ph;
	enum ph_id id;

	if (!tmpl || !*tmpl) {
		snprintf(err, errlen, "empty template");
		return -1;
	}
	while (*p) {
		if (*p == '}') {
			snprintf(err, errlen, "unbalanced brace: '}' at byte %zu",
				 (size_t)(p - tmpl) + 1);
			return -1;
		}
		if (*p != '{') {
			p++;
			continue;
		}
		if (ph_scan(p, &ph, err, errlen) < 0 || ph_check(&ph, &id, err, errlen) < 0)
			return -1;
		p += ph.len;
	}
	return 0;
}

/* ---- the writer ------------------------------------------------------- */

struct keybuf {
	char *out;
	size_t cap;	    /* bytes of out, room for the NUL included */
	size_t len;	    /* length of the key so far; may exceed cap - 1 */
	size_t seg_len;	    /* bytes of the current segment */
	char seg_head[2];   /* its first two bytes, to spot "." and ".." */
	bool slash_pending; /* a '/' is owed before the next segment's first byte */
};

static void kb_put(struct keybuf *kb, char c)
{
	if (kb->len + 1 < kb->cap)
		kb->out[kb->len] = c;
	kb->len++;
}

/* One byte of a segment; control characters never reach a key. */
static void kb_byte(struct keybuf *kb, char c)
{
	unsigned char u = (unsigned char)c;

	if (u < 0x20 || u == 0x7f)
		return;
	if (kb->seg_len == 0 && kb->slash_pending) {
		kb_put(kb, '/');
		kb->slash_pending = false;
	}
	if (kb->seg_len < 2)
		kb->seg_head[kb->seg_len] = c;
	kb->seg_len++;
	kb_put(kb, c);
}

static void kb_end_segment(struct keybuf *kb)
{
	bool dots = (kb->seg_len == 1 && kb->seg_head[0] == '.') ||
		    (kb->seg_len == 2 && kb->seg_head[0] == '.' && kb->seg_head[1] == '.');

	if (dots) {
		kb->len -= kb->seg_len;
		kb_put(kb, '_');
	}
	if (kb->seg_len > 0)
		kb->slash_pending = true;
	kb->seg_len = 0;
}

/* Template text and strftime output: a '/' there separates segments. */
static void kb_literal(struct keybuf *kb, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '/')
			kb_end_segment(kb);
		else
			kb_byte(kb, s[i]);
	}
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), 0 when
 * the bytes there are not one. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t need;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0; /* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f; /* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90; /* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

/* A value from the event: it never adds a '/', and a byte that is not part
 * of well-formed UTF-8 becomes '_' (S3 keys are UTF-8). */
static void kb_value(struct keybuf *kb, const char *value)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t n = value ? strlen(value) : 0;

	for (size_t i = 0; i < n;) {
		size_t seq = utf8_seq_len(s + i, n - i);

		if (seq == 0 || s[i] == '/') {
			kb_byte(kb, '_');
			i++;
			continue;
		}
		for (size_t k = 0; k < seq; k++)
			kb_byte(kb, (char)s[i + k]);
		i += seq;
	}
}

/* Ends the key: NUL-terminates it, cutting at a UTF-8 boundary when it did
 * not fit. */
static void kb_finish(struct keybuf *kb)
{
	size_t end, start;

	kb_end_segment(kb);
	end = kb->len;
	if (end + 1 > kb->cap) {
		end = kb->cap - 1;
		/* Back to the lead byte of the last sequence; drop it if cut. */
		start = end;
		while (start > 0 && end - start < 3 &&
		       ((unsigned char)kb->out[start - 1] & 0xc0) == 0x80)
			start--;
		if (start > 0 && (unsigned char)kb->out[start - 1] >= 0xc0) {
			start--;
			if (utf8_seq_len((const unsigned char *)kb->out + start, end - start) == 0)
				end = start;
		}
	}
	kb->out[end] = '\0';
}

static const char *ph_text(const struct keyvars *v, enum ph_id id)
{
	switch (id) {
	case PH_TOPIC:
		return v->topic;
	case PH_MEETING_ID:
		return v->meeting_id;
	case PH_UUID:
		return v->uuid;
	case PH_HOST_ID:
		return v->host_id;
	case PH_HOST_EMAIL:
		return v->host_email;
	case PH_ACCOUNT_ID:
		return v->account_id;
	case PH_FILE_ID:
		return v->file_id;
	case PH_FILE_TYPE:
		return v->file_type;
	case PH_RECORDING_TYPE:
		return v->recording_type;
	case PH_EXT:
		return v->ext;
	default:
		if (id > PH_GROUP && id < PH_UNKNOWN)
			return v->groups[id - PH_GROUP];
		return NULL;
	}
}

/* The format of ph as a C string, with each %s (epoch seconds) already
 * replaced by t: glibc computes %s with mktime, in local time, which a
 * server's TZ would shift. fmt has FMT_MAX * 11 bytes. */
static void time_format(const struct ph *ph, time_t t, char *fmt)
{
	size_t o = 0;

	/* ph_check bounds fmt_len below FMT_MAX; each %s grows by at most 18. */
	for (size_t i = 0; i < ph->fmt_len; i++) {
		if (ph->fmt[i] == '%' && i + 1 < ph->fmt_len && ph->fmt[i + 1] == 's') {
			o += (size_t)snprintf(fmt + o, 22, "%lld", (long long)t);
			i++;
			continue;
		}
		fmt[o++] = ph->fmt[i];
		if (ph->fmt[i] == '%' && i + 1 < ph->fmt_len)
			fmt[o++] = ph->fmt[++i]; /* "%%" and other conversions stay whole */
	}
	fmt[o] = '\0';
}

/* {start_time:FMT} and friends, in UTC; an absent time expands to "". */
static void kb_time(struct keybuf *kb, const struct keyvars *v, const struct ph *ph,
		    enum ph_id id)
{
	char fmt[FMT_MAX * 11], text[KEYTMPL_BUF];
	time_t t = id == PH_START_TIME ? v->start_time
		 : id == PH_RECORDING_START ? v->recording_start
					      : v->recording_end;
	int has = id == PH_START_TIME ? v->has_start_time
		: id == PH_RECORDING_START ? v->has_recording_start
					     : v->has_recording_end;
	struct tm tm;
	size_t n;

	if (!has || !gmtime_r(&t, &tm))
		return;
	time_format(ph, t, fmt);
	/* 0 means empty or too long for KEYTMPL_BUF: either way nothing usable.
	 * The format is the operator's, checked by keytmpl_validate. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = strftime(text, sizeof text, fmt, &tm);
#pragma GCC diagnostic pop
	kb_literal(kb, text, n);
}

int keytmpl_expand(const char *tmpl, const struct keyvars *v, char *out, size_t outlen,
		   char *err, size_t errlen)
{
	struct keybuf kb = { .out = out, .cap = outlen };
	const char *p = tmpl;
	struct ph ph;
	enum ph_id id;

	if (outlen < 2) {
		snprintf(err, errlen, "key buffer too small");
		return -1;
	}
	if (keytmpl_validate(tmpl, err, errlen) < 0)
		return -1;
	while (*p) {
		if (*p != '{') {
			size_t n = strcspn(p, "{");

			kb_literal(&kb, p, n);
			p += n;
			continue;
		}
		/* validated above: cannot fail */
		if (ph_scan(p, &ph, err, errlen) < 0 || ph_check(&ph, &id, err, errlen) < 0)
			return -1;
		if (is_time_ph(id))
			kb_time(&kb, v, &ph, id);
		else
			kb_value(&kb, ph_text(v, id));
		p += ph.len;
	}
	kb_finish(&kb);
	if (kb.len == 0) {
		snprintf(err, errlen, "the S3 key is empty (key_template gives nothing for this file)");
		return -1;
	}
	if (kb.len > KEYTMPL_MAX_KEY) {
		snprintf(err, errlen, "the S3 key is %zu bytes, over S3's limit of %d", kb.len,
			 KEYTMPL_MAX_KEY);
		return 1;
	}
	return 0;
}

int keytmpl_add_suffix(char *key, size_t keysize, const char *value)
{
	char suffix[KEYTMPL_BUF];
	struct keybuf kb = { .out = suffix, .cap = sizeof suffix };
	size_t keylen = strlen(key), at = keylen, slen;
	const char *last_seg = strrchr(key, '/');
	const char *dot;

	/* The suffix is one segment's worth of sanitised value after "-". */
	kb_byte(&kb, '-');
	kb_value(&kb, value);
	if (kb.len + 1 > kb.cap)
		return -1;
	suffix[kb.len] = '\0';
	slen = kb.len;

	last_seg = last_seg ? last_seg + 1 : key;
	dot = strrchr(last_seg, '.');
	/* A segment's leading '.' starts a name, not an extension. */
	if (dot && dot > last_seg)
		at = (size_t)(dot - key);
	if (keylen + slen + 1 > keysize)
		return -1;
	memmove(key + at + slen, key + at, keylen - at + 1);
	memcpy(key + at, suffix, slen);
	return 0;
}
