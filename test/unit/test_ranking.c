/*
 * test_ranking.c — lib/ranking: top-k selection (ties, exclusions, k larger
 * than the catalogue, NaN) and the ranking metrics on small cases worked out
 * by hand in the comments.
 */
#include <math.h>
#include <string.h>

#include "ranking.h"
#include "tap.h"

/* log2(3) and log2(4) discounts: 1/log2(3) = 0.6309297536, 1/log2(4) = 0.5 */
#define D2 0.63092975357145743
#define D3 0.5

TEST(topk_orders_best_first)
{
	float s[] = {0.1f, 0.9f, 0.5f, 0.7f, 0.3f};
	int32_t top[3];
	CHECK_EQ_INT(rank_topk(s, 5, 3, top), 3);
	CHECK_EQ_INT(top[0], 1);
	CHECK_EQ_INT(top[1], 3);
	CHECK_EQ_INT(top[2], 2);
}

TEST(topk_ties_go_to_the_lower_index)
{
	/* 0.7 at 1 and 3, 0.5 at 0, 2, 4: the list is 1, 3, then 0, 2 */
	float s[] = {0.5f, 0.7f, 0.5f, 0.7f, 0.5f};
	int32_t top[4];
	CHECK_EQ_INT(rank_topk(s, 5, 4, top), 4);
	CHECK_EQ_INT(top[0], 1);
	CHECK_EQ_INT(top[1], 3);
	CHECK_EQ_INT(top[2], 0);
	CHECK_EQ_INT(top[3], 2);
	/* a later equal score never displaces an earlier one at the cut */
	float t[] = {1.0f, 2.0f, 2.0f, 2.0f};
	int32_t two[2];
	CHECK_EQ_INT(rank_topk(t, 4, 2, two), 2);
	CHECK_EQ_INT(two[0], 1);
	CHECK_EQ_INT(two[1], 2);
}

TEST(topk_skips_excluded_and_pads_when_k_exceeds_the_catalogue)
{
	float s[] = {0.2f, 0.8f, -INFINITY};
	int32_t top[5];
	CHECK_EQ_INT(rank_topk(s, 3, 5, top), 2);
	CHECK_EQ_INT(top[0], 1);
	CHECK_EQ_INT(top[1], 0);
	CHECK_EQ_INT(top[2], -1);
	CHECK_EQ_INT(top[4], -1);
}

TEST(topk_refuses_nan)
{
	float s[] = {0.2f, NAN, 0.1f};
	int32_t top[2];
	CHECK_EQ_INT(rank_topk(s, 3, 2, top), -1);
}

TEST(topk_k_zero_keeps_nothing)
{
	/* k == 0 used to compare against best[-1] (out of bounds) */
	float s[] = {0.2f, 0.8f, 0.5f};
	int32_t guard = 7;
	CHECK_EQ_INT(rank_topk(s, 3, 0, &guard), 0);
	CHECK_EQ_INT(guard, 7);
	float t[] = {0.2f, NAN};
	CHECK_EQ_INT(rank_topk(t, 2, 0, &guard), -1);
}

TEST(topk_large_k)
{
	/* scores equal to the index: the best 70 of 100 are 99 down to 30 */
	float s[100];
	int32_t top[70];
	for (int i = 0; i < 100; i++)
		s[i] = (float)i;
	CHECK_EQ_INT(rank_topk(s, 100, 70, top), 70);
	for (int r = 0; r < 70; r++)
		CHECK_EQ_INT(top[r], 99 - r);
}

TEST(metrics_two_users_by_hand)
{
	rank_eval ev;
	lf_error err = {0};
	CHECK(rank_eval_init(&ev, 3, 5, &err) == 0);
	/* A: list 1, 3, 2; relevant {2, 3, 4}. Hits at ranks 2 and 3.
	 *   DCG = 1/log2(3) + 1/log2(4) = D2 + D3; ideal (3 hits) = 1 + D2 + D3
	 *   P = 2/3, R = 2/3, AP = (1/2 + 2/3) / 3 = 7/18 */
	int32_t ta[] = {1, 3, 2}, ra[] = {2, 3, 4};
	rank_eval_add(&ev, ta, ra, 3, 3);
	/* B: list 0, 1, then nothing (-1); relevant {0} plus one movie outside
	 * the catalogue (n_relevant 2). Hit at rank 1.
	 *   DCG = 1; ideal (min(3, 2) = 2 hits) = 1 + D2
	 *   P = 1/3 (hits / k, even with a short list), R = 1/2, AP = (1/1) / 2 */
	int32_t tb[] = {0, 1, -1}, rb[] = {0};
	rank_eval_add(&ev, tb, rb, 1, 2);
	/* C: no relevant item: not counted */
	rank_eval_add(&ev, tb, rb, 0, 0);
	rank_result r = rank_eval_result(&ev);
	rank_eval_free(&ev);
	CHECK_EQ_INT(r.users, 2);
	double ndcg_a = (D2 + D3) / (1 + D2 + D3), ndcg_b = 1.0 / (1 + D2);
	CHECK_NEAR(r.ndcg, (ndcg_a + ndcg_b) / 2, 1e-12); /* (0.530721 + 0.613147) / 2 */
	CHECK_NEAR(r.precision, (2.0 / 3 + 1.0 / 3) / 2, 1e-12);
	CHECK_NEAR(r.recall, (2.0 / 3 + 1.0 / 2) / 2, 1e-12);
	CHECK_NEAR(r.map, (7.0 / 18 + 1.0 / 2) / 2, 1e-12); /* 4/9 */
	/* recommended {1, 3, 2, 0}: 4 of 5 */
	CHECK_NEAR(r.coverage, 0.8, 1e-12);
}

TEST(metrics_more_relevant_than_k)
{
	/* k 3, list 0, 1, 2 all relevant among 5: DCG = ideal over min(3, 5) = 3
	 * hits, so NDCG 1; P 1; R 3/5; AP = (1 + 1 + 1) / 5 = 0.6 */
	rank_eval ev;
	lf_error err = {0};
	CHECK(rank_eval_init(&ev, 3, 10, &err) == 0);
	int32_t t[] = {0, 1, 2}, rel[] = {0, 1, 2, 3, 4};
	rank_eval_add(&ev, t, rel, 5, 5);
	rank_result r = rank_eval_result(&ev);
	rank_eval_free(&ev);
	CHECK_NEAR(r.ndcg, 1.0, 1e-12);
	CHECK_NEAR(r.precision, 1.0, 1e-12);
	CHECK_NEAR(r.recall, 0.6, 1e-12);
	CHECK_NEAR(r.map, 0.6, 1e-12);
	CHECK_NEAR(r.coverage, 0.3, 1e-12);
}

TEST(metrics_miss_everything)
{
	rank_eval ev;
	lf_error err = {0};
	CHECK(rank_eval_init(&ev, 2, 4, &err) == 0);
	int32_t t[] = {0, 1}, rel[] = {3};
	rank_eval_add(&ev, t, rel, 1, 1);
	rank_result r = rank_eval_result(&ev);
	rank_eval_free(&ev);
	CHECK_EQ_INT(r.users, 1);
	CHECK_NEAR(r.ndcg, 0.0, 0);
	CHECK_NEAR(r.map, 0.0, 0);
	CHECK_NEAR(r.coverage, 0.5, 1e-12);
}

TEST(rank_eval_rejects_k_zero)
{
	rank_eval ev;
	lf_error err = {0};
	CHECK(rank_eval_init(&ev, 0, 4, &err) == -1);
	CHECK_EQ_INT(err.code, EX_SOFTWARE);
	rank_eval_free(&ev);
}

TEST(rmse_clips_to_the_star_range)
{
	/* predictions 6 -> 5, 2, 0 -> 1 against 4, 3, 1: errors 1, -1, 0;
	 * RMSE = sqrt(2 / 3) = 0.8164965809 */
	rank_rmse a = {0};
	CHECK(isnan(rank_rmse_value(&a)));
	rank_rmse_add(&a, 6.0, 4.0, 1.0, 5.0);
	rank_rmse_add(&a, 2.0, 3.0, 1.0, 5.0);
	rank_rmse_add(&a, 0.0, 1.0, 1.0, 5.0);
	CHECK_NEAR(rank_rmse_value(&a), sqrt(2.0 / 3.0), 1e-12);
}

int main(void)
{
	RUN(topk_orders_best_first);
	RUN(topk_ties_go_to_the_lower_index);
	RUN(topk_skips_excluded_and_pads_when_k_exceeds_the_catalogue);
	RUN(topk_refuses_nan);
	RUN(topk_k_zero_keeps_nothing);
	RUN(topk_large_k);
	RUN(metrics_two_users_by_hand);
	RUN(metrics_more_relevant_than_k);
	RUN(metrics_miss_everything);
	RUN(rank_eval_rejects_k_zero);
	RUN(rmse_clips_to_the_star_range);
	return tap_done();
}
