/* The download URL and host policy (urlpolicy.c): which hosts and URLs may
 * be fetched, and what of a URL a log line shows. */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "urlpolicy.h"

static char *default_hosts[] = { "zoom.us", "*.zoom.us", "zoom.com", "*.zoom.com" };
#define N_DEFAULT (sizeof default_hosts / sizeof default_hosts[0])

static char *ip_hosts[] = { "127.0.0.2", "::1", "[fe80::1]", "10.0.0.1:8080", "*.0.0.3",
			    "Example.ORG" };
#define N_IP (sizeof ip_hosts / sizeof ip_hosts[0])

static const struct {
	const char *host;
	bool default_ok, ip_ok;
} host_cases[] = {
	{ "zoom.us", true, false },
	{ "ZOOM.US", true, false },
	{ "Zoom.Us", true, false },
	{ "us06web.zoom.us", true, false },
	{ "ssrweb.zoom.us", true, false },
	{ "a.b.c.zoom.us", true, false },
	{ "openlibraryfoundation.zoom.us", true, false },
	{ "US02WEB.ZOOM.US", true, false },
	{ "zoom.us.", true, false },            /* one trailing dot: the same name */
	{ "ssrweb.zoom.us.", true, false },
	{ "zoom.us..", false, false },
	{ "zoom.us:443", true, false },         /* ports are ignored */
	{ "ssrweb.zoom.us:8443", true, false },
	{ "zoom.com", true, false },
	{ "x.zoom.com", true, false },
	{ "evilzoom.us", false, false },
	{ "zoom.us.evil.com", false, false },
	{ "zoom.usa", false, false },
	{ "xzoom.com", false, false },
	{ ".zoom.us", false, false },
	{ "a..zoom.us", false, false },
	{ "*.zoom.us", false, false },
	{ "zoom.us/evil", false, false },
	{ "evil.com/.zoom.us", false, false },
	{ "evil.com@zoom.us", false, false },
	{ "zoom.us@evil.com", false, false },
	{ "zoom.us evil", false, false },
	{ "zoom.us\r\nx", false, false },
	{ "zoom%2eus", false, false },
	{ "", false, false },
	{ "127.0.0.2", false, true },
	{ "127.0.0.2:9999", false, true },
	{ "[127.0.0.2]", false, false },        /* brackets are for IPv6 only */
	{ "127.0.0.20", false, false },
	{ "127.0.0.3", false, false },          /* an IP never matches a wildcard */
	{ "a.0.0.3", false, false },            /* a numeric last label: like an address */
	{ "a.example.org", false, false },
	{ "127.2", false, false },              /* a number curl may read as 127.0.0.2 */
	{ "2130706434", false, false },
	{ "0x7f000002", false, false },
	{ "[::1]", false, true },
	{ "[::1]:8080", false, true },
	{ "::1", false, true },
	{ "[0:0:0:0:0:0:0:1]", false, true },   /* the same address, written out */
	{ "[::2]", false, false },
	{ "[FE80::1]", false, true },
	{ "[fe80::1]:443", false, true },
	{ "[::ffff:127.0.0.2]", false, false }, /* mapped: not the same literal address */
	{ "[::1", false, false },
	{ "[::1]x", false, false },
	{ "10.0.0.1", false, true },            /* the pattern's port is ignored too */
	{ "example.org", false, true },
	{ "EXAMPLE.org:1", false, true },
	{ "www.example.org", false, false },
};

/* A test name must stay on one TAP line. */
static const char *printable(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	for (; s && *s && o + 5 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

static void test_hosts(void)
{
	char name[200];

	for (size_t i = 0; i < sizeof host_cases / sizeof host_cases[0]; i++) {
		const char *h = host_cases[i].host;

		ok(urlpolicy_host_allowed(default_hosts, N_DEFAULT, h) == host_cases[i].default_ok,
		   "default download_hosts %s '%s'", host_cases[i].default_ok ? "take" : "refuse",
		   printable(h, name, sizeof name));
		ok(urlpolicy_host_allowed(ip_hosts, N_IP, h) == host_cases[i].ip_ok,
		   "IP/name patterns %s '%s'", host_cases[i].ip_ok ? "take" : "refuse",
		   printable(h, name, sizeof name));
	}
	ok(!urlpolicy_host_allowed(NULL, 0, "zoom.us"), "no patterns: nothing allowed");
	ok(!urlpolicy_host_allowed(default_hosts, N_DEFAULT, NULL), "NULL host refused");
}

static void test_odd_patterns(void)
{
	char *star[] = { "*" }, *dot[] = { "*." }, *mid[] = { "zoom.*" }, *bare[] = { "*zoom.us" };
	char *trail[] = { "ZOOM.US." };

	ok(!urlpolicy_host_allowed(star, 1, "zoom.us"), "a lone * matches nothing");
	ok(!urlpolicy_host_allowed(dot, 1, "zoom.us"), "'*.' matches nothing");
	ok(!urlpolicy_host_allowed(mid, 1, "zoom.us"), "'zoom.*' is not a wildcard");
	ok(!urlpolicy_host_allowed(bare, 1, "evilzoom.us"), "'*zoom.us' is not a wildcard");
	ok(!urlpolicy_host_allowed(bare, 1, "a.zoom.us"), "'*zoom.us' matches no name");
	ok(urlpolicy_host_allowed(trail, 1, "zoom.us"), "a pattern's trailing dot and case ignored");
}

static const struct {
	const char *url;
	bool allow_http;
	bool ok;
	const char *why; /* expected start of the reason, when refused */
} url_cases[] = {
	{ "https://us06web.zoom.us/rec/webhook_download/abc/def", false, true, NULL },
	{ "https://ssrweb.zoom.us/replay03/x.mp4?Policy=abc&Signature=def", false, true, NULL },
	{ "HTTPS://ZOOM.US/rec/download/x", false, true, NULL },
	{ "https://zoom.us", false, true, NULL },
	{ "https://zoom.us?x=1", false, true, NULL },
	{ "https://zoom.us#frag", false, true, NULL },
	{ "https://zoom.us:443/x", false, true, NULL },
	{ "https://zoom.us:8443/x", false, true, NULL },
	{ "https://zoom.us./x", false, true, NULL },
	{ "http://zoom.us/x", false, false, "a plain-http URL" },
	{ "http://zoom.us/x", true, true, NULL },
	{ "http://127.0.0.2:8080/x", true, true, NULL },
	{ "https://127.0.0.2/x", false, true, NULL },
	{ "http://[::1]:8080/x", true, true, NULL },
	{ "http://[::1/x", true, false, "a URL whose host" },
	{ "http://::1/x", true, false, "a URL whose host" },
	{ "http://127.0.0.3/x", true, false, "a host outside download_hosts: 127.0.0.3" },
	{ "https://evil.example/x", false, false, "a host outside download_hosts: evil.example" },
	{ "https://evilzoom.us/x", false, false, "a host outside download_hosts: evilzoom.us" },
	{ "https://zoom.us.evil.com/x", false, false, "a host outside download_hosts" },
	{ "https://zoom.us@evil.com/", false, false, "a URL with a user name" },
	{ "https://user:pw@zoom.us/", false, false, "a URL with a user name" },
	{ "https://zoom.us:443@evil.com/", false, false, "a URL with a user name" },
	{ "https://zoom.us%40evil.com/", false, false, "a URL whose host" },
	{ "https://evil.com#@zoom.us/", false, false, "a host outside download_hosts: evil.com" },
	{ "https://evil.com?@zoom.us/", false, false, "a host outside download_hosts: evil.com" },
	{ "https://evil.com/@zoom.us/", false, false, "a host outside download_hosts: evil.com" },
	{ "https://zoom.us\\@evil.com/", false, false, "a URL with spaces" },
	{ "https://zoom.us\\.evil.com/", false, false, "a URL with spaces" },
	{ "https://zoom.us/x\r\nHost: evil.com", false, false, "a URL with spaces" },
	{ "https://zoom.us/x\n", false, false, "a URL with spaces" },
	{ "https://zoom.us/a b", false, false, "a URL with spaces" },
	{ " https://zoom.us/", false, false, "a URL with spaces" },
	{ "https://zoom.us/\tx", false, false, "a URL with spaces" },
	{ "https://zo\xc3\xb6m.us/", false, false, "a URL with spaces" },
	{ "https://zoom.us/\x7f", false, false, "a URL with spaces" },
	{ "file:///etc/passwd", true, false, "a URL that is not http(s)" },
	{ "file://zoom.us/etc/passwd", true, false, "a URL that is not http(s)" },
	{ "ftp://zoom.us/x", true, false, "a URL that is not http(s)" },
	{ "gopher://zoom.us/x", true, false, "a URL that is not http(s)" },
	{ "data:text/html,<h1>x</h1>", true, false, "a URL that is not http(s)" },
	{ "javascript:alert(1)", true, false, "a URL that is not http(s)" },
	{ "httpx://zoom.us/", true, false, "a URL that is not http(s)" },
	{ "//zoom.us/x", true, false, "a URL that is not http(s)" },
	{ "zoom.us/x", true, false, "a URL that is not http(s)" },
	{ "https:/zoom.us/x", false, false, "a URL that is not http(s)" },
	{ "https:zoom.us", false, false, "a URL that is not http(s)" },
	{ "https:///x", false, false, "a URL without a host" },
	{ "https://", false, false, "a URL without a host" },
	{ "https://:443/x", false, false, "a URL whose host" },
	{ "https://zoom.us:/x", false, false, "a URL whose host" },
	{ "https://zoom.us:0/x", false, false, "a URL whose host" },
	{ "https://zoom.us:65536/x", false, false, "a URL whose host" },
	{ "https://zoom.us:44a/x", false, false, "a URL whose host" },
	{ "https://zoom.us:443:443/x", false, false, "a URL whose host" },
	{ "https://[::1]:/x", false, false, "a URL whose host" },
	{ "https://[zoom.us]/x", false, false, "a URL whose host" },
	{ "https://[::1%25eth0]/x", false, false, "a URL whose host" },
	{ "https://*.zoom.us/x", false, false, "a URL whose host" },
	{ "https://a..zoom.us/x", false, false, "a URL whose host" },
	{ "https://0x7f000002/x", false, false, "a host outside download_hosts" },
	{ "", false, false, "an empty or over-long URL" },
	{ NULL, false, false, "an empty or over-long URL" },
};

static void test_urls(void)
{
	char *hosts[] = { "zoom.us", "*.zoom.us", "zoom.com", "*.zoom.com", "127.0.0.2", "::1" };
	char why[300], name[200];

	for (size_t i = 0; i < sizeof url_cases / sizeof url_cases[0]; i++) {
		const char *url = url_cases[i].url;
		int rc;

		why[0] = '\0';
		rc = urlpolicy_check(url, hosts, 6, url_cases[i].allow_http, why, sizeof why);
		ok((rc == 0) == url_cases[i].ok, "url %zu '%s' %s (allow_http=%d)", i,
		   printable(url, name, sizeof name), url_cases[i].ok ? "taken" : "refused",
		   url_cases[i].allow_http);
		if (!url_cases[i].ok && !ok(strncmp(why, url_cases[i].why,
						    strlen(url_cases[i].why)) == 0,
					    "url %zu: reason", i))
			printf("#   got: '%s'\n#   want: '%s...'\n", why, url_cases[i].why);
		if (!url_cases[i].ok)
			ok(!strchr(why, '?') && !strstr(why, "Signature") && !strstr(why, "pw"),
			   "url %zu: the reason shows no query or password", i);
	}
}

/* Names that curl reads as another host than the text says. */
static void test_curl_agreement(void)
{
	char *hosts[] = { "0x7f000002", "127.2", "::1", "127.0.0.2" };
	char why[200];

	ok(urlpolicy_check("https://0x7f000002/x", hosts, 4, false, why, sizeof why) < 0,
	   "'0x7f000002' is listed, but curl reads it as 127.0.0.2: refused");
	is_str(why, "a URL that curl would read differently", "curl disagreement: reason");
	ok(urlpolicy_check("https://127.2/x", hosts, 4, false, why, sizeof why) < 0,
	   "'127.2' is listed, but curl reads it as 127.0.0.2: refused");
	ok(urlpolicy_check("https://[0:0::1]/x", hosts, 4, false, why, sizeof why) == 0,
	   "an IPv6 address written out in full is the same address");
}

static void test_long_url(void)
{
	char *hosts[] = { "zoom.us" };
	char url[9000], why[200];

	memcpy(url, "https://zoom.us/", 16);
	memset(url + 16, 'a', sizeof url - 17);
	url[sizeof url - 1] = '\0';
	ok(urlpolicy_check(url, hosts, 1, false, why, sizeof why) < 0, "a 9000-byte URL is refused");
	url[8000] = '\0';
	ok(urlpolicy_check(url, hosts, 1, false, why, sizeof why) == 0,
	   "an 8000-byte URL is taken");
}

static void test_display(void)
{
	char buf[256];

	is_str(urlpolicy_display("https://ssrweb.zoom.us/replay/x.mp4?Signature=s3cret&a=b#f",
				    buf, sizeof buf),
	       "https://ssrweb.zoom.us/replay/x.mp4", "display drops the query and fragment");
	is_str(urlpolicy_display("http://127.0.0.2:8080/a/b?x", buf, sizeof buf),
	       "http://127.0.0.2:8080/a/b", "display keeps an explicit port");
	is_str(urlpolicy_display("https://[::1]:99/p", buf, sizeof buf), "https://[::1]:99/p",
	       "display keeps IPv6 brackets");
	is_str(urlpolicy_display("https://u:pw@zoom.us/x", buf, sizeof buf), "(unparsable URL)",
	       "display refuses userinfo rather than show it");
	is_str(urlpolicy_display("https://zoom.us?token=abc", buf, sizeof buf), "https://zoom.us",
	       "display with no path");
	is_str(urlpolicy_display("https://zoom.us/abcdefghijklmnop?q", buf, 20),
	       "https://zoom.us/...", "display too long for the buffer: host only");
}

static void test_host_of(void)
{
	char buf[URLPOLICY_HOST_MAX];

	is_str(urlpolicy_host("https://US06web.zoom.us:443/rec?x=1", buf, sizeof buf),
	       "US06web.zoom.us", "host as written");
	is_str(urlpolicy_host("https://[::1]:8443/x", buf, sizeof buf), "::1",
	       "an IPv6 host without its brackets");
	is_str(urlpolicy_host("ftp://zoom.us/x", buf, sizeof buf), "?", "unreadable: ?");
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_hosts();
	test_odd_patterns();
	test_urls();
	test_curl_agreement();
	test_long_url();
	test_display();
	test_host_of();
	curl_global_cleanup();
	return done_testing();
}
