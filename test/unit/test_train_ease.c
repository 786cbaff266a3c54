/*
 * test_train_ease.c — ml-train's EASE (tools/ml-train/ease.c): with every
 * eigenpair kept, the dot products E_u . Q_i of the movies a user has not
 * rated equal EASE's closed form X B computed here directly (B = I -
 * P diag(1/diag(P)), P = (X^T X + l2 I)^-1 by Gauss-Jordan in double); the
 * user rows are the sums of the fold-in rows F of the movies rated; a
 * truncated model still ranks; score_moments equals the brute-force mean
 * and standard deviation.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/ml-train/dataset.h"
#include "../../tools/ml-train/ease.h"
#include "log.h"
#include "tap.h"

/* 6 users x 5 movies (1 where rated) */
#define NU 6
#define NI 5
static size_t start[] = {0, 2, 5, 7, 9, 12, 14};
static int32_t col[] = {0, 1, 0, 2, 3, 1, 4, 2, 3, 0, 1, 4, 3, 4};
static float val[] = {5, 4, 3, 5, 4, 2, 5, 4, 4, 5, 3, 4, 2, 5};
static const csr X = {NU, 14, start, col, val};

static int rated(size_t u, size_t i)
{
	for (size_t j = start[u]; j < start[u + 1]; j++)
		if ((size_t)col[j] == i)
			return 1;
	return 0;
}

/* EASE's X B by the book. */
static void ease_direct(double l2, double S[NU][NI])
{
	double G[NI][2 * NI] = {{0}};
	for (size_t u = 0; u < NU; u++)
		for (size_t a = 0; a < NI; a++)
			for (size_t b = 0; b < NI; b++)
				G[a][b] += rated(u, a) && rated(u, b);
	for (size_t a = 0; a < NI; a++) {
		G[a][a] += l2;
		G[a][NI + a] = 1;
	}
	for (size_t c = 0; c < NI; c++) { /* SPD: no pivoting needed */
		double p = G[c][c];
		for (size_t k = 0; k < 2 * NI; k++)
			G[c][k] /= p;
		for (size_t r = 0; r < NI; r++) {
			if (r == c)
				continue;
			double f = G[r][c];
			for (size_t k = 0; k < 2 * NI; k++)
				G[r][k] -= f * G[c][k];
		}
	}
	double B[NI][NI];
	for (size_t a = 0; a < NI; a++)
		for (size_t b = 0; b < NI; b++)
			B[a][b] = a == b ? 0.0 : -G[a][NI + b] / G[b][NI + b];
	for (size_t u = 0; u < NU; u++)
		for (size_t i = 0; i < NI; i++) {
			S[u][i] = 0;
			for (size_t a = 0; a < NI; a++)
				S[u][i] += rated(u, a) * B[a][i];
		}
}

static double dot(const float *a, const float *b, size_t k)
{
	double s = 0;
	for (size_t j = 0; j < k; j++)
		s += (double)a[j] * b[j];
	return s;
}

TEST(full_rank_scores_are_ease_on_unrated_movies)
{
	double l2s[] = {0.5, 3.0};
	for (size_t t = 0; t < 4; t++) { /* dense, then sparse (ease_sparse.c) */
		ease_params p = {.l2 = l2s[t % 2],
				 .dim = 50,
				 .oversample = 4,
				 .power = 2,
				 .seed = 3,
				 .threads = 2,
				 .sparse = t >= 2};
		ease_model m;
		lf_error err = {0};
		CHECK(ease_fit(&X, NI, &p, &m, &err) == 0);
		CHECK_EQ_INT((int)m.dim, NI); /* capped at min(users, movies): nothing cut */
		double S[NU][NI];
		ease_direct(l2s[t % 2], S);
		int checked = 0;
		for (size_t u = 0; u < NU; u++)
			for (size_t i = 0; i < NI; i++)
				if (!rated(u, i)) {
					CHECK_NEAR(dot(m.E + u * m.dim, m.Q + i * m.dim, m.dim),
						   S[u][i], 1e-4);
					checked++;
				}
		CHECK_EQ_INT(checked, NU * NI - 14);
		ease_free(&m);
	}
}

TEST(user_rows_are_sums_of_foldin_rows)
{
	for (int sparse = 0; sparse < 2; sparse++) {
	ease_params p = {.l2 = 1.0, .dim = 3, .oversample = 2, .power = 3, .seed = 9,
			 .sparse = sparse};
	ease_model m;
	lf_error err = {0};
	CHECK(ease_fit(&X, NI, &p, &m, &err) == 0);
	CHECK_EQ_INT((int)m.dim, 3);
	for (size_t u = 0; u < NU; u++)
		for (size_t j = 0; j < m.dim; j++) {
			double s = 0;
			for (size_t i = 0; i < NI; i++)
				s += rated(u, i) * m.F[i * m.dim + j];
			CHECK_NEAR(m.E[u * m.dim + j], s, 1e-5);
		}
	ease_free(&m);
	}
}

TEST(truncated_model_still_prefers_co_rated_movies)
{
	/* user 0 rated 0 and 1; movie 4 is co-rated with them three times
	 * (users 2 and 4), movie 3 once (user 1) */
	ease_params p = {.l2 = 0.5, .dim = 2, .oversample = 3, .power = 3, .seed = 1};
	ease_model m;
	lf_error err = {0};
	CHECK(ease_fit(&X, NI, &p, &m, &err) == 0);
	CHECK(dot(m.E, m.Q + 4 * m.dim, m.dim) > dot(m.E, m.Q + 3 * m.dim, m.dim));
	ease_free(&m);
}

/* A truncated sparse fit finds the same top eigenpairs as the dense one:
 * on a 300 x 120 random matrix with a planted block structure, the scores
 * of both agree closely. */
TEST(sparse_path_agrees_with_dense_when_truncated)
{
	enum { U = 300, I = 120 };
	size_t *st = calloc(U + 1, sizeof *st);
	int32_t *cl = calloc(U * I, sizeof *cl);
	CHECK(st && cl);
	unsigned z = 12345;
	size_t n = 0;
	for (size_t u = 0; u < U; u++) {
		for (size_t i = 0; i < I; i++) {
			z = z * 1103515245u + 12345u;
			unsigned r = (z >> 16) % 100;
			if (r < ((u % 3) == (i % 3) ? 30u : 5u))
				cl[n++] = (int32_t)i;
		}
		st[u + 1] = n;
	}
	csr Y = {U, n, st, cl, NULL};
	ease_model a, b;
	lf_error err = {0};
	ease_params p = {.l2 = 10, .dim = 3, .oversample = 10, .power = 4, .seed = 5, .threads = 2};
	CHECK(ease_fit(&Y, I, &p, &a, &err) == 0);
	p.sparse = 1;
	CHECK(ease_fit(&Y, I, &p, &b, &err) == 0);
	CHECK_EQ_INT((int)a.dim, (int)b.dim);
	double worst = 0, spread = 0;
	for (size_t u = 0; u < U; u += 7)
		for (size_t i = 0; i < I; i++) {
			double x = dot(a.E + u * a.dim, a.Q + i * a.dim, a.dim);
			double y = dot(b.E + u * b.dim, b.Q + i * b.dim, b.dim);
			worst = fmax(worst, fabs(x - y));
			spread = fmax(spread, fabs(x));
		}
	CHECK(spread > 0.1);
	CHECK(worst < 0.01 * spread);
	ease_free(&a);
	ease_free(&b);
	free(st);
	free(cl);
}

TEST(score_moments_match_brute_force)
{
	float A[3 * 2] = {1, 2, -1, 0.5f, 3, -2};
	float B[4 * 2] = {0.5f, 1, 2, -1, 0, 0.25f, -3, 1};
	double s = 0, s2 = 0;
	for (size_t a = 0; a < 3; a++)
		for (size_t b = 0; b < 4; b++) {
			double v = dot(A + 2 * a, B + 2 * b, 2);
			s += v;
			s2 += v * v;
		}
	double mean, sd;
	CHECK(score_moments(A, 3, B, 4, 2, &mean, &sd) == 0);
	CHECK_NEAR(mean, s / 12, 1e-6);
	CHECK_NEAR(sd, sqrt(s2 / 12 - (s / 12) * (s / 12)), 1e-5);
}

int main(void)
{
	RUN(full_rank_scores_are_ease_on_unrated_movies);
	RUN(user_rows_are_sums_of_foldin_rows);
	RUN(truncated_model_still_prefers_co_rated_movies);
	RUN(sparse_path_agrees_with_dense_when_truncated);
	RUN(score_moments_match_brute_force);
	return tap_done();
}
