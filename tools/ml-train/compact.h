/*
 * compact.h — the compact serving form of a ranking model (issue 28): its
 * user x movie score S = U I^T (U users x w, I movies x w, the `users` and
 * `items` tables) factored again to r dimensions, the best rank-r
 * approximation of S in the Frobenius norm (the r leading singular pairs of
 * S, split as L_r Sigma_r^1/2 and R_r Sigma_r^1/2). Computed from w x w
 * matrices only (U^T U, I^T I and two symmetric eigendecompositions), so the
 * cost does not grow with the catalogue beyond two products:
 *
 *   U^T U = V D V^T,  A = V D^1/2,  A^T (I^T I) A = W L W^T (top r of L),
 *   T_i = A W_r L_r^-1/4,  T_u = (I^T I) A W_r L_r^-3/4,
 *   users' = U T_u,  items' = I T_i,  users' items'^T = S R_r R_r^T.
 *
 * The .lfe then holds users and items at r dimensions (what ml-eval scores
 * and ml-serve answers with), the full-width movies as `fold_items` and T_u
 * as `serve_map` (w rows, ids 0..w-1, r columns): a new user's full-width
 * fold-in vector times T_u is the compact model's user, exactly as every
 * training user's compact vector is its full-width vector times T_u.
 *
 * Ownership: compact_model replaces tables inside the lfe it is given; the
 * lfe owns them as before.
 */
#ifndef LENSFLOW_TRAIN_COMPACT_H
#define LENSFLOW_TRAIN_COMPACT_H

#include <stddef.h>

#include "lfe.h"
#include "log.h"

/* Rewrites m's users and items to r dimensions (r < their width) and adds
 * fold_items and serve_map. -1 with err (EX_USAGE when r is not below the
 * width, EX_SOFTWARE when a decomposition fails or memory runs out). */
int compact_model(lfe *m, size_t r, lf_error *err);

#endif
