/* libFuzzer target: key_template checking, expansion and suffixes.
 * Input: the template, then '\n'-separated values (topic, groups 1 and 2,
 * meeting_id, uuid, host_id, host_email, account_id, file_id, file_type,
 * recording_type, ext, a suffix). Every key that comes out must obey the
 * contract's rules. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keytmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_VALUES 13

/* A key as the contract wants it: no leading '/', no empty, "." or ".."
 * segment, no control character. */
static void check_key(const char *key)
{
	const char *seg = key;

	if (!*key)
		return;
	for (const char *p = key;; p++) {
		if (*p && (unsigned char)*p < 0x20)
			abort();
		if (*p == 0x7f)
			abort();
		if (*p == '/' || !*p) {
			size_t n = (size_t)(p - seg);

			if (n == 0 || (n == 1 && seg[0] == '.') ||
			    (n == 2 && seg[0] == '.' && seg[1] == '.'))
				abort();
			seg = p + 1;
		}
		if (!*p)
			break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	const char *values[N_VALUES] = { 0 };
	char key[KEYTMPL_BUF] = "", err[256];
	struct keyvars v;
	char *p;
	size_t n = 0;
	int valid, rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	p = strchr(text, '\n');
	if (p) {
		*p++ = '\0';
		while (p && n < N_VALUES) {
			values[n++] = p;
			p = strchr(p, '\n');
			if (p)
				*p++ = '\0';
		}
	}
	memset(&v, 0, sizeof v);
	v.topic = values[0];
	v.groups[1] = values[1];
	v.groups[2] = values[2];
	v.meeting_id = values[3];
	v.uuid = values[4];
	v.host_id = values[5];
	v.host_email = values[6];
	v.account_id = values[7];
	v.file_id = values[8];
	v.file_type = values[9];
	v.recording_type = values[10];
	v.ext = values[11];
	v.start_time = (time_t)1 << 60; /* beyond gmtime: expands to nothing */
	v.recording_start = 1616537697;
	v.recording_end = -86400 * 365;
	v.has_start_time = v.has_recording_start = v.has_recording_end = 1;

	valid = keytmpl_validate(text, err, sizeof err) == 0;
	rc = keytmpl_expand(text, &v, key, sizeof key, err, sizeof err);
	if (!valid && rc != -1)
		abort(); /* expand must refuse what validate refuses */
	if (rc >= 0 && strlen(key) >= sizeof key)
		abort();
	if (rc == 0 && (strlen(key) > KEYTMPL_MAX_KEY || strlen(key) == 0))
		abort();
	if (rc == 0)
		check_key(key); /* an over-long key (1) is cut anywhere: only its bytes count */
	if (rc >= 0) {
		for (const char *q = key; *q; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				abort();
		if (keytmpl_add_suffix(key, sizeof key, values[12] ? values[12] : "") == 0) {
			for (const char *q = key; *q; q++)
				if ((unsigned char)*q < 0x20 || *q == 0x7f)
					abort();
		}
	}
	free(text);
	return 0;
}
