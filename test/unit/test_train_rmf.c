/*
 * test_train_rmf.c — ml-train's rating head (rmf.c) with its implicit
 * parts: it fits a low-rank matrix, predicts held-out ratings of users who
 * have only one train rating from the company that rating keeps (where the
 * implicit part is the only source of information), and the same seed
 * gives the same model.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/ml-train/rmf.h"
#include "rng.h"
#include "tap.h"

enum { U = 60, I = 30, SPARSE = 12 };

/* Two tastes: user u likes movies of its own half (5 stars) and dislikes
 * the others (1 star). Dense users (the first U - SPARSE) rate each movie
 * of their own half with probability 0.6, of the other half 0.1. A sparse
 * user's one train rating is a 3 on a movie of its own half: its stars say
 * nothing, but that movie's raters are mostly of the sparse user's taste.
 * Held out: every movie the sparse users did not rate. */
typedef struct fixture {
	size_t st[U + 1];
	int32_t col[U * I];
	float val[U * I];
	size_t n_test;
	int32_t tu[U * I], ti[U * I];
	float tv[U * I];
} fixture;

static int taste(int u) { return u % 2; }
static int kind(int i) { return i < I / 2; }

static void build(fixture *f)
{
	rng g;
	rng_seed(&g, 7);
	size_t n = 0;
	f->n_test = 0;
	f->st[0] = 0;
	for (int u = 0; u < U; u++) {
		int sparse = u >= U - SPARSE, one = (u * 7) % (I / 2) + (taste(u) ? 0 : I / 2);
		for (int i = 0; i < I; i++) {
			int same = taste(u) == kind(i);
			float r = same ? 5.0f : 1.0f;
			if (sparse) {
				if (i == one) {
					f->col[n] = i;
					f->val[n++] = 3.0f;
				} else {
					f->tu[f->n_test] = u;
					f->ti[f->n_test] = i;
					f->tv[f->n_test++] = r;
				}
			} else if (rng_uniform(&g) < (same ? 0.6 : 0.1)) {
				f->col[n] = i;
				f->val[n++] = r;
			}
		}
		f->st[u + 1] = n;
	}
}

/* Over the held-out pairs: mean predicted stars of the movies of the
 * user's taste minus those of the others. */
static double taste_gap(const rmf_model *m, const fixture *f)
{
	double sum[2] = {0, 0};
	size_t n[2] = {0, 0};
	for (size_t t = 0; t < f->n_test; t++) {
		int same = taste(f->tu[t]) == kind(f->ti[t]);
		sum[same] += rmf_predict(m, (size_t)f->tu[t], (size_t)f->ti[t]);
		n[same]++;
	}
	return sum[1] / (double)n[1] - sum[0] / (double)n[0];
}

static rmf_params params(int implicit)
{
	return (rmf_params){.dim = 2,
			    .sweeps = 80,
			    .burn_in = 20,
			    .samples = 20,
			    .init_sd = 0.1,
			    .robust = 0,
			    .implicit = implicit,
			    .seed = 5};
}

TEST(implicit_head_fits_and_stores_samples_side_by_side)
{
	static fixture f;
	build(&f);
	csr m = {U, f.st[U], f.st, f.col, f.val};
	rmf_params p = params(RMF_IMPLICIT_USERS | RMF_IMPLICIT_MOVIES);
	rmf_model model;
	lf_error err = {0};
	CHECK(rmf_train(&m, I, &p, NULL, NULL, &model, &err) == 0);
	CHECK_EQ_INT(model.dim, 40); /* 20 samples x 2 factors */
	/* dense users' train ratings are 1 or 5: the fit is far inside +-2 */
	CHECK(rmf_rmse(&model, &m) < 0.6);
	rmf_free(&model);
}

TEST(users_implicit_part_predicts_from_the_company_a_rating_keeps)
{
	static fixture f;
	build(&f);
	csr m = {U, f.st[U], f.st, f.col, f.val};
	lf_error err = {0};
	rmf_model none, users;
	rmf_params p0 = params(0), p1 = params(RMF_IMPLICIT_USERS);
	CHECK(rmf_train(&m, I, &p0, NULL, NULL, &none, &err) == 0);
	CHECK(rmf_train(&m, I, &p1, NULL, NULL, &users, &err) == 0);
	double g0 = taste_gap(&none, &f), g1 = taste_gap(&users, &f);
	printf("# sparse users' taste gap: none %.3f, users %.3f\n", g0, g1);
	/* without the implicit part a sparse user is a 3-star rater of a
	 * movie that others rate 5, so a little against its taste (-0.27);
	 * with it, the movie's company pulls towards its taste (+0.32) */
	CHECK(g0 < 0);
	CHECK(g1 > 0.1);
	CHECK(g1 - g0 > 0.4);
	rmf_free(&none);
	rmf_free(&users);
}

TEST(same_seed_same_model)
{
	static fixture f;
	build(&f);
	csr m = {U, f.st[U], f.st, f.col, f.val};
	lf_error err = {0};
	rmf_model a, b;
	rmf_params p = params(RMF_IMPLICIT_USERS | RMF_IMPLICIT_MOVIES);
	CHECK(rmf_train(&m, I, &p, NULL, NULL, &a, &err) == 0);
	CHECK(rmf_train(&m, I, &p, NULL, NULL, &b, &err) == 0);
	size_t floats = (a.n_users + a.n_items) * (a.dim + 1);
	CHECK(memcmp(a.X, b.X, floats * sizeof(float)) == 0);
	rmf_free(&a);
	rmf_free(&b);
}

int main(void)
{
	RUN(implicit_head_fits_and_stores_samples_side_by_side);
	RUN(users_implicit_part_predicts_from_the_company_a_rating_keeps);
	RUN(same_seed_same_model);
	return tap_done();
}
