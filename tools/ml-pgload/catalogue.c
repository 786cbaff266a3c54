/*
 * catalogue.c — movies and ratings into Postgres, for ml-serve's titles and
 * its rated-movie filter.
 *
 * One transaction: TRUNCATE both tables, COPY (FORMAT binary, FREEZE: the
 * tables were truncated in this transaction, so rows go in frozen and need no
 * later hint-bit writes), and the catalogue_meta row with the SHA-256 of both
 * files. When that row already names the same two files, nothing is written.
 * Ratings go in (user, movie) order so that one user's rated movies sit on a
 * few pages. VACUUM ANALYZE afterwards (it cannot run inside a transaction).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "pg.h"
#include "pgload.h"
#include "tsv.h"
#include "util.h"

#define FILE_MAX ((size_t)1 << 30)
#define MAX_GENRES 64

static int read_file(const char *path, unsigned char **buf, size_t *len, lf_error *err)
{
	FILE *f = fopen(path, "rb");

	if (!f)
		return lf_fail_errno(err, errno == ENOENT ? EX_NOINPUT : EX_IOERR, errno,
				     "cannot open %s", path);
	int rc = read_all(f, path, FILE_MAX, buf, len, err);
	fclose(f);
	return rc;
}

/* The year of a movie: "Toy Story (1995)" first, else the release date's
 * last four digits ("01-Jan-1995"); 0 when neither has one. */
static int32_t movie_year(const movie_row *m)
{
	const char *t = m->title;
	size_t n = strlen(t);

	while (n > 0 && t[n - 1] == ' ')
		n--;
	if (n >= 6 && t[n - 1] == ')' && t[n - 6] == '(') {
		int64_t y;
		if (parse_i64_n(t + n - 5, 4, 1000, 9999, &y) == 0)
			return (int32_t)y;
	}
	const char *d = m->release_date;
	size_t dn = strlen(d);
	if (dn >= 4) {
		int64_t y;
		if (parse_i64_n(d + dn - 4, 4, 1000, 9999, &y) == 0 &&
		    (dn == 4 || d[dn - 5] == '-' || d[dn - 5] == ' ' || d[dn - 5] == '/'))
			return (int32_t)y;
	}
	return 0;
}

static int by_user_movie(const void *a, const void *b)
{
	const rating_row *x = a, *y = b;
	if (x->user != y->user)
		return x->user < y->user ? -1 : 1;
	return (x->item > y->item) - (x->item < y->item);
}

static int by_id(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* Every rating's timestamp fits Postgres and its movie is in the catalogue. */
static int check_ratings(const movies *mv, const ratings *rt, const char *mpath, const char *rpath,
			 lf_error *err)
{
	int32_t *ids = lf_calloc(mv->n ? mv->n : 1, sizeof *ids);

	if (!ids)
		return lf_fail(err, EX_SOFTWARE, "out of memory");
	for (size_t i = 0; i < mv->n; i++)
		ids[i] = mv->rows[i].id;
	qsort(ids, mv->n, sizeof *ids, by_id);
	for (size_t i = 0; i < rt->n; i++) {
		const rating_row *r = &rt->rows[i];
		if (!pg_unix_time_ok(r->ts)) {
			free(ids);
			return lf_fail(
				err, EX_DATAERR,
				"%s: user %d, movie %d: timestamp %lld is outside Postgres' range",
				rpath, r->user, r->item, (long long)r->ts);
		}
		if (!bsearch(&r->item, ids, mv->n, sizeof *ids, by_id)) {
			free(ids);
			return lf_fail(err, EX_DATAERR,
				       "%s: user %d rated movie %d, which %s lacks", rpath, r->user,
				       r->item, mpath);
		}
	}
	free(ids);
	return 0;
}

static int copy_movies(PGconn *c, const movies *mv, lf_error *err)
{
	pg_copy cp;

	if (pg_copy_begin(&cp, c,
			  "COPY movies (movie_id, title, release_date, year, genres) "
			  "FROM STDIN (FORMAT binary, FREEZE)",
			  err) < 0)
		return -1;
	for (size_t i = 0; i < mv->n; i++) {
		const movie_row *m = &mv->rows[i];
		const char *g[MAX_GENRES];
		size_t glen[MAX_GENRES], ng = 0;
		for (const char *p = m->genres; *p;) {
			const char *bar = strchr(p, '|');
			size_t l = bar ? (size_t)(bar - p) : strlen(p);
			if (ng == MAX_GENRES) {
				pg_copy_abort(&cp);
				return lf_fail(err, EX_DATAERR, "movie %d has more than %d genres",
					       m->id, MAX_GENRES);
			}
			if (l > 0) {
				g[ng] = p;
				glen[ng++] = l;
			}
			p += l + (bar ? 1 : 0);
		}
		int32_t year = movie_year(m);
		if (pg_copy_row(&cp, 5, err) < 0) {
			pg_copy_abort(&cp);
			return -1;
		}
		pg_copy_int4(&cp, m->id);
		pg_copy_text(&cp, m->title, strlen(m->title));
		pg_copy_text(&cp, m->release_date, strlen(m->release_date));
		if (year)
			pg_copy_int4(&cp, year);
		else
			pg_copy_null(&cp);
		pg_copy_text_array(&cp, g, glen, ng);
	}
	return pg_copy_end(&cp, err);
}

static int copy_ratings(PGconn *c, const ratings *rt, lf_error *err)
{
	pg_copy cp;

	if (pg_copy_begin(&cp, c,
			  "COPY ratings (user_id, movie_id, rating, rated_at) "
			  "FROM STDIN (FORMAT binary, FREEZE)",
			  err) < 0)
		return -1;
	for (size_t i = 0; i < rt->n; i++) {
		const rating_row *r = &rt->rows[i];
		if (pg_copy_row(&cp, 4, err) < 0) {
			pg_copy_abort(&cp);
			return -1;
		}
		pg_copy_int4(&cp, r->user);
		pg_copy_int4(&cp, r->item);
		pg_copy_float4(&cp, r->rating);
		pg_copy_timestamptz(&cp, r->ts);
	}
	return pg_copy_end(&cp, err);
}

/* In one transaction; 1 = loaded, 0 = unchanged, -1 = error. */
static int load_tx(PGconn *c, const movies *mv, const ratings *rt, const char *checksum,
		   lf_error *err)
{
	char nm[24], nr[24];
	const char *p1[] = {checksum};
	PGresult *res;

	if (pg_begin(c, err) < 0 || pg_xact_lock(c, "lensflow:catalogue", err) < 0)
		return -1;
	res = pg_query(c, "SELECT 1 FROM catalogue_meta WHERE checksum = $1", 1, p1, err);
	if (!res)
		return -1;
	int same = PQntuples(res) == 1;
	PQclear(res);
	if (same)
		return pg_commit(c, err) < 0 ? -1 : 0;
	if (pg_exec(c, "TRUNCATE movies, ratings", 0, NULL, err) < 0 ||
	    copy_movies(c, mv, err) < 0 || copy_ratings(c, rt, err) < 0)
		return -1;
	snprintf(nm, sizeof nm, "%zu", mv->n);
	snprintf(nr, sizeof nr, "%zu", rt->n);
	const char *p3[] = {checksum, nm, nr};
	if (pg_exec(c,
		    "INSERT INTO catalogue_meta (singleton, checksum, n_movies, n_ratings, "
		    "loaded_at) "
		    "VALUES (true, $1, $2, $3, now()) ON CONFLICT (singleton) DO UPDATE SET "
		    "checksum = EXCLUDED.checksum, n_movies = EXCLUDED.n_movies, "
		    "n_ratings = EXCLUDED.n_ratings, loaded_at = EXCLUDED.loaded_at",
		    3, p3, err) < 0 ||
	    pg_commit(c, err) < 0)
		return -1;
	return 1;
}

int catalogue_load(PGconn *c, const char *movies_path, const char *ratings_path, int *loaded,
		   lf_error *err)
{
	unsigned char *mb = NULL, *rb = NULL;
	size_t ml = 0, rl = 0;
	movies mv = {0};
	ratings rt = {0};
	char checksum[2 * 64 + 2];
	int rc = -1;

	if (read_file(movies_path, &mb, &ml, err) < 0 || read_file(ratings_path, &rb, &rl, err) < 0)
		goto out;
	/* "<sha256 of movies>:<sha256 of ratings>" identifies the loaded pair */
	sha256_hex(mb, ml, checksum);
	checksum[64] = ':';
	sha256_hex(rb, rl, checksum + 65);
	if (movies_parse((const char *)mb, ml, movies_path, &mv, err) < 0 ||
	    ratings_parse((const char *)rb, rl, ratings_path, &rt, err) < 0 ||
	    check_ratings(&mv, &rt, movies_path, ratings_path, err) < 0)
		goto out;
	qsort(rt.rows, rt.n, sizeof *rt.rows, by_user_movie);
	int r = load_tx(c, &mv, &rt, checksum, err);
	if (r < 0) {
		pg_rollback(c);
		goto out;
	}
	*loaded = r;
	if (r == 1 && (pg_exec(c, "VACUUM ANALYZE movies", 0, NULL, err) < 0 ||
		       pg_exec(c, "VACUUM ANALYZE ratings", 0, NULL, err) < 0))
		goto out;
	log_info("catalogue: %zu movies, %zu ratings %s", mv.n, rt.n,
		 r ? "loaded" : "already loaded");
	rc = 0;
out:
	free(mb);
	free(rb);
	movies_free(&mv);
	ratings_free(&rt);
	return rc;
}
