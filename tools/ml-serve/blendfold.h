/*
 * blendfold.h — a new user's vector for the models with a `blend` table
 * (ease, ials, blend), solved block by block the way ml-train built the
 * stored users (docs/architecture.md, "Data contracts"):
 *
 *   EASE block (k_e)   the sum of the rated movies' rows of the EASE fold-in
 *                      map (lf_M_vN_foldin, already scaled by a_e);
 *   iALS block (k_i)   a_i (Q'^T Q' + alpha Q'_r^T Q'_r + reg I)^-1 (1 + alpha) Q'_r^T 1,
 *                      Q' the movies' iALS block, Q'_r its rated rows;
 *   MF block (m)       the softmax-MF fold-in (foldin.h) over the movies' last
 *                      m components.
 *
 * For EASE and iALS that is the stored vector of a training user with the
 * same movies (exactly for EASE; iALS's users were solved against the movie
 * factors of the sweep before the last); the softmax-MF block is the
 * optimum of the user's training objective. Costs: O(n k_e) + O(n k_i^2 +
 * k_i^3) + the softmax-MF Newton steps on m dimensions, instead of Newton
 * steps over all k_e + k_i + m.
 *
 * Ownership: a blendfold owns its arrays; blendfold_free releases them.
 */
#ifndef ML_SERVE_BLENDFOLD_H
#define ML_SERVE_BLENDFOLD_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "foldin.h"
#include "log.h"

struct blendfold {
	int present;         /* the set has a blend: fold in block by block */
	size_t ke, ki, m;    /* block sizes; their sum is the set's dimension */
	double a_i, alpha, reg;
	char *ease_table;    /* raw name from embedding_sets.foldin, NULL without EASE */
	float *ease;         /* n_items x ke, rows in the snapshot's item order */
	double *gram;        /* ki x ki: Q'^T Q' + reg I */
	double *mf;          /* n_items x m: the movies' softmax-MF block */
};

/* Reads "blend" and "ease_table" from the set's foldin object (nothing when
 * absent). -1 with err (EX_DATAERR) when the blocks do not tile dim. */
int blendfold_parse(struct blendfold *b, json_t *foldin, size_t dim, lf_error *err);

/* Reads the EASE table on conn (inside the snapshot's transaction) and
 * derives the iALS Gram matrix and the MF block from items (n x dim, rows in
 * item_ids' order). -1 with err: EX_DATAERR (a table missing or malformed),
 * EX_UNAVAILABLE (no answer), EX_OSERR (memory). */
int blendfold_load(struct blendfold *b, PGconn *conn, const int32_t *item_ids, size_t n,
		   const double *items, size_t dim, lf_error *err);

/* The part of blendfold_load after the EASE table is in b->ease: the iALS
 * Gram matrix and the MF block's copy. */
int blendfold_derive(struct blendfold *b, const double *items, size_t n, size_t dim,
		     lf_error *err);

/* out (dim values): the vector of a user who rated the movies at rows
 * (distinct, < n). -1 with err when a solve fails. */
int blendfold_solve(const struct blendfold *b, const double *items, size_t n, size_t dim,
		    const size_t *rows, size_t n_rows, const struct foldin_params *fp, double *out,
		    lf_error *err);

void blendfold_free(struct blendfold *b);

#endif
