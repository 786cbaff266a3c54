/*
 * test_model_foldin.c — the softmax-MF fold-in (lib/model): the vector it returns must be the
 * minimum of the training objective, checked against conditions computed
 * here independently (a closed-form optimality condition for a 1-d case, and
 * finite differences of the objective itself for a random case).
 */
#include <math.h>
#include <stdlib.h>

#include "model.h"
#include "log.h"
#include "rng.h"
#include "util.h"
#include "tap.h"

/* -c * sum_rated log softmax(Q p + b)_i + l2 |p|^2, in long double. */
static double objective(const double *items, size_t n, size_t dim, const size_t *rows, size_t nr,
			const struct model_foldin *fp, const double *p)
{
	size_t d = dim - 1;
	long double z[64], top = -INFINITY, sum = 0;
	for (size_t i = 0; i < n; i++) {
		z[i] = items[i * dim + d];
		for (size_t j = 0; j < d; j++)
			z[i] += (long double)items[i * dim + j] * p[j];
		if (z[i] > top)
			top = z[i];
	}
	for (size_t i = 0; i < n; i++)
		sum += expl(z[i] - top);
	long double lse = top + logl(sum), f = 0;
	double c = pow((double)nr, -fp->weight_alpha) / fp->weight_norm;
	for (size_t r = 0; r < nr; r++)
		f -= c * (z[rows[r]] - lse);
	for (size_t j = 0; j < d; j++)
		f += fp->user_l2 * p[j] * p[j];
	return (double)f;
}

TEST(one_dimension_meets_its_optimality_condition)
{
	/* Two movies q = +1 and -1, no bias; the user rated the first. The minimum of
	 * -log sigmoid(2p) + 0.5 p^2 satisfies p = 2 (1 - sigmoid(2p)). */
	double items[] = {1, 0, -1, 0};
	size_t rows[] = {0};
	struct model_foldin fp = {.user_l2 = 0.5, .weight_alpha = 0, .weight_norm = 1,
				   .bias_last = 1};
	double out[2];
	lf_error err = {0};
	CHECK(model_foldin_solve(items, 2, 2, rows, 1, &fp, out, &err) == 0);
	double p = out[0];
	CHECK_NEAR(p, 2.0 * (1.0 - 1.0 / (1.0 + exp(-2.0 * p))), 1e-9);
	CHECK(p > 0.5 && p < 0.55);
	CHECK_NEAR(out[1], 1.0, 0);
}

TEST(user_weight_scales_the_likelihood)
{
	/* alpha = 1, norm = 1, two rated movies: c = 1/2; the optimum is checked by
	 * finite differences of the objective. */
	double items[] = {1, 0, -1, 0, 0.5, 0.2};
	size_t rows[] = {0, 2};
	struct model_foldin fp = {.user_l2 = 0.3, .weight_alpha = 1, .weight_norm = 1,
				   .bias_last = 1};
	double out[2];
	lf_error err = {0};
	CHECK(model_foldin_solve(items, 3, 2, rows, 2, &fp, out, &err) == 0);
	double h = 1e-5, a[1] = {out[0] + h}, b[1] = {out[0] - h};
	double g = (objective(items, 3, 2, rows, 2, &fp, a) - objective(items, 3, 2, rows, 2, &fp, b)) /
		   (2 * h);
	CHECK_NEAR(g, 0.0, 1e-6);
	/* With alpha = 0 the likelihood weighs twice as much: a different optimum. */
	struct model_foldin fp0 = fp;
	fp0.weight_alpha = 0;
	double out0[2];
	CHECK(model_foldin_solve(items, 3, 2, rows, 2, &fp0, out0, &err) == 0);
	CHECK(fabs(out0[0] - out[0]) > 1e-3);
}

TEST(random_problem_has_zero_gradient_at_the_answer)
{
	enum { N = 50, D = 6, DIM = D + 1 };
	double items[N * DIM];
	rng gen;
	rng_seed(&gen, 7);
	for (size_t i = 0; i < (size_t)N * DIM; i++)
		items[i] = rng_uniform(&gen) * 2 - 1;
	size_t rows[] = {3, 17, 42, 8};
	struct model_foldin fp = {.user_l2 = 0.7, .weight_alpha = 0.4, .weight_norm = 1.3,
				   .bias_last = 1};
	double out[DIM];
	lf_error err = {0};
	CHECK(model_foldin_solve(items, N, DIM, rows, 4, &fp, out, &err) == 0);
	CHECK_NEAR(out[D], 1.0, 0);
	double f0 = objective(items, N, DIM, rows, 4, &fp, out);
	for (size_t j = 0; j < D; j++) {
		double h = 1e-5, a[D], b[D];
		for (size_t k = 0; k < D; k++)
			a[k] = b[k] = out[k];
		a[j] += h;
		b[j] -= h;
		double g = (objective(items, N, DIM, rows, 4, &fp, a) -
			    objective(items, N, DIM, rows, 4, &fp, b)) / (2 * h);
		CHECK_NEAR(g, 0.0, 1e-6);
		/* and it is a minimum: moving away costs */
		CHECK(objective(items, N, DIM, rows, 4, &fp, a) > f0 - 1e-12);
	}
}

TEST(bad_arguments_are_errors)
{
	double items[] = {1, 0};
	size_t rows[] = {0}, bad[] = {5};
	struct model_foldin fp = {.user_l2 = 1, .weight_norm = 1, .bias_last = 1};
	double out[2];
	lf_error err = {0};
	CHECK(model_foldin_solve(items, 1, 2, rows, 0, &fp, out, &err) == -1);
	CHECK(model_foldin_solve(items, 1, 2, bad, 1, &fp, out, &err) == -1);
	struct model_foldin zero = fp;
	zero.weight_norm = 0;
	CHECK(model_foldin_solve(items, 1, 2, rows, 1, &zero, out, &err) == -1);
	CHECK(err.code == EX_SOFTWARE);
}

TEST(catalogue_sized_problem_is_solved)
{
	/* ML-100k's size at dim 64: solved, and finite. The time is printed for the
	 * reader; speed targets live in make bench, not in timed tests. */
	enum { N = 1682, D = 64, DIM = D + 1 };
	double *items = malloc(sizeof(double) * N * DIM);
	CHECK(items != NULL);
	rng gen;
	rng_seed(&gen, 11);
	for (size_t i = 0; i < (size_t)N * DIM; i++)
		items[i] = (rng_uniform(&gen) * 2 - 1) * 0.3;
	size_t rows[20];
	for (size_t r = 0; r < 20; r++)
		rows[r] = r * 80;
	struct model_foldin fp = {.user_l2 = 2.17, .weight_alpha = 0.4, .weight_norm = 1,
				   .bias_last = 1};
	double out[DIM];
	lf_error err = {0};
	double start = now_seconds();
	int rc = model_foldin_solve(items, N, DIM, rows, 20, &fp, out, &err);
	double took = now_seconds() - start;
	free(items);
	CHECK(rc == 0);
	for (size_t j = 0; j < DIM; j++)
		CHECK(isfinite(out[j]));
	printf("# fold-in 1682 x 65: %.1f ms\n", took * 1e3);
}

int main(void)
{
	log_set_prog("test_model_foldin");
	RUN(one_dimension_meets_its_optimality_condition);
	RUN(user_weight_scales_the_likelihood);
	RUN(random_problem_has_zero_gradient_at_the_answer);
	RUN(bad_arguments_are_errors);
	RUN(catalogue_sized_problem_is_solved);
	return tap_done();
}
