/* test_split_protocols.c — ml-split's protocols on small hand-made sets:
 * the stratified stream (users ascending, one rng, shuffles of each user's
 * rows in input order), half-to-even rounding, temporal ordering with ties,
 * the random protocol's exact count, and the ratio check. */
#include <stdlib.h>
#include <string.h>

#include "../../tools/ml-split/split.h"
#include "rng.h"
#include "tap.h"

static void push(ratings *r, int32_t u, int32_t i, int64_t ts)
{
	if (ratings_push(r, (rating_row){.user = u, .item = i, .rating = 3, .ts = ts}))
		abort();
}

TEST(stratified_follows_one_stream_over_ascending_users)
{
	/* user 9 first in the input, users 9 and 4 interleaved */
	ratings r = {0};
	for (int k = 0; k < 8; k++) {
		push(&r, 9, 100 + k, k);
		push(&r, 4, 200 + k, k);
	}
	unsigned char got[16];
	lf_error err = {0};
	CHECK(split_assign(&r, SPLIT_STRATIFIED, 0.75, 42, got, &err) == 0);
	/* by hand: user 4's row indices (odd) shuffled first, then user 9's (even) */
	uint32_t u4[8], u9[8];
	for (uint32_t k = 0; k < 8; k++) {
		u4[k] = 2 * k + 1;
		u9[k] = 2 * k;
	}
	rng g;
	rng_seed(&g, 42);
	rng_shuffle(&g, u4, 8, sizeof u4[0]);
	rng_shuffle(&g, u9, 8, sizeof u9[0]);
	unsigned char want[16];
	for (int k = 0; k < 8; k++) {
		want[u4[k]] = k >= 6; /* round(0.75 * 8) = 6 to train */
		want[u9[k]] = k >= 6;
	}
	CHECK(memcmp(got, want, 16) == 0);
	ratings_free(&r);
}

TEST(rounding_is_half_to_even)
{
	/* 22 ratings: 0.75 * 22 = 16.5 → 16 train, 6 test; 2 ratings: 1.5 → 2, none to test;
	 * 6 ratings: 4.5 → 4 train, 2 test */
	ratings r = {0};
	for (int k = 0; k < 22; k++)
		push(&r, 1, k, k);
	for (int k = 0; k < 2; k++)
		push(&r, 2, k, k);
	for (int k = 0; k < 6; k++)
		push(&r, 3, k, k);
	unsigned char t[30];
	lf_error err = {0};
	int per_user[4] = {0};
	for (split_protocol p = SPLIT_STRATIFIED; p <= SPLIT_TEMPORAL; p++) {
		memset(per_user, 0, sizeof per_user);
		CHECK(split_assign(&r, p, 0.75, 1, t, &err) == 0);
		for (int i = 0; i < 30; i++)
			per_user[r.rows[i].user] += t[i];
		CHECK_EQ_INT(per_user[1], 6);
		CHECK_EQ_INT(per_user[2], 0);
		CHECK_EQ_INT(per_user[3], 2);
	}
	ratings_free(&r);
}

TEST(temporal_latest_to_test_ties_by_movie)
{
	ratings r = {0};
	push(&r, 5, 30, 200); /* 0 */
	push(&r, 5, 10, 100); /* 1 */
	push(&r, 5, 20, 300); /* 2: the latest */
	push(&r, 5, 40, 200); /* 3: same time as row 0, larger movie id */
	push(&r, 6, 1, 50);   /* 4: one rating, round(0.5) = 0 to train: to test */
	unsigned char t[5];
	lf_error err = {0};
	CHECK(split_assign(&r, SPLIT_TEMPORAL, 0.5, 0, t, &err) == 0);
	unsigned char want[5] = {0, 0, 1, 1, 1};
	CHECK(memcmp(t, want, 5) == 0);
	ratings_free(&r);
}

TEST(random_takes_exactly_round_ratio_n)
{
	ratings r = {0};
	for (int k = 0; k < 1001; k++)
		push(&r, k % 7, k, k);
	unsigned char a[1001], b[1001], c[1001];
	lf_error err = {0};
	CHECK(split_assign(&r, SPLIT_RANDOM, 0.8, 3, a, &err) == 0);
	CHECK(split_assign(&r, SPLIT_RANDOM, 0.8, 3, b, &err) == 0);
	CHECK(split_assign(&r, SPLIT_RANDOM, 0.8, 4, c, &err) == 0);
	int n = 0;
	for (int i = 0; i < 1001; i++)
		n += a[i];
	CHECK_EQ_INT(n, 1001 - 801); /* round(800.8) = 801 to train */
	CHECK(memcmp(a, b, sizeof a) == 0);
	CHECK(memcmp(a, c, sizeof a) != 0);
	ratings_free(&r);
}

TEST(ratio_and_protocol_names_checked)
{
	ratings r = {0};
	push(&r, 1, 1, 1);
	unsigned char t[1];
	lf_error err = {0};
	CHECK(split_assign(&r, SPLIT_RANDOM, 0.0, 1, t, &err) == -1);
	CHECK_EQ_INT(err.code, EX_USAGE);
	CHECK(split_assign(&r, SPLIT_RANDOM, 1.0, 1, t, &err) == -1);
	CHECK(split_assign(&r, SPLIT_RANDOM, 0.0 / 0.0, 1, t, &err) == -1);
	split_protocol p;
	CHECK(split_protocol_parse("temporal", &p) == 0 && p == SPLIT_TEMPORAL);
	CHECK(split_protocol_parse("Temporal", &p) == -1);
	CHECK(split_protocol_parse("", &p) == -1);
	ratings_free(&r);
}

int main(void)
{
	RUN(stratified_follows_one_stream_over_ascending_users);
	RUN(rounding_is_half_to_even);
	RUN(temporal_latest_to_test_ties_by_movie);
	RUN(random_takes_exactly_round_ratio_n);
	RUN(ratio_and_protocol_names_checked);
	return tap_done();
}
