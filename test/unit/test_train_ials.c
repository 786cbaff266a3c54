/*
 * test_train_ials.c — ml-train's iALS (tools/ml-train/ials.c): after a
 * sweep the movie vectors (solved last) are the exact minimisers given the
 * user vectors, i.e. the gradient of the weighted objective in each q_i is
 * zero; a rated movie scores above an unrated one for a user whose taste is
 * clear; the same seed gives the same vectors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/ml-train/dataset.h"
#include "../../tools/ml-train/ials.h"
#include "log.h"
#include "tap.h"

#define NU 6
#define NI 5
static size_t start[] = {0, 2, 5, 7, 9, 12, 14};
static int32_t col[] = {0, 1, 0, 2, 3, 1, 4, 2, 3, 0, 1, 4, 3, 4};
static const csr X = {NU, 14, start, col, NULL};

static int rated(size_t u, size_t i)
{
	for (size_t j = start[u]; j < start[u + 1]; j++)
		if ((size_t)col[j] == i)
			return 1;
	return 0;
}

static double dot(const float *a, const float *b, size_t k)
{
	double s = 0;
	for (size_t j = 0; j < k; j++)
		s += (double)a[j] * b[j];
	return s;
}

TEST(movie_vectors_zero_the_gradient)
{
	for (int cg = 0; cg < 2; cg++) { /* Cholesky, then CG (ials_cg.c) */
	/* CG converges in dim steps in exact arithmetic: 6 > 3 */
	ials_params p = {.dim = 3, .alpha = 4, .reg = 0.5, .iters = 2, .seed = 5,
			 .cg_steps = cg ? 6 : 0, .threads = 2};
	ials_model m;
	lf_error err = {0};
	CHECK(ials_fit(&X, NI, &p, &m, &err) == 0);
	for (size_t i = 0; i < NI; i++)
		for (size_t k = 0; k < p.dim; k++) {
			double g = p.reg * m.Q[i * p.dim + k];
			for (size_t u = 0; u < NU; u++) {
				double c = 1 + p.alpha * rated(u, i);
				double e =
					dot(m.P + u * p.dim, m.Q + i * p.dim, p.dim) - rated(u, i);
				g += c * e * m.P[u * p.dim + k];
			}
			CHECK_NEAR(g, 0.0, 1e-4);
		}
	ials_free(&m);
	}
}

/* a and b hold the same bytes; user 3 (who rated 2 and 3 only) scores both
 * above every other movie. Frees both. */
static void same_and_user3_ranked(ials_model *a, ials_model *b, size_t dim)
{
	CHECK(memcmp(a->P, b->P, NU * dim * sizeof(float)) == 0);
	CHECK(memcmp(a->Q, b->Q, NI * dim * sizeof(float)) == 0);
	double lo = INFINITY, hi = -INFINITY;
	for (size_t i = 0; i < NI; i++) {
		double s = dot(a->P + 3 * dim, a->Q + i * dim, dim);
		if (rated(3, i))
			lo = fmin(lo, s);
		else
			hi = fmax(hi, s);
	}
	CHECK(lo > hi);
	ials_free(a);
	ials_free(b);
}

TEST(cg_bytes_do_not_depend_on_threads_and_few_steps_still_rank)
{
	ials_params p = {.dim = 4, .alpha = 10, .reg = 0.1, .iters = 10, .seed = 2, .cg_steps = 2,
			 .threads = 1};
	ials_model a, b;
	lf_error err = {0};
	CHECK(ials_fit(&X, NI, &p, &a, &err) == 0);
	p.threads = 3;
	CHECK(ials_fit(&X, NI, &p, &b, &err) == 0);
	same_and_user3_ranked(&a, &b, p.dim);
}

TEST(rated_scores_above_unrated_and_same_seed_same_vectors)
{
	ials_params p = {.dim = 4, .alpha = 10, .reg = 0.1, .iters = 10, .seed = 2};
	ials_model a, b;
	lf_error err = {0};
	CHECK(ials_fit(&X, NI, &p, &a, &err) == 0);
	CHECK(ials_fit(&X, NI, &p, &b, &err) == 0);
	same_and_user3_ranked(&a, &b, p.dim);
}

int main(void)
{
	RUN(movie_vectors_zero_the_gradient);
	RUN(rated_scores_above_unrated_and_same_seed_same_vectors);
	RUN(cg_bytes_do_not_depend_on_threads_and_few_steps_still_rank);
	return tap_done();
}
