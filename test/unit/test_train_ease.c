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
	for (size_t t = 0; t < 2; t++) {
		ease_params p = {.l2 = l2s[t], .dim = 50, .oversample = 4, .power = 2, .seed = 3};
		ease_model m;
		lf_error err = {0};
		CHECK(ease_fit(&X, NI, &p, &m, &err) == 0);
		CHECK_EQ_INT((int)m.dim, NI); /* capped at min(users, movies): nothing cut */
		double S[NU][NI];
		ease_direct(l2s[t], S);
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
	ease_params p = {.l2 = 1.0, .dim = 3, .oversample = 2, .power = 3, .seed = 9};
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
	RUN(score_moments_match_brute_force);
	return tap_done();
}
