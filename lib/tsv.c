/*
 * tsv.c — see tsv.h. Every reader works on one buffer in memory: the stream
 * readers slurp the input with read_all() and hand it to the *_parse
 * functions, so tests and fuzzers exercise exactly the code the tools run.
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

#include "util.h"

#define TSV_MAX_BYTES ((size_t)1 << 34) /* 16 GiB: far above any MovieLens file */
#define SHOW 40                         /* bytes of a bad field quoted in a message */

/* Splits [buf, buf+len) into lines. Returns 1 with the line (no '\n') or 0 at the end. */
static int next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *llen)
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
static int split_tabs(const char *line, size_t len, const char **f, size_t *fl, int max)
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

static int check_cr(const char *line, size_t len, const char *name, size_t lineno, lf_error *err)
{
	if (len > 0 && line[len - 1] == '\r')
		return lf_fail(err, EX_DATAERR,
			       "%s:%zu: line ends with \"\\r\\n\"; lines must end with \"\\n\" only",
			       name, lineno);
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
				return lf_fail(err, EX_DATAERR,
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

static int int_field(const char *f, size_t fl, const char *what, int64_t min, int64_t max,
		     int64_t *v, const char *name, size_t lineno, lf_error *err)
{
	if (parse_i64_n(f, fl, min, max, v) == 0)
		return 0;
	return lf_fail(err, EX_DATAERR, "%s:%zu: %s '%.*s%s' is not an integer in %lld..%lld", name,
		       lineno, what, (int)(fl < SHOW ? fl : SHOW), f, fl > SHOW ? "…" : "",
		       (long long)min, (long long)max);
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
	while (next_line(buf, len, &pos, &line, &llen)) {
		lineno++;
		const char *f[4];
		size_t fl[4];
		int64_t u, m, r, ts;
		if (check_cr(line, llen, name, lineno, err))
			goto fail;
		int nf = split_tabs(line, llen, f, fl, 4);
		if (nf != 4) {
			lf_fail(err, EX_DATAERR,
				"%s:%zu: expected 4 tab-separated fields "
				"(user_id, movie_id, rating, timestamp), found %s%d",
				name, lineno, nf > 4 ? "more than " : "", nf > 4 ? 4 : nf);
			goto fail;
		}
		if (int_field(f[0], fl[0], "user id", 0, INT32_MAX, &u, name, lineno, err) ||
		    int_field(f[1], fl[1], "movie id", 0, INT32_MAX, &m, name, lineno, err) ||
		    int_field(f[2], fl[2], "rating", INT64_MIN, INT64_MAX, &r, name, lineno, err) ||
		    int_field(f[3], fl[3], "timestamp", INT64_MIN, INT64_MAX, &ts, name, lineno,
			      err))
			goto fail;
		if (r < 1 || r > 5) {
			lf_fail(err, EX_DATAERR, "%s:%zu: rating %lld is outside 1..5", name, lineno,
				(long long)r);
			goto fail;
		}
		out->rows[out->n++] = (rating_row){
			.user = (int32_t)u, .item = (int32_t)m, .rating = (int32_t)r, .ts = ts};
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
		int64_t v[4] = {row->user, row->item, row->rating, row->ts};
		if (n > sizeof buf - 100) {
			if (fwrite(buf, 1, n, f) != n)
				return lf_fail_errno(err, EX_IOERR, errno, "%s: write failed", name);
			n = 0;
		}
		for (int k = 0; k < 4; k++) {
			char tmp[24], *s = fmt_i64(tmp + sizeof tmp, v[k]);
			size_t l = (size_t)(tmp + sizeof tmp - s);
			memcpy(buf + n, s, l);
			n += l;
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
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
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
			return 0; /* continuation byte, overlong lead 0xc0/0xc1, or > U+10FFFF */
		}
		if ((size_t)(end - p) <= n)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((p[k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0; /* overlong or out of range */
		if (cp >= 0xd800 && cp <= 0xdfff)
			return 0; /* surrogate */
		p += n + 1;
	}
	return 1;
}

/* ---- movies ---- */

void movies_free(movies *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->rows[i].title);
		free(m->rows[i].release_date);
		free(m->rows[i].genres);
	}
	free(m->rows);
	m->rows = NULL;
	m->n = m->cap = 0;
}

static int cmp_id_line(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;
	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return (x[1] > y[1]) - (x[1] < y[1]);
}

/* Fails naming the later line of the first repeated id (ids sorted with their lines). */
static int check_unique_ids(const int32_t *ids, size_t n, const char *name, const char *what,
			    lf_error *err)
{
	int64_t(*pairs)[2] = lf_calloc(n, sizeof *pairs);
	if (!pairs)
		return lf_fail(err, EX_OSERR, "%s: out of memory", name);
	for (size_t i = 0; i < n; i++) {
		pairs[i][0] = ids[i];
		pairs[i][1] = (int64_t)i + 1;
	}
	qsort(pairs, n, sizeof *pairs, cmp_id_line);
	for (size_t i = 1; i < n; i++) {
		if (pairs[i][0] == pairs[i - 1][0]) {
			/* among all repeats, name the earliest second occurrence */
			size_t best = i;
			for (size_t j = i + 1; j < n; j++)
				if (pairs[j][0] == pairs[j - 1][0] && pairs[j][1] < pairs[best][1])
					best = j;
			lf_fail(err, EX_DATAERR, "%s:%lld: %s %lld repeated (first at line %lld)",
				name, (long long)pairs[best][1], what, (long long)pairs[best][0],
				(long long)pairs[best - 1][1]);
			free(pairs);
			return -1;
		}
	}
	free(pairs);
	return 0;
}

int movies_parse(const char *buf, size_t len, const char *name, movies *out, lf_error *err)
{
	memset(out, 0, sizeof *out);
	int32_t *ids = NULL;
	size_t pos = 0, lineno = 0, llen;
	const char *line;
	if (len == 0)
		return lf_fail(err, EX_DATAERR, "%s: empty input; expected movies", name);
	while (next_line(buf, len, &pos, &line, &llen)) {
		lineno++;
		const char *f[4];
		size_t fl[4];
		int64_t id;
		if (check_cr(line, llen, name, lineno, err))
			goto fail;
		if (!utf8_valid(line, llen)) {
			lf_fail(err, EX_DATAERR, "%s:%zu: not valid UTF-8", name, lineno);
			goto fail;
		}
		int nf = split_tabs(line, llen, f, fl, 4);
		if (nf != 4) {
			lf_fail(err, EX_DATAERR,
				"%s:%zu: expected 4 tab-separated fields "
				"(movie_id, title, release_date, genres), found %s%d",
				name, lineno, nf > 4 ? "more than " : "", nf > 4 ? 4 : nf);
			goto fail;
		}
		if (int_field(f[0], fl[0], "movie id", 0, INT32_MAX, &id, name, lineno, err))
			goto fail;
		if (fl[1] == 0) {
			lf_fail(err, EX_DATAERR, "%s:%zu: empty title", name, lineno);
			goto fail;
		}
		movie_row row = {.id = (int32_t)id,
				 .title = strndup(f[1], fl[1]),
				 .release_date = strndup(f[2], fl[2]),
				 .genres = strndup(f[3], fl[3])};
		if (!row.title || !row.release_date || !row.genres) {
			free(row.title);
			free(row.release_date);
			free(row.genres);
			lf_fail(err, EX_OSERR, "%s: out of memory", name);
			goto fail;
		}
		if (out->n == out->cap) {
			size_t ncap = out->cap ? out->cap * 2 : 256;
			movie_row *nr = lf_reallocarray(out->rows, ncap, sizeof *nr);
			if (!nr) {
				free(row.title);
				free(row.release_date);
				free(row.genres);
				lf_fail(err, EX_OSERR, "%s: out of memory", name);
				goto fail;
			}
			out->rows = nr;
			out->cap = ncap;
		}
		out->rows[out->n++] = row;
	}
	ids = lf_calloc(out->n, sizeof *ids);
	if (!ids) {
		lf_fail(err, EX_OSERR, "%s: out of memory", name);
		goto fail;
	}
	for (size_t i = 0; i < out->n; i++)
		ids[i] = out->rows[i].id;
	if (check_unique_ids(ids, out->n, name, "movie id", err))
		goto fail;
	free(ids);
	return 0;
fail:
	free(ids);
	movies_free(out);
	return -1;
}

int movies_read(FILE *f, const char *name, movies *out, lf_error *err)
{
	unsigned char *buf;
	size_t len;
	memset(out, 0, sizeof *out);
	if (read_all(f, name, TSV_MAX_BYTES, &buf, &len, err))
		return -1;
	int rc = movies_parse((const char *)buf, len, name, out, err);
	free(buf);
	return rc;
}

static int clean_text(const char *s)
{
	return s && !strpbrk(s, "\t\n\r") && utf8_valid(s, strlen(s));
}

int movies_write(FILE *f, const char *name, const movies *m, lf_error *err)
{
	for (size_t i = 0; i < m->n; i++) {
		const movie_row *r = &m->rows[i];
		if (r->id < 0 || !clean_text(r->title) || !r->title[0] ||
		    !clean_text(r->release_date) || !clean_text(r->genres))
			return lf_fail(err, EX_DATAERR,
				       "%s: movie %d has a field with a tab, newline or bad UTF-8",
				       name, r->id);
		if (fprintf(f, "%d\t%s\t%s\t%s\n", r->id, r->title, r->release_date, r->genres) <
		    0)
			return lf_fail_errno(err, EX_IOERR, errno, "%s: write failed", name);
	}
	return 0;
}

/* ---- metrics ---- */

static int metric_name_ok(const char *s, size_t len)
{
	if (len == 0 || len >= METRIC_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("_@.:/-", c)) || c == '\0')
			return 0;
	}
	return 1;
}

void metrics_free(metric_set *m)
{
	free(m->items);
	m->items = NULL;
	m->n = m->cap = 0;
}

int metrics_get(const metric_set *m, const char *name, double *value)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->items[i].name, name) == 0) {
			*value = m->items[i].value;
			return 0;
		}
	return -1;
}

int metrics_set(metric_set *m, const char *name, double value)
{
	if (!metric_name_ok(name, strlen(name)) || !isfinite(value))
		return -1;
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->items[i].name, name) == 0) {
			m->items[i].value = value;
			return 0;
		}
	if (m->n == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 16;
		metric *ni = lf_reallocarray(m->items, ncap, sizeof *ni);
		if (!ni)
			return -1;
		m->items = ni;
		m->cap = ncap;
	}
	metric *it = &m->items[m->n++];
	memset(it, 0, sizeof *it);
	memcpy(it->name, name, strlen(name));
	it->value = value;
	return 0;
}

int metrics_parse(const char *buf, size_t len, const char *name, metric_set *out, lf_error *err)
{
	memset(out, 0, sizeof *out);
	size_t pos = 0, lineno = 0, llen;
	const char *line;
	while (next_line(buf, len, &pos, &line, &llen)) {
		lineno++;
		const char *f[2];
		size_t fl[2];
		char num[64];
		double v, old;
		if (check_cr(line, llen, name, lineno, err))
			goto fail;
		if (split_tabs(line, llen, f, fl, 2) != 2) {
			lf_fail(err, EX_DATAERR, "%s:%zu: expected 2 tab-separated fields (name, value)",
				name, lineno);
			goto fail;
		}
		if (!metric_name_ok(f[0], fl[0])) {
			lf_fail(err, EX_DATAERR, "%s:%zu: bad metric name '%.*s'", name, lineno,
				(int)(fl[0] < SHOW ? fl[0] : SHOW), f[0]);
			goto fail;
		}
		char key[METRIC_NAME_MAX];
		memcpy(key, f[0], fl[0]);
		key[fl[0]] = '\0';
		if (fl[1] >= sizeof num ||
		    (memcpy(num, f[1], fl[1]), num[fl[1]] = '\0', parse_double(num, -HUGE_VAL,
									      HUGE_VAL, &v))) {
			lf_fail(err, EX_DATAERR, "%s:%zu: %s: value '%.*s' is not a finite number",
				name, lineno, key, (int)(fl[1] < SHOW ? fl[1] : SHOW), f[1]);
			goto fail;
		}
		if (metrics_get(out, key, &old) == 0) {
			lf_fail(err, EX_DATAERR, "%s:%zu: metric %s repeated", name, lineno, key);
			goto fail;
		}
		if (metrics_set(out, key, v)) {
			lf_fail(err, EX_OSERR, "%s: out of memory", name);
			goto fail;
		}
	}
	return 0;
fail:
	metrics_free(out);
	return -1;
}

int metrics_read(FILE *f, const char *name, metric_set *out, lf_error *err)
{
	unsigned char *buf;
	size_t len;
	memset(out, 0, sizeof *out);
	if (read_all(f, name, TSV_MAX_BYTES, &buf, &len, err))
		return -1;
	int rc = metrics_parse((const char *)buf, len, name, out, err);
	free(buf);
	return rc;
}

int metrics_write(FILE *f, const char *name, const metric_set *m, lf_error *err)
{
	for (size_t i = 0; i < m->n; i++) {
		/* the shortest "%.Ng" that reads back as the same double */
		char num[40];
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(num, sizeof num, "%.*g", prec, m->items[i].value);
			if (strtod(num, NULL) == m->items[i].value)
				break;
		}
		if (fprintf(f, "%s\t%s\n", m->items[i].name, num) < 0)
			return lf_fail_errno(err, EX_IOERR, errno, "%s: write failed", name);
	}
	return 0;
}
