/*
 * tsv.c — see tsv.h. Every reader works on one buffer in memory: the stream
 * readers slurp the input with read_all() and hand it to the *_parse
 * functions, so tests and fuzzers exercise exactly the code the tools run.
 *
 * This file holds the ratings and the shared line helpers (tsv_lines.h);
 * tsv_text.c the movies and metrics readers and writers.
 *
 * Repeated (user, movie) pairs are found with an open-addressing hash set of
 * row indices (linear probing, table size a power of two at least twice the
 * row count), so a 100k-line file is checked in linear time.
 */
#include "tsv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tsv_lines.h"
#include "util.h"

/* Splits [buf, buf+len) into lines. Returns 1 with the line (no '\n') or 0 at the end. */
int tsv_next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *llen)
{
	if (*pos >= len)
		return 0;
	const char *p = buf + *pos;
	const char *nl = memchr(p, '\n', len - *pos);
	size_t n = nl ? (size_t)(nl - p) : len - *pos;
	*line = p;
	*llen = n;
	*pos += n + (nl ? 1 : 0);
	return 1;
}

/* Splits a line on tabs into at most max fields; returns the field count
 * (max + 1 when there are more). */
int tsv_split_tabs(const char *line, size_t len, const char **f, size_t *fl, int max)
{
	int n = 0;
	const char *p = line, *end = line + len;
	for (;;) {
		const char *t = memchr(p, '\t', (size_t)(end - p));
		if (n == max)
			return max + 1;
		f[n] = p;
		fl[n] = t ? (size_t)(t - p) : (size_t)(end - p);
		n++;
		if (!t)
			return n;
		p = t + 1;
	}
}

int tsv_check_cr(const char *line, size_t len, const char *name, size_t lineno, lf_error *err)
{
	if (len > 0 && line[len - 1] == '\r')
		return lf_fail(
			err, EX_DATAERR,
			"%s:%zu: line ends with \"\\r\\n\"; lines must end with \"\\n\" only", name,
			lineno);
	/* A NUL would end the C strings made from a field (a title cut short, a
	 * value read as its prefix): text files have none, so refuse it here. */
	const char *nul = memchr(line, '\0', len);
	if (nul)
		return lf_fail(err, EX_DATAERR, "%s:%zu: NUL byte at column %zu", name, lineno,
			       (size_t)(nul - line) + 1);
	/* Nor a '\r' inside a field: the writers refuse one, so the readers do too. */
	const char *cr = memchr(line, '\r', len);
	if (cr)
		return lf_fail(err, EX_DATAERR, "%s:%zu: carriage return at column %zu", name,
			       lineno, (size_t)(cr - line) + 1);
	return 0;
}

/* ---- ratings ---- */

int ratings_push(ratings *r, rating_row row)
{
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 1024;
		rating_row *nr = lf_reallocarray(r->rows, ncap, sizeof *nr);
		if (!nr)
			return -1;
		r->rows = nr;
		r->cap = ncap;
	}
	r->rows[r->n++] = row;
	return 0;
}

void ratings_free(ratings *r)
{
	free(r->rows);
	r->rows = NULL;
	r->n = r->cap = 0;
}

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* Fails naming the second line of the first repeated (user, movie) pair. */
static int check_pairs(const ratings *r, const char *name, lf_error *err)
{
	size_t size = 16;
	while (size < r->n * 2)
		size *= 2;
	uint32_t *slot = lf_calloc(size, sizeof *slot); /* row index + 1; 0 = empty */
	if (!slot)
		return lf_fail(err, EX_OSERR, "%s: out of memory", name);
	for (size_t i = 0; i < r->n; i++) {
		const rating_row *a = &r->rows[i];
		uint64_t key = (uint64_t)(uint32_t)a->user << 32 | (uint32_t)a->item;
		size_t h = (size_t)mix64(key) & (size - 1);
		while (slot[h]) {
			const rating_row *b = &r->rows[slot[h] - 1];
			if (b->user == a->user && b->item == a->item) {
				size_t first = slot[h];
				free(slot);
				return lf_fail(
					err, EX_DATAERR,
					"%s:%zu: user %d rated movie %d again (first at line %zu)",
					name, i + 1, a->user, a->item, first);
			}
			h = (h + 1) & (size - 1);
		}
		slot[h] = (uint32_t)(i + 1);
	}
	free(slot);
	return 0;
}

int tsv_rating_error(const char *f, size_t fl, const char *name, size_t lineno, lf_error *err)
{
	return lf_fail(err, EX_DATAERR,
		       "%s:%zu: rating '%.*s%s' is not on the scale 0.5..5 in steps of 0.5", name,
		       lineno, (int)(fl < SHOW ? fl : SHOW), f, fl > SHOW ? "…" : "");
}

int tsv_int_field(const char *f, size_t fl, const char *what, int64_t min, int64_t max, int64_t *v,
		  const char *name, size_t lineno, lf_error *err)
{
	if (parse_i64_n(f, fl, min, max, v) == 0)
		return 0;
	return lf_fail(err, EX_DATAERR, "%s:%zu: %s '%.*s%s' is not an integer in %lld..%lld", name,
		       lineno, what, (int)(fl < SHOW ? fl : SHOW), f, fl > SHOW ? "…" : "",
		       (long long)min, (long long)max);
}

int rating_parse(const char *s, size_t len, float *out)
{
	if (len != 1 && len != 3)
		return -1;
	if (s[0] < '0' || s[0] > '5')
		return -1;
	int halves = 2 * (s[0] - '0');
	if (len == 3) {
		if (s[1] != '.' || (s[2] != '0' && s[2] != '5'))
			return -1;
		halves += s[2] == '5';
	}
	if (halves < 1 || halves > 10)
		return -1;
	*out = (float)halves / 2;
	return 0;
}

int rating_on_scale(double v)
{
	return v >= RATING_MIN && v <= RATING_MAX && v * 2 == floor(v * 2);
}

size_t rating_format(float v, char *buf)
{
	int halves = (int)lrintf(v * 2);
	buf[0] = (char)('0' + halves / 2);
	if (halves % 2 == 0) {
		buf[1] = '\0';
		return 1;
	}
	memcpy(buf + 1, ".5", 3);
	return 3;
}

int ratings_parse(const char *buf, size_t len, const char *name, ratings *out, lf_error *err)
{
	memset(out, 0, sizeof *out);
	if (len == 0)
		return lf_fail(err, EX_DATAERR, "%s: empty input; expected ratings", name);
	if (len > UINT32_MAX - 1) /* row indices of the pair check are 32-bit */
		return lf_fail(err, EX_DATAERR, "%s: too large (%zu bytes)", name, len);
	/* One allocation of exactly the line count keeps parsing allocation-free. */
	size_t lines = 1;
	for (const char *p = buf; (p = memchr(p, '\n', len - (size_t)(p - buf))); p++)
		lines++;
	out->rows = lf_calloc(lines, sizeof *out->rows);
	if (!out->rows)
		return lf_fail(err, EX_OSERR, "%s: out of memory", name);
	out->cap = lines;

	size_t pos = 0, lineno = 0, llen;
	const char *line;
	while (tsv_next_line(buf, len, &pos, &line, &llen)) {
		lineno++;
		const char *f[4];
		size_t fl[4];
		int64_t u, m, ts;
		float r;
		if (tsv_check_cr(line, llen, name, lineno, err))
			goto fail;
		int nf = tsv_split_tabs(line, llen, f, fl, 4);
		if (nf != 4) {
			lf_fail(err, EX_DATAERR,
				"%s:%zu: expected 4 tab-separated fields "
				"(user_id, movie_id, rating, timestamp), found %s%d",
				name, lineno, nf > 4 ? "more than " : "", nf > 4 ? 4 : nf);
			goto fail;
		}
		if (tsv_int_field(f[0], fl[0], "user id", 0, INT32_MAX, &u, name, lineno, err) ||
		    tsv_int_field(f[1], fl[1], "movie id", 0, INT32_MAX, &m, name, lineno, err) ||
		    tsv_int_field(f[3], fl[3], "timestamp", INT64_MIN, INT64_MAX, &ts, name, lineno,
				  err))
			goto fail;
		if (rating_parse(f[2], fl[2], &r)) {
			tsv_rating_error(f[2], fl[2], name, lineno, err);
			goto fail;
		}
		out->rows[out->n++] =
			(rating_row){.user = (int32_t)u, .item = (int32_t)m, .rating = r, .ts = ts};
	}
	if (check_pairs(out, name, err))
		goto fail;
	return 0;
fail:
	ratings_free(out);
	return -1;
}

int ratings_read(FILE *f, const char *name, ratings *out, lf_error *err)
{
	unsigned char *buf;
	size_t len;
	memset(out, 0, sizeof *out);
	if (read_all(f, name, TSV_MAX_BYTES, &buf, &len, err))
		return -1;
	int rc = ratings_parse((const char *)buf, len, name, out, err);
	free(buf);
	return rc;
}

/* Decimal digits of v at the end of a 24-byte scratch; returns the start. */
static char *fmt_i64(char *end, int64_t v)
{
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		*--end = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--end = '-';
	return end;
}

int ratings_write(FILE *f, const char *name, const ratings *r, lf_error *err)
{
	/* Formatted by hand into one buffer: printf per field is the slow part. */
	char buf[1 << 16];
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++) {
		const rating_row *row = &r->rows[i];
		int64_t v[4] = {row->user, row->item, 0, row->ts};
		if (n > sizeof buf - 100) {
			if (fwrite(buf, 1, n, f) != n)
				return lf_fail_errno(err, EX_IOERR, errno, "%s: write failed",
						     name);
			n = 0;
		}
		for (int k = 0; k < 4; k++) {
			if (k == 2) {
				n += rating_format(row->rating, buf + n);
			} else {
				char tmp[24], *s = fmt_i64(tmp + sizeof tmp, v[k]);
				size_t l = (size_t)(tmp + sizeof tmp - s);
				memcpy(buf + n, s, l);
				n += l;
			}
			buf[n++] = k == 3 ? '\n' : '\t';
		}
	}
	if (n && fwrite(buf, 1, n, f) != n)
		return lf_fail_errno(err, EX_IOERR, errno, "%s: write failed", name);
	return 0;
}

/* ---- UTF-8 ---- */

int utf8_valid(const char *s, size_t len)
{
	return utf8_count(s, len, NULL) == 0;
}

int utf8_count(const char *s, size_t len, size_t *chars)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t count = 0;
	for (; p < end; count++) {
		unsigned c = *p;
		if (c < 0x80) {
			p++;
			continue;
		}
		size_t n;
		unsigned cp;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return -1; /* continuation byte, overlong lead 0xc0/0xc1, or > U+10FFFF */
		}
		if ((size_t)(end - p) <= n)
			return -1;
		for (size_t k = 1; k <= n; k++) {
			if ((p[k] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (p[k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return -1; /* overlong or out of range */
		if (cp >= 0xd800 && cp <= 0xdfff)
			return -1; /* surrogate */
		p += n + 1;
	}
	if (chars)
		*chars = count;
	return 0;
}
