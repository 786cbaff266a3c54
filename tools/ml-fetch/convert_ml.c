/*
 * convert_ml.c — ML-1M, ML-10M and the CSV releases (ML-20M and later,
 * ml-latest-small) into the project's TSVs.
 *
 *   ratings.dat  UserID::MovieID::Rating::Timestamp       (ML-1M, ML-10M)
 *   movies.dat   MovieID::Title::Genres                    (Latin-1 in ML-1M)
 *   users.dat    UserID::Gender::Age::Occupation::Zip-code (ML-1M)
 *   ratings.csv  userId,movieId,rating,timestamp           (header, "4.0", "3.5")
 *   movies.csv   movieId,title,genres  (header; a title holding a comma or a
 *                quote is quoted, its quotes doubled: "Foo ""Bar"", The (1999)")
 *
 * Ratings are streamed: each line is checked and written as it is read.
 * Repeated (user, movie) pairs are found per user, which is exact because
 * every release keeps each user's ratings together — and a file that does
 * not is refused, naming the line where a finished user comes back. So the
 * memory is one user's movies and the set of users seen, not the file.
 */
#include <stdlib.h>
#include <string.h>

#include "fetch.h"
#include "tsv.h"

/* ---- small helpers ---- */

static int bad_bytes(const char *s, size_t n, const char *name, size_t lineno, lf_error *err)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\r' || s[i] == '\0' || s[i] == '\t')
			return lf_fail(err, EX_DATAERR, "%s:%zu: %s at column %zu", name, lineno,
				       s[i] == '\r' ? "a carriage return"
				       : s[i] ? "a tab" : "a NUL byte", i + 1);
	return 0;
}

/* Splits on sep ("::" or ","); returns the field count, max + 1 when more. */
static int split_sep(const char *line, size_t len, const char *sep, const char **f, size_t *fl,
		     int max)
{
	size_t sl = strlen(sep);
	int n = 0;
	const char *p = line, *end = line + len;
	for (;;) {
		const char *q = p;
		for (;;) { /* the next sep: memchr for its first byte */
			q = memchr(q, sep[0], (size_t)(end - q));
			if (!q || (q + sl <= end && memcmp(q, sep, sl) == 0))
				break;
			q++;
		}
		if (!q)
			q = end;
		if (n == max)
			return max + 1;
		f[n] = p;
		fl[n++] = (size_t)(q - p);
		if (q == end)
			return n;
		p = q + sl;
	}
}

/* Decimal v at p; returns the end. */
static char *put_i64(char *p, int64_t v)
{
	char tmp[24];
	int n = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do
		tmp[n++] = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*p++ = '-';
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* ---- per-user repeat check: movie -> first line, open addressing ---- */

typedef struct seen {
	int32_t *key;
	size_t *line;
	uint32_t *gen; /* slot in use when gen == cur */
	size_t cap, n;
	uint32_t cur;
} seen;

static size_t slot_of(int32_t k, size_t cap)
{
	uint64_t h = (uint64_t)(uint32_t)k * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 20) & (cap - 1);
}

static int seen_grow(seen *s)
{
	size_t ncap = s->cap ? s->cap * 2 : 1024;
	seen t = {calloc(ncap, sizeof *t.key), calloc(ncap, sizeof *t.line),
		  calloc(ncap, sizeof *t.gen), ncap, 0, 1};
	if (!t.key || !t.line || !t.gen) {
		free(t.key), free(t.line), free(t.gen);
		return -1;
	}
	for (size_t i = 0; i < s->cap; i++)
		if (s->gen[i] == s->cur) {
			size_t h = slot_of(s->key[i], ncap);
			while (t.gen[h])
				h = (h + 1) & (ncap - 1);
			t.key[h] = s->key[i], t.line[h] = s->line[i], t.gen[h] = 1;
			t.n++;
		}
	free(s->key), free(s->line), free(s->gen);
	*s = t;
	return 0;
}

/* 0: added; 1: present (*first its line); -1: out of memory. */
static int seen_add(seen *s, int32_t k, size_t line, size_t *first)
{
	if ((s->n + 1) * 2 > s->cap && seen_grow(s))
		return -1;
	size_t h = slot_of(k, s->cap);
	while (s->gen[h] == s->cur) {
		if (s->key[h] == k) {
			*first = s->line[h];
			return 1;
		}
		h = (h + 1) & (s->cap - 1);
	}
	s->key[h] = k, s->line[h] = line, s->gen[h] = s->cur;
	s->n++;
	return 0;
}

static int seen_find(const seen *s, int32_t k, size_t *line)
{
	if (s->cap == 0)
		return 0;
	for (size_t h = slot_of(k, s->cap); s->gen[h] == s->cur; h = (h + 1) & (s->cap - 1))
		if (s->key[h] == k) {
			*line = s->line[h];
			return 1;
		}
	return 0;
}

static void seen_reset(seen *s)
{
	s->n = 0;
	if (++s->cur == 0) { /* wrapped: clear for real */
		memset(s->gen, 0, s->cap * sizeof *s->gen);
		s->cur = 1;
	}
}

static void seen_free(seen *s)
{
	free(s->key), free(s->line), free(s->gen);
}

/* ---- ratings ---- */

typedef struct rstate {
	seen movies, users; /* this user's movies; every finished user (line = its last) */
	int32_t user;
	size_t user_end;
	char buf[1 << 16];
	size_t n;
} rstate;

static int rating_line(rstate *st, const char *line, size_t ll, release_kind kind,
		       const char *name, size_t lineno, out_sink *o, lf_error *err)
{
	const char *f[4];
	size_t fl[4];
	int64_t u, m, ts;
	float r;
	int csv = kind == KIND_CSV;
	if (bad_bytes(line, ll, name, lineno, err))
		return -1;
	int nf = split_sep(line, ll, csv ? "," : "::", f, fl, 4);
	if (nf != 4)
		return lf_fail(err, EX_DATAERR, "%s:%zu: expected 4 %s fields (%s), found %s%d",
			       name, lineno, csv ? "comma-separated" : "'::'-separated",
			       csv ? "userId,movieId,rating,timestamp"
				   : "UserID::MovieID::Rating::Timestamp",
			       nf > 4 ? "more than " : "", nf > 4 ? 4 : nf);
	if (parse_i64_n(f[0], fl[0], 0, INT32_MAX, &u) ||
	    parse_i64_n(f[1], fl[1], 0, INT32_MAX, &m))
		return lf_fail(err, EX_DATAERR, "%s:%zu: user id '%.*s' or movie id '%.*s' is not "
			       "an integer in 0..2147483647", name, lineno, (int)(fl[0] % 41),
			       f[0], (int)(fl[1] % 41), f[1]);
	if (rating_parse(f[2], fl[2], &r))
		return lf_fail(err, EX_DATAERR,
			       "%s:%zu: rating '%.*s' is not on the scale 0.5..5 in steps of 0.5",
			       name, lineno, (int)(fl[2] % 41), f[2]);
	if (parse_i64_n(f[3], fl[3], INT64_MIN, INT64_MAX, &ts))
		return lf_fail(err, EX_DATAERR, "%s:%zu: timestamp '%.*s' is not an integer",
			       name, lineno, (int)(fl[3] % 41), f[3]);
	size_t first = 0;
	int rc;
	if (st->user_end == 0 || u != st->user) {
		if (st->user_end && seen_add(&st->users, st->user, st->user_end, &first) < 0)
			return lf_fail(err, EX_OSERR, "out of memory");
		if (seen_find(&st->users, (int32_t)u, &first))
			return lf_fail(err, EX_DATAERR,
				       "%s:%zu: user %lld's ratings resume here after other users "
				       "(they ended at line %zu); the release keeps each user's "
				       "ratings together", name, lineno, (long long)u, first);
		seen_reset(&st->movies);
		st->user = (int32_t)u;
	}
	st->user_end = lineno;
	if ((rc = seen_add(&st->movies, (int32_t)m, lineno, &first)) == 1)
		return lf_fail(err, EX_DATAERR, "%s:%zu: user %lld rated movie %lld again (first "
			       "at line %zu)", name, lineno, (long long)u, (long long)m, first);
	if (rc < 0)
		return lf_fail(err, EX_OSERR, "out of memory");
	if (st->n > sizeof st->buf - 80) {
		sink_write(o, st->buf, st->n);
		st->n = 0;
	}
	char *p = put_i64(st->buf + st->n, u);
	*p++ = '\t';
	p = put_i64(p, m);
	*p++ = '\t';
	p += rating_format(r, p);
	*p++ = '\t';
	p = put_i64(p, ts);
	*p++ = '\n';
	st->n = (size_t)(p - st->buf);
	return 0;
}

int convert_ratings_stream(line_reader *r, release_kind kind, out_sink *o, size_t *rows,
			   lf_error *err)
{
	rstate *st = calloc(1, sizeof *st);
	if (!st)
		return lf_fail(err, EX_OSERR, "out of memory");
	const char *line;
	size_t ll;
	int got, rc = 0;
	*rows = 0;
	while (rc == 0 && (got = lines_next(r, &line, &ll, err)) == 1) {
		if (kind == KIND_CSV && r->lineno == 1) {
			static const char head[] = "userId,movieId,rating,timestamp";
			if (ll != sizeof head - 1 || memcmp(line, head, ll) != 0)
				rc = lf_fail(err, EX_DATAERR, "%s:1: expected the header '%s'",
					     r->label, head);
			continue;
		}
		rc = rating_line(st, line, ll, kind, r->label, r->lineno, o, err);
		++*rows;
	}
	if (rc == 0 && got < 0)
		rc = -1;
	if (rc == 0 && *rows == 0)
		rc = lf_fail(err, EX_DATAERR, "%s: no ratings", r->label);
	if (rc == 0)
		sink_write(o, st->buf, st->n);
	seen_free(&st->movies);
	seen_free(&st->users);
	free(st);
	return rc;
}

/* ---- movies ---- */

/* Parses one RFC 4180 record of 3 fields (no newline inside a field). The
 * unquoted fields point into line; a quoted one is unescaped into tmp. */
static int csv_fields(const char *line, size_t ll, const char **f, size_t *fl, char *tmp,
		      const char *name, size_t lineno, lf_error *err)
{
	size_t i = 0, used = 0;
	for (int n = 0;; n++) {
		if (n == 3)
			return lf_fail(err, EX_DATAERR, "%s:%zu: more than 3 fields (movieId,title,"
				       "genres); quote a title that holds a comma", name, lineno);
		if (i < ll && line[i] == '"') {
			f[n] = tmp + used;
			for (i++;; i++) {
				if (i >= ll)
					return lf_fail(err, EX_DATAERR,
						       "%s:%zu: a quoted field is not closed", name,
						       lineno);
				if (line[i] == '"') {
					if (i + 1 < ll && line[i + 1] == '"') {
						tmp[used++] = '"';
						i++;
						continue;
					}
					i++;
					break;
				}
				tmp[used++] = line[i];
			}
			fl[n] = (size_t)(tmp + used - f[n]);
			if (i < ll && line[i] != ',')
				return lf_fail(err, EX_DATAERR, "%s:%zu: text after a closing quote "
					       "(column %zu)", name, lineno, i + 1);
		} else {
			f[n] = line + i;
			while (i < ll && line[i] != ',') {
				if (line[i] == '"')
					return lf_fail(err, EX_DATAERR, "%s:%zu: a quote inside an "
						       "unquoted field (column %zu)", name, lineno,
						       i + 1);
				i++;
			}
			fl[n] = (size_t)(line + i - f[n]);
		}
		if (i >= ll) {
			if (n != 2)
				return lf_fail(err, EX_DATAERR, "%s:%zu: expected 3 fields (movieId,"
					       "title,genres), found %d", name, lineno, n + 1);
			return 0;
		}
		i++; /* the comma */
	}
}

/* Writes [s, s+n) as UTF-8: Latin-1 bytes widened unless utf8. */
static void put_text(FILE *o, const char *s, size_t n, int utf8)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (utf8 || c < 0x80) {
			putc(c, o);
		} else {
			putc(0xc0 | c >> 6, o);
			putc(0x80 | (c & 0x3f), o);
		}
	}
}

static int movie_line(FILE *o, seen *ids, const char *line, size_t ll, release_kind kind,
		      int utf8, char *tmp, const char *name, size_t lineno, lf_error *err)
{
	size_t first = 0;
	int rc;
	const char *f[3];
	size_t fl[3];
	int64_t id;
	if (bad_bytes(line, ll, name, lineno, err))
		return -1;
	if (kind == KIND_CSV) {
		if (csv_fields(line, ll, f, fl, tmp, name, lineno, err))
			return -1;
	} else if (split_sep(line, ll, "::", f, fl, 3) != 3) {
		return lf_fail(err, EX_DATAERR, "%s:%zu: expected 3 '::'-separated fields "
			       "(MovieID::Title::Genres)", name, lineno);
	}
	if (parse_i64_n(f[0], fl[0], 0, INT32_MAX, &id))
		return lf_fail(err, EX_DATAERR, "%s:%zu: movie id '%.*s' is not an integer in "
			       "0..2147483647", name, lineno, (int)(fl[0] % 41), f[0]);
	if ((rc = seen_add(ids, (int32_t)id, lineno, &first)) != 0)
		return rc < 0 ? lf_fail(err, EX_OSERR, "out of memory")
			      : lf_fail(err, EX_DATAERR, "%s:%zu: movie id %lld repeated (first "
					"at line %zu)", name, lineno, (long long)id, first);
	if (fl[1] == 0)
		return lf_fail(err, EX_DATAERR, "%s:%zu: empty title", name, lineno);
	for (size_t i = 0; i < fl[1]; i++)
		if ((unsigned char)f[1][i] < 0x20 || f[1][i] == 0x7f)
			return lf_fail(err, EX_DATAERR, "%s:%zu: a control character in the title",
				       name, lineno);
	if (utf8 && !utf8_valid(f[1], fl[1]))
		return lf_fail(err, EX_DATAERR, "%s:%zu: the title is not UTF-8", name, lineno);
	static const char none[] = "(no genres listed)";
	int no_genres = fl[2] == sizeof none - 1 && memcmp(f[2], none, fl[2]) == 0;
	fprintf(o, "%lld\t", (long long)id);
	put_text(o, f[1], fl[1], utf8);
	fputs("\t\t", o);
	if (!no_genres)
		put_text(o, f[2], fl[2], utf8);
	putc('\n', o);
	return 0;
}

int convert_movies_ml(const char *buf, size_t len, const char *name, release_kind kind,
		      char **out, size_t *olen, lf_error *err)
{
	*out = NULL;
	if (len == 0)
		return lf_fail(err, EX_DATAERR, "%s: empty", name);
	/* ML-1M's movies.dat is Latin-1; a file that is valid UTF-8 as a whole (ML-10M,
	 * or a re-encoded copy) is taken as UTF-8. The CSV releases are UTF-8. */
	int utf8 = kind == KIND_CSV || utf8_valid(buf, len);
	seen ids = {0};
	char *tmp = malloc(len + 1);
	FILE *o = open_memstream(out, olen);
	if (!tmp || !o) {
		free(tmp);
		if (o)
			fclose(o);
		free(*out);
		*out = NULL;
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	size_t pos = 0, lineno = 0, ll = 0;
	int rc = 0;
	while (rc == 0 && pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		ll = nl ? (size_t)(nl - line) : len - pos;
		pos += ll + (nl ? 1 : 0);
		lineno++;
		if (kind == KIND_CSV && lineno == 1) {
			static const char head[] = "movieId,title,genres";
			if (ll != sizeof head - 1 || memcmp(line, head, ll) != 0)
				rc = lf_fail(err, EX_DATAERR, "%s:1: expected the header '%s'", name,
					     head);
			continue;
		}
		rc = movie_line(o, &ids, line, ll, kind, utf8, tmp, name, lineno, err);
	}
	free(tmp);
	seen_free(&ids);
	int bad = ferror(o);
	if (fclose(o) != 0 || bad) {
		if (rc == 0)
			rc = lf_fail(err, EX_OSERR, "%s: out of memory", name);
	}
	movies m;
	if (rc == 0 && movies_parse(*out, *olen, name, &m, err) == 0)
		movies_free(&m);
	else if (rc == 0)
		rc = -1; /* a repeated id, or no movie at all */
	if (rc) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* ---- users (ML-1M) ---- */

int convert_users_1m(const char *buf, size_t len, const char *name, char **out, size_t *olen,
		     lf_error *err)
{
	static const char *const jobs[21] = {
		"other", "academic/educator", "artist", "clerical/admin",
		"college/grad student", "customer service", "doctor/health care",
		"executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer",
		"programmer", "retired", "sales/marketing", "scientist", "self-employed",
		"technician/engineer", "tradesman/craftsman", "unemployed", "writer"};
	static const char ages[] = {1, 18, 25, 35, 45, 50, 56, 0}; /* the README's groups */
	char *bars = NULL;
	size_t blen = 0, pos = 0, lineno = 0;
	FILE *o = open_memstream(&bars, &blen);
	if (!o)
		return lf_fail(err, EX_OSERR, "out of memory");
	int rc = 0;
	while (rc == 0 && pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos), *f[5];
		size_t ll = nl ? (size_t)(nl - line) : len - pos, fl[5];
		int64_t age, job;
		pos += ll + (nl ? 1 : 0);
		lineno++;
		if (bad_bytes(line, ll, name, lineno, err) || memchr(line, '|', ll) ||
		    split_sep(line, ll, "::", f, fl, 5) != 5 ||
		    parse_i64_n(f[2], fl[2], 1, 56, &age) || !strchr(ages, (char)age) ||
		    parse_i64_n(f[3], fl[3], 0, 20, &job)) {
			rc = lf_fail(err, EX_DATAERR, "%s:%zu: expected UserID::Gender::Age::"
				     "Occupation::Zip-code (age group 1, 18, 25, 35, 45, 50 or 56; "
				     "occupation 0..20; no '|')", name, lineno);
			break;
		}
		/* u.user's layout, so convert_users checks ids, gender and the rest */
		fprintf(o, "%.*s|%lld|%.*s|%s|%.*s\n", (int)fl[0], f[0], (long long)age,
			(int)fl[1], f[1], jobs[job], (int)fl[4], f[4]);
	}
	int bad = ferror(o);
	if ((fclose(o) != 0 || bad) && rc == 0)
		rc = lf_fail(err, EX_OSERR, "out of memory");
	if (rc == 0)
		rc = convert_users(bars, blen, name, out, olen, err);
	free(bars);
	return rc;
}
