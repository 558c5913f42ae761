/* The ceilings of the responder benchmark.
 *
 * hello_fcgi: a FastCGI responder that reads the request body and answers
 * 200 with an empty body, with the same libfcgi calls and answer headers as
 * zoom2s3.fcgi, and nothing else (no signature check, no JSON, no spool, no
 * log line): the ceiling of FastCGI under the web server.
 *
 * hello_fcgi --fsync-into SPOOL: the same, but each request's body first
 * becomes a file made durable the way zoom2s3 spools a job: written and
 * fsynced in SPOOL/tmp/, linked into SPOOL/new/, SPOOL/new/ fsynced, the
 * name in tmp/ removed. No JSON, no HMAC, no lock, no duplicate check: the
 * ceiling of a responder that makes one job durable per request on this
 * file system.
 *
 * bench/run.sh builds it with cc:
 *     cc -O2 -o hello_fcgi bench/hello_fcgi.c -lfcgi */
#define _GNU_SOURCE
#include <fcgiapp.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define BODY_MAX 65536

static int spoolfd = -1, newfd = -1;

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One body made durable under new/; 0 on success. */
static int spool_body(const char *body, size_t len, unsigned long seq)
{
	char tmp[64], dst[64];
	int fd, rc = -1;

	snprintf(tmp, sizeof tmp, "tmp/h.%ld.%lu", (long)getpid(), seq);
	snprintf(dst, sizeof dst, "new/h.%ld.%lu", (long)getpid(), seq);
	fd = openat(spoolfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (write_all(fd, body, len) == 0 && fsync(fd) == 0 &&
	    linkat(spoolfd, tmp, spoolfd, dst, 0) == 0 && fsync(newfd) == 0)
		rc = 0;
	close(fd);
	unlinkat(spoolfd, tmp, 0);
	return rc;
}

int main(int argc, char **argv)
{
	FCGX_Request request;
	static char body[BODY_MAX];
	unsigned long seq = 0;

	if (argc == 3 && strcmp(argv[1], "--fsync-into") == 0) {
		spoolfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		newfd = spoolfd < 0 ? -1 : openat(spoolfd, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (newfd < 0) {
			perror(argv[2]);
			return 1;
		}
	} else if (argc != 1) {
		fprintf(stderr, "usage: hello_fcgi [--fsync-into SPOOL]\n");
		return 2;
	}
	if (FCGX_Init() != 0 || FCGX_InitRequest(&request, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&request) >= 0) {
		size_t len = 0;
		int n;

		/* Read the whole body, as the responder does (keeping the first
		 * BODY_MAX bytes). */
		while ((n = FCGX_GetStr(body + len, (int)(sizeof body - len), request.in)) > 0)
			if ((len += (size_t)n) == sizeof body)
				len = 0;
		if (spoolfd >= 0 && spool_body(body, len, seq++) != 0)
			FCGX_PutS("Status: 503 Service Unavailable\r\nContent-Length: 0\r\n"
				  "Cache-Control: no-store\r\n\r\n", request.out);
		else
			FCGX_PutS("Status: 200 OK\r\nContent-Length: 0\r\n"
				  "Cache-Control: no-store\r\n\r\n", request.out);
		FCGX_Finish_r(&request);
	}
	FCGX_Free(&request, 1);
	return 0;
}
