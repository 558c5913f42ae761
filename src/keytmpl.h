/* key_template: checking a template and expanding it for one file. */
#ifndef ZOOM2S3_KEYTMPL_H
#define ZOOM2S3_KEYTMPL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define KEYTMPL_MAX_KEY 1024 /* S3's limit, in bytes */
#define KEYTMPL_BUF 4096     /* room to hold (and report) an over-long key */

/* The values of one file. Any pointer may be NULL (the event lacked it);
 * it then expands to "". Times are epoch seconds; has_* says present. */
struct keyvars {
	const char *topic;
	const char *groups[10];      /* groups[1..9] from topic_regex */
	const char *meeting_id;      /* decimal text of the numeric id */
	const char *uuid, *host_id, *host_email, *account_id;
	const char *file_id, *file_type, *recording_type, *ext; /* ext lower-cased by caller */
	time_t start_time, recording_start, recording_end;
	int has_start_time, has_recording_start, has_recording_end;
};

/* 0 when tmpl uses only known placeholders and well-formed braces; else -1
 * with a message naming the offending placeholder. */
int keytmpl_validate(const char *tmpl, char *err, size_t errlen);

/* Expands tmpl with the contract's sanitising rules into out (outlen at
 * least KEYTMPL_BUF). Returns 0 for a good key; 1 when the key is over
 * KEYTMPL_MAX_KEY bytes (out still holds it, cut at outlen-1: the job is
 * spooled and the spooler fails it with a clear last_error); -1 with err
 * when the key comes out empty. */
int keytmpl_expand(const char *tmpl, const struct keyvars *v, char *out, size_t outlen,
		   char *err, size_t errlen);

/* Puts "-" + value (value sanitised like a placeholder) before the
 * extension of key (the last '.' of the last segment, else at the end), in
 * place. -1 when it does not fit keysize. */
int keytmpl_add_suffix(char *key, size_t keysize, const char *value);

#endif
