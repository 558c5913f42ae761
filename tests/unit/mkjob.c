/* mkjob SPOOL_DIR: spools the job read as JSON on stdin through the
 * responder's own enqueue (spool_enqueue), so the Python rigs make jobs the
 * way the project does instead of with a copy of it. Prints the job's name.
 * Exit 0 spooled; 1 a job of that name is already in the spool (nothing
 * written); 2 usage, a job that does not parse, or a spool error. */
#include <stdio.h>
#include <stdlib.h>

#include "job.h"
#include "spool.h"

#define JOB_TEXT_MAX (1024 * 1024)

static char *read_stdin(size_t *len)
{
	char *text = malloc(JOB_TEXT_MAX + 1);

	if (!text)
		return NULL;
	*len = fread(text, 1, JOB_TEXT_MAX + 1, stdin);
	if (ferror(stdin) || *len > JOB_TEXT_MAX) {
		free(text);
		return NULL;
	}
	text[*len] = '\0';
	return text;
}

int main(int argc, char **argv)
{
	struct spool sp;
	struct job *job = NULL;
	char err[1024], name[SPOOL_NAME_MAX];
	size_t len = 0, spooled = 0;
	char *text;
	int status = 2;

	if (argc != 2) {
		fprintf(stderr, "usage: mkjob SPOOL_DIR < job.json\n");
		return 2;
	}
	text = read_stdin(&len);
	if (!text) {
		fprintf(stderr, "mkjob: cannot read the job from stdin (over 1 MiB?)\n");
		return 2;
	}
	job = job_parse(text, len, err, sizeof err);
	free(text);
	if (!job) {
		fprintf(stderr, "mkjob: %s\n", err);
		return 2;
	}
	if (spool_job_name(job_get_str(job, "recording_file_id"), name, sizeof name) != SPOOL_OK) {
		fprintf(stderr, "mkjob: the job has no usable recording_file_id\n");
		goto out;
	}
	if (spool_open(&sp, argv[1], false, err, sizeof err) != SPOOL_OK) {
		fprintf(stderr, "mkjob: %s\n", err);
		goto out;
	}
	if (spool_enqueue(&sp, &job, 1, &spooled, err, sizeof err) != SPOOL_OK) {
		fprintf(stderr, "mkjob: %s\n", err);
	} else if (spooled == 0) {
		fprintf(stderr, "mkjob: %s is already in the spool\n", name);
		status = 1;
	} else {
		printf("%s\n", name);
		status = 0;
	}
	spool_close(&sp);
out:
	job_free(job);
	return status;
}
