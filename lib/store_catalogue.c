/*
 * store_catalogue.c — movies and ratings into Postgres (store.h), for
 * ml-serve's titles and its rated-movie filter.
 *
 * One transaction: TRUNCATE both tables, COPY (FORMAT binary, FREEZE: the
 * tables were truncated in this transaction, so rows go in frozen and need no
 * later hint-bit writes), and the catalogue_meta row with the checksum of
 * both files. When that row already names the same checksum, nothing is
 * written. VACUUM ANALYZE afterwards (it cannot run inside a transaction).
 */
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "store.h"
#include "tsv.h"
#include "util.h"

#define MAX_GENRES 64

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

int store_catalogue_load(PGconn *c, const struct movies *mv, const struct ratings *rt,
			 const char *checksum,
			 int *loaded, lf_error *err)
{
	int r = load_tx(c, mv, rt, checksum, err);
	if (r < 0) {
		pg_rollback(c);
		return -1;
	}
	*loaded = r;
	if (r == 1 && (pg_exec(c, "VACUUM ANALYZE movies", 0, NULL, err) < 0 ||
		       pg_exec(c, "VACUUM ANALYZE ratings", 0, NULL, err) < 0))
		return -1;
	return 0;
}
