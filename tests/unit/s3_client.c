/* s3_client: a small driver of src/s3.c for the integration tests
 * (tests/e2e/s3_rgw.sh): each command is one or a few calls of the s3.h
 * interface against the bucket of a zoom2s3 config file, with the AWS
 * credentials of awscreds (environment first).
 *
 *   s3_client [-v] -c CONFIG CMD ARGS...
 *     put KEY FILE [UUID FILE_ID]          one PUT; prints the ETag
 *     mpu KEY FILE PART_SIZE [UUID FILE_ID] create, upload the parts,
 *                                          check them with ListParts,
 *                                          complete; prints the ETag
 *     head KEY                             "exists=0", or "exists=1 size=N
 *                                          etag=E file_id=F uuid=U"
 *     create KEY [UUID FILE_ID]            prints the upload id
 *     upload-part KEY UPLOAD_ID N FILE     prints the ETag
 *     list-parts KEY UPLOAD_ID             "N SIZE ETAG" lines
 *     complete KEY UPLOAD_ID               with the parts ListParts reports
 *     abort KEY UPLOAD_ID
 *     list-uploads KEY                     upload ids open for KEY
 * FILE "-" is stdin. Exit status: 0 done, 10 retry, 11 give up, 12 retry
 * because the upload is gone, 2 usage or config error. On failure the
 * outcome and its sentence go to stderr, then "code=CODE status=N". */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "awscreds.h"
#include "config.h"
#include "log.h"
#include "s3.h"

static stop_flag_t stop_flag;

static void on_term(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: s3_client [-v] -c CONFIG put|mpu|head|create|upload-part|"
			"list-parts|complete|abort|list-uploads ARGS...\n");
	return 2;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 1 << 20, n = 0;
	char *buf = f ? malloc(cap) : NULL;

	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);
		char *grown;

		n += got;
		if (n < cap)
			break;
		cap *= 2;
		grown = realloc(buf, cap);
		if (!grown) {
			free(buf);
			buf = NULL;
		}
		buf = grown;
	}
	if (f && f != stdin)
		fclose(f);
	if (!buf)
		fprintf(stderr, "cannot read %s\n", path);
	*len = n;
	return buf;
}

static int finish(struct s3_client *c, enum outcome o, const struct result *r)
{
	if (o == OUTCOME_DONE)
		return 0;
	fprintf(stderr, "%s: %s\ncode=%s status=%ld\n", outcome_name(o), r->why, s3_last_code(c),
		s3_last_status(c));
	if (o == OUTCOME_GIVEUP)
		return 11;
	return s3_upload_gone(c) ? 12 : 10;
}

/* finish, with what the command made (an ETag, an upload id) on stdout
 * when it was done. */
static int finish_with(struct s3_client *c, enum outcome o, const struct result *r,
		       const char *made)
{
	if (o == OUTCOME_DONE)
		printf("%s\n", made);
	return finish(c, o, r);
}

/* Sends the file at path as the object key (a PUT with meta), or as part
 * part of the multipart upload upload_id; prints its ETag. */
static int send_file(struct s3_client *c, const char *key, const char *path,
		     const struct s3_meta *meta, const char *upload_id, int part)
{
	char etag[S3_ETAG_MAX];
	struct result r;
	size_t len;
	char *buf = read_all(path, &len);
	enum outcome o;

	if (!buf)
		return 2;
	if (upload_id)
		o = s3_mpu_upload_part(c, key, upload_id, part, buf, len, etag, &r);
	else
		o = s3_put(c, key, buf, len, meta, etag, &r);
	free(buf);
	return finish_with(c, o, &r, etag);
}

static int cmd_put(struct s3_client *c, char **argv, int argc)
{
	struct s3_meta meta = {argc > 2 ? argv[2] : NULL, argc > 3 ? argv[3] : NULL, NULL, false};

	return send_file(c, argv[0], argv[1], &meta, NULL, 0);
}

/* Upload the parts of buf, then compare what ListParts says with them. */
static enum outcome upload_parts(struct s3_client *c, const char *key, const char *id,
				 const char *buf, size_t len, size_t part_size,
				 struct s3_part *parts, size_t *n, struct result *r)
{
	struct s3_part *listed = NULL;
	size_t nlisted = 0;
	enum outcome o = OUTCOME_DONE;

	*n = 0;
	for (size_t off = 0; o == OUTCOME_DONE && (off < len || off == 0); off += part_size) {
		size_t this_len = len - off < part_size ? len - off : part_size;
		struct s3_part *p = &parts[(*n)++];

		p->number = (int)*n;
		p->size = this_len;
		o = s3_mpu_upload_part(c, key, id, p->number, buf + off, this_len, p->etag, r);
		if (len == 0)
			break;
	}
	if (o != OUTCOME_DONE)
		return o;
	o = s3_mpu_list_parts(c, key, id, &listed, &nlisted, r);
	if (o == OUTCOME_DONE && nlisted != *n)
		o = result_set(r, OUTCOME_GIVEUP, "ListParts shows %zu parts, %zu were sent",
			       nlisted, *n);
	for (size_t i = 0; o == OUTCOME_DONE && i < nlisted; i++)
		if (listed[i].number != parts[i].number || listed[i].size != parts[i].size ||
		    strcmp(listed[i].etag, parts[i].etag) != 0)
			o = result_set(r, OUTCOME_GIVEUP, "ListParts disagrees on part %d",
				       parts[i].number);
	free(listed);
	return o;
}

static int cmd_mpu(struct s3_client *c, char **argv, int argc)
{
	struct s3_meta meta = {argc > 3 ? argv[3] : NULL, argc > 4 ? argv[4] : NULL, NULL, false};
	char id[S3_UPLOAD_ID_MAX], etag[S3_ETAG_MAX];
	size_t len, part_size = strtoull(argv[2], NULL, 10), n = 0;
	struct s3_part *parts = NULL;
	struct result r;
	char *buf = read_all(argv[1], &len);
	enum outcome o;

	if (!buf || part_size == 0)
		return 2;
	parts = calloc(len / part_size + 2, sizeof *parts);
	o = s3_mpu_create(c, argv[0], &meta, id, &r);
	if (o == OUTCOME_DONE)
		o = upload_parts(c, argv[0], id, buf, len, part_size, parts, &n, &r);
	if (o == OUTCOME_DONE)
		o = s3_mpu_complete(c, argv[0], id, parts, n, false, etag, &r);
	if (o == OUTCOME_DONE)
		printf("%s\n", etag);
	else if (id[0])
		fprintf(stderr, "upload id: %s\n", id);
	free(parts);
	free(buf);
	return finish(c, o, &r);
}

static int cmd_head(struct s3_client *c, char **argv)
{
	struct s3_object obj;
	struct result r;
	enum outcome o = s3_head(c, argv[0], &obj, &r);

	if (o == OUTCOME_DONE && !obj.exists)
		printf("exists=0\n");
	else if (o == OUTCOME_DONE)
		printf("exists=1 size=%llu etag=%s file_id=%s uuid=%s\n",
		       (unsigned long long)obj.size, obj.etag, obj.file_id, obj.meeting_uuid);
	return finish(c, o, &r);
}

static int cmd_create(struct s3_client *c, char **argv, int argc)
{
	struct s3_meta meta = {argc > 1 ? argv[1] : NULL, argc > 2 ? argv[2] : NULL, NULL, false};
	char id[S3_UPLOAD_ID_MAX];
	struct result r;
	enum outcome o = s3_mpu_create(c, argv[0], &meta, id, &r);

	return finish_with(c, o, &r, id);
}

static int cmd_upload_part(struct s3_client *c, char **argv)
{
	return send_file(c, argv[0], argv[3], NULL, argv[1], atoi(argv[2]));
}

static int cmd_list_parts(struct s3_client *c, char **argv, bool complete)
{
	struct s3_part *parts = NULL;
	char etag[S3_ETAG_MAX];
	struct result r;
	size_t n = 0;
	enum outcome o = s3_mpu_list_parts(c, argv[0], argv[1], &parts, &n, &r);

	for (size_t i = 0; o == OUTCOME_DONE && !complete && i < n; i++)
		printf("%d %llu %s\n", parts[i].number, (unsigned long long)parts[i].size,
		       parts[i].etag);
	if (o == OUTCOME_DONE && complete) {
		o = s3_mpu_complete(c, argv[0], argv[1], parts, n, false, etag, &r);
		if (o == OUTCOME_DONE)
			printf("%s\n", etag);
	}
	free(parts);
	return finish(c, o, &r);
}

static int cmd_abort(struct s3_client *c, char **argv)
{
	struct result r;

	return finish(c, s3_mpu_abort(c, argv[0], argv[1], &r), &r);
}

static int cmd_list_uploads(struct s3_client *c, char **argv)
{
	struct s3_upload *ups = NULL;
	struct result r;
	size_t n = 0;
	enum outcome o = s3_mpu_list_uploads(c, argv[0], &ups, &n, &r);

	for (size_t i = 0; o == OUTCOME_DONE && i < n; i++)
		printf("%s\n", ups[i].upload_id);
	free(ups);
	return finish(c, o, &r);
}

static int run(struct s3_client *c, const char *cmd, char **argv, int argc)
{
	static const struct {
		const char *name;
		int min_args, max_args;
	} cmds[] = {
		{"put", 2, 4}, {"mpu", 3, 5}, {"head", 1, 1}, {"create", 1, 3},
		{"upload-part", 4, 4}, {"list-parts", 2, 2}, {"complete", 2, 2},
		{"abort", 2, 2}, {"list-uploads", 1, 1},
	};
	size_t i;

	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(cmd, cmds[i].name) == 0)
			break;
	if (i == sizeof cmds / sizeof cmds[0] || argc < cmds[i].min_args ||
	    argc > cmds[i].max_args)
		return usage();
	switch (i) {
	case 0: return cmd_put(c, argv, argc);
	case 1: return cmd_mpu(c, argv, argc);
	case 2: return cmd_head(c, argv);
	case 3: return cmd_create(c, argv, argc);
	case 4: return cmd_upload_part(c, argv);
	case 5: return cmd_list_parts(c, argv, false);
	case 6: return cmd_list_parts(c, argv, true);
	case 7: return cmd_abort(c, argv);
	default: return cmd_list_uploads(c, argv);
	}
}

int main(int argc, char **argv)
{
	const char *config_path = NULL;
	bool verbose = false;
	struct config cfg;
	struct awscreds *creds = NULL;
	struct s3_client *c = NULL;
	char err[512];
	int opt, rc = 2;

	while ((opt = getopt(argc, argv, "vc:")) != -1) {
		if (opt == 'v')
			verbose = true;
		else if (opt == 'c')
			config_path = optarg;
		else
			return usage();
	}
	if (!config_path || optind >= argc)
		return usage();
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	log_init("s3_client", LOG_DEST_STDERR, verbose);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (config_load(config_path, CONFIG_ANY, &cfg, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		goto out_global;
	}
	creds = awscreds_new(&cfg);
	c = creds ? s3_client_new(&cfg, creds, &stop_flag, err, sizeof err) : NULL;
	if (!c)
		fprintf(stderr, "%s\n", creds ? err : "out of memory");
	else
		rc = run(c, argv[optind], argv + optind + 1, argc - optind - 1);
	s3_client_free(c);
	awscreds_free(creds);
	config_free(&cfg);
out_global:
	curl_global_cleanup();
	return rc;
}
