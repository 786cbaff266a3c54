/* test_rng.c — the seeded generator: reproducible streams, splitmix64
 * seeding against its published first outputs, range and shuffle
 * properties. Tools depend on the exact stream for their determinism. */
#include <string.h>

#include "rng.h"
#include "tap.h"

TEST(same_seed_same_stream)
{
	rng a, b, c;
	rng_seed(&a, 42);
	rng_seed(&b, 42);
	rng_seed(&c, 43);
	int differ = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t x = rng_next(&a);
		CHECK(x == rng_next(&b));
		differ |= x != rng_next(&c);
	}
	CHECK(differ);
}

TEST(seeding_is_splitmix64)
{
	/* splitmix64 from state 0: 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, ... */
	rng r;
	rng_seed(&r, 0);
	CHECK(r.s[0] == 0xe220a8397b1dcdafULL);
	CHECK(r.s[1] == 0x6e789e6aa1b965f4ULL);
	/* first xoshiro256** output is rotl(s1 * 5, 7) * 9 */
	uint64_t s1 = r.s[1] * 5;
	uint64_t want = ((s1 << 7) | (s1 >> 57)) * 9;
	CHECK(rng_next(&r) == want);
}

TEST(below_stays_in_range_and_covers_it)
{
	rng r;
	rng_seed(&r, 7);
	int seen[10] = {0};
	for (int i = 0; i < 10000; i++) {
		uint64_t x = rng_below(&r, 10);
		CHECK(x < 10);
		seen[x]++;
	}
	for (int i = 0; i < 10; i++)
		CHECK(seen[i] > 850 && seen[i] < 1150); /* 1000 expected, ~5 sigma slack */
	CHECK(rng_below(&r, 1) == 0);
}

TEST(uniform_and_normal_moments)
{
	rng r;
	rng_seed(&r, 1);
	double s = 0, s2 = 0, n = 20000;
	for (int i = 0; i < n; i++) {
		double u = rng_uniform(&r);
		CHECK(u >= 0.0 && u < 1.0);
		s += u;
	}
	CHECK_NEAR(s / n, 0.5, 0.01);
	s = 0;
	for (int i = 0; i < n; i++) {
		double z = rng_normal(&r);
		s += z;
		s2 += z * z;
	}
	CHECK_NEAR(s / n, 0.0, 0.03);
	CHECK_NEAR(s2 / n, 1.0, 0.04);
}

TEST(shuffle_is_a_seeded_permutation)
{
	int a[100], b[100];
	for (int i = 0; i < 100; i++)
		a[i] = b[i] = i;
	rng r1, r2;
	rng_seed(&r1, 42);
	rng_seed(&r2, 42);
	rng_shuffle(&r1, a, 100, sizeof a[0]);
	rng_shuffle(&r2, b, 100, sizeof b[0]);
	CHECK(memcmp(a, b, sizeof a) == 0);
	int seen[100] = {0}, moved = 0;
	for (int i = 0; i < 100; i++) {
		seen[a[i]]++;
		moved += a[i] != i;
	}
	for (int i = 0; i < 100; i++)
		CHECK_EQ_INT(seen[i], 1);
	CHECK(moved > 80);
	/* elements larger than the swap buffer (64 bytes) move whole */
	struct big {
		char pad[100];
		int id;
	} big[5];
	for (int i = 0; i < 5; i++) {
		memset(big[i].pad, 'a' + i, sizeof big[i].pad);
		big[i].id = i;
	}
	rng_shuffle(&r1, big, 5, sizeof big[0]);
	for (int i = 0; i < 5; i++)
		CHECK(big[i].pad[99] == 'a' + big[i].id && big[i].pad[0] == 'a' + big[i].id);
}

int main(void)
{
	RUN(same_seed_same_stream);
	RUN(seeding_is_splitmix64);
	RUN(below_stays_in_range_and_covers_it);
	RUN(uniform_and_normal_moments);
	RUN(shuffle_is_a_seeded_permutation);
	return tap_done();
}
