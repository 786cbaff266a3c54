/*
 * impressions.c — see impressions.h. The ring is an array of fixed-size
 * records (an answer has at most IMPRESSION_MAX_ITEMS movies), so queueing is
 * one memcpy and never allocates. The flush thread wakes when FLUSH_AT
 * records wait or every FLUSH_EVERY_S, takes up to FLUSH_MAX of them out
 * under the lock, and writes them without it.
 */
#include "impressions.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "live.h"
#include "util.h"

#define FLUSH_AT 256
#define FLUSH_MAX 4096
#define FLUSH_EVERY_S 1

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct impression *ring;
	size_t cap, head, count;
	int stopping, started;
	pthread_t thread;
	const char *url, *model_name;
	struct impression *thread_batch; /* the flush thread's copy, FLUSH_MAX records */
} Q = {.lock = PTHREAD_MUTEX_INITIALIZER};

static char prefix[9];
static _Atomic uint64_t counter;

static const char HEX[] = "0123456789abcdef";

size_t impressions_next_id(char *out)
{
	uint64_t n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed) + 1;
	memcpy(out, prefix, 8);
	out[8] = '-';
	char tmp[16];
	size_t k = 0;
	do {
		tmp[k++] = HEX[n & 15];
		n >>= 4;
	} while (n);
	for (size_t i = 0; i < k; i++)
		out[9 + i] = tmp[k - 1 - i];
	out[9 + k] = '\0';
	return 9 + k;
}

void impressions_record(const char *request_id, int32_t user_id, int32_t version, enum arm arm,
			const int32_t *movie_ids, size_t n)
{
	if (!Q.started) { /* --impressions-queue 0: recording is off, nothing is dropped */
		prom_impression(arm, 1);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (n > IMPRESSION_MAX_ITEMS)
		n = IMPRESSION_MAX_ITEMS;
	int queued = 0, wake = 0;
	pthread_mutex_lock(&Q.lock);
	if (Q.count < Q.cap) {
		struct impression *im = &Q.ring[(Q.head + Q.count) % Q.cap];
		size_t idl = strnlen(request_id, IMPRESSION_ID_MAX - 1);
		memcpy(im->request_id, request_id, idl);
		im->request_id[idl] = '\0';
		im->served_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
		im->user_id = user_id;
		im->version = version;
		im->arm = (uint8_t)arm;
		im->n = (uint8_t)n;
		memcpy(im->movie_ids, movie_ids, n * sizeof *movie_ids);
		Q.count++;
		queued = 1;
		wake = Q.count == FLUSH_AT;
	}
	pthread_mutex_unlock(&Q.lock);
	if (wake)
		pthread_cond_signal(&Q.wake);
	prom_impression(arm, queued);
}

/* Writes n records; a failure loses them (counted) and drops the connection. */
static void write_batch(PGconn **conn, const struct impression *batch, size_t n)
{
	lf_error err = {0};
	if (!*conn)
		*conn = db_connect(Q.url, &err);
	if (*conn && store_impressions_copy(*conn, Q.model_name, batch, n, &err) == 0) {
		prom_impressions_written(n);
		return;
	}
	log_error("impressions: %zu not recorded: %s", n, err.msg);
	prom_impressions_lost(n);
	if (*conn) {
		PQfinish(*conn);
		*conn = NULL;
	}
}

static void deadline(struct timespec *until, double s)
{
	clock_gettime(CLOCK_MONOTONIC, until);
	until->tv_sec += (time_t)s;
	until->tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
	if (until->tv_nsec >= 1000000000L) {
		until->tv_sec++;
		until->tv_nsec -= 1000000000L;
	}
}

static void *flush_main(void *arg)
{
	struct impression *batch = arg;
	PGconn *conn = NULL;
	int failed = 0;
	for (;;) {
		struct timespec until;
		/* after a failed write, wait the full period before the next try */
		deadline(&until, FLUSH_EVERY_S);
		pthread_mutex_lock(&Q.lock);
		while (!Q.stopping && (failed || Q.count < FLUSH_AT))
			if (pthread_cond_timedwait(&Q.wake, &Q.lock, &until) == ETIMEDOUT)
				break;
		size_t m = Q.count < FLUSH_MAX ? Q.count : FLUSH_MAX;
		for (size_t i = 0; i < m; i++)
			batch[i] = Q.ring[(Q.head + i) % Q.cap];
		Q.head = (Q.head + m) % Q.cap;
		Q.count -= m;
		/* an empty ring starts again at slot 0: only as many slots as the longest
		 * backlog are ever touched, so RSS settles instead of walking the whole ring */
		if (Q.count == 0)
			Q.head = 0;
		int stop = Q.stopping && Q.count == 0;
		pthread_mutex_unlock(&Q.lock);
		failed = 0;
		if (m) {
			write_batch(&conn, batch, m);
			failed = conn == NULL;
		}
		if (stop || (Q.stopping && failed))
			break;
	}
	/* stopping with the database gone: what is left is lost, and counted */
	pthread_mutex_lock(&Q.lock);
	prom_impressions_lost(Q.count);
	Q.count = 0;
	pthread_mutex_unlock(&Q.lock);
	if (conn)
		PQfinish(conn);
	return NULL;
}

int impressions_start(const char *url, const char *model_name, size_t capacity, lf_error *err)
{
	unsigned char r[4] = {0};
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
		memcpy(r, &t, sizeof r);
	}
	for (size_t i = 0; i < 4; i++) {
		prefix[2 * i] = HEX[r[i] >> 4];
		prefix[2 * i + 1] = HEX[r[i] & 15];
	}
	prefix[8] = '\0';
	if (capacity == 0)
		return 0;
	Q.ring = calloc(capacity, sizeof *Q.ring);
	struct impression *batch = calloc(FLUSH_MAX, sizeof *batch);
	if (!Q.ring || !batch) {
		free(Q.ring);
		free(batch);
		Q.ring = NULL;
		return lf_fail(err, EX_OSERR, "out of memory for the impressions queue");
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&Q.wake, &ca);
	pthread_condattr_destroy(&ca);
	Q.cap = capacity;
	Q.url = url;
	Q.model_name = model_name;
	Q.started = 1; /* before the thread: request threads start only after this returns */
	int e = pthread_create(&Q.thread, NULL, flush_main, batch);
	if (e != 0) {
		Q.started = 0;
		free(Q.ring);
		free(batch);
		Q.ring = NULL;
		pthread_cond_destroy(&Q.wake);
		return lf_fail_errno(err, EX_OSERR, e, "cannot start the impressions thread");
	}
	Q.thread_batch = batch;
	return 0;
}

void impressions_stop(void)
{
	if (!Q.started)
		return;
	pthread_mutex_lock(&Q.lock);
	Q.stopping = 1;
	pthread_mutex_unlock(&Q.lock);
	pthread_cond_signal(&Q.wake);
	pthread_join(Q.thread, NULL);
	Q.started = 0;
	free(Q.ring);
	free(Q.thread_batch);
	Q.ring = NULL;
	pthread_cond_destroy(&Q.wake);
}
