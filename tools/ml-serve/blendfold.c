/*
 * blendfold.c — see blendfold.h. The EASE table is read in binary (int4 id,
 * pgvector's binary vector), like the snapshot's movies.
 */
#include "blendfold.h"

#include <stdlib.h>
#include <string.h>

#include "pgbin.h"

static int load_ease(struct model_fold *b, PGconn *conn, const int32_t *item_ids, size_t n,
		     lf_error *err)
{
	char *q = PQescapeIdentifier(conn, b->ease_table, strlen(b->ease_table));
	if (!q)
		return lf_fail(err, EX_OSERR, "out of memory");
	char sql[320];
	int len = snprintf(sql, sizeof sql, "SELECT movie_id, ease FROM %s ORDER BY movie_id", q);
	PQfreemem(q);
	if (len < 0 || (size_t)len >= sizeof sql)
		return lf_fail(err, EX_DATAERR, "the EASE table's name is too long");
	PGresult *r = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *m = PQerrorMessage(conn);
		lf_fail(err, PQstatus(conn) == CONNECTION_OK ? EX_DATAERR : EX_UNAVAILABLE,
			"reading the set's EASE fold-in: %.*s", (int)strcspn(m, "\n"), m);
		PQclear(r);
		return -1;
	}
	size_t ke = b->blend.k_e;
	if ((size_t)PQntuples(r) != n) {
		PQclear(r);
		return lf_fail(err, EX_DATAERR, "the EASE fold-in has %d movies, the set %zu",
			       PQntuples(r), n);
	}
	if (!(b->ease = malloc(n * ke * sizeof *b->ease))) {
		PQclear(r);
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		int32_t id;
		if (pgbin_int4(r, (int)i, 0, &id) < 0 || id != item_ids[i] ||
		    pgbin_vector(r, (int)i, 1, ke, b->ease + i * ke, NULL) < 0) {
			PQclear(r);
			return lf_fail(err, EX_DATAERR,
				       "EASE fold-in row %zu does not match the set's movies", i);
		}
	}
	PQclear(r);
	return 0;
}

int blendfold_load(struct model_fold *b, PGconn *conn, const int32_t *item_ids, size_t n,
		   const double *items, size_t dim, lf_error *err)
{
	if (!b->has_blend)
		return 0;
	if (b->blend.k_e && load_ease(b, conn, item_ids, n, err) < 0)
		return -1;
	return model_fold_derive(b, items, n, dim, err);
}
