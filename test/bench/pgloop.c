/*
 * pgloop — floor (c) as ml-serve's own shape: a libpq loop with one thread per
 * connection, each thread blocking in PQexecPrepared, the statement prepared
 * once, the user id sent as a text parameter and the rows read in binary, as
 * tools/ml-serve/db.c does. No HTTP and no JSON: what is left is the least
 * client CPU that a thread-per-connection server spends on one query.
 *
 *   pgloop --sql FILE [--url URL] [--threads 8] [--users 943] [--duration 8]
 *          [--warmup 1] [--seed 42]
 *
 * FILE holds one statement with $1 for the user id (1..--users, uniform). The
 * result is one JSON object: queries and rps of the measured window, p50 and
 * p99 latency in ms, and the client's CPU µs per query (the whole process,
 * CLOCK_PROCESS_CPUTIME_ID over the window: user and system time).
 * --url defaults to $DATABASE_URL. A bench helper, not a tool: errors are one
 * line on stderr and exit 1.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "rng.h"
#include "util.h"

enum { WARMUP, MEASURE, STOP };

static _Atomic int phase = WARMUP;

struct loop {
	pthread_t thread;
	PGconn *conn;
	uint64_t seed;
	int64_t users;
	double *lat; /* seconds, the measured window's queries */
	size_t n, cap;
	int rows;
	char err[256];
};

static void die(const char *msg)
{
	fprintf(stderr, "pgloop: %s\n", msg);
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void first_line(char *dst, size_t n, const char *msg)
{
	snprintf(dst, n, "%.*s", (int)strcspn(msg, "\n"), msg);
}

static void *run(void *arg)
{
	struct loop *l = arg;
	rng r;
	rng_seed(&r, l->seed);
	char uid[24];
	const char *params[1] = {uid};
	for (;;) {
		int p0 = atomic_load_explicit(&phase, memory_order_relaxed);
		if (p0 == STOP)
			break;
		snprintf(uid, sizeof uid, "%llu", (unsigned long long)(rng_below(&r, (uint64_t)l->users) + 1));
		double t0 = now_seconds();
		PGresult *res = PQexecPrepared(l->conn, "q", 1, params, NULL, NULL, 1);
		double dt = now_seconds() - t0;
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			first_line(l->err, sizeof l->err, PQerrorMessage(l->conn));
			PQclear(res);
			break;
		}
		l->rows += PQntuples(res); /* the rows are read, as ml-serve reads them */
		PQclear(res);
		if (p0 == MEASURE && atomic_load_explicit(&phase, memory_order_relaxed) == MEASURE) {
			if (l->n == l->cap) {
				size_t cap = l->cap ? l->cap * 2 : 4096;
				double *lat = realloc(l->lat, cap * sizeof *lat);
				if (!lat) {
					snprintf(l->err, sizeof l->err, "out of memory");
					break;
				}
				l->lat = lat;
				l->cap = cap;
			}
			l->lat[l->n++] = dt;
		}
	}
	return NULL;
}

/* Exits with "pgloop: what: " and the first line of the connection's error. */
static void die_pg(const char *what, PGconn *conn)
{
	char msg[256];
	first_line(msg, sizeof msg, PQerrorMessage(conn));
	fprintf(stderr, "pgloop: %s: %s\n", what, msg);
	exit(1);
}

/* The --sql file, NUL-terminated (lib's read_all), up to 1 MiB. */
static char *read_sql(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die("cannot open the --sql file");
	unsigned char *buf;
	size_t len;
	lf_error err = {0};
	int rc = read_all(f, path, 1u << 20, &buf, &len, &err);
	fclose(f);
	if (rc < 0) {
		fprintf(stderr, "pgloop: %s\n", err.msg);
		exit(1);
	}
	return (char *)buf;
}

static void nap(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) != 0) {
	}
}

int main(int argc, char **argv)
{
	const char *url = getenv("DATABASE_URL"), *sql_path = NULL;
	int64_t threads = 8, users = 943, duration = 8, warmup = 1, seed = 42;
	static const struct option opts[] = {
		{"sql", required_argument, NULL, 'q'},	   {"url", required_argument, NULL, 'u'},
		{"threads", required_argument, NULL, 't'}, {"users", required_argument, NULL, 'n'},
		{"duration", required_argument, NULL, 'd'}, {"warmup", required_argument, NULL, 'w'},
		{"seed", required_argument, NULL, 's'},	   {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'q': sql_path = optarg; break;
		case 'u': url = optarg; break;
		case 't':
			if (parse_i64(optarg, 1, 256, &threads) < 0)
				die("--threads: an integer from 1 to 256");
			break;
		case 'n':
			if (parse_i64(optarg, 1, INT32_MAX, &users) < 0)
				die("--users: a positive integer");
			break;
		case 'd':
			if (parse_i64(optarg, 1, 3600, &duration) < 0)
				die("--duration: seconds, 1 to 3600");
			break;
		case 'w':
			if (parse_i64(optarg, 0, 600, &warmup) < 0)
				die("--warmup: seconds, 0 to 600");
			break;
		case 's':
			if (parse_i64(optarg, 0, INT64_MAX, &seed) < 0)
				die("--seed: a non-negative integer");
			break;
		default:
			die("usage: pgloop --sql FILE [--url URL] [--threads N] [--users N] [--duration S] "
			    "[--warmup S] [--seed N]");
		}
	}
	if (!sql_path)
		die("--sql FILE is required");
	if (!url || !*url)
		die("no database: --url or DATABASE_URL");
	char *sql = read_sql(sql_path);

	struct loop *loops = calloc((size_t)threads, sizeof *loops);
	if (!loops)
		die("out of memory");
	for (int64_t i = 0; i < threads; i++) {
		struct loop *l = &loops[i];
		l->conn = PQconnectdb(url);
		if (PQstatus(l->conn) != CONNECTION_OK)
			die_pg("database unreachable", l->conn);
		PGresult *res = PQprepare(l->conn, "q", sql, 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			die_pg("cannot prepare the statement", l->conn);
		PQclear(res);
		l->seed = (uint64_t)seed * 1000003u + (uint64_t)i;
		l->users = users;
	}
	free(sql);
	for (int64_t i = 0; i < threads; i++)
		if (pthread_create(&loops[i].thread, NULL, run, &loops[i]) != 0)
			die("cannot start a thread");
	nap((double)warmup);
	double cpu0 = cpu_seconds(), t0 = now_seconds();
	atomic_store(&phase, MEASURE);
	nap((double)duration);
	atomic_store(&phase, STOP);
	double cpu1 = cpu_seconds(), t1 = now_seconds();

	size_t total = 0;
	long rows = 0;
	const char *failed = NULL;
	for (int64_t i = 0; i < threads; i++) {
		pthread_join(loops[i].thread, NULL);
		total += loops[i].n;
		rows += loops[i].rows;
		if (loops[i].err[0] && !failed)
			failed = loops[i].err;
	}
	if (failed) {
		fprintf(stderr, "pgloop: query failed: %s\n", failed);
		return 1;
	}
	if (total == 0 || rows == 0)
		die("no query finished in the measured window");
	double *all = malloc(total * sizeof *all);
	if (!all)
		die("out of memory");
	size_t k = 0;
	for (int64_t i = 0; i < threads; i++) {
		memcpy(all + k, loops[i].lat, loops[i].n * sizeof *all);
		k += loops[i].n;
		free(loops[i].lat);
		PQfinish(loops[i].conn);
	}
	free(loops);
	qsort(all, total, sizeof *all, cmp_double);
	double wall = t1 - t0;
	printf("{\"queries\": %zu, \"rps\": %.1f, \"p50_ms\": %.4f, \"p99_ms\": %.4f, "
	       "\"client_cpu_us_per_req\": %.1f, \"threads\": %lld}\n",
	       total, (double)total / wall, all[total / 2] * 1e3, all[total * 99 / 100] * 1e3,
	       (cpu1 - cpu0) * 1e6 / (double)total, (long long)threads);
	free(all);
	return 0;
}
