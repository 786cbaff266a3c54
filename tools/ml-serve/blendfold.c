/*
 * blendfold.c — see blendfold.h. The EASE table is read in binary
 * (store_set_ease: int4 id, pgvector's binary vector), like the snapshot's
 * movies.
 */
#include "blendfold.h"

#include <stdlib.h>
#include <string.h>

#include "pgbin.h"
#include "store.h"

static int load_ease(struct model_fold *b, PGconn *conn, const int32_t *item_ids, size_t n,
		     lf_error *err)
{
	PGresult *r = store_set_ease(conn, b->ease_table, err);
	if (!r)
		return -1;
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
