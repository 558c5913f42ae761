/* A one-thread HTTP/1.1 stub server on 127.0.0.1 for the C unit tests that
 * talk HTTP (awscreds' IMDS, s3's error handling). Each connection carries
 * one request; the handler answers it with httpstub_reply and the
 * connection is closed. Header-only: each test is one program. */
#ifndef ZOOM2S3_HTTPSTUB_H
#define ZOOM2S3_HTTPSTUB_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct httpstub_request {
	char method[16];
	char target[2048];   /* path and query, as sent */
	char headers[16384]; /* the header lines, CRLF-separated */
	char *body;          /* malloc'd, NUL-terminated; body_len bytes */
	size_t body_len;
};

/* Writes the answer to fd (httpstub_reply). */
typedef void (*httpstub_handler)(void *ctx, const struct httpstub_request *req, int fd);

struct httpstub {
	int listen_fd;
	int port;
	pthread_t thread;
	httpstub_handler handler;
	void *ctx;
};

/* The value of header name (case-insensitive), or NULL. */
static inline const char *httpstub_header(const struct httpstub_request *req, const char *name,
					  char *out, size_t size)
{
	size_t n = strlen(name);

	for (const char *line = req->headers; line && *line;) {
		const char *eol = strstr(line, "\r\n");
		size_t len = eol ? (size_t)(eol - line) : strlen(line);

		if (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			size_t vlen;

			while (*v == ' ')
				v++;
			vlen = (size_t)(line + len - v);
			if (vlen >= size)
				vlen = size - 1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return out;
		}
		line = eol ? eol + 2 : NULL;
	}
	return NULL;
}

static inline void httpstub_reply(int fd, int status, const char *extra_headers,
				  const char *body, size_t len)
{
	char head[4096];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
			 status, len, extra_headers ? extra_headers : "");

	if (n > 0 && write(fd, head, (size_t)n) < 0)
		return;
	if (len && write(fd, body, len) < 0)
		return;
}

static inline int httpstub_read_request(int fd, struct httpstub_request *req)
{
	char buf[16384 + 4096], clen[32];
	size_t got = 0, want;
	char *end = NULL;

	memset(req, 0, sizeof *req);
	while (!end) {
		ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);

		if (n <= 0)
			return -1;
		got += (size_t)n;
		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end && got == sizeof buf - 1)
			return -1;
	}
	*end = '\0';
	if (sscanf(buf, "%15s %2047s", req->method, req->target) != 2)
		return -1;
	snprintf(req->headers, sizeof req->headers, "%s", strstr(buf, "\r\n") + 2);
	want = httpstub_header(req, "Content-Length", clen, sizeof clen) ? strtoul(clen, NULL, 10)
									  : 0;
	req->body = malloc(want + 1);
	if (!req->body)
		return -1;
	req->body_len = got - (size_t)(end + 4 - buf);
	if (req->body_len > want)
		req->body_len = want;
	memcpy(req->body, end + 4, req->body_len);
	/* A client that waits for "100 Continue" gets it here. */
	if (req->body_len < want && httpstub_header(req, "Expect", clen, sizeof clen) &&
	    write(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
		return -1;
	while (req->body_len < want) {
		ssize_t n = read(fd, req->body + req->body_len, want - req->body_len);

		if (n <= 0)
			return -1;
		req->body_len += (size_t)n;
	}
	req->body[req->body_len] = '\0';
	return 0;
}

static inline void *httpstub_loop(void *arg)
{
	struct httpstub *s = arg;

	for (;;) {
		struct httpstub_request req;
		int fd = accept(s->listen_fd, NULL, NULL);

		if (fd < 0)
			break; /* shut down */
		if (httpstub_read_request(fd, &req) == 0)
			s->handler(s->ctx, &req, fd);
		free(req.body);
		close(fd);
	}
	return NULL;
}

/* 0 when listening (s->port set), -1 otherwise. */
static inline int httpstub_start(struct httpstub *s, httpstub_handler handler, void *ctx)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;

	s->handler = handler;
	s->ctx = ctx;
	s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(s->listen_fd, 16) < 0 ||
	    getsockname(s->listen_fd, (struct sockaddr *)&a, &alen) < 0)
		return -1;
	s->port = ntohs(a.sin_port);
	return pthread_create(&s->thread, NULL, httpstub_loop, s) == 0 ? 0 : -1;
}

static inline void httpstub_stop(struct httpstub *s)
{
	shutdown(s->listen_fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
}

#endif
