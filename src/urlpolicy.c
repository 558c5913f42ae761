/* Which URLs a download may fetch: the download_hosts patterns, a strict
 * reading of the URL that agrees with curl's, and the form of a URL a log
 * line may show. Pure but for curl's URL parser. See urlpolicy.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "urlpolicy.h"

#define URL_MAX 8192

/* ---- host policy ------------------------------------------------------- */

/* A host or pattern in comparable form: lower case, no brackets, no port,
 * no trailing dot, with its address when it is one. */
struct hostkey {
	char name[URLPOLICY_HOST_MAX];
	int family;               /* AF_INET, AF_INET6, or 0 for a name */
	unsigned char addr[16];
	bool numeric;             /* an address, or a name curl may read as one */
};

static bool name_char_ok(int c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '*';
}

/* Splits off brackets and a port. Returns -1 on a malformed bracket. */
static int strip_port(const char *in, char *out, size_t outlen)
{
	const char *end, *colon;
	size_t len;

	if (in[0] == '[') {
		end = strchr(in, ']');
		if (!end || (end[1] != '\0' && end[1] != ':'))
			return -1;
		in++;
		len = (size_t)(end - in);
	} else {
		colon = strchr(in, ':');
		/* Two colons without brackets: a bare IPv6 address, no port. */
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;
		len = colon ? (size_t)(colon - in) : strlen(in);
	}
	if (len == 0 || len >= outlen)
		return -1;
	memcpy(out, in, len);
	out[len] = '\0';
	return 0;
}

/* True when the last label is all digits: no TLD is, so curl or the
 * resolver may take the name as an IPv4 number ("127.1", "2130706434"). */
static bool last_label_numeric(const char *name)
{
	const char *dot = strrchr(name, '.');
	const char *label = dot ? dot + 1 : name;

	if (*label == '\0')
		return false;
	for (; *label; label++)
		if (!isdigit((unsigned char)*label))
			return false;
	return true;
}

static int hostkey_make(const char *in, struct hostkey *k)
{
	size_t len;

	memset(k, 0, sizeof *k);
	if (!in || strip_port(in, k->name, sizeof k->name) < 0)
		return -1;
	for (char *p = k->name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (inet_pton(AF_INET6, k->name, k->addr) == 1) {
		k->family = AF_INET6;
		k->numeric = true;
		return 0;
	}
	if (in[0] == '[') /* brackets hold IPv6 only */
		return -1;
	len = strlen(k->name);
	if (len > 1 && k->name[len - 1] == '.')
		k->name[--len] = '\0';
	for (const char *p = k->name; *p; p++)
		if (!name_char_ok((unsigned char)*p))
			return -1;
	if (k->name[0] == '.' || strstr(k->name, ".."))
		return -1;
	if (inet_pton(AF_INET, k->name, k->addr) == 1)
		k->family = AF_INET;
	k->numeric = k->family != 0 || last_label_numeric(k->name);
	return 0;
}

static bool hostkey_equal(const struct hostkey *a, const struct hostkey *b)
{
	if (a->family != b->family)
		return false;
	if (a->family)
		return memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
	return strcmp(a->name, b->name) == 0;
}

static bool pattern_matches(const char *pattern, const struct hostkey *host)
{
	struct hostkey pat;
	size_t hlen, slen;
	const char *suffix;

	if (hostkey_make(pattern, &pat) < 0)
		return false;
	if (host->numeric || strncmp(pat.name, "*.", 2) != 0)
		return hostkey_equal(&pat, host);
	suffix = pat.name + 1; /* ".zoom.us" */
	slen = strlen(suffix);
	hlen = strlen(host->name);
	return slen > 1 && !strchr(suffix, '*') && hlen > slen &&
	       strcmp(host->name + hlen - slen, suffix) == 0;
}

bool urlpolicy_host_allowed(char *const *patterns, size_t n, const char *host)
{
	struct hostkey key;

	if (hostkey_make(host, &key) < 0 || strchr(key.name, '*'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (patterns[i] && pattern_matches(patterns[i], &key))
			return true;
	return false;
}

/* ---- URL reading ------------------------------------------------------- */

struct url_parts {
	bool https;
	char host[URLPOLICY_HOST_MAX]; /* as written, without brackets */
	bool bracketed;               /* an IPv6 literal */
	long port;                    /* explicit or the scheme's */
	bool explicit_port;
	const char *path;             /* from the first '/', '?' or '#' on */
	size_t path_len;              /* up to the query or fragment */
};

int urlpolicy_decimal(const char *p, size_t len, size_t max_digits, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > max_digits)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return 0;
}

static int parse_port(const char *p, size_t len, long *port)
{
	uint64_t v;

	if (urlpolicy_decimal(p, len, 5, &v) < 0 || v < 1 || v > 65535)
		return -1;
	*port = (long)v;
	return 0;
}

/* The authority "host[:port]" or "[v6][:port]" (no '@': checked before). */
static int parse_authority(const char *a, size_t len, struct url_parts *u, const char **why)
{
	const char *host = a, *port = NULL, *close;
	size_t hlen = len;
	struct hostkey key;

	*why = "a URL without a host";
	if (len == 0)
		return -1;
	*why = "a URL whose host or port cannot be read";
	if (a[0] == '[') {
		close = memchr(a, ']', len);
		if (!close)
			return -1;
		host = a + 1;
		hlen = (size_t)(close - host);
		if (close + 1 < a + len) {
			if (close[1] != ':')
				return -1;
			port = close + 2;
		}
		u->bracketed = true;
	} else {
		port = memchr(a, ':', len);
		if (port)
			hlen = (size_t)(port++ - a);
	}
	if (hlen == 0 || hlen >= sizeof u->host)
		return -1;
	memcpy(u->host, host, hlen);
	u->host[hlen] = '\0';
	if (hostkey_make(u->host, &key) < 0 || strchr(u->host, '*') ||
	    u->bracketed != (key.family == AF_INET6))
		return -1;
	u->port = u->https ? 443 : 80;
	if (port) {
		u->explicit_port = true;
		if (parse_port(port, (size_t)(a + len - port), &u->port) < 0)
			return -1;
	}
	return 0;
}

/* A strict reading: a URL this accepts is one where every parser agrees on
 * the host. why is a phrase ("a URL with a user name in it"). */
static int url_parse(const char *url, struct url_parts *u, const char **why)
{
	const char *sep, *auth;
	size_t len, alen;

	memset(u, 0, sizeof *u);
	*why = "an empty or over-long URL";
	len = url ? strlen(url) : 0;
	if (len == 0 || len > URL_MAX)
		return -1;
	*why = "a URL with spaces, control or non-ASCII characters";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f || url[i] == '\\')
			return -1;
	*why = "a URL that is not http(s)";
	sep = strstr(url, "://");
	if (!sep)
		return -1;
	if (sep - url == 5 && strncasecmp(url, "https", 5) == 0)
		u->https = true;
	else if (!(sep - url == 4 && strncasecmp(url, "http", 4) == 0))
		return -1;
	auth = sep + 3;
	alen = strcspn(auth, "/?#");
	*why = "a URL with a user name in it";
	if (memchr(auth, '@', alen))
		return -1;
	if (parse_authority(auth, alen, u, why) < 0)
		return -1;
	u->path = auth + alen;
	u->path_len = strcspn(u->path, "?#");
	return 0;
}

/* curl must read the same scheme, host and port, and no user. */
static bool curl_agrees(const char *url, const struct url_parts *u)
{
	CURLU *h = curl_url();
	char *host = NULL, *port = NULL, *user = NULL;
	struct hostkey mine, theirs;
	bool same = false;

	if (!h || curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(h, CURLUPART_USER, &user, 0) != CURLUE_NO_USER)
		goto out;
	if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	if (hostkey_make(u->host, &mine) < 0 || hostkey_make(host, &theirs) < 0)
		goto out;
	same = hostkey_equal(&mine, &theirs) && u->port == strtol(port, NULL, 10);
out:
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_url_cleanup(h);
	return same;
}

int urlpolicy_check(const char *url, char *const *patterns, size_t n, bool allow_http,
		       char *why, size_t whylen)
{
	struct url_parts u;
	const char *phrase;

	if (url_parse(url, &u, &phrase) < 0)
		goto refuse;
	phrase = "a plain-http URL (allow_http is off)";
	if (!u.https && !allow_http)
		goto refuse;
	if (!urlpolicy_host_allowed(patterns, n, u.host)) {
		snprintf(why, whylen, "a host outside download_hosts: %s", u.host);
		return -1;
	}
	phrase = "a URL that curl would read differently";
	if (!curl_agrees(url, &u))
		goto refuse;
	return 0;
refuse:
	snprintf(why, whylen, "%s", phrase);
	return -1;
}

const char *urlpolicy_display(const char *url, char *buf, size_t size)
{
	struct url_parts u;
	const char *why;
	char port[8] = "";
	int n;

	if (url_parse(url, &u, &why) < 0) {
		snprintf(buf, size, "(unparsable URL)");
		return buf;
	}
	if (u.explicit_port)
		snprintf(port, sizeof port, ":%ld", u.port);
	n = snprintf(buf, size, "%s://%s%s%s%s%.*s", u.https ? "https" : "http",
		     u.bracketed ? "[" : "", u.host, u.bracketed ? "]" : "", port,
		     (int)u.path_len, u.path);
	if (n < 0 || (size_t)n >= size)
		snprintf(buf, size, "%s://%s/...", u.https ? "https" : "http", u.host);
	return buf;
}

const char *urlpolicy_host(const char *url, char *buf, size_t size)
{
	struct url_parts u;
	const char *why;

	if (url_parse(url, &u, &why) < 0)
		snprintf(buf, size, "?");
	else
		snprintf(buf, size, "%s", u.host);
	return buf;
}
