/*
 * jitter — the machine's own floor for latency tails: how late a sleeping
 * thread wakes up.
 *
 *   jitter [--samples 20000] [--sleep-us 200]
 *
 * Sleeps --sleep-us microseconds (clock_nanosleep, CLOCK_MONOTONIC) --samples
 * times and prints one JSON object with the lateness of the wake-ups: p50, p99,
 * p999 and max in ms. Every request to ml-serve passes through several such
 * wake-ups (loadgen, ml-serve's thread, the Postgres backend, ml-serve again),
 * so no request tail can be shorter than the tail of this distribution.
 * A bench helper, not a tool: errors are one line on stderr and exit 1.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void die(const char *msg)
{
	fprintf(stderr, "jitter: %s\n", msg);
	exit(1);
}

int main(int argc, char **argv)
{
	int64_t samples = 20000, sleep_us = 200;
	static const struct option opts[] = {
		{"samples", required_argument, NULL, 'n'},
		{"sleep-us", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n') {
			if (parse_i64(optarg, 100, 10000000, &samples) < 0)
				die("--samples: an integer from 100 to 10000000");
		} else if (c == 's') {
			if (parse_i64(optarg, 1, 1000000, &sleep_us) < 0)
				die("--sleep-us: an integer from 1 to 1000000");
		} else {
			die("usage: jitter [--samples N] [--sleep-us N]");
		}
	}
	double *late = malloc((size_t)samples * sizeof *late);
	if (!late)
		die("out of memory");
	const struct timespec nap = {.tv_sec = sleep_us / 1000000, .tv_nsec = (sleep_us % 1000000) * 1000};
	for (int64_t i = 0; i < samples; i++) {
		double t0 = now_seconds();
		while (clock_nanosleep(CLOCK_MONOTONIC, 0, &nap, NULL) != 0) {
		}
		late[i] = (now_seconds() - t0) * 1e3 - (double)sleep_us / 1e3;
	}
	qsort(late, (size_t)samples, sizeof *late, cmp_double);
	size_t n = (size_t)samples;
	printf("{\"samples\": %zu, \"sleep_us\": %lld, \"late_p50_ms\": %.4f, \"late_p99_ms\": %.4f, "
	       "\"late_p999_ms\": %.4f, \"late_max_ms\": %.4f}\n",
	       n, (long long)sleep_us, late[n / 2], late[n * 99 / 100], late[n * 999 / 1000], late[n - 1]);
	free(late);
	return 0;
}
