/* s3xml.c: reading S3's answers and writing CompleteMultipartUpload,
 * without a server (test_s3 sends them through a stub, s3_rgw.sh to RGW). */
#include <stdlib.h>
#include <string.h>

#include "s3xml.h"
#include "tap.h"

static void test_text(void)
{
	const char *doc = "<R><Key>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#9;&#x41;"
			  "</Key><Empty></Empty><Key>second</Key></R>";
	const char *end = doc + strlen(doc), *next;
	const char *unclosed = "<Key>open";
	char out[64], small[4];

	next = s3xml_text(doc, end, "Key", out, sizeof out);
	is_str(out, "a & b <c> \"d\" 'e' \tA", "entities and ASCII references decoded");
	ok(next && s3xml_text(next, end, "Key", out, sizeof out) && strcmp(out, "second") == 0,
	   "the returned pointer finds the next one");
	ok(s3xml_text(doc, end, "Empty", out, sizeof out) && out[0] == '\0', "an empty element");
	ok(!s3xml_text(doc, end, "Missing", out, sizeof out), "an absent element");
	ok(!s3xml_text(doc, end, "Key", small, sizeof small), "a value too long for out");
	ok(!s3xml_text(unclosed, unclosed + strlen(unclosed), "Key", out, sizeof out),
	   "an unclosed element");
}

static void test_error(void)
{
	const char *err = "<?xml version=\"1.0\"?>\n<Error><Code>PermanentRedirect</Code>"
			  "<Message>Use the endpoint &amp; region</Message><Region>eu-west-1"
			  "</Region><RequestId>X</RequestId></Error>";
	char code[64], msg[128], region[32];

	ok(s3xml_error(err, strlen(err), code, sizeof code, msg, sizeof msg, region, sizeof region),
	   "an <Error> document");
	is_str(code, "PermanentRedirect", "its Code");
	is_str(msg, "Use the endpoint & region", "its Message");
	is_str(region, "eu-west-1", "its Region");
	ok(!s3xml_error("<ListPartsResult/>", 18, code, sizeof code, msg, sizeof msg, region,
			sizeof region) && !code[0], "another document is no error");
	ok(!s3xml_error(NULL, 0, code, sizeof code, msg, sizeof msg, region, sizeof region),
	   "no body is no error");
}

static void test_parts(void)
{
	const char *page = "<ListPartsResult><IsTruncated>true</IsTruncated>"
			   "<Part><PartNumber>2</PartNumber><ETag>\"bb\"</ETag><Size>5</Size></Part>"
			   "<Part><PartNumber>1</PartNumber><ETag>&quot;aa&quot;</ETag>"
			   "<Size>16777216</Size></Part></ListPartsResult>";
	const char *bad = "<Part><PartNumber>3</PartNumber><Size>5</Size></Part>";
	struct s3_part *parts = NULL;
	size_t n = 0, cap = 0;

	ok(s3xml_truncated(page, strlen(page)), "IsTruncated true");
	ok(!s3xml_truncated("<IsTruncated>false</IsTruncated>", 32), "IsTruncated false");
	is_int(s3xml_parts(page, strlen(page), &parts, &n, &cap), 0, "a ListParts page reads");
	is_int(n, 2, "two parts");
	s3xml_sort_parts(parts, n);
	ok(parts[0].number == 1 && parts[0].size == 16777216 && strcmp(parts[0].etag, "aa") == 0,
	   "sorted; the ETag's quotes (as entities) dropped");
	ok(parts[1].number == 2 && strcmp(parts[1].etag, "bb") == 0, "the second part");
	is_int(s3xml_parts(bad, strlen(bad), &parts, &n, &cap), -1, "a part without ETag: -1");
	free(parts);
}

static void test_uploads(void)
{
	const char *page = "<ListMultipartUploadsResult>"
			   "<Upload><Key>a/b.mp4</Key><UploadId>U1</UploadId></Upload>"
			   "<Upload><Key>a/b.mp4.other</Key><UploadId>U2</UploadId></Upload>"
			   "<Upload><Key>a/b.mp4</Key><UploadId>U3</UploadId></Upload>"
			   "</ListMultipartUploadsResult>";
	struct s3_upload *ups = NULL;
	size_t n = 0, cap = 0;

	is_int(s3xml_uploads(page, strlen(page), "a/b.mp4", &ups, &n, &cap), 0, "a page reads");
	is_int(n, 2, "only the uploads of exactly this key");
	ok(n == 2 && strcmp(ups[0].upload_id, "U1") == 0 && strcmp(ups[1].upload_id, "U3") == 0,
	   "their upload ids");
	free(ups);
}

static void test_complete(void)
{
	struct s3_part parts[] = { { 2, 5, "b2", "" }, { 1, 5, "a<&>\"1", "" } };
	size_t len = 0;
	char *xml = s3xml_complete(parts, 2, &len);
	char s[32] = "\"quoted\"", one[4] = "\"";

	ok(xml && len == strlen(xml), "a document, its length");
	is_str(xml, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		    "<Part><PartNumber>1</PartNumber><ETag>\"a&lt;&amp;&gt;&quot;1\"</ETag></Part>"
		    "<Part><PartNumber>2</PartNumber><ETag>\"b2\"</ETag></Part>"
		    "</CompleteMultipartUpload>", "sorted, ETags quoted and escaped");
	free(xml);
	{
		struct s3_part sums[] = { { 1, 5, "e1", "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=" },
					  { 2, 5, "e2", "" } };
		const char *page = "<ListPartsResult><Part><PartNumber>1</PartNumber><ETag>&quot;e1"
				   "&quot;</ETag><Size>5</Size><ChecksumSHA256>abc=</ChecksumSHA256>"
				   "</Part></ListPartsResult>";
		struct s3_part *got = NULL;
		size_t n = 0, cap = 0;

		xml = s3xml_complete(sums, 2, &len);
		is_str(xml, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			    "<Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag><ChecksumSHA256>"
			    "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=</ChecksumSHA256></Part>"
			    "<Part><PartNumber>2</PartNumber><ETag>\"e2\"</ETag></Part>"
			    "</CompleteMultipartUpload>", "each part's ChecksumSHA256 where it has one");
		free(xml);
		ok(s3xml_parts(page, strlen(page), &got, &n, &cap) == 0 && n == 1 &&
			   strcmp(got[0].checksum_sha256, "abc=") == 0,
		   "ListParts: a part's ChecksumSHA256 is read");
		free(got);
	}
	s3xml_strip_quotes(s);
	is_str(s, "quoted", "strip_quotes");
	s3xml_strip_quotes(one);
	is_str(one, "\"", "a lone quote stays");
}

int main(void)
{
	test_text();
	test_error();
	test_parts();
	test_uploads();
	test_complete();
	return done_testing();
}
