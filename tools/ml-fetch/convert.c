/*
 * convert.c — GroupLens' '|'-separated files into the project's TSVs.
 *
 * u.item is Latin-1 in the published archive; a copy that is already valid
 * UTF-8 as a whole (someone re-encoded it) is passed through instead of
 * being encoded twice — Latin-1 text with accents is practically never
 * valid UTF-8, so the test cannot mistake one for the other on real data.
 * Every result is read back by the strict readers of lib/tsv before it is
 * returned, so ml-fetch never emits what the next tool would reject.
 */
#include <stdlib.h>
#include <string.h>

#include "fetch.h"
#include "tsv.h"
#include "util.h"

#define MAX_GENRES 64
#define MAX_FIELDS (5 + MAX_GENRES)

/* A genre name: a view into the u.genre buffer (no copy, nothing to free). */
typedef struct genre_view {
	const char *s;
	size_t len;
} genre_view;

/* Lines of [buf, buf+len); returns 1 with a line (no '\n'), 0 at the end. */
static int next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *ll)
{
	if (*pos >= len)
		return 0;
	const char *p = buf + *pos, *nl = memchr(p, '\n', len - *pos);
	*ll = nl ? (size_t)(nl - p) : len - *pos;
	*line = p;
	*pos += *ll + (nl ? 1 : 0);
	return 1;
}

/* Splits on '|'; returns the field count, or max + 1 when there are more. */
static int split_bars(const char *line, size_t len, const char **f, size_t *fl, int max)
{
	int n = 0;
	const char *p = line, *end = line + len;
	for (;;) {
		const char *b = memchr(p, '|', (size_t)(end - p));
		if (n == max)
			return max + 1;
		f[n] = p;
		fl[n] = b ? (size_t)(b - p) : (size_t)(end - p);
		n++;
		if (!b)
			return n;
		p = b + 1;
	}
}

static int has_ctl(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 1;
	return 0;
}

/* Writes [s, s+len) as UTF-8: Latin-1 bytes widened unless utf8 is set. */
static void put_text(FILE *o, const char *s, size_t len, int utf8)
{
	if (utf8) {
		fwrite(s, 1, len, o);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			putc(c, o);
		} else {
			putc(0xc0 | c >> 6, o);
			putc(0x80 | (c & 0x3f), o);
		}
	}
}

/* Closes a memstream and hands out its buffer, or fails. */
static int finish(FILE *o, char **out, const char *what, lf_error *err)
{
	int bad = ferror(o);
	if (fclose(o) != 0 || bad) {
		free(*out);
		*out = NULL;
		return lf_fail(err, EX_OSERR, "%s: out of memory", what);
	}
	return 0;
}

static int read_genres(const char *g, size_t glen, const char *name,
		       genre_view names[MAX_GENRES], int *count, lf_error *err)
{
	size_t pos = 0, lineno = 0, ll;
	const char *line;
	*count = 0;
	while (next_line(g, glen, &pos, &line, &ll)) {
		lineno++;
		if (ll == 0)
			continue; /* u.genre ends with an empty line */
		const char *f[2];
		size_t fl[2];
		int64_t idx;
		if (split_bars(line, ll, f, fl, 2) != 2 || fl[0] == 0 || has_ctl(f[0], fl[0]) ||
		    parse_i64_n(f[1], fl[1], 0, MAX_GENRES - 1, &idx))
			return lf_fail(err, EX_DATAERR,
				       "%s:%zu: expected 'name|index' with index "
				       "0..%d",
				       name, lineno, MAX_GENRES - 1);
		if (names[idx].s)
			return lf_fail(err, EX_DATAERR, "%s:%zu: genre index %lld repeated", name,
				       lineno, (long long)idx);
		names[idx] = (genre_view){f[0], fl[0]};
		if (idx + 1 > *count)
			*count = (int)idx + 1;
	}
	for (int i = 0; i < *count; i++)
		if (!names[i].s)
			return lf_fail(err, EX_DATAERR, "%s: genre index %d missing", name, i);
	if (*count == 0)
		return lf_fail(err, EX_DATAERR, "%s: no genres", name);
	return 0;
}

static int item_line(FILE *o, const char *line, size_t ll, int utf8, const genre_view *genres,
		     int ng, const char *name, size_t lineno, lf_error *err)
{
	const char *f[MAX_FIELDS];
	size_t fl[MAX_FIELDS];
	int64_t id;
	int nf = split_bars(line, ll, f, fl, MAX_FIELDS);
	if (nf != 5 + ng)
		return lf_fail(err, EX_DATAERR,
			       "%s:%zu: expected %d '|'-separated fields "
			       "(id, title, dates, URL, %d genre flags), found %d",
			       name, lineno, 5 + ng, ng, nf);
	if (parse_i64_n(f[0], fl[0], 0, INT32_MAX, &id))
		return lf_fail(err, EX_DATAERR,
			       "%s:%zu: movie id '%.*s' is not an integer in "
			       "0..2147483647",
			       name, lineno, (int)(fl[0] > 40 ? 40 : fl[0]), f[0]);
	if (fl[1] == 0 || has_ctl(f[1], fl[1]) || has_ctl(f[2], fl[2]))
		return lf_fail(err, EX_DATAERR,
			       "%s:%zu: empty title, or a control character "
			       "(tab, CR) in title or date",
			       name, lineno);
	fprintf(o, "%lld\t", (long long)id);
	put_text(o, f[1], fl[1], utf8);
	putc('\t', o);
	put_text(o, f[2], fl[2], utf8);
	putc('\t', o);
	int first = 1;
	for (int g = 0; g < ng; g++) {
		const char *flag = f[5 + g];
		if (fl[5 + g] != 1 || (flag[0] != '0' && flag[0] != '1'))
			return lf_fail(err, EX_DATAERR,
				       "%s:%zu: genre flag %d is '%.*s', not 0 "
				       "or 1",
				       name, lineno, g, (int)(fl[5 + g] > 8 ? 8 : fl[5 + g]), flag);
		if (flag[0] == '1') {
			if (!first)
				putc('|', o);
			fwrite(genres[g].s, 1, genres[g].len, o);
			first = 0;
		}
	}
	putc('\n', o);
	return 0;
}

int convert_movies(const char *item, size_t ilen, const char *item_name, const char *genre,
		   size_t glen, const char *genre_name, char **out, size_t *olen, lf_error *err)
{
	genre_view genres[MAX_GENRES] = {{0}};
	int ng = 0, rc = -1;
	FILE *o = NULL;
	*out = NULL;
	if (read_genres(genre, glen, genre_name, genres, &ng, err))
		goto done;
	if (ilen == 0) {
		lf_fail(err, EX_DATAERR, "%s: empty", item_name);
		goto done;
	}
	o = open_memstream(out, olen);
	if (!o) {
		lf_fail(err, EX_OSERR, "out of memory");
		goto done;
	}
	int utf8 = utf8_valid(item, ilen);
	size_t pos = 0, lineno = 0, ll;
	const char *line;
	while (next_line(item, ilen, &pos, &line, &ll)) {
		lineno++;
		if (item_line(o, line, ll, utf8, genres, ng, item_name, lineno, err)) {
			fclose(o);
			free(*out);
			*out = NULL;
			goto done;
		}
	}
	if (finish(o, out, item_name, err))
		goto done;
	/* the strict reader checks the result: unique ids, UTF-8, 4 fields */
	movies m;
	if (movies_parse(*out, *olen, item_name, &m, err) == 0) {
		movies_free(&m);
		rc = 0;
	} else {
		free(*out);
		*out = NULL;
	}
done:
	return rc;
}

static int cmp_pair(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;
	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return (x[1] > y[1]) - (x[1] < y[1]);
}

/* Fails naming the earliest line whose id appeared before. */
static int unique_ids(int64_t (*ids)[2], size_t n, const char *name, lf_error *err)
{
	qsort(ids, n, sizeof *ids, cmp_pair);
	int64_t worst = -1, worst_first = 0, worst_id = 0;
	for (size_t i = 1; i < n; i++)
		if (ids[i][0] == ids[i - 1][0] && (worst < 0 || ids[i][1] < worst)) {
			worst = ids[i][1];
			worst_first = ids[i - 1][1];
			worst_id = ids[i][0];
		}
	if (worst >= 0)
		return lf_fail(err, EX_DATAERR,
			       "%s:%lld: user id %lld repeated (first at line %lld)", name,
			       (long long)worst, (long long)worst_id, (long long)worst_first);
	return 0;
}

int convert_users(const char *user, size_t ulen, const char *name, char **out, size_t *olen,
		  lf_error *err)
{
	*out = NULL;
	if (ulen == 0)
		return lf_fail(err, EX_DATAERR, "%s: empty", name);
	if (!utf8_valid(user, ulen))
		return lf_fail(err, EX_DATAERR, "%s: not ASCII or UTF-8 text", name);
	size_t cap = 1024, n = 0;
	int64_t(*ids)[2] = malloc(cap * sizeof *ids);
	FILE *o = open_memstream(out, olen);
	if (!ids || !o) {
		free(ids);
		if (o)
			fclose(o);
		free(*out);
		*out = NULL;
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	size_t pos = 0, lineno = 0, ll;
	const char *line;
	while (next_line(user, ulen, &pos, &line, &ll)) {
		lineno++;
		const char *f[5];
		size_t fl[5];
		int64_t id, age;
		if (split_bars(line, ll, f, fl, 5) != 5 || has_ctl(line, ll)) {
			lf_fail(err, EX_DATAERR,
				"%s:%zu: expected 5 '|'-separated fields (id, age, "
				"gender, occupation, zip code) and no control characters",
				name, lineno);
			goto fail;
		}
		if (parse_i64_n(f[0], fl[0], 0, INT32_MAX, &id) ||
		    parse_i64_n(f[1], fl[1], 0, 200, &age)) {
			lf_fail(err, EX_DATAERR,
				"%s:%zu: user id or age is not an integer (id "
				"0..2147483647, age 0..200)",
				name, lineno);
			goto fail;
		}
		if (fl[2] != 1 || (f[2][0] != 'M' && f[2][0] != 'F') || fl[3] == 0 || fl[4] == 0) {
			lf_fail(err, EX_DATAERR,
				"%s:%zu: gender must be M or F, occupation and zip "
				"code non-empty",
				name, lineno);
			goto fail;
		}
		if (n == cap) {
			int64_t(*nids)[2] = lf_reallocarray(ids, cap * 2, sizeof *ids);
			if (!nids) {
				lf_fail(err, EX_OSERR, "out of memory");
				goto fail;
			}
			ids = nids;
			cap *= 2;
		}
		ids[n][0] = id;
		ids[n][1] = (int64_t)lineno;
		n++;
		fprintf(o, "%lld\t%lld\t%c\t%.*s\t%.*s\n", (long long)id, (long long)age, f[2][0],
			(int)fl[3], f[3], (int)fl[4], f[4]);
	}
	if (unique_ids(ids, n, name, err))
		goto fail;
	free(ids);
	return finish(o, out, name, err);
fail:
	free(ids);
	fclose(o);
	free(*out);
	*out = NULL;
	return -1;
}

int convert_ratings(const char *buf, size_t len, const char *name, char **out, size_t *olen,
		    lf_error *err)
{
	ratings r;
	*out = NULL;
	if (ratings_parse(buf, len, name, &r, err))
		return -1;
	FILE *o = open_memstream(out, olen);
	if (!o) {
		ratings_free(&r);
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	int rc = ratings_write(o, name, &r, err);
	ratings_free(&r);
	if (rc) {
		fclose(o);
		free(*out);
		*out = NULL;
		return -1;
	}
	return finish(o, out, name, err);
}
