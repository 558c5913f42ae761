/* An LD_PRELOAD shim that makes a spool misbehave for the tests, where a
 * test cannot mount a small or read-only file system (no CAP_SYS_ADMIN),
 * and that holds a responder in the middle of a request so a test can
 * kill it there (tests/e2e/responder_chaos.py).
 *
 * Inert unless the process is zoom2s3.fcgi and these are set:
 *   ZOOM2S3_SHIM_DIR      only calls on files under this directory act
 *   ZOOM2S3_SHIM_CONTROL  a file whose first line is the mode, read at every
 *                         call (so a test changes it while requests run):
 *     ok            nothing
 *     enospc        write() and fsync() fail with ENOSPC (a full disk)
 *     erofs         creating, linking, renaming, unlinking and mkdir fail
 *                   with EROFS (a read-only file system)
 *     hold-write    write() waits while the mode stays hold-write
 *     hold-link     the second linkat() into new/ of a request waits (a part
 *                   of the event is in new/); a write starts a request
 *     hold-fsync    fsync() of a directory waits (all jobs in new/, before
 *                   the answer)
 *     delay-MS      write() sleeps MS milliseconds first
 *   A process that waits writes its pid to CONTROL.held first.
 *
 * Built as tests/shim/spoolfault.so without sanitizers. With an ASan
 * responder, set ASAN_OPTIONS=verify_asan_link_order=0. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum op { OP_WRITE, OP_FSYNC, OP_CREATE, OP_LINK, OP_RENAME, OP_UNLINK, OP_MKDIR };

static int active = -1; /* -1: not decided yet */
static char dir[4096];
static char control[4096];
static unsigned links_seen; /* into new/ since the last write: in this request */

static bool is_active(void)
{
	if (active < 0) {
		const char *d = getenv("ZOOM2S3_SHIM_DIR"), *c = getenv("ZOOM2S3_SHIM_CONTROL");

		active = d && c && strcmp(program_invocation_short_name, "zoom2s3.fcgi") == 0 &&
			 snprintf(dir, sizeof dir, "%s", d) < (int)sizeof dir &&
			 snprintf(control, sizeof control, "%s", c) < (int)sizeof control;
	}
	return active;
}

/* The mode, read with raw system calls (no interposed function runs). */
static void read_mode(char *mode, size_t size)
{
	long fd = syscall(SYS_openat, AT_FDCWD, control, O_RDONLY | O_CLOEXEC);
	long n = fd < 0 ? -1 : syscall(SYS_read, (int)fd, mode, size - 1);

	if (fd >= 0)
		syscall(SYS_close, (int)fd);
	mode[n > 0 ? n : 0] = '\0';
	mode[strcspn(mode, "\r\n")] = '\0';
}

static bool in_dir(const char *path)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static bool fd_in_dir(int fd)
{
	char link[64], target[4096];
	long n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = syscall(SYS_readlinkat, AT_FDCWD, link, target, sizeof target - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	return in_dir(target);
}

static bool at_in_dir(int dirfd, const char *path)
{
	if (path[0] == '/')
		return in_dir(path);
	if (dirfd == AT_FDCWD) {
		char cwd[4096];

		return getcwd(cwd, sizeof cwd) && in_dir(cwd);
	}
	return fd_in_dir(dirfd);
}

static void hold(const char *mode)
{
	char path[4200], now[64], pid[32];
	long fd;
	int len;
	struct timespec tick = { 0, 20 * 1000 * 1000 };

	snprintf(path, sizeof path, "%s.held", control);
	len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	fd = syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		syscall(SYS_write, (int)fd, pid, (size_t)len); /* a missing pid: the test waits */
		syscall(SYS_close, (int)fd);
	}
	do {
		nanosleep(&tick, NULL);
		read_mode(now, sizeof now);
	} while (strcmp(now, mode) == 0);
}

/* 0 to go on, or the errno to fail with. */
static int act(enum op op, bool to_new, bool is_dir)
{
	char mode[64];

	read_mode(mode, sizeof mode);
	if (strcmp(mode, "enospc") == 0)
		return op == OP_WRITE || op == OP_FSYNC ? ENOSPC : 0;
	if (strcmp(mode, "erofs") == 0)
		return op == OP_WRITE || op == OP_FSYNC ? 0 : EROFS;
	if ((strcmp(mode, "hold-write") == 0 && op == OP_WRITE) ||
	    (strcmp(mode, "hold-link") == 0 && op == OP_LINK && to_new && links_seen > 1) ||
	    (strcmp(mode, "hold-fsync") == 0 && op == OP_FSYNC && is_dir))
		hold(mode);
	if (strncmp(mode, "delay-", 6) == 0 && op == OP_WRITE) {
		long ms = strtol(mode + 6, NULL, 10);
		struct timespec d = { ms / 1000, (ms % 1000) * 1000000L };

		nanosleep(&d, NULL);
	}
	return 0;
}

/* Whether the call is to fail, with errno set to what it fails with. */
static bool fails(enum op op, bool to_new, bool is_dir)
{
	int e = act(op, to_new, is_dir);

	if (e != 0)
		errno = e;
	return e != 0;
}

#define NEXT(name, type) ((type)dlsym(RTLD_NEXT, name))

ssize_t write(int fd, const void *buf, size_t count)
{
	if (is_active() && fd_in_dir(fd)) {
		links_seen = 0; /* jobs are written to tmp/ before any link */
		if (fails(OP_WRITE, false, false))
			return -1;
	}
	return NEXT("write", ssize_t (*)(int, const void *, size_t))(fd, buf, count);
}

int fsync(int fd)
{
	struct stat st;

	if (is_active() && fd_in_dir(fd) &&
	    fails(OP_FSYNC, false, fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)))
		return -1;
	return NEXT("fsync", int (*)(int))(fd);
}

static bool writes(int flags)
{
	return (flags & (O_CREAT | O_WRONLY | O_RDWR | O_TRUNC)) != 0;
}

/* open's third argument: there only when flags create a file. */
static mode_t mode_arg(int flags, va_list ap)
{
	return flags & (O_CREAT | O_TMPFILE) ? (mode_t)va_arg(ap, int) : 0;
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	if (is_active() && writes(flags) && at_in_dir(dirfd, path) &&
	    fails(OP_CREATE, false, false))
		return -1;
	return NEXT("openat", int (*)(int, const char *, int, ...))(dirfd, path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return openat(AT_FDCWD, path, flags, mode);
}

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
	if (is_active() && at_in_dir(newdirfd, newpath)) {
		bool to_new = strncmp(newpath, "new/", 4) == 0 || strstr(newpath, "/new/");

		if (to_new)
			links_seen++;
		if (fails(OP_LINK, to_new, false))
			return -1;
	}
	return NEXT("linkat", int (*)(int, const char *, int, const char *, int))(
		olddirfd, oldpath, newdirfd, newpath, flags);
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	if (is_active() && at_in_dir(newdirfd, newpath) &&
	    fails(OP_RENAME, false, false))
		return -1;
	return NEXT("renameat", int (*)(int, const char *, int, const char *))(
		olddirfd, oldpath, newdirfd, newpath);
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
	      unsigned int flags)
{
	if (is_active() && at_in_dir(newdirfd, newpath) &&
	    fails(OP_RENAME, false, false))
		return -1;
	return NEXT("renameat2", int (*)(int, const char *, int, const char *, unsigned int))(
		olddirfd, oldpath, newdirfd, newpath, flags);
}

int unlinkat(int dirfd, const char *path, int flags)
{
	if (is_active() && at_in_dir(dirfd, path) && fails(OP_UNLINK, false, false))
		return -1;
	return NEXT("unlinkat", int (*)(int, const char *, int))(dirfd, path, flags);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
	if (is_active() && at_in_dir(dirfd, path) && fails(OP_MKDIR, false, false))
		return -1;
	return NEXT("mkdirat", int (*)(int, const char *, mode_t))(dirfd, path, mode);
}
