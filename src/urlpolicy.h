/* The URL and host policy of downloads: which hosts download_hosts lets a
 * download_url, and every redirect it leads to, name; which URLs are read
 * the same way by us and by curl; what of a URL a log line may show. */
#ifndef ZOOM2S3_URLPOLICY_H
#define ZOOM2S3_URLPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define URLPOLICY_HOST_MAX 256

/* The non-negative decimal of exactly len bytes at p, of at most max_digits
 * digits (19 keeps it under 2^63): 0, or -1 when it is empty, longer, or not
 * all digits. A port in a URL and the numbers of a Content-Range alike. */
int urlpolicy_decimal(const char *p, size_t len, size_t max_digits, uint64_t *out);

/* True when host may be downloaded from: patterns are download_hosts
 * entries. Case-insensitive; "*.zoom.us" matches names ending in ".zoom.us"
 * (not "zoom.us" itself, nor "evilzoom.us"); an IP address (v4, or v6 with
 * or without brackets) matches only the same address, never a wildcard;
 * ports, in host or pattern, are ignored; one trailing dot is ignored. */
bool urlpolicy_host_allowed(char *const *patterns, size_t n, const char *host);

/* 0 when url may be fetched: scheme https (or http when allow_http), a host
 * that urlpolicy_host_allowed accepts, no userinfo, printable ASCII only (no
 * space, CR, LF, backslash), and curl reads the same host from it. Else -1
 * with a sentence in why (naming at most the host, never the query). */
int urlpolicy_check(const char *url, char *const *patterns, size_t n, bool allow_http,
		    char *why, size_t whylen);

/* scheme://host[:port]/path of url, without userinfo, query or fragment:
 * what a log line may show. "(unparsable URL)" when it cannot be read. */
const char *urlpolicy_display(const char *url, char *buf, size_t size);

/* The host of url as written (without brackets), "?" when unreadable. */
const char *urlpolicy_host(const char *url, char *buf, size_t size);

#endif
