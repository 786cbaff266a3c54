/*
 * blendfold.h — what a new user's fold-in needs from the database beyond the
 * set's row: the EASE fold-in map of a model with a blend (lib/model.h has
 * the solver and the contract).
 *
 * Ownership: fills b->ease (owned by b, model_fold_free releases it).
 */
#ifndef ML_SERVE_BLENDFOLD_H
#define ML_SERVE_BLENDFOLD_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "model.h"

/* With b parsed (model_fold_parse): reads the EASE table on conn (inside the
 * snapshot's transaction) and derives the rest from items (n x dim, rows in
 * item_ids' order). -1 with err: EX_DATAERR (a table missing or malformed),
 * EX_UNAVAILABLE (no answer), EX_OSERR (memory). */
int blendfold_load(struct model_fold *b, PGconn *conn, const int32_t *item_ids, size_t n,
		   const double *items, size_t dim, lf_error *err);

#endif
