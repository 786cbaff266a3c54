/*
 * rl-load — the reliability tests' load client: keep-alive HTTP/1.1 requests
 * over CONNS connections (one thread each), counted by status, with latency.
 *
 *   rl-load --port 8000 [--conns 4] [--rate 200] [--seconds 10] [--dump FILE]
 *           [--post-body FILE] [--timeout-ms 5000] [--events FILE] PATH...
 *
 * --rate R > 0 paces the requests: request n of connection c is due at
 * t0 + (n * CONNS + c) / R and its latency runs from its due time, so time
 * spent queued behind a slow answer counts. --rate 0 is a closed loop (each
 * connection sends again as soon as it has its answer). PATHs are used in
 * turn; with --post-body each request is a POST of that file as JSON.
 * A transport failure (refused, reset, timeout, malformed answer) counts in
 * "errors" and the connection is opened again.
 *
 * --dump FILE writes one line per answer: "STATUS\tPATH\tBODY" (newlines in
 * the body become spaces), for checks on what was answered.
 *
 * --events FILE writes one line per request, failures included, when its
 * answer (or failure) came: "UNIX_SECONDS\tSTATUS\tRETRY_AFTER\tPATH", STATUS
 * 0 for a transport failure, RETRY_AFTER 1 when the answer had that header.
 *
 * Prints one JSON object: requests, errors, status counts, 5xx, latency
 * percentiles and the largest latency of each status class (ms).
 * A test helper, not a tool: errors are one line on stderr and exit 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define RBUF (1 << 20)

static struct {
	int port, conns, timeout_ms;
	double rate, seconds;
	char **paths;
	int n_paths;
	char *post;
	size_t post_len;
	FILE *dump, *events;
	pthread_mutex_t dump_lock;
	double t0;
} cfg = {.port = 0, .conns = 4, .timeout_ms = 5000, .rate = 0, .seconds = 5,
	 .dump_lock = PTHREAD_MUTEX_INITIALIZER};

struct worker {
	int id;
	long requests, errors, status[600];
	double *lat;
	size_t n_lat, cap_lat;
	double max_by_class[6];
	char *buf;
	int retry_after; /* the last answer had a Retry-After header */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts = {.tv_sec = (time_t)t, .tv_nsec = (long)((t - (double)(time_t)t) * 1e9)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {.tv_sec = cfg.timeout_ms / 1000, .tv_usec = (cfg.timeout_ms % 1000) * 1000};
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One request on fd; its status (0 on a transport failure), body in w->buf. */
static int exchange(struct worker *w, int fd, const char *path, int *keep, size_t *body_len)
{
	char head[1024];
	int hn;
	if (cfg.post)
		hn = snprintf(head, sizeof head,
			      "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
			      "Content-Length: %zu\r\n\r\n", path, cfg.post_len);
	else
		hn = snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (hn < 0 || (size_t)hn >= sizeof head)
		return 0;
	if (write_all(fd, head, (size_t)hn) < 0 || (cfg.post && write_all(fd, cfg.post, cfg.post_len) < 0))
		return 0;
	size_t got = 0;
	char *end = NULL;
	while (!end) {
		if (got >= RBUF - 1)
			return 0;
		ssize_t r = recv(fd, w->buf + got, RBUF - 1 - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		got += (size_t)r;
		w->buf[got] = '\0';
		end = strstr(w->buf, "\r\n\r\n");
	}
	int status = 0;
	if (sscanf(w->buf, "HTTP/1.%*1[01] %3d", &status) != 1 || status < 100 || status > 599)
		return 0;
	size_t hlen = (size_t)(end + 4 - w->buf);
	long clen = -1;
	*keep = 1;
	w->retry_after = 0;
	for (char *line = strstr(w->buf, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			clen = strtol(line + 15, NULL, 10);
		else if (strncasecmp(line, "Retry-After:", 12) == 0)
			w->retry_after = 1;
		else if (strncasecmp(line, "Connection:", 11) == 0 && strcasestr(line, "close") &&
			 strcasestr(line, "close") < strstr(line, "\r\n"))
			*keep = 0;
	}
	if (clen < 0 || (size_t)clen > RBUF - 1 - hlen)
		return 0; /* ml-serve always sends Content-Length */
	while (got < hlen + (size_t)clen) {
		ssize_t r = recv(fd, w->buf + got, hlen + (size_t)clen - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		got += (size_t)r;
	}
	memmove(w->buf, w->buf + hlen, (size_t)clen);
	w->buf[clen] = '\0';
	*body_len = (size_t)clen;
	return status;
}

static void record(struct worker *w, int status, double ms)
{
	w->requests++;
	if (status == 0)
		w->errors++;
	else
		w->status[status]++;
	int cls = status / 100;
	if (ms > w->max_by_class[cls])
		w->max_by_class[cls] = ms;
	if (w->n_lat == w->cap_lat) {
		size_t cap = w->cap_lat ? w->cap_lat * 2 : 4096;
		double *p = realloc(w->lat, cap * sizeof *p);
		if (!p)
			return;
		w->lat = p;
		w->cap_lat = cap;
	}
	w->lat[w->n_lat++] = ms;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	int fd = -1;
	double end = cfg.t0 + cfg.seconds;
	for (long n = 0;; n++) {
		double due = cfg.rate > 0 ? cfg.t0 + (double)(n * cfg.conns + w->id) / cfg.rate : now();
		if (due >= end)
			break;
		sleep_until(due);
		const char *path = cfg.paths[(n * cfg.conns + w->id) % cfg.n_paths];
		if (fd < 0)
			fd = dial();
		int status = 0, keep = 0;
		size_t blen = 0;
		if (fd >= 0)
			status = exchange(w, fd, path, &keep, &blen);
		record(w, status, (now() - due) * 1e3);
		if (cfg.events) {
			struct timespec rt;
			clock_gettime(CLOCK_REALTIME, &rt);
			pthread_mutex_lock(&cfg.dump_lock);
			fprintf(cfg.events, "%lld.%06ld\t%d\t%d\t%s\n", (long long)rt.tv_sec,
				rt.tv_nsec / 1000, status, status ? w->retry_after : 0, path);
			pthread_mutex_unlock(&cfg.dump_lock);
		}
		if (status && cfg.dump) {
			for (size_t i = 0; i < blen; i++)
				if (w->buf[i] == '\n' || w->buf[i] == '\r')
					w->buf[i] = ' ';
			pthread_mutex_lock(&cfg.dump_lock);
			fprintf(cfg.dump, "%d\t%s\t%s\n", status, path, w->buf);
			pthread_mutex_unlock(&cfg.dump_lock);
		}
		if (!status || !keep) {
			if (fd >= 0)
				close(fd);
			fd = -1;
			if (!status && cfg.rate <= 0)
				sleep_until(now() + 0.01); /* a refused connect must not spin */
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *p = malloc(RBUF);
	size_t n = p ? fread(p, 1, RBUF, f) : 0;
	fclose(f);
	*len = n;
	return p;
}

static void usage(void)
{
	fprintf(stderr, "usage: rl-load --port N [--conns N] [--rate R] [--seconds S] [--dump FILE]\n"
			"               [--post-body FILE] [--timeout-ms MS] [--events FILE] PATH...\n");
	exit(1);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"port", required_argument, NULL, 'p'},	   {"conns", required_argument, NULL, 'c'},
		{"rate", required_argument, NULL, 'r'},	   {"seconds", required_argument, NULL, 's'},
		{"dump", required_argument, NULL, 'o'},	   {"post-body", required_argument, NULL, 'b'},
		{"timeout-ms", required_argument, NULL, 't'}, {"events", required_argument, NULL, 'e'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "p:c:r:s:o:b:t:e:", opts, NULL)) != -1) {
		char *e = NULL;
		switch (c) {
		case 'p': cfg.port = (int)strtol(optarg, &e, 10); break;
		case 'c': cfg.conns = (int)strtol(optarg, &e, 10); break;
		case 'r': cfg.rate = strtod(optarg, &e); break;
		case 's': cfg.seconds = strtod(optarg, &e); break;
		case 't': cfg.timeout_ms = (int)strtol(optarg, &e, 10); break;
		case 'o':
			cfg.dump = fopen(optarg, "w");
			if (!cfg.dump) {
				perror(optarg);
				return 1;
			}
			break;
		case 'e':
			cfg.events = fopen(optarg, "w");
			if (!cfg.events) {
				perror(optarg);
				return 1;
			}
			break;
		case 'b':
			cfg.post = slurp(optarg, &cfg.post_len);
			if (!cfg.post) {
				perror(optarg);
				return 1;
			}
			break;
		default: usage();
		}
		if (e && *e)
			usage();
	}
	if (cfg.port < 1 || cfg.port > 65535 || cfg.conns < 1 || cfg.conns > MAX_CONNS ||
	    cfg.rate < 0 || cfg.seconds <= 0 || cfg.timeout_ms < 1 || optind >= argc)
		usage();
	cfg.paths = argv + optind;
	cfg.n_paths = argc - optind;
	static struct worker ws[MAX_CONNS];
	pthread_t th[MAX_CONNS];
	cfg.t0 = now();
	for (int i = 0; i < cfg.conns; i++) {
		ws[i].id = i;
		ws[i].buf = malloc(RBUF);
		if (!ws[i].buf || pthread_create(&th[i], NULL, run, &ws[i]) != 0) {
			fprintf(stderr, "rl-load: cannot start a thread\n");
			return 1;
		}
	}
	for (int i = 0; i < cfg.conns; i++)
		pthread_join(th[i], NULL);
	double took = now() - cfg.t0;
	long requests = 0, errors = 0, status[600] = {0}, n5xx = 0;
	size_t n = 0;
	double max_by_class[6] = {0};
	for (int i = 0; i < cfg.conns; i++)
		n += ws[i].n_lat;
	double *all = malloc((n ? n : 1) * sizeof *all);
	if (!all)
		return 1;
	n = 0;
	for (int i = 0; i < cfg.conns; i++) {
		requests += ws[i].requests;
		errors += ws[i].errors;
		for (int s = 0; s < 600; s++)
			status[s] += ws[i].status[s];
		for (int k = 0; k < 6; k++)
			if (ws[i].max_by_class[k] > max_by_class[k])
				max_by_class[k] = ws[i].max_by_class[k];
		memcpy(all + n, ws[i].lat, ws[i].n_lat * sizeof *all);
		n += ws[i].n_lat;
	}
	qsort(all, n, sizeof *all, cmp_double);
	for (int s = 500; s < 600; s++)
		n5xx += status[s];
	printf("{\"requests\": %ld, \"errors\": %ld, \"5xx\": %ld, \"seconds\": %.3f, \"rps\": %.1f, "
	       "\"status\": {", requests, errors, n5xx, took, (double)requests / took);
	const char *sep = "";
	for (int s = 100; s < 600; s++)
		if (status[s]) {
			printf("%s\"%d\": %ld", sep, s, status[s]);
			sep = ", ";
		}
	printf("}, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, \"max_ms_by_class\": {",
	       n ? all[n / 2] : 0, n ? all[(size_t)((double)n * 0.99)] : 0, n ? all[n - 1] : 0);
	sep = "";
	for (int k = 0; k < 6; k++)
		if (max_by_class[k] > 0) {
			printf("%s\"%s\": %.3f", sep, k == 0 ? "error" : (const char *[]){"", "1xx", "2xx", "3xx", "4xx", "5xx"}[k],
			       max_by_class[k]);
			sep = ", ";
		}
	printf("}}\n");
	free(all);
	for (int i = 0; i < cfg.conns; i++) {
		free(ws[i].buf);
		free(ws[i].lat);
	}
	free(cfg.post);
	if (cfg.dump && fclose(cfg.dump) != 0)
		return 1;
	if (cfg.events && fclose(cfg.events) != 0)
		return 1;
	return 0;
}
