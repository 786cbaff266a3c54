/*
 * compactform.h — a set in the compact serving form (issue 28; ml-train
 * --serve-dim, lib/store_compact.h): its users and movies are served at r
 * dimensions, and a new user is folded in against the full-width movies (w
 * dimensions, as the model built its users) and mapped into the r served
 * dimensions by T_u (w x r): the same map that made every training user's
 * served vector from its full-width one.
 *
 * Ownership: a compact_form owns its names and arrays; compactform_free
 * releases them.
 */
#ifndef ML_SERVE_COMPACTFORM_H
#define ML_SERVE_COMPACTFORM_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

struct compact_form {
	int present;
	size_t wdim;          /* the full width w */
	char *fold_table, *map_table;
	double *fold;         /* n_items x w, rows in the snapshot's item order (NULL once
			       * loaded when the set is a blend: its fold-in keeps its blocks) */
	double *map;          /* w x dim */
};

/* Reads "compact" of the set's foldin object (nothing when absent). */
int compactform_parse(struct compact_form *c, json_t *foldin, size_t dim, lf_error *err);

/* Reads both tables on conn (inside the snapshot's transaction). */
int compactform_load(struct compact_form *c, PGconn *conn, const int32_t *item_ids, size_t n,
		     size_t dim, lf_error *err);

/* out (dim values) = full (w values) x map. */
void compactform_map(const struct compact_form *c, const double *full, size_t dim, double *out);

void compactform_free(struct compact_form *c);

#endif
