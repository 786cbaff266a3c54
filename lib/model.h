/*
 * model.h — the model as one thing: what a `.lfe` holds (lfe.h is only the
 * container), the blend's and the fold-in's parameters as named structs, how
 * they travel as JSON (embedding_sets.foldin), and the fold-in solvers that
 * invert the model for a new user. ml-train writes through it, ml-eval,
 * ml-pgload and ml-serve read through it.
 *
 * The `.lfe` tables (names: the MODEL_T_* constants below)
 *
 *   users, items     ranking: score(u, i) = dot(users[u], items[i]).
 *                    softmax-MF: users [p_u, 1], items [q_i, b_i].
 *                    ease, ials, blend: users [a_e E_u, a_i P_u, p_u, 1],
 *                    items [Q_i, Q'_i, q_i, b_i]: EASE's block (k_e), iALS's
 *                    (k_i), then the softmax MF's (m = dim + 1), each present
 *                    or not (a block of size 0). Divided by w_mf / sd_mf the
 *                    score is the blend's w_e s_e / sd_e + w_i s_i / sd_i +
 *                    w_mf s_mf / sd_mf. ease-ials (the blend without the MF,
 *                    m = 0): a_e = 1, a_i = (w_i / w_e) sd_e / sd_i.
 *   rating_users, rating_items   predicted stars = their dot product, clipped
 *                    by ml-eval to the data's scale (1..5; 0.5..5 with half stars). The rating head (Bayesian biased MF by
 *                    Gibbs with SVD++-style implicit parts on both sides, train
 *                    ratings only) stores rating_users [P_u/S, mean + b_u, 1],
 *                    rating_items [Q_i, 1, b_i]: S kept samples x rating-dim
 *                    side by side, each sample's user factors with
 *                    |N(u)|^-1/2 sum z_j (the movies u rated) and movie factors
 *                    with |M(i)|^-1/2 sum z'_v (the users who rated i) already
 *                    added, so no table of z is needed.
 *   foldin           1 x 4, id 0: struct model_foldin in field order
 *                    {user_l2, weight_alpha, weight_norm, bias_last}. Written
 *                    by softmax-mf and blend (the models with an MF block).
 *   blend            1 x 9, id 0: struct model_blend in field order
 *                    {k_e, k_i, m, a_e, a_i, w_e, w_i, ials_alpha, ials_reg}.
 *                    Written by ease, ials, ease-ials and blend.
 *   ease_foldin      items' rows x k_e, the items' ids in their order: the
 *                    EASE fold-in map F already scaled by a_e. With EASE only.
 *   fold_items, serve_map   the compact serving form (ml-train --serve-dim R,
 *                    tools/ml-train/compact.h; issue 28): users and items are
 *                    then R wide (the best rank-R approximation of the full
 *                    model's scores), fold_items holds the movies at the full
 *                    width w (what items were; the blend's blocks, foldin's
 *                    bias_last and the directions refer to it) and serve_map
 *                    (w rows, ids 0..w-1, R wide) is T_u: every served user is
 *                    its full-width vector times T_u, and so is a new user's
 *                    (folded in against fold_items, then mapped).
 *
 * A new user's exact vector (model_fold_solve), block by block as ml-train
 * built its users: EASE block = the sum of the ease_foldin rows of the movies
 * rated; iALS block = a_i (Q'^T Q' + alpha Q'_r^T Q'_r + reg I)^-1
 * (1 + alpha) Q'_r^T 1 (Q'_r the rated movies' iALS rows); MF block = the
 * softmax-MF fold-in over the items' last m components with foldin's
 * parameters: minimise -c sum_{i rated} log softmax(Q p + b)_i + user_l2 |p|^2,
 * c = n^-alpha / weight_norm (n movies rated), by Newton steps, each solving
 * the d x d system by Cholesky in plain C (no BLAS: ml-serve must not link
 * OpenBLAS, see the Makefile). A model without a blend table is folded in by
 * the softmax-MF fold-in over all of its dimensions.
 *
 * embedding_sets.foldin (JSON, written by ml-pgload, read by ml-serve):
 *   {"user_l2": r, "weight_alpha": r, "weight_norm": r, "bias_last": 0|1,
 *    "blend": {"k_e": i, "k_i": i, "m": i, "a_e": r, "a_i": r, "w_e": r,
 *              "w_i": r, "ials_alpha": r, "ials_reg": r},
 *    "ease_table": "lf_<model>_v<N>_foldin"}
 * each part present when the model has it; reals with 9 significant digits
 * (the .lfe's floats read back exactly).
 *
 * Ownership: model_view borrows the lfe's tables (valid until lfe_free);
 * model_params_json returns a new reference (json_decref); a model_fold owns
 * its ease_table, ease, gram and mf (model_fold_free, safe on a zeroed one);
 * the solvers keep nothing and free their work space before returning.
 */
#ifndef LENSFLOW_MODEL_H
#define LENSFLOW_MODEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "lfe.h"
#include "log.h"

#define MODEL_T_USERS "users"
#define MODEL_T_ITEMS "items"
#define MODEL_T_RATING_USERS "rating_users"
#define MODEL_T_RATING_ITEMS "rating_items"
#define MODEL_T_FOLDIN "foldin"
#define MODEL_T_BLEND "blend"
#define MODEL_T_EASE_FOLDIN "ease_foldin"
#define MODEL_T_FOLD_ITEMS "fold_items"
#define MODEL_T_SERVE_MAP "serve_map"

/* The softmax-MF fold-in's parameters (table foldin). */
struct model_foldin {
	double user_l2;      /* > 0 makes the Hessian positive definite */
	double weight_alpha; /* c = n^-alpha / norm */
	double weight_norm;
	int bias_last;       /* items are [q_i, b_i] and users [p_u, 1] */
};

/* The blend's parameters (table blend). */
struct model_blend {
	size_t k_e, k_i, m;  /* block sizes; their sum is the ranking dimension */
	double a_e, a_i;     /* scales of the EASE and iALS user blocks */
	double w_e, w_i;     /* the blend's weights of EASE and iALS */
	double ials_alpha, ials_reg;
};

/* What serving needs of a .lfe, checked (model_view). */
struct model_set {
	const lfe_table *users, *items;
	const lfe_table *ease;        /* ease_foldin, NULL without EASE */
	uint32_t dim;                 /* ranking dimension */
	uint32_t ddim;                /* movie factors without the bias (wdim - bias_last) */
	const lfe_table *fold, *map;  /* fold_items and serve_map, NULL unless compact */
	uint32_t wdim;                /* the full width: fold_items', else dim */
	int has_foldin, has_blend;
	struct model_foldin foldin;   /* zero without a foldin table */
	struct model_blend blend;     /* zero without a blend table */
};

/* Checks the tables a served set needs: users and items of one dimension,
 * not empty; foldin 1x4 and blend 1x9 when present, the blend's blocks
 * tiling dim, ease_foldin k_e wide over the items' ids. -1 with err
 * (EX_DATAERR, messages naming `name`). */
int model_view(const lfe *m, const char *name, struct model_set *out, lf_error *err);

/* Adds the foldin / blend table (ml-train). -1 with err as lfe_add_table. */
int model_put_foldin(lfe *m, const struct model_foldin *f, lf_error *err);
int model_put_blend(lfe *m, const struct model_blend *b, lf_error *err);

/* embedding_sets.foldin of a set: a new object (NULL when out of memory) with
 * the parts given (f, b, ease_table may be NULL). */
json_t *model_params_json(const struct model_foldin *f, const struct model_blend *b,
			  const char *ease_table);
/* As text (caller frees; NULL when out of memory). */
char *model_params_dumps(const struct model_foldin *f, const struct model_blend *b,
			 const char *ease_table);

/* A new user's solver for a served set (ml-serve). */
struct model_fold {
	struct model_foldin foldin; /* absent keys: l2 0, alpha 0, norm 1, bias_last 0 */
	int has_blend;              /* fold in block by block */
	struct model_blend blend;
	char *ease_table;           /* raw name from the JSON, NULL without EASE */
	float *ease;                /* n_items x k_e, rows in the items' order (the caller
				     * fills it from ease_table; malloc'd, freed here) */
	double *gram;               /* k_i x k_i: Q'^T Q' + reg I (upper triangle) */
	double *ials;               /* n_items x k_i: the movies' iALS block Q' */
	double *mf;                 /* n_items x m: the movies' softmax-MF block */
};

/* Fills f (zeroed first) from embedding_sets.foldin: the softmax-MF
 * parameters, and "blend" and "ease_table" when present. -1 with err
 * (EX_DATAERR) when a part is malformed or the blocks do not tile dim,
 * EX_OSERR when out of memory. */
int model_fold_parse(struct model_fold *f, json_t *foldin, size_t dim, lf_error *err);

/* With f->ease in place: the iALS Gram matrix and the iALS and MF blocks'
 * copies from items (n x dim). With a blend, model_fold_solve reads only
 * these copies afterwards, never items (the caller may free them: ml-serve's
 * full-width movies of the compact form). */
int model_fold_derive(struct model_fold *f, const double *items, size_t n, size_t dim,
		      lf_error *err);

/* out (dim values): the vector of a user who rated the movies at rows
 * (distinct, < n), in the stored users' layout. -1 with err when the input or
 * a solve fails. */
int model_fold_solve(const struct model_fold *f, const double *items, size_t n, size_t dim,
		     const size_t *rows, size_t n_rows, double *out, lf_error *err);

void model_fold_free(struct model_fold *f);

/* The softmax-MF fold-in alone. items: n_items x dim row-major (the ranking
 * table, as stored). rows: the rated movies' row numbers (0-based, distinct).
 * out: dim values ([p, 1] when bias_last). -1 with err (bad arguments, out of
 * memory, no convergence). */
int model_foldin_solve(const double *items, size_t n_items, size_t dim, const size_t *rows,
		       size_t n_rows, const struct model_foldin *fp, double *out, lf_error *err);

/* Solves A x = y in place (x overwrites y) for symmetric positive definite A
 * (d x d row-major, upper triangle used, destroyed). -1 when A is not PD. */
int model_cholesky(double *a, double *y, size_t d);

#endif
