/*
 * store_serve.c — what ml-serve runs (store.h): its session settings, its
 * statements (prepared by ml-serve per set version and k), and the reads of
 * the served set at reload, in binary where rows are many (ids as int4,
 * vectors in pgvector's binary form).
 */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "store.h"
#include "util.h"

const char *const store_query_names[STORE_N_QUERIES] = {
	[STORE_USER_RECS] = "user_recs", [STORE_NEW_USER_RECS] = "new_user_recs",
	[STORE_SIMILAR] = "similar",	 [STORE_SEARCH] = "search",
	[STORE_MOVIE] = "movie",	 [STORE_USER_RATINGS] = "user_ratings",
	[STORE_PING] = "ping",
};

static const char *const FIXED_SQL[STORE_N_QUERIES] = {
	[STORE_SEARCH] = "SELECT movie_id, title, year, to_json(genres)::text FROM movies"
			 " WHERE title ILIKE $1 ORDER BY (title ILIKE $2) DESC, length(title), movie_id"
			 " LIMIT $3",
	[STORE_MOVIE] = "SELECT movie_id, title, year, to_json(genres)::text FROM movies"
			" WHERE movie_id = $1",
	[STORE_USER_RATINGS] = "SELECT m.movie_id, m.title, m.year, to_json(m.genres)::text, r.rating"
			       " FROM ratings r JOIN movies m USING (movie_id) WHERE r.user_id = $1"
			       " ORDER BY r.rating DESC, r.rated_at DESC, m.movie_id LIMIT $2",
	[STORE_PING] = "SELECT 1",
};

/* The server answered with an error (a missing table): EX_DATAERR; it did
 * not answer: EX_UNAVAILABLE. First line of libpq's message only. */
static int fail(lf_error *err, PGconn *c, const char *what)
{
	const char *m = PQerrorMessage(c);
	size_t n = strcspn(m, "\n");
	int code = PQstatus(c) == CONNECTION_OK ? EX_DATAERR : EX_UNAVAILABLE;
	return lf_fail(err, code, "%s: %.*s", what, (int)n, m);
}

static int command(PGconn *c, const char *sql, const char *what, lf_error *err)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	return ok ? 0 : fail(err, c, what);
}

/* A binary result of sql without parameters, or NULL with err. */
static PGresult *rows(PGconn *c, const char *sql, const char *what, lf_error *err)
{
	PGresult *r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	PQclear(r);
	fail(err, c, what);
	return NULL;
}

int store_session(PGconn *c, int statement_timeout_ms, lf_error *err)
{
	/* An HNSW index scan with the rated-movie filter must keep scanning until
	 * it has k rows (pgvector 0.8's iterative scans, in exact distance
	 * order): without it a user whose ef_search nearest movies are all rated
	 * gets an empty list. */
	char sql[160];
	snprintf(sql, sizeof sql,
		 "SET statement_timeout = %d; SET hnsw.iterative_scan = strict_order; "
		 "SET hnsw.ef_search = 100",
		 statement_timeout_ms);
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (ok)
		return 0;
	const char *m = PQerrorMessage(c);
	return lf_fail(err, EX_UNAVAILABLE, "database refused the session settings: %.*s",
		       (int)strcspn(m, "\n"), m);
}

const char *store_index_name(enum store_index i)
{
	return i == STORE_INDEX_HNSW ? "hnsw" : i == STORE_INDEX_NORM ? "norm" : "none";
}

enum store_index store_index_parse(const char *name)
{
	return strcmp(name, "hnsw") == 0   ? STORE_INDEX_HNSW
	       : strcmp(name, "norm") == 0 ? STORE_INDEX_NORM
					   : STORE_INDEX_NONE;
}

/* The movies a user has rated or given feedback on: never recommended. */
#define EXCLUDED(u)                                                                       \
	"(SELECT r.movie_id FROM ratings r WHERE r.user_id = " u                          \
	" UNION ALL SELECT f.movie_id FROM feedback f WHERE f.user_id = " u ")"

/*
 * A known user's top k on a STORE_INDEX_NORM set, exact. Every score is
 * u.v <= ||u|| ||v||, so once some k unrated movies score at least t > 0, a
 * movie with ||v|| < t / ||u|| cannot enter the top k: the scan reads the
 * btree on norm from the top down to that bound. t comes from the 10 k
 * highest-norm movies (their k-th best unrated score), which in practice is
 * close to the final k-th score; with fewer than k unrated among them, t <= 0
 * or ||u|| = 0 the bound is 0 and every movie is read.
 *
 * Rounding: pgvector sums a product in float4 (relative error at most
 * dim * 2^-24 of ||u|| ||v||, below 1e-3 for any dim pgvector takes), norms
 * are float8: with the bound lowered by 1e-3, a movie left out scores below t
 * as computed too, so the answer is the full scan's, ties included.
 */
static int user_recs_norm(char *out, size_t cap, const char *users_sql, const char *items_sql,
			  int k)
{
	int head = k < 10 ? 100 : 10 * k;
	/* the bound is an InitPlan (it reads q only through a subquery), so the
	 * scan below can be the btree's range scan */
	return snprintf(out, cap,
			"WITH q AS MATERIALIZED (SELECT embedding, vector_norm(embedding::vector) AS n"
			" FROM %s WHERE user_id = $1),"
			" b AS (SELECT CASE WHEN count(*) < %d OR max(h.d) >= 0 OR (SELECT n FROM q) <= 0"
			" THEN 0 ELSE -max(h.d) / (SELECT n FROM q) * 0.999 END AS lo FROM"
			" (SELECT w.embedding <#> q.embedding AS d FROM (SELECT movie_id, embedding FROM %s"
			" ORDER BY norm DESC LIMIT %d) w, q WHERE w.movie_id NOT IN " EXCLUDED("$1")
			" ORDER BY d LIMIT %d) h)"
			" SELECT t.movie_id, -t.d FROM q, LATERAL (SELECT v.movie_id,"
			" v.embedding <#> q.embedding AS d FROM %s v WHERE v.norm >= (SELECT lo FROM b)"
			" AND v.movie_id NOT IN " EXCLUDED("$1") " ORDER BY d, v.movie_id LIMIT %d) t"
			" ORDER BY t.d, t.movie_id",
			users_sql, k, items_sql, head, k, items_sql, k);
}

int store_query_sql(enum store_query q, const char *users_sql, const char *items_sql,
		    const char *dirs_sql, enum store_index index, int k, char *out, size_t cap)
{
	/* Equal scores rank the lower movie id first, as in ml-eval (ranking.h).
	 * Not on HNSW sets: the index orders by distance alone, and a second key
	 * would keep the planner from using it (their ties are approximate
	 * anyway). */
	const char *tie = index == STORE_INDEX_HNSW ? "" : ", v.movie_id";
	const char *ttie = index == STORE_INDEX_HNSW ? "" : ", t.movie_id";
	int n;
	if (STORE_IS_SET_QUERY(q) && (!users_sql || !items_sql || !dirs_sql))
		return -1; /* a set's statement without the set */
	switch (q) {
	case STORE_USER_RECS:
		if (index == STORE_INDEX_NORM) {
			n = user_recs_norm(out, cap, users_sql, items_sql, k);
			break;
		}
		n = snprintf(out, cap,
			     "SELECT t.movie_id, -t.d FROM (SELECT embedding FROM %s WHERE user_id = $1) q,"
			     " LATERAL (SELECT v.movie_id, v.embedding <#> q.embedding AS d FROM %s v"
			     " WHERE v.movie_id NOT IN " EXCLUDED("$1")
			     " ORDER BY d%s LIMIT %d) t ORDER BY t.d%s",
			     users_sql, items_sql, tie, k, ttie);
		break;
	case STORE_NEW_USER_RECS:
		n = snprintf(out, cap,
			     "SELECT t.movie_id, -t.d FROM (SELECT v.movie_id, v.embedding <#> $1::vector AS d"
			     " FROM %s v WHERE v.movie_id NOT IN (SELECT unnest($2::int[]))"
			     " ORDER BY d%s LIMIT %d) t ORDER BY t.d%s",
			     items_sql, tie, k, ttie);
		break;
	case STORE_SIMILAR:
		n = snprintf(out, cap,
			     "SELECT t.movie_id, -t.d FROM (SELECT direction FROM %s WHERE movie_id = $1) q,"
			     " LATERAL (SELECT v.movie_id, v.direction <#> q.direction AS d FROM %s v"
			     " WHERE v.movie_id <> $1 ORDER BY d%s LIMIT %d) t ORDER BY t.d%s",
			     dirs_sql, dirs_sql, tie, k, ttie);
		break;
	case STORE_SEARCH:
	case STORE_MOVIE:
	case STORE_USER_RATINGS:
	case STORE_PING:
		n = snprintf(out, cap, "%s", FIXED_SQL[q]);
		break;
	default:
		return -1;
	}
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int store_forget_prepared(PGconn *c, lf_error *err)
{
	PGresult *r = PQexec(c, "DEALLOCATE ALL");
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (ok)
		return 0;
	const char *m = PQerrorMessage(c);
	return lf_fail(err, EX_UNAVAILABLE, "database error: %.*s", (int)strcspn(m, "\n"), m);
}

int store_read_begin(PGconn *c, lf_error *err)
{
	const char *sql = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
	return command(c, sql, sql, err);
}

void store_read_end(PGconn *c, int commit)
{
	PGresult *r = PQexec(c, commit ? "COMMIT" : "ROLLBACK");
	PQclear(r);
}

int store_served_version(PGconn *c, const char *model, int *version, lf_error *err)
{
	const char *params[1] = {model};
	PGresult *r = PQexecParams(c, "SELECT version FROM serving WHERE model_name = $1", 1,
				   NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return fail(err, c, "reading the serving table");
	}
	int64_t v = 0;
	if (PQntuples(r) == 1 && parse_i64(PQgetvalue(r, 0, 0), 1, INT32_MAX, &v) < 0) {
		PQclear(r);
		return lf_fail(err, EX_DATAERR, "serving.version is not a positive integer");
	}
	PQclear(r);
	*version = (int)v;
	return 0;
}

PGresult *store_set_row(PGconn *c, const char *model, int version, lf_error *err)
{
	char ver[16];
	snprintf(ver, sizeof ver, "%d", version);
	const char *params[2] = {model, ver};
	PGresult *r = PQexecParams(
		c,
		"SELECT e.version, e.dim, e.users_table, e.items_table, e.directions_table,"
		" coalesce(e.run_id, ''), e.metrics::text, e.foldin::text, e.index_kind"
		" FROM embedding_sets e WHERE e.model_name = $1 AND e.version = $2",
		2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	PQclear(r);
	fail(err, c, "reading the served set");
	return NULL;
}

PGresult *store_set_users(PGconn *c, const char *users_sql, lf_error *err)
{
	char sql[256];
	if (snprintf(sql, sizeof sql, "SELECT user_id FROM %s ORDER BY user_id", users_sql) >=
	    (int)sizeof sql) {
		lf_fail(err, EX_DATAERR, "the set's table names are too long");
		return NULL;
	}
	return rows(c, sql, "reading the set's users", err);
}

PGresult *store_set_items(PGconn *c, const char *items_sql, lf_error *err)
{
	char sql[512];
	if (snprintf(sql, sizeof sql,
		     "SELECT v.movie_id, v.embedding::vector, m.title FROM %s v LEFT JOIN movies m "
		     "USING (movie_id) ORDER BY v.movie_id",
		     items_sql) >= (int)sizeof sql) {
		lf_fail(err, EX_DATAERR, "the set's table names are too long");
		return NULL;
	}
	return rows(c, sql, "reading the set's movies", err);
}

PGresult *store_set_ease(PGconn *c, const char *foldin_table, lf_error *err)
{
	char *q = PQescapeIdentifier(c, foldin_table, strlen(foldin_table));
	if (!q) {
		lf_fail(err, EX_OSERR, "out of memory");
		return NULL;
	}
	char sql[320];
	int len = snprintf(sql, sizeof sql, "SELECT movie_id, ease FROM %s ORDER BY movie_id", q);
	PQfreemem(q);
	if (len < 0 || (size_t)len >= sizeof sql) {
		lf_fail(err, EX_DATAERR, "the EASE table's name is too long");
		return NULL;
	}
	return rows(c, sql, "reading the set's EASE fold-in", err);
}
