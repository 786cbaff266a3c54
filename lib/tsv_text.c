/*
 * tsv_text.c — the movies and metrics TSVs of tsv.h (the ratings are in
 * tsv.c). Same approach: a whole buffer, strict line-by-line parsing with
 * the helpers of tsv_lines.h, every message naming file and line.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tsv.h"
#include "tsv_lines.h"
#include "util.h"

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
	while (tsv_next_line(buf, len, &pos, &line, &llen)) {
		lineno++;
		const char *f[4];
		size_t fl[4];
		int64_t id;
		if (tsv_check_cr(line, llen, name, lineno, err))
			goto fail;
		if (!utf8_valid(line, llen)) {
			lf_fail(err, EX_DATAERR, "%s:%zu: not valid UTF-8", name, lineno);
			goto fail;
		}
		int nf = tsv_split_tabs(line, llen, f, fl, 4);
		if (nf != 4) {
			lf_fail(err, EX_DATAERR,
				"%s:%zu: expected 4 tab-separated fields "
				"(movie_id, title, release_date, genres), found %s%d",
				name, lineno, nf > 4 ? "more than " : "", nf > 4 ? 4 : nf);
			goto fail;
		}
		if (tsv_int_field(f[0], fl[0], "movie id", 0, INT32_MAX, &id, name, lineno, err))
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
		if (fprintf(f, "%d\t%s\t%s\t%s\n", r->id, r->title, r->release_date, r->genres) < 0)
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
		      strchr("_@.:/-", c)) ||
		    c == '\0')
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
	while (tsv_next_line(buf, len, &pos, &line, &llen)) {
		lineno++;
		const char *f[2];
		size_t fl[2];
		char num[64];
		double v, old;
		if (tsv_check_cr(line, llen, name, lineno, err))
			goto fail;
		if (tsv_split_tabs(line, llen, f, fl, 2) != 2) {
			lf_fail(err, EX_DATAERR,
				"%s:%zu: expected 2 tab-separated fields (name, value)", name,
				lineno);
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
		if (fl[1] >= sizeof num || (memcpy(num, f[1], fl[1]), num[fl[1]] = '\0',
					    parse_double(num, -HUGE_VAL, HUGE_VAL, &v))) {
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
		char num[FMT_DOUBLE_MAX];
		if (fprintf(f, "%s\t%s\n", m->items[i].name, fmt_double(num, m->items[i].value)) < 0)
			return lf_fail_errno(err, EX_IOERR, errno, "%s: write failed", name);
	}
	return 0;
}
