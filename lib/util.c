/*
 * util.c — see util.h. Number parsing is hand-written rather than strtol so
 * that what is accepted is exactly "optional '-' then digits", with the
 * overflow check done before each multiply.
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

int parse_i64_n(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	if (len > 0 && s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == len)
		return -1;
	/* Accumulate as a negative number: its range includes INT64_MIN. */
	int64_t v = 0;
	for (; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < '0' || c > '9')
			return -1;
		int d = c - '0';
		if (v < (INT64_MIN + d) / 10)
			return -1;
		v = v * 10 - d;
	}
	if (!neg) {
		if (v == INT64_MIN)
			return -1;
		v = -v;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	return parse_i64_n(s, strlen(s), min, max, out);
}

int parse_double(const char *s, double min, double max, double *out)
{
	/* strtod skips leading space and reads "nan"/"inf": refuse both here. */
	if (s[0] == '\0' || isspace((unsigned char)s[0]))
		return -1;
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end != '\0')
		return -1;
	if (!isfinite(v))
		return -1;
	if (errno == ERANGE && v != 0.0 && fabs(v) >= 1.0)
		return -1; /* overflow; underflow to a tiny value is accepted */
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

char *fmt_double(char *out, double v)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, FMT_DOUBLE_MAX, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			break;
	}
	return out;
}

void *lf_calloc(size_t n, size_t size)
{
	if (n == 0 || size == 0)
		return calloc(1, 1); /* a distinct non-NULL pointer: NULL means failure */
	if (n > SIZE_MAX / size)
		return NULL;
	return calloc(n, size);
}

void *lf_reallocarray(void *p, size_t n, size_t size)
{
	if (n == 0 || size == 0)
		return realloc(p, 1);
	if (n > SIZE_MAX / size)
		return NULL;
	return realloc(p, n * size);
}

int read_all(FILE *f, const char *name, size_t max, unsigned char **buf, size_t *len, lf_error *err)
{
	size_t cap = 1 << 16, n = 0;
	unsigned char *b = malloc(cap + 1);
	if (!b)
		return lf_fail(err, EX_OSERR, "%s: out of memory", name);
	for (;;) {
		if (n == cap) {
			if (cap > max || cap > SIZE_MAX / 2 - 1) {
				free(b);
				return lf_fail(err, EX_DATAERR, "%s: larger than %zu bytes", name,
					       max);
			}
			size_t ncap = cap * 2;
			unsigned char *nb = realloc(b, ncap + 1);
			if (!nb) {
				free(b);
				return lf_fail(err, EX_OSERR, "%s: out of memory", name);
			}
			b = nb;
			cap = ncap;
		}
		size_t got = fread(b + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				int e = errno;
				free(b);
				return lf_fail_errno(err, EX_IOERR, e ? e : EIO, "%s: read failed",
						     name);
			}
			break;
		}
	}
	if (n > max) {
		free(b);
		return lf_fail(err, EX_DATAERR, "%s: larger than %zu bytes", name, max);
	}
	b[n] = '\0'; /* a NUL after the data, so text callers may use str* safely */
	*buf = b;
	*len = n;
	return 0;
}

/* A device, FIFO or socket (/dev/null, /dev/stdout, a named pipe) cannot be
 * replaced by rename without destroying it: such a path is written in place
 * (tmp stays NULL) and commit only flushes and closes it. */
static int open_in_place(atomic_out *o, const char *path, lf_error *err)
{
	o->path = strdup(path);
	if (!o->path)
		return lf_fail(err, EX_OSERR, "%s: out of memory", path);
	o->f = fopen(path, "w");
	if (!o->f) {
		int e = errno;
		free(o->path);
		o->path = NULL;
		return lf_fail_errno(err, EX_CANTCREAT, e, "%s: cannot open", path);
	}
	return 0;
}

int atomic_out_open(atomic_out *o, const char *path, lf_error *err)
{
	memset(o, 0, sizeof *o);
	if (path[0] == '\0')
		return lf_fail(err, EX_USAGE, "empty output file name");
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			return lf_fail(err, EX_CANTCREAT, "%s: is a directory", path);
		return open_in_place(o, path, err);
	}
	char *d = strdup(path), *b = strdup(path);
	o->path = strdup(path);
	if (!d || !b || !o->path) {
		free(d);
		free(b);
		free(o->path);
		o->path = NULL;
		return lf_fail(err, EX_OSERR, "%s: out of memory", path);
	}
	const char *dir = dirname(d), *base = basename(b);
	size_t need = strlen(dir) + strlen(base) + 16;
	o->tmp = malloc(need);
	if (!o->tmp) {
		free(d);
		free(b);
		free(o->path);
		o->path = NULL;
		return lf_fail(err, EX_OSERR, "%s: out of memory", path);
	}
	snprintf(o->tmp, need, "%s/.%s.XXXXXX", dir, base);
	free(d);
	free(b);
	int fd = mkstemp(o->tmp);
	if (fd < 0) {
		int e = errno;
		free(o->tmp);
		free(o->path);
		o->tmp = o->path = NULL;
		return lf_fail_errno(err, EX_CANTCREAT, e, "%s: cannot create", path);
	}
	/* mkstemp makes 0600; give the file the mode a plain open would. */
	mode_t mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0) {
		/* not fatal: the file is still ours and readable by us */
	}
	o->f = fdopen(fd, "w");
	if (!o->f) {
		int e = errno;
		close(fd);
		unlink(o->tmp);
		free(o->tmp);
		free(o->path);
		o->tmp = o->path = NULL;
		return lf_fail_errno(err, EX_OSERR, e, "%s: cannot open", path);
	}
	return 0;
}

int atomic_out_commit(atomic_out *o, lf_error *err)
{
	if (!o->f)
		return lf_fail(err, EX_SOFTWARE, "atomic output committed twice");
	int e = 0;
	errno = 0;
	if (fflush(o->f) != 0 || ferror(o->f))
		e = errno ? errno : EIO;
	else if (o->tmp && fsync(fileno(o->f)) != 0 && errno != EINVAL)
		e = errno;
	if (fclose(o->f) != 0 && !e)
		e = errno ? errno : EIO;
	o->f = NULL;
	if (e) {
		lf_fail_errno(err, EX_IOERR, e, "%s: write failed", o->path);
		atomic_out_abort(o);
		return -1;
	}
	if (!o->tmp) { /* written in place */
		free(o->path);
		o->path = NULL;
		return 0;
	}
	if (rename(o->tmp, o->path) != 0) {
		e = errno;
		lf_fail_errno(err, EX_CANTCREAT, e, "%s: cannot rename into place", o->path);
		atomic_out_abort(o);
		return -1;
	}
	free(o->tmp);
	free(o->path);
	o->tmp = o->path = NULL;
	return 0;
}

void atomic_out_abort(atomic_out *o)
{
	if (o->f) {
		fclose(o->f);
		o->f = NULL;
	}
	if (o->tmp) {
		unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
	}
	free(o->path);
	o->path = NULL;
}

static off_t stdout_mark_off = -1;

void stdout_mark(void)
{
	struct stat st;
	stdout_mark_off = -1;
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode))
		stdout_mark_off = lseek(STDOUT_FILENO, 0, SEEK_CUR);
}

void stdout_rollback(void)
{
	if (stdout_mark_off < 0)
		return;
	/* Push out what stdio holds first, so nothing lands after the truncation. */
	fflush(stdout);
	if (ftruncate(STDOUT_FILENO, stdout_mark_off) == 0)
		lseek(STDOUT_FILENO, stdout_mark_off, SEEK_SET);
}

int close_stream(FILE *f, const char *name, lf_error *err)
{
	errno = 0;
	if (fflush(f) != 0 || ferror(f)) {
		int e = errno ? errno : EIO;
		return lf_fail_errno(err, EX_IOERR, e, "%s: write failed", name);
	}
	return 0;
}

double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void url_redact(const char *url, char *out, size_t n)
{
	if (n == 0)
		return;
	const char *scheme = strstr(url, "://");
	const char *auth = scheme ? scheme + 3 : url;
	size_t alen = strcspn(auth, "/?#");
	const char *at = NULL;
	for (const char *p = auth; p < auth + alen; p++)
		if (*p == '@')
			at = p;
	if (!at) {
		snprintf(out, n, "%s", url);
		return;
	}
	snprintf(out, n, "%.*s***%s", (int)(auth - url), url, at);
}
