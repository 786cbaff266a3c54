/*
 * eval.h — ml-eval's protocol (DESIGN.md, "Evaluation protocols"): for
 * every user with a test rating, the top k over the catalogue minus the
 * movies the user rated in train, scored against all the user's test
 * ratings (lib/ranking.h has the metric definitions); RMSE of the rating
 * head over test pairs whose user and movie it knows.
 *
 * The catalogue is the model's items table (or, for the popularity
 * baseline, the movies of train), in ascending movie id, so equal scores
 * rank the lower movie id first. Scores come from OpenBLAS sgemm over
 * blocks of users, so memory stays bounded by the block size.
 *
 * Ownership: results go into a caller-owned metric_set (lib/tsv.h).
 */
#ifndef LENSFLOW_EVAL_EVAL_H
#define LENSFLOW_EVAL_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "lfe.h"
#include "log.h"
#include "tsv.h"

/* model == NULL: the popularity baseline (movies ranked by their number of
 * train ratings). Adds ndcg@k, precision@k, recall@k, map@k, coverage@k,
 * novelty@k (mean over users of the list's mean -log2 of the share of train
 * users who rated the movie), rmse (model with rating tables and at least
 * one known test pair) and users to out. *skipped gets the test users the
 * model does not know. lists non-NULL: every evaluated user's list is also
 * written there as TSV user, rank, movie, score. */
typedef struct eval_sample {
	size_t users;  /* 0: every test user */
	uint64_t seed; /* the shuffle's seed */
} eval_sample;

/* smp (NULL: every user): rank only `users` test users, drawn by a seeded
 * Fisher-Yates shuffle (lib/rng) of the distinct test user ids taken in
 * ascending order; the first `users` of the shuffle are ranked. RMSE stays
 * over every test pair. */
int evaluate(const lfe *model, const ratings *train, const ratings *test, size_t k,
	     const eval_sample *smp, FILE *lists, metric_set *out, size_t *skipped,
	     lf_error *err);

#endif
