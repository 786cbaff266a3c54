/*
 * failalloc.c — allocation failure on demand, for the tests (SQLite's
 * test_malloc.c idea). Linked only into the `make FAILALLOC=1` build, whose
 * objects are linked with -Wl,--wrap= for malloc, calloc, realloc, strdup,
 * strndup, asprintf and open_memstream: every allocation of lensflow's own code (the
 * tools' objects and liblensflow.a; not libc's, libpq's, libcurl's or
 * jansson's own) comes here first.
 *
 *   LENSFLOW_FAIL_ALLOC=N        the Nth allocation (from 1) returns NULL
 *                                (errno ENOMEM); 0 or unset: none fails
 *   LENSFLOW_ALLOC_COUNT=FILE    at exit, how many allocations were made is
 *                                written to FILE (the length of a sweep)
 *
 * One failure, then the next allocations succeed again: the code must
 * report that one and unwind, which is what a real shortage asks of it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
FILE *__real_open_memstream(char **buf, size_t *len);
FILE *__wrap_open_memstream(char **buf, size_t *len);
int __wrap_asprintf(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static atomic_long calls;
static long fail_at = -1; /* -1: not read yet */

static int fail_now(void)
{
	if (fail_at < 0) { /* a benign race: every thread reads the same value */
		const char *s = getenv("LENSFLOW_FAIL_ALLOC");
		long v = s ? strtol(s, NULL, 10) : 0;
		fail_at = v > 0 ? v : 0;
	}
	long n = atomic_fetch_add(&calls, 1) + 1;
	if (fail_at && n == fail_at) {
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return fail_now() ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return fail_now() ? NULL : __real_strdup(s); }
char *__wrap_strndup(const char *s, size_t n) { return fail_now() ? NULL : __real_strndup(s, n); }

FILE *__wrap_open_memstream(char **buf, size_t *len)
{
	return fail_now() ? NULL : __real_open_memstream(buf, len);
}

int __wrap_asprintf(char **out, const char *fmt, ...)
{
	if (fail_now())
		return -1;
	va_list ap;
	va_start(ap, fmt);
	int rc = vasprintf(out, fmt, ap);
	va_end(ap);
	return rc;
}

__attribute__((destructor)) static void write_count(void)
{
	const char *path = getenv("LENSFLOW_ALLOC_COUNT");
	if (!path || !*path)
		return;
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "%ld\n", atomic_load(&calls));
	fclose(f);
}
