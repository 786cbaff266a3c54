/*
 * online.c — see online.h. Feedback is indexed twice, by (user, movie, time)
 * and by (request id, movie, time), so that each listed movie of an impression
 * is one binary search per index: the earliest event at or after the second it
 * was served is the candidate, a hit when it came within the window.
 */
#include "online.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_LIST 100
#define RID_MAX 64

struct event {
	int32_t user, movie;
	int64_t ts;
	double rating;
	char rid[RID_MAX + 1]; /* "" when none */
};

struct shown {
	char rid[RID_MAX + 1];
	double served;
	int32_t user; /* 0: a new user's */
	int32_t version;
	int challenger;
	int n;
	int32_t movies[MAX_LIST];
};

/* The fields of one line (tabs replaced by NULs); -1 when there are not n. */
static int split_fields(char *line, char **f, int n)
{
	int i = 0;
	f[i++] = line;
	for (char *p = line; *p; p++)
		if (*p == '\t') {
			if (i == n)
				return -1;
			*p = '\0';
			f[i++] = p + 1;
		}
	return i == n ? 0 : -1;
}

static int rid_ok(const char *s)
{
	size_t n = strlen(s);
	return n <= RID_MAX &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

/* Reads every line of path through parse(line, lineno, ctx); EX_DATAERR names path:line. */
static int each_line(const char *path, int (*parse)(char *, void *), void *ctx, lf_error *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return lf_fail_errno(err, errno == ENOENT ? EX_NOINPUT : EX_IOERR, errno, "%s", path);
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	long no = 0;
	int rc = 0;
	while ((got = getline(&line, &cap, f)) > 0) {
		no++;
		if (line[got - 1] == '\n')
			line[--got] = '\0';
		if (parse(line, ctx) < 0) {
			rc = lf_fail(err, EX_DATAERR, "%s:%ld: not a row of this table", path, no);
			break;
		}
	}
	if (rc == 0 && ferror(f))
		rc = lf_fail_errno(err, EX_IOERR, errno, "%s: read failed", path);
	free(line);
	fclose(f);
	return rc;
}

struct list {
	void *p;
	size_t n, cap, size;
};

static void *push(struct list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		void *p = realloc(l->p, cap * l->size);
		if (!p)
			return NULL;
		l->p = p;
		l->cap = cap;
	}
	return (char *)l->p + l->n++ * l->size;
}

static int parse_event(char *line, void *ctx)
{
	char *f[5];
	int64_t u, m, ts;
	double r;
	if (split_fields(line, f, 5) < 0 || parse_i64(f[0], 1, INT32_MAX, &u) < 0 ||
	    parse_i64(f[1], 1, INT32_MAX, &m) < 0 || parse_double(f[2], 0.5, 5, &r) < 0 ||
	    parse_i64(f[3], INT64_MIN / 2, INT64_MAX / 2, &ts) < 0 || !rid_ok(f[4]))
		return -1;
	struct event *e = push(ctx);
	if (!e)
		return -1;
	*e = (struct event){.user = (int32_t)u, .movie = (int32_t)m, .ts = ts, .rating = r};
	strcpy(e->rid, f[4]);
	return 0;
}

static int parse_shown(char *line, void *ctx)
{
	char *f[7];
	int64_t u = 0, v, id;
	double served;
	if (split_fields(line, f, 7) < 0 || !rid_ok(f[0]) || !*f[0] ||
	    parse_double(f[1], -1e12, 1e12, &served) < 0 ||
	    (*f[2] && parse_i64(f[2], 1, INT32_MAX, &u) < 0) ||
	    parse_i64(f[4], 1, INT32_MAX, &v) < 0 ||
	    (strcmp(f[5], "champion") != 0 && strcmp(f[5], "challenger") != 0))
		return -1;
	struct shown *s = push(ctx);
	if (!s)
		return -1;
	memset(s, 0, sizeof *s);
	strcpy(s->rid, f[0]);
	s->served = served;
	s->user = (int32_t)u;
	s->version = (int32_t)v;
	s->challenger = f[5][1] == 'h' && f[5][2] == 'a' && f[5][3] == 'l';
	for (char *p = f[6], *save = NULL, *t = strtok_r(p, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (parse_i64(t, 1, INT32_MAX, &id) < 0)
			return -1;
		if (s->n < MAX_LIST)
			s->movies[s->n++] = (int32_t)id;
	}
	return 0;
}

static int by_user(const void *a, const void *b)
{
	const struct event *x = a, *y = b;
	if (x->user != y->user)
		return x->user < y->user ? -1 : 1;
	if (x->movie != y->movie)
		return x->movie < y->movie ? -1 : 1;
	return (x->ts > y->ts) - (x->ts < y->ts);
}

static int by_rid(const void *a, const void *b)
{
	const struct event *x = *(const struct event *const *)a, *y = *(const struct event *const *)b;
	int c = strcmp(x->rid, y->rid);
	if (c)
		return c;
	if (x->movie != y->movie)
		return x->movie < y->movie ? -1 : 1;
	return (x->ts > y->ts) - (x->ts < y->ts);
}

/* The earliest event of (user, movie) at or after from in ev[0..n) sorted by_user. */
static const struct event *first_by_user(const struct event *ev, size_t n, int32_t user,
					 int32_t movie, int64_t from)
{
	size_t lo = 0, hi = n;
	struct event key = {.user = user, .movie = movie, .ts = from};
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (by_user(&ev[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && ev[lo].user == user && ev[lo].movie == movie ? &ev[lo] : NULL;
}

static const struct event *first_by_rid(struct event *const *ix, size_t n, const char *rid,
					int32_t movie, int64_t from)
{
	size_t lo = 0, hi = n;
	struct event key = {.movie = movie, .ts = from};
	strcpy(key.rid, rid);
	const struct event *kp = &key;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (by_rid(&ix[mid], &kp) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && strcmp(ix[lo]->rid, rid) == 0 && ix[lo]->movie == movie ? ix[lo] : NULL;
}

struct group {
	int32_t version;
	int arm; /* 0 champion, 1 challenger, 2 all */
	int64_t impressions, hit_lists, hit_movies, rated;
	double rating_sum;
	struct list keys; /* uint64: the users */
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static struct group *group_of(struct list *groups, int32_t version, int arm)
{
	struct group *g = groups->p;
	for (size_t i = 0; i < groups->n; i++)
		if (g[i].version == version && g[i].arm == arm)
			return &g[i];
	struct group *n = push(groups);
	if (n) {
		memset(n, 0, sizeof *n);
		n->version = version;
		n->arm = arm;
		n->keys.size = sizeof(uint64_t);
	}
	return n;
}

static int cmp_group(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return (x->arm > y->arm) - (x->arm < y->arm);
}

static uint64_t user_key(const struct shown *s)
{
	if (s->user > 0)
		return (uint64_t)s->user;
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (const char *p = s->rid; *p; p++)
		h = (h ^ (unsigned char)*p) * UINT64_C(0x100000001b3);
	return h | (UINT64_C(1) << 63); /* never a user id */
}

int online_evaluate(const char *impressions_path, const char *feedback_path, double window_s,
		    int k, FILE *out, lf_error *err)
{
	static const char *const ARMS[] = {"champion", "challenger", "all"};
	struct list ev = {.size = sizeof(struct event)}, shown = {.size = sizeof(struct shown)};
	struct list groups = {.size = sizeof(struct group)};
	struct event **ix = NULL;
	int rc = -1;
	if (each_line(feedback_path, parse_event, &ev, err) < 0 ||
	    each_line(impressions_path, parse_shown, &shown, err) < 0)
		goto done;
	struct event *e = ev.p;
	if (ev.n)
		qsort(e, ev.n, sizeof *e, by_user);
	size_t n_ix = 0;
	ix = malloc((ev.n ? ev.n : 1) * sizeof(struct event *));
	if (!ix) {
		lf_fail(err, EX_OSERR, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < ev.n; i++)
		if (e[i].rid[0])
			ix[n_ix++] = &e[i];
	qsort(ix, n_ix, sizeof(struct event *), by_rid);
	const struct shown *sh = shown.p;
	for (size_t i = 0; i < shown.n; i++) {
		const struct shown *s = &sh[i];
		int64_t from = (int64_t)floor(s->served);
		double until = s->served + window_s;
		int hits = 0;
		double rating_sum = 0;
		for (int j = 0; j < s->n && j < k; j++) {
			const struct event *a = s->user > 0 ? first_by_user(e, ev.n, s->user,
									  s->movies[j], from) : NULL;
			const struct event *b = first_by_rid(ix, n_ix, s->rid, s->movies[j], from);
			if (a && (double)a->ts > until)
				a = NULL;
			if (b && (double)b->ts > until)
				b = NULL;
			const struct event *hit = a && b ? (b->ts < a->ts ? b : a) : a ? a : b;
			if (hit) {
				hits++;
				rating_sum += hit->rating;
			}
		}
		for (int arm = 0; arm < 3; arm++) {
			if (arm < 2 && arm != s->challenger)
				continue;
			struct group *g = group_of(&groups, s->version, arm);
			uint64_t *key = g ? push(&g->keys) : NULL;
			if (!key) {
				lf_fail(err, EX_OSERR, "out of memory");
				goto done;
			}
			*key = user_key(s);
			g->impressions++;
			g->hit_lists += hits > 0;
			g->hit_movies += hits;
			g->rated += hits;
			g->rating_sum += rating_sum;
		}
	}
	struct group *g = groups.p;
	if (groups.n)
		qsort(g, groups.n, sizeof *g, cmp_group);
	for (size_t i = 0; i < groups.n; i++) {
		uint64_t *keys = g[i].keys.p;
		qsort(keys, g[i].keys.n, sizeof *keys, cmp_u64);
		size_t users = 0;
		for (size_t j = 0; j < g[i].keys.n; j++)
			users += j == 0 || keys[j] != keys[j - 1];
		const char *arm = ARMS[g[i].arm];
		double n = (double)g[i].impressions;
		fprintf(out, "%d\t%s\timpressions\t%lld\n", g[i].version, arm,
			(long long)g[i].impressions);
		fprintf(out, "%d\t%s\tusers\t%zu\n", g[i].version, arm, users);
		fprintf(out, "%d\t%s\thits@%d\t%lld\n", g[i].version, arm, k,
			(long long)g[i].hit_lists);
		fprintf(out, "%d\t%s\thit_rate@%d\t%.9g\n", g[i].version, arm, k,
			(double)g[i].hit_lists / n);
		fprintf(out, "%d\t%s\tprecision@%d\t%.9g\n", g[i].version, arm, k,
			(double)g[i].hit_movies / (n * k));
		if (g[i].rated)
			fprintf(out, "%d\t%s\tmean_rating_of_hits\t%.9g\n", g[i].version, arm,
				g[i].rating_sum / (double)g[i].rated);
	}
	rc = 0;
done:
	g = groups.p;
	for (size_t i = 0; i < groups.n; i++)
		free(g[i].keys.p);
	free(groups.p);
	free(ix);
	free(ev.p);
	free(shown.p);
	return rc;
}
