/*
 * store_compact.h — the two extra tables of a set in the compact serving form
 * (issue 28; ml-train --serve-dim, tools/ml-train/compact.h):
 *
 *   lf_<model>_v<N>_fold (movie_id int PK, embedding vector(w))  the full-width movies
 *   lf_<model>_v<N>_map  (k int PK, m vector(r))                 row k of T_u (w rows)
 *
 * A new user is folded in against the full-width movies, as the model built
 * its users, and mapped into the served r dimensions by T_u. ml-pgload
 * writes them inside its set's transaction and names them in
 * embedding_sets.foldin under "compact"; ml-pgload --prune drops them with
 * the set; ml-serve reads them at reload.
 *
 * Ownership: the caller owns every buffer passed in; nothing is kept.
 */
#ifndef LENSFLOW_STORE_COMPACT_H
#define LENSFLOW_STORE_COMPACT_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "lfe.h"
#include "log.h"
#include "pg.h"

/* The raw table names of a set (cap: PG_IDENT_MAX each). */
void store_compact_names(const char *model, int version, char *fold, char *map, size_t cap);

/* Creates and fills both tables (fold: items x w, ids the movies; map: w x r,
 * ids 0..w-1) on c, inside the caller's transaction; drops left-overs of the
 * same names first. -1 with err. */
int store_compact_write(PGconn *c, const char *model, int version, const lfe_table *fold,
			const lfe_table *map, lf_error *err);

/* foldin_json (model.h's embedding_sets.foldin text) with "compact":
 * {"full_dim": wdim, "fold_table": ..., "map_table": ...} added: a new string
 * (caller frees), NULL when out of memory or foldin_json is not an object. */
char *store_compact_foldin(const char *foldin_json, const char *model, int version,
			   uint32_t wdim);

/* DROP TABLE IF EXISTS of both tables of a set. */
int store_compact_drop(PGconn *c, const char *model, const char *version, lf_error *err);

/* Reads the tables named fold_table and map_table (raw names, as stored in
 * embedding_sets.foldin) into fold (n x w, rows in item_ids' order, which the
 * table must hold exactly) and map (w x r). -1 with err: EX_DATAERR when a
 * table is missing or does not match, EX_UNAVAILABLE when the database does
 * not answer. */
int store_compact_read(PGconn *c, const char *fold_table, const char *map_table,
		       const int32_t *item_ids, size_t n, size_t w, size_t r, double *fold,
		       double *map, lf_error *err);

#endif
