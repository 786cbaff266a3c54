/*
 * util.h — strict number parsing, checked allocation helpers, and the
 * atomic output file (write to a temporary name, fsync, rename) that every
 * tool uses so that no half-written file ever stands under its final name.
 *
 * Ownership: atomic_out owns its FILE and temporary path until
 * atomic_out_commit() or atomic_out_abort(); exactly one of them must be
 * called. Everything else here owns nothing.
 */
#ifndef LENSFLOW_UTIL_H
#define LENSFLOW_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

/* Whole-string decimal integer in [min, max]: optional '-', digits only,
 * no spaces, no '+', no leading garbage. Returns 0, or -1 (out untouched). */
int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Same for a byte range [s, s+len) that need not be NUL-terminated. */
int parse_i64_n(const char *s, size_t len, int64_t min, int64_t max, int64_t *out);
/* Whole-string finite double (strtod syntax, no NaN/Inf) in [min, max]. */
int parse_double(const char *s, double min, double max, double *out);

/* The shortest of "%.15g", "%.16g" and "%.17g" that reads back as v: 0.4925,
 * not 0.49249999999999999; 1000, never 1e+03 (%.15g is the shortest text
 * whenever one of 15 digits or fewer reads back). The one number format of
 * every text lensflow writes for another program: metrics TSV, the metrics
 * JSON of a loaded set, Prometheus samples, MLflow metrics read back.
 * Writes at most FMT_DOUBLE_MAX bytes (with the NUL) into out; returns out. */
#define FMT_DOUBLE_MAX 32
char *fmt_double(char *out, double v);

/* The first index of the ascending ids[0..n) whose id is not below id (n
 * when none): where id is, or would go. */
static inline size_t ids_lower_bound(const int32_t *ids, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* malloc/calloc/realloc with overflow-checked sizes; NULL on failure
 * (callers turn NULL into an EX_OSERR/EX_SOFTWARE error themselves). */
void *lf_calloc(size_t n, size_t size);
void *lf_reallocarray(void *p, size_t n, size_t size);

/* Reads a whole stream into a new buffer (caller frees *buf). max bounds it. */
int read_all(FILE *f, const char *name, size_t max, unsigned char **buf, size_t *len,
	     lf_error *err);

typedef struct atomic_out {
	FILE *f;          /* write here */
	char *path;       /* final name */
	char *tmp;        /* temporary name in the same directory */
} atomic_out;

/* Opens "<dir>/.<base>.XXXXXX" beside path for writing. */
int atomic_out_open(atomic_out *o, const char *path, lf_error *err);
/* Flushes, fsyncs, closes and renames onto the final name. */
int atomic_out_commit(atomic_out *o, lf_error *err);
/* Closes and unlinks the temporary file; safe after a failed commit. */
void atomic_out_abort(atomic_out *o);

/* For tools that write to stdout: when stdout is a regular file, remember
 * its offset so that stdout_rollback() can truncate a failed write back to it
 * (a shell's "> file" then holds nothing half-written). */
void stdout_mark(void);
void stdout_rollback(void);

/* Checked fflush + ferror of a stream at the end of writing. */
int close_stream(FILE *f, const char *name, lf_error *err);

/* Copies url into out (size n, always terminated) with any "user:password@"
 * of its authority replaced by "***@": URLs in messages never show a secret. */
void url_redact(const char *url, char *out, size_t n);

/* Monotonic seconds, for timings. */
double now_seconds(void);

#endif
