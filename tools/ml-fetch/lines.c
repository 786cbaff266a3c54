/*
 * lines.c — one member of a source read line by line through a buffer that
 * holds one read (1 MiB) and at most one line beyond it, so a 700 MB
 * ratings.csv is converted in constant memory. A zip member is inflated as
 * it is read; libzip compares its CRC when the last byte has been read, so a
 * corrupt member fails before the output is committed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "fetch.h"

#define CHUNK ((size_t)1 << 20)
#define LINE_MAX_BYTES ((size_t)1 << 20)

static char *join(const char *a, const char *sep, const char *b)
{
	size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s%s", a, sep, b);
	return s;
}

int lines_open(const fetch_source *s, const char *member, line_reader *r, lf_error *err)
{
	memset(r, 0, sizeof *r);
	if (s->dir) {
		r->label = join(s->dir, "/", member);
		if (!r->label)
			return lf_fail(err, EX_OSERR, "out of memory");
		r->f = fopen(r->label, "rb");
		if (!r->f) {
			lf_fail_errno(err, errno == ENOENT ? EX_NOINPUT : EX_IOERR, errno, "%s",
				      r->label);
			lines_close(r);
			return -1;
		}
	} else if (s->is_zip) {
		r->za = source_zip(s, err);
		if (!r->za)
			return -1;
		long idx = zip_find(r->za, member);
		if (idx < 0) {
			lf_fail(err, EX_NOINPUT, "%s: no member %s", s->label, member);
			lines_close(r);
			return -1;
		}
		r->label = join(s->label, ":", zip_get_name(r->za, (zip_uint64_t)idx, 0));
		r->zf = zip_fopen_index(r->za, (zip_uint64_t)idx, 0);
		if (!r->label || !r->zf) {
			lf_fail(err, r->label ? EX_DATAERR : EX_OSERR, "%s: %s: %s", s->label,
				member, zip_strerror(r->za));
			lines_close(r);
			return -1;
		}
	} else {
		return lf_fail(err, EX_NOINPUT, "%s is a single ratings file: it has no %s",
			       s->label, member);
	}
	r->cap = CHUNK + LINE_MAX_BYTES;
	r->buf = malloc(r->cap);
	if (!r->buf) {
		lines_close(r);
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	return 0;
}

/* Reads more after the unread bytes (moved to the front). */
static int fill(line_reader *r, lf_error *err)
{
	if (r->start) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	size_t want = r->cap - r->end;
	if (want > CHUNK)
		want = CHUNK;
	if (r->f) {
		size_t n = fread(r->buf + r->end, 1, want, r->f);
		if (n < want && ferror(r->f))
			return lf_fail_errno(err, EX_IOERR, errno, "%s: read failed", r->label);
		r->end += n;
		r->eof = n < want;
	} else {
		zip_int64_t n = zip_fread(r->zf, r->buf + r->end, want);
		if (n < 0)
			return lf_fail(err, EX_DATAERR, "%s: %s", r->label,
				       zip_file_strerror(r->zf));
		r->end += (size_t)n;
		r->eof = n == 0;
	}
	return 0;
}

int lines_next(line_reader *r, const char **line, size_t *len, lf_error *err)
{
	for (;;) {
		char *p = r->buf + r->start;
		char *nl = memchr(p, '\n', r->end - r->start);
		if (nl || (r->eof && r->start < r->end)) {
			size_t n = nl ? (size_t)(nl - p) : r->end - r->start;
			r->start += n + (nl ? 1 : 0);
			r->lineno++;
			*line = p;
			*len = n;
			return 1;
		}
		if (r->eof)
			return 0;
		if (r->end - r->start >= LINE_MAX_BYTES)
			return lf_fail(err, EX_DATAERR, "%s:%zu: a line longer than %zu bytes",
				       r->label, r->lineno + 1, LINE_MAX_BYTES);
		if (fill(r, err))
			return -1;
	}
}

void lines_close(line_reader *r)
{
	if (r->f)
		fclose(r->f);
	if (r->zf)
		zip_fclose(r->zf);
	if (r->za)
		zip_discard(r->za);
	free(r->buf);
	free(r->label);
	memset(r, 0, sizeof *r);
}
