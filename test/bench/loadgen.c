/*
 * loadgen — the bench's HTTP/1.1 load generator (keep-alive, one epoll thread).
 *
 *   loadgen --addr 127.0.0.1:8000 --path '/recommendations/{id}?k=10' --ids 943
 *           [--conns 8] [--rate 2000] [--poisson] [--duration 10] [--warmup 1] [--seed 1]
 *
 * --rate R > 0 is an OPEN loop: request n is due at t0 + n/R whatever happened
 * before (timerfd, nanosecond deadlines), or with --poisson after exponential
 * gaps of mean 1/R (Poisson arrivals, as pgbench -R schedules its transactions);
 * a due request waits in a queue until
 * a connection is free, and its latency runs from its due time, so queueing
 * behind a slow answer counts (no coordinated omission). --rate 0 is a closed
 * loop: each connection sends its next request as soon as the last answered.
 * "{id}" in the path becomes a uniform random integer in 1..--ids.
 * --body FILE: POST the file's bytes (application/json) instead of GET.
 *
 * Prints one JSON object: counts, achieved rate and latency percentiles (ms)
 * of the requests due after the warm-up; "p99_sent_ms" leaves out the wait in
 * the queue (from the moment the request was written).
 * A bench helper, not a tool: errors are one line on stderr and exit 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "rng.h"
#include "util.h"

#define MAX_CONNS 512
#define RBUF 65536

typedef struct conn {
	int fd, busy;
	double due, sent;
	size_t rlen, total; /* total: header + body once the header is complete */
	int status;
	char rbuf[RBUF];
} conn;

typedef struct samples {
	double *v;
	size_t n, cap;
} samples;

static struct sockaddr_in addr;
static const char *path_tmpl = "/healthz";
static int64_t ids;
static rng rnd;
static samples lat, lat_sent, lat_ok, lat_bad; /* lat_ok/lat_bad: 2xx and non-2xx apart */
static double t_measure; /* requests due from here on are recorded */
static uint64_t completed, non2xx, errors, reconnects, over_2s;
static char *body;       /* --body: the POST body, else NULL */
static size_t body_len;

static void die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void push(samples *s, double x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 65536;
		double *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			die("out of memory");
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
}

static int open_conn(conn *c, int ep)
{
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		die("socket");
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0)
		die("connect");
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		die("epoll_ctl");
	c->busy = 0;
	c->rlen = c->total = 0;
	return 0;
}

static void send_req(conn *c, double due, int ep)
{
	char path[512], req[768];
	const char *mark = strstr(path_tmpl, "{id}");
	if (mark && ids > 0)
		snprintf(path, sizeof path, "%.*s%lld%s", (int)(mark - path_tmpl), path_tmpl,
			 (long long)(1 + (int64_t)rng_below(&rnd, (uint64_t)ids)), mark + 4);
	else
		snprintf(path, sizeof path, "%s", path_tmpl);
	int n = body ? snprintf(req, sizeof req,
				"POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
				"Content-Length: %zu\r\n\r\n", path, body_len)
		     : snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: bench\r\n\r\n", path);
	c->busy = 1;
	c->due = due;
	c->sent = now_seconds();
	c->rlen = c->total = 0;
	/* A request this small fits the socket buffer of an idle keep-alive connection;
	 * a body is written on in the same blocking way. */
	const char *part[2] = {req, body};
	size_t len[2] = {(size_t)n, body ? body_len : 0};
	for (int k = 0; k < 2; k++)
		for (size_t off = 0; off < len[k];) {
			ssize_t w = write(c->fd, part[k] + off, len[k] - off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				errors++;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				reconnects++;
				open_conn(c, ep);
				return;
			}
			off += (size_t)w;
		}
}

static void read_body_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die(path);
	size_t cap = 1 << 16;
	body = malloc(cap);
	for (size_t r; body && (r = fread(body + body_len, 1, cap - body_len, f)) > 0;) {
		body_len += r;
		if (body_len == cap)
			body = realloc(body, cap *= 2);
	}
	if (!body)
		die("out of memory");
	fclose(f);
}

/* Parses what arrived; 1 when the response is complete. */
static int parse(conn *c)
{
	if (!c->total) {
		char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
		if (!end)
			return 0;
		size_t hlen = (size_t)(end - c->rbuf) + 4;
		c->status = 0;
		/* "HTTP/1.x NNN": the three digits */
		if (c->rlen > 12 && memcmp(c->rbuf, "HTTP/1.", 7) == 0)
			for (int i = 9; i < 12 && c->rbuf[i] >= '0' && c->rbuf[i] <= '9'; i++)
				c->status = c->status * 10 + (c->rbuf[i] - '0');
		size_t cl = 0;
		for (char *p = c->rbuf; p < end; p++) {
			if ((p == c->rbuf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
				cl = strtoul(p + 15, NULL, 10);
				break;
			}
		}
		c->total = hlen + cl;
		if (c->total > RBUF)
			return -1;
	}
	return c->rlen >= c->total;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(const samples *s, double p)
{
	if (!s->n)
		return 0;
	size_t i = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
	return s->v[i < s->n ? i : s->n - 1] * 1e3;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"addr", required_argument, NULL, 'a'},	    {"path", required_argument, NULL, 'p'},
		{"ids", required_argument, NULL, 'i'},	    {"conns", required_argument, NULL, 'c'},
		{"rate", required_argument, NULL, 'r'},	    {"duration", required_argument, NULL, 'd'},
		{"warmup", required_argument, NULL, 'w'},   {"seed", required_argument, NULL, 's'},
		{"poisson", no_argument, NULL, 'P'},	    {"body", required_argument, NULL, 'b'},
		{NULL, 0, NULL, 0}};
	int64_t nconns = 8, seed = 1;
	double rate = 0, duration = 10, warmup = 1;
	int poisson = 0;
	const char *a = "127.0.0.1:8000";
	int o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		int bad = 0;
		switch (o) {
		case 'a': a = optarg; break;
		case 'p': path_tmpl = optarg; break;
		case 'i': bad = parse_i64(optarg, 0, INT32_MAX, &ids); break;
		case 'c': bad = parse_i64(optarg, 1, MAX_CONNS, &nconns); break;
		case 'r': bad = parse_double(optarg, 0, 1e7, &rate); break;
		case 'd': bad = parse_double(optarg, 0.1, 3600, &duration); break;
		case 'w': bad = parse_double(optarg, 0, 3600, &warmup); break;
		case 's': bad = parse_i64(optarg, 0, INT64_MAX, &seed); break;
		case 'P': poisson = 1; break;
		case 'b': read_body_file(optarg); break;
		default: bad = 1;
		}
		if (bad) {
			fprintf(stderr, "loadgen: bad option (see the comment at the top of loadgen.c)\n");
			return 1;
		}
	}
	const char *colon = strrchr(a, ':');
	int64_t port;
	char host[64];
	if (!colon || (size_t)(colon - a) >= sizeof host || parse_i64(colon + 1, 1, 65535, &port)) {
		fprintf(stderr, "loadgen: --addr is HOST:PORT\n");
		return 1;
	}
	snprintf(host, sizeof host, "%.*s", (int)(colon - a), a);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
		fprintf(stderr, "loadgen: --addr wants an IPv4 address\n");
		return 1;
	}
	rng_seed(&rnd, (uint64_t)seed);
	rng arrivals; /* its own stream: the users asked for stay those of the even schedule */
	rng_seed(&arrivals, (uint64_t)seed ^ UINT64_C(0x9e3779b97f4a7c15));

	int ep = epoll_create1(0), tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	if (ep < 0 || tfd < 0)
		die("epoll/timerfd");
	struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev) < 0)
		die("epoll_ctl");
	conn *cs = calloc((size_t)nconns, sizeof *cs);
	/* the queue of due requests (open loop): their due times, a ring */
	size_t qcap = 1u << 20, qhead = 0, qlen = 0, qmax = 0;
	double *q = malloc(qcap * sizeof *q);
	if (!cs || !q)
		die("out of memory");
	for (int i = 0; i < nconns; i++)
		open_conn(&cs[i], ep);

	double t0 = now_seconds(), t_end = t0 + warmup + duration;
	t_measure = t0 + warmup;
	uint64_t scheduled = 0;
	double next_due = t0;
	if (rate <= 0)
		for (int i = 0; i < nconns; i++)
			send_req(&cs[i], now_seconds(), ep);

	int stopping = 0;
	double hard_stop = t_end + 2.0;
	for (;;) {
		double t = now_seconds();
		if (!stopping && t >= t_end)
			stopping = 1;
		if (stopping) {
			int inflight = 0;
			for (int i = 0; i < nconns; i++)
				inflight += cs[i].busy;
			if (!inflight || t >= hard_stop)
				break;
		}
		if (rate > 0 && !stopping) {
			while (next_due <= t && next_due < t_end) {
				if (qlen == qcap)
					die("queue overflow");
				q[(qhead + qlen++) % qcap] = next_due;
				scheduled++;
				next_due = poisson ? next_due - log1p(-rng_uniform(&arrivals)) / rate
						   : t0 + (double)scheduled / rate;
			}
			if (qlen > qmax)
				qmax = qlen;
			for (int i = 0; i < nconns && qlen; i++)
				if (!cs[i].busy) {
					send_req(&cs[i], q[qhead], ep);
					qhead = (qhead + 1) % qcap;
					qlen--;
				}
			struct itimerspec its = {0};
			its.it_value.tv_sec = (time_t)next_due;
			its.it_value.tv_nsec = (long)((next_due - (double)(time_t)next_due) * 1e9);
			if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
				its.it_value.tv_nsec = 1;
			timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
		}
		struct epoll_event evs[64];
		int timeout = stopping ? 50 : (rate > 0 ? 100 : 100);
		int n = epoll_wait(ep, evs, 64, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int e = 0; e < n; e++) {
			conn *c = evs[e].data.ptr;
			if (!c) {
				uint64_t x;
				if (read(tfd, &x, sizeof x) < 0 && errno != EAGAIN)
					die("timerfd");
				continue;
			}
			ssize_t r = read(c->fd, c->rbuf + c->rlen, RBUF - c->rlen);
			if (r <= 0) {
				if (r < 0 && errno == EINTR)
					continue;
				if (c->busy)
					errors++;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				reconnects++;
				open_conn(c, ep);
				if (rate <= 0 && !stopping)
					send_req(c, now_seconds(), ep);
				continue;
			}
			c->rlen += (size_t)r;
			int done = parse(c);
			if (done < 0 || (done == 0 && c->rlen == RBUF)) {
				errors++;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				open_conn(c, ep);
				continue;
			}
			if (!done)
				continue;
			double tc = now_seconds();
			c->busy = 0;
			if (c->due >= t_measure) {
				completed++;
				if (c->status < 200 || c->status > 299)
					non2xx++;
				if (tc - c->due > 2.0)
					over_2s++; /* what wrk would have counted as a timeout */
				push(c->status >= 200 && c->status <= 299 ? &lat_ok : &lat_bad, tc - c->due);
				push(&lat, tc - c->due);
				push(&lat_sent, tc - c->sent);
			}
			if (rate > 0 && qlen && !stopping) {
				send_req(c, q[qhead], ep);
				qhead = (qhead + 1) % qcap;
				qlen--;
			} else if (rate <= 0 && !stopping) {
				send_req(c, tc, ep);
			}
		}
	}
	double t_stop = now_seconds();
	uint64_t unfinished = 0;
	for (int i = 0; i < nconns; i++)
		if (cs[i].busy && cs[i].due >= t_measure)
			unfinished++;
	/* due but never sent: their latency is at least the time they waited */
	for (size_t i = 0; i < qlen; i++) {
		double due = q[(qhead + i) % qcap];
		if (due >= t_measure)
			push(&lat, t_stop - due), unfinished++;
	}
	qsort(lat.v, lat.n, sizeof *lat.v, cmp);
	qsort(lat_sent.v, lat_sent.n, sizeof *lat_sent.v, cmp);
	qsort(lat_ok.v, lat_ok.n, sizeof *lat_ok.v, cmp);
	qsort(lat_bad.v, lat_bad.n, sizeof *lat_bad.v, cmp);
	double sum = 0;
	for (size_t i = 0; i < lat.n; i++)
		sum += lat.v[i];
	printf("{\"mode\": \"%s\", \"arrivals\": \"%s\", \"conns\": %lld, \"rate_target\": %.1f, \"duration_s\": %.3f, "
	       "\"completed\": %llu, \"non2xx\": %llu, \"errors\": %llu, \"unfinished\": %llu, "
	       "\"reconnects\": %llu, \"rps\": %.1f, \"mean_ms\": %.4f, \"p50_ms\": %.4f, "
	       "\"p90_ms\": %.4f, \"p99_ms\": %.4f, \"p999_ms\": %.4f, \"max_ms\": %.4f, "
	       "\"p99_sent_ms\": %.4f, \"queue_max\": %zu, \"over_2s\": %llu, "
	       "\"ok_p50_ms\": %.4f, \"ok_p99_ms\": %.4f, \"non2xx_p50_ms\": %.4f, "
	       "\"non2xx_p99_ms\": %.4f, \"non2xx_max_ms\": %.4f}\n",
	       rate > 0 ? "open" : "closed", rate <= 0 ? "closed loop" : poisson ? "poisson" : "even",
	       (long long)nconns, rate, duration,
	       (unsigned long long)completed, (unsigned long long)non2xx,
	       (unsigned long long)errors, (unsigned long long)unfinished,
	       (unsigned long long)reconnects, (double)completed / duration,
	       lat.n ? sum / (double)lat.n * 1e3 : 0.0, pct(&lat, 50), pct(&lat, 90), pct(&lat, 99),
	       pct(&lat, 99.9), lat.n ? lat.v[lat.n - 1] * 1e3 : 0.0, pct(&lat_sent, 99), qmax,
	       (unsigned long long)(over_2s + unfinished), pct(&lat_ok, 50), pct(&lat_ok, 99),
	       pct(&lat_bad, 50), pct(&lat_bad, 99), lat_bad.n ? lat_bad.v[lat_bad.n - 1] * 1e3 : 0.0);
	for (int i = 0; i < nconns; i++)
		close(cs[i].fd);
	close(tfd);
	close(ep);
	free(cs);
	free(q);
	free(lat.v);
	free(lat_sent.v);
	free(lat_ok.v);
	free(lat_bad.v);
	free(body);
	return 0;
}
