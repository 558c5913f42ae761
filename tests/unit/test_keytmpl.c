#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keytmpl.h"
#include "tap.h"

static struct keyvars base_vars(void)
{
	struct keyvars v;

	memset(&v, 0, sizeof v);
	v.topic = "Weekly [CS101]";
	v.groups[1] = "CS101";
	v.groups[2] = "g2";
	v.groups[9] = "g9";
	v.meeting_id = "87565330005";
	v.uuid = "WEz4RT2lSyKx2MD9Z+lYfA==";
	v.host_id = "x1yCzABCDEfg23HiJKl4mN";
	v.host_email = "jchill@example.com";
	v.account_id = "AAAAAABBBB";
	v.file_id = "388ffb46-1541-460d-8447-4624451a1db7";
	v.file_type = "MP4";
	v.recording_type = "shared_screen_with_speaker_view";
	v.ext = "mp4";
	v.start_time = 1626212691; /* 2021-07-13T21:44:51Z */
	v.recording_start = 1616537697; /* 2021-03-23T22:14:57Z */
	v.recording_end = 1616541341; /* 2021-03-23T23:15:41Z */
	v.has_start_time = v.has_recording_start = v.has_recording_end = 1;
	return v;
}

static char out[KEYTMPL_BUF];
static char err[256];

/* Expands tmpl and checks the key and return value. */
static void expands(const char *tmpl, const struct keyvars *v, const char *want, int want_rc,
		    const char *name)
{
	int rc;

	memset(out, 'X', sizeof out);
	err[0] = '\0';
	rc = keytmpl_expand(tmpl, v, out, sizeof out, err, sizeof err);
	is_int(rc, want_rc, name);
	if (want)
		is_str(out, want, name);
}

/* One value of {topic} or {uuid} and what a template makes of it. */
struct value_case {
	const char *field, *value, *tmpl, *want, *name;
};

/* Sets each case's value in v (field "topic" or "uuid") and expands its
 * template; the list ends with a NULL field. v keeps the last value. */
static void expand_values(struct keyvars *v, const struct value_case *cases)
{
	for (; cases->field; cases++) {
		if (strcmp(cases->field, "topic") == 0)
			v->topic = cases->value;
		else
			v->uuid = cases->value;
		expands(cases->tmpl, v, cases->want, 0, cases->name);
	}
}

static void test_placeholders(void)
{
	struct keyvars v = base_vars();

	expands("{topic}", &v, "Weekly [CS101]", 0, "{topic}");
	expands("{1}", &v, "CS101", 0, "{1}");
	expands("{2}-{9}", &v, "g2-g9", 0, "{2} and {9}");
	expands("a{3}b", &v, "ab", 0, "a group the regex did not set expands to nothing");
	expands("{meeting_id}", &v, "87565330005", 0, "{meeting_id}");
	expands("{uuid}", &v, "WEz4RT2lSyKx2MD9Z+lYfA==", 0, "{uuid} keeps + and =");
	expands("{host_id}", &v, "x1yCzABCDEfg23HiJKl4mN", 0, "{host_id}");
	expands("{host_email}", &v, "jchill@example.com", 0, "{host_email}");
	expands("{account_id}", &v, "AAAAAABBBB", 0, "{account_id}");
	expands("{file_id}", &v, "388ffb46-1541-460d-8447-4624451a1db7", 0, "{file_id}");
	expands("{file_type}", &v, "MP4", 0, "{file_type}");
	expands("{recording_type}", &v, "shared_screen_with_speaker_view", 0,
		"{recording_type}");
	expands("x.{ext}", &v, "x.mp4", 0, "{ext}");
	expands("{start_time:%Y-%m-%d_%H%M%S}", &v, "2021-07-13_214451", 0,
		"{start_time:FMT}");
	expands("{recording_start:%Y%m%d_%H%M%S}", &v, "20210323_221457", 0,
		"{recording_start:FMT}");
	expands("{recording_end:%H%M%S}", &v, "231541", 0, "{recording_end:FMT}");
	expands("{recording_start:%H:%M}", &v, "22:14", 0, "a ':' inside a format is kept");
	expands("{recording_start:%Y/%m/%d}/x", &v, "2021/03/23/x", 0,
		"'/' in an strftime format makes segments");
	expands("{recording_start:/%Y//%m/}/x", &v, "2021/03/x", 0,
		"strftime output follows the segment rules too");
	expands("{recording_start:%s}/{recording_end:%%s%s%%%s}", &v, "1616537697/%s1616541341%1616541341",
		0, "%s is the epoch second whatever TZ says; %%s is literal");
	expands("{recording_start:%Y%n%m}", &v, "202103", 0,
		"a control character from strftime is dropped");
	expands("courses/uploads/{1}/GMT{recording_start:%Y%m%d_%H%M%S}_Recording.{ext}", &v,
		"courses/uploads/CS101/GMT20210323_221457_Recording.mp4", 0, "seed template");
	expands("{topic}/{recording_start:%Y-%m-%d_%H%M%S}_{recording_type}.{ext}", &v,
		"Weekly [CS101]/2021-03-23_221457_shared_screen_with_speaker_view.mp4", 0,
		"default template");

	v.has_start_time = 0;
	expands("{start_time:%Y}/a", &v, "a", 0, "an absent time expands to nothing");
	v.has_recording_start = 0;
	v.has_recording_end = 0;
	v.topic = v.groups[1] = v.meeting_id = v.uuid = NULL;
	expands("{topic}{1}{meeting_id}{uuid}{recording_start:%Y}{recording_end:%Y}/f", &v, "f",
		0, "absent values expand to nothing");
}

static void test_sanitising(void)
{
	struct keyvars v = base_vars();

	expand_values(&v, (const struct value_case[]){
		{ "topic", "a/b", "t/{topic}", "t/a_b", "'/' from a value becomes '_'" },
		{ "topic", "/", "{topic}", "_", "a lone '/' value becomes '_'" },
		{ "topic", "a\x01" "b\x1f" "c\x7f" "d\n\te", "{topic}", "abcde",
		  "control characters are dropped" },
		{ "topic", ".", "x/{topic}/y", "x/_/y", "a '.' segment becomes '_'" },
		{ "topic", "..", "x/{topic}/y", "x/_/y", "a '..' segment becomes '_'" },
		{ NULL, NULL, NULL, NULL, NULL } });
	expands("{topic}", &v, "_", 0, "a '..' key becomes '_'");
	expand_values(&v, (const struct value_case[]){
		{ "topic", "...", "x/{topic}", "x/...", "'...' is an ordinary name" },
		{ "topic", ".\x01.", "x/{topic}", "x/_",
		  "'..' made by dropping a control character" },
		{ "topic", "../../etc/passwd", "{topic}", ".._.._etc_passwd",
		  "no path traversal from a value" },
		{ NULL, NULL, NULL, NULL, NULL } });
	expands("./a/../b/.", &v, "_/a/_/b/_", 0, "'.' and '..' from the template too");
	expands("/lead/x", &v, "lead/x", 0, "leading '/' dropped");
	expands("///a//b///", &v, "a/b", 0, "empty segments dropped");
	v.topic = "";
	expands("a/{topic}/b", &v, "a/b", 0, "an empty value leaves no empty segment");
	expands("{topic}/{ext}", &v, "mp4", 0, "an empty first segment leaves no leading '/'");
	expands("{topic}", &v, NULL, -1, "an empty key is an error");
	ok(strstr(err, "empty") != NULL, "the error says the key is empty");
	expands("/{topic}/", &v, NULL, -1, "slashes only: empty key");

	expand_values(&v, (const struct value_case[]){
		{ "topic", "Μάθημα Φυσικής", "{topic}", "Μάθημα Φυσικής",
		  "Greek topic kept byte-exact" },
		{ "topic", "درس الرياضيات", "{topic}", "درس الرياضيات",
		  "Arabic topic kept byte-exact" },
		{ "topic", "Unity_4 зум 18:40 [142]", "{topic}", "Unity_4 зум 18:40 [142]",
		  "Cyrillic topic kept byte-exact" },
		{ "topic", "Класс 🎓 ✏️ 👩‍🏫", "{topic}", "Класс 🎓 ✏️ 👩‍🏫", "emoji kept byte-exact" },
		{ "topic", "Comité hebdomadaire", "{topic}", "Comité hebdomadaire",
		  "accents kept" },
		{ "topic", "a\xff" "b\xc3" "c\xed\xa0\x80" "d\xc0\xaf", "{topic}", "a_b_c___d__",
		  "bytes that are not UTF-8 become '_'" },
		{ "topic", "o\xe0\x80\xaf" "f\xf0\x80\x80\xaf" "m\xf4\x90\x80\x80" "k\xf4\x8f\xbf\xbf",
		  "{topic}", "o___f____m____k\xf4\x8f\xbf\xbf",
		  "overlong forms and code points above U+10FFFF become '_'" },
		{ "topic", "end\xe2\x82", "{topic}", "end__", "a truncated sequence becomes '_'" },
		{ "uuid", "aB3dEf9/gHiJkLmNoPq==", "m/{uuid}", "m/aB3dEf9_gHiJkLmNoPq==",
		  "uuid with '/'" },
		{ "uuid", "/ajXp112QmuoKj4854875==", "{uuid}", "_ajXp112QmuoKj4854875==",
		  "uuid starting with '/'" },
		{ "uuid", "ab//cd", "{uuid}", "ab__cd", "uuid with '//'" },
		{ NULL, NULL, NULL, NULL, NULL } });
}

static void test_length(void)
{
	struct keyvars v = base_vars();
	char *big = malloc(7000), *tmpl = malloc(3000);
	size_t i;

	if (!big || !tmpl)
		abort();
	memset(big, 'a', 1024);
	big[1024] = '\0';
	v.topic = big;
	expands("{topic}", &v, big, 0, "1024 bytes is within the limit");
	big[1024] = 'b';
	big[1025] = '\0';
	expands("{topic}", &v, big, 1, "1025 bytes: over the limit, key kept whole");
	ok(strstr(err, "1025") != NULL, "the error gives the length");
	memset(big, 'c', 6000);
	big[6000] = '\0';
	expands("{topic}", &v, NULL, 1, "6000 bytes: over the limit");
	is_int(strlen(out), KEYTMPL_BUF - 1, "cut at outlen-1");
	for (i = 0; i < 3000; i++)
		memcpy(big + 2 * i, "\xc3\xa9", 2);
	big[6000] = '\0';
	expands("{topic}", &v, NULL, 1, "6000 bytes of 'é': over the limit");
	is_int(strlen(out), KEYTMPL_BUF - 2, "cut before a split character");
	ok(memcmp(out + strlen(out) - 2, "\xc3\xa9", 2) == 0, "ends on a whole character");

	/* 2000 slashes in the template vanish: the limit is on the result. */
	memset(tmpl, '/', 2000);
	strcpy(tmpl + 2000, "{topic}");
	memset(big, 'd', 1000);
	big[1000] = '\0';
	expands(tmpl, &v, big, 0, "the limit applies after empty segments are dropped");
	memset(tmpl, 0, 3000);
	for (i = 0; i < 400; i++)
		memcpy(tmpl + 3 * i, "../", 3);
	strcpy(tmpl + 1200, "k");
	expands(tmpl, &v, NULL, 0, "1201 bytes of '../' fold to 801: within the limit");
	is_int(strlen(out), 801, "each '..' counts as one byte");
	free(big);
	free(tmpl);
}

static void invalid(const char *tmpl, const char *needle, const char *name)
{
	err[0] = '\0';
	is_int(keytmpl_validate(tmpl, err, sizeof err), -1, name);
	if (!ok(strstr(err, needle) != NULL, "message names %s", needle))
		printf("#   err: %s\n", err);
}

static void test_validate(void)
{
	static const char *const bad[][3] = { /* template, what the message names, test */
		{ "{foo}", "{foo}", "unknown placeholder" },
		{ "a/{topic}/{Topic}", "{Topic}", "placeholders are case-sensitive" },
		{ "{0}", "{0}", "{0} is unknown" },
		{ "{10}", "{10}", "{10} is unknown" },
		{ "{}", "{}", "empty placeholder" },
		{ "{topic", "{topic", "unclosed brace" },
		{ "{recording_start:%Y", "{recording_start:%Y", "unclosed brace after a format" },
		{ "topic}", "'}'", "lone closing brace" },
		{ "{a{topic}}", "{a", "nested brace" },
		{ "{start_time}", "start_time", "a time needs a format" },
		{ "{recording_end:}", "recording_end", "empty format" },
		{ "{topic:%Y}", "{topic:%Y}", "text placeholder with a format" },
		{ "", "empty", "empty template" },
	};
	struct keyvars v = base_vars();

	is_int(keytmpl_validate("courses/uploads/{1}/GMT{recording_start:%Y%m%d_%H%M%S}_Recording.{ext}",
				err, sizeof err),
	       0, "seed template is valid");
	is_int(keytmpl_validate("{topic}/{recording_start:%Y-%m-%d_%H%M%S}_{recording_type}.{ext}",
				err, sizeof err),
	       0, "default template is valid");
	is_int(keytmpl_validate("{topic}{1}{2}{3}{4}{5}{6}{7}{8}{9}{meeting_id}{uuid}{host_id}"
				"{host_email}{account_id}{file_id}{file_type}{recording_type}{ext}"
				"{start_time:%Y}{recording_start:%Y/%m}{recording_end:%H:%M}",
				err, sizeof err),
	       0, "every placeholder is known");
	is_int(keytmpl_validate("plain/key.mp4", err, sizeof err), 0, "no placeholder is fine");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		invalid(bad[i][0], bad[i][1], bad[i][2]);
	expands("{foo}", &v, NULL, -1, "expand refuses an invalid template too");
}

static void suffix(const char *key, const char *value, const char *want, const char *name)
{
	char buf[KEYTMPL_BUF];

	snprintf(buf, sizeof buf, "%s", key);
	is_int(keytmpl_add_suffix(buf, sizeof buf, value), 0, name);
	is_str(buf, want, name);
}

static void test_suffix(void)
{
	char small[16] = "a/b.mp4";

	suffix("a/b.mp4", "audio_only", "a/b-audio_only.mp4", "suffix before the extension");
	suffix("a/b.tar.gz", "x", "a/b.tar-x.gz", "before the last '.'");
	suffix("a.d/b", "x", "a.d/b-x", "a '.' of an earlier segment is no extension");
	suffix("key", "x", "key-x", "no extension: at the end");
	suffix("a/.hidden", "x", "a/.hidden-x", "a leading '.' is no extension");
	suffix("a/b.mp4", "p/q", "a/b-p_q.mp4", "'/' in the value becomes '_'");
	suffix("a/b.mp4", "p\x01q\x7f", "a/b-pq.mp4", "control characters dropped");
	suffix("a/b.mp4", "зум", "a/b-зум.mp4", "UTF-8 kept");
	suffix("b.mp4", "", "b-.mp4", "empty value: just the dash");
	is_int(keytmpl_add_suffix(small, sizeof small, "12345678"), -1, "one byte short: -1");
	is_str(small, "a/b.mp4", "key unchanged when it does not fit");
	is_int(keytmpl_add_suffix(small, sizeof small, "1234567"), 0, "fits exactly");
	is_str(small, "a/b-1234567.mp4", "exact fit");
}

int main(void)
{
	/* Keys are in UTC whatever the server's zone: test from a zone that is
	 * not UTC, at an offset of half an hour. */
	setenv("TZ", "XST-5:30", 1); /* POSIX form: no tzdata needed */
	tzset();
	test_placeholders();
	test_sanitising();
	test_length();
	test_validate();
	test_suffix();
	return done_testing();
}
