/* The XML of S3's answers and of CompleteMultipartUpload: small flat
 * documents, read by the text of named elements (the five entities and
 * ASCII numeric references decoded). Pure. */
#ifndef ZOOM2S3_S3XML_H
#define ZOOM2S3_S3XML_H

#include <stdbool.h>
#include <stddef.h>

#include "s3.h"

/* The text of the first <tag>...</tag> in [from, to), decoded, into out.
 * Returns a pointer past the closing tag, NULL when absent or too long. */
const char *s3xml_text(const char *from, const char *to, const char *tag, char *out,
		       size_t size);

/* The next <tag>...</tag> block in [*from, to): *start and *end get its
 * inside and *from moves past it. false when there is none. */
bool s3xml_block(const char **from, const char *to, const char *tag, const char **start,
		 const char **end);

/* Drops one pair of surrounding double quotes (an ETag's). */
void s3xml_strip_quotes(char *s);

/* An <Error> document's Code, Message and Region ("" each when absent).
 * false when body is no <Error>. */
bool s3xml_error(const char *body, size_t len, char *code, size_t codesize, char *message,
		 size_t msgsize, char *region, size_t regionsize);

/* <IsTruncated>true</IsTruncated> is in body. */
bool s3xml_truncated(const char *body, size_t len);

/* Appends the <Part> blocks of one ListParts page to *parts (grown with
 * realloc; *cap its room). 0, or -1 on a malformed part or out of memory. */
int s3xml_parts(const char *body, size_t len, struct s3_part **parts, size_t *n, size_t *cap);

/* Appends the <Upload> blocks of one ListMultipartUploads page whose Key is
 * exactly key. 0, or -1 on a malformed upload or out of memory. */
int s3xml_uploads(const char *body, size_t len, const char *key, struct s3_upload **uploads,
		  size_t *n, size_t *cap);

/* Sorts parts by number: the order CompleteMultipartUpload and ListParts
 * use. */
void s3xml_sort_parts(struct s3_part *parts, size_t n);

/* The CompleteMultipartUpload document of parts (any order: sorted here),
 * ETags quoted and escaped. malloc'd, *len its length; NULL when out of
 * memory. */
char *s3xml_complete(const struct s3_part *parts, size_t n, size_t *len);

#endif
