/*
 * tap.h — the unit tests' harness: Test Anything Protocol on stdout, so that
 * test/run counts unit tests and bats tests the same way.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_EQ_INT(a, b); CHECK_NEAR(x, y, 1e-6); }
 *   int main(void) { RUN(name); ...; return tap_done(); }
 *
 * A failed CHECK prints a "# file:line: expr" diagnostic, marks the test
 * failed and returns from it. Each RUN prints one "ok N - name" or
 * "not ok N - name"; tap_done prints the plan "1..N" and returns nonzero when
 * anything failed.
 */
#ifndef LENSFLOW_TAP_H
#define LENSFLOW_TAP_H

#include <math.h>
#include <stdio.h>

static int tap_n, tap_failed, tap_cur_failed;

#define TEST(name) static void name(void)

#define RUN(name)                                                            \
	do {                                                                 \
		tap_cur_failed = 0;                                          \
		fflush(stdout);                                              \
		name();                                                      \
		tap_n++;                                                     \
		if (tap_cur_failed)                                          \
			tap_failed++;                                        \
		printf("%sok %d - %s\n", tap_cur_failed ? "not " : "", tap_n, \
		       #name);                                               \
		fflush(stdout);                                              \
	} while (0)

#define CHECK(expr)                                                          \
	do {                                                                 \
		if (!(expr)) {                                               \
			printf("# %s:%d: CHECK(%s) failed\n", __FILE__,      \
			       __LINE__, #expr);                             \
			tap_cur_failed = 1;                                  \
			return;                                              \
		}                                                            \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                   \
	do {                                                                 \
		long long tap_a = (long long)(a), tap_b = (long long)(b);    \
		if (tap_a != tap_b) {                                        \
			printf("# %s:%d: %s == %s failed: %lld != %lld\n",   \
			       __FILE__, __LINE__, #a, #b, tap_a, tap_b);    \
			tap_cur_failed = 1;                                  \
			return;                                              \
		}                                                            \
	} while (0)

#define CHECK_NEAR(a, b, tol)                                                \
	do {                                                                 \
		double tap_a = (double)(a), tap_b = (double)(b);             \
		if (!(fabs(tap_a - tap_b) <= (tol))) {                       \
			printf("# %s:%d: %s ~ %s failed: %.10g vs %.10g\n",  \
			       __FILE__, __LINE__, #a, #b, tap_a, tap_b);    \
			tap_cur_failed = 1;                                  \
			return;                                              \
		}                                                            \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
