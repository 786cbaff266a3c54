/*
 * tsv_lines.h — internal to lib/tsv*.c: the line and field helpers that every
 * TSV reader shares. Not part of the library's interface.
 */
#ifndef LENSFLOW_TSV_LINES_H
#define LENSFLOW_TSV_LINES_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define TSV_MAX_BYTES ((size_t)1 << 34) /* 16 GiB: far above any MovieLens file */
#define SHOW 40				/* bytes of a bad field quoted in a message */

/* Splits [buf, buf+len) into lines. Returns 1 with the line (no '\n') or 0 at the end. */
int tsv_next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *llen);
/* Splits a line on tabs into at most max fields; returns the field count
 * (max + 1 when there are more). */
int tsv_split_tabs(const char *line, size_t len, const char **f, size_t *fl, int max);
/* Fails (EX_DATAERR, name:lineno) when the line ends with '\r', or holds a
 * '\r' or a NUL byte anywhere. */
int tsv_check_cr(const char *line, size_t len, const char *name, size_t lineno, lf_error *err);
/* The failure for a rating field that rating_parse refused, quoting it. */
int tsv_rating_error(const char *f, size_t fl, const char *name, size_t lineno, lf_error *err);
/* An integer field in [min, max], or a failure quoting the field. */
int tsv_int_field(const char *f, size_t fl, const char *what, int64_t min, int64_t max, int64_t *v,
		  const char *name, size_t lineno, lf_error *err);

#endif
