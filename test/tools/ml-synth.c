/*
 * ml-synth — a seeded synthetic MovieLens release, written in the release's
 * own files so that ml-fetch reads it exactly as it reads GroupLens' archive.
 * Tests and benchmarks use it; nothing downloads.
 *
 *   ml-synth --format 25m --out DIR [--users N] [--movies N] [--ratings N]
 *            [--seed N] [--rank K]
 *
 * Formats (the shape of each release is the default size):
 *   100k          u.data (tab), u.item (Latin-1, '|', 19 genre flags), u.genre, u.user
 *   1m            ratings.dat, movies.dat (Latin-1), users.dat, '::'-separated
 *   10m           ratings.dat (half stars), movies.dat (UTF-8), '::'-separated
 *   20m 25m 32m latest-small
 *                 ratings.csv, movies.csv (UTF-8), with a header; titles holding a
 *                 comma or a quote are quoted, quotes doubled ("Foo ""Bar"", The")
 *
 * The model (streamed: memory is O(movies × 1 + users × 1), never the matrix):
 *   - K taste groups (--rank, default 10); every movie belongs to one, and a
 *     group's genres are fixed, so genres go with taste.
 *   - Movie popularity is Zipf-like (weight 1/(rank+k0)^2 over a random order
 *     of the movies, k0 = 2.5 × mean activity): the top movie is rated by
 *     about 40 % of the users, a long tail by a handful each.
 *   - User activity is log-normal (sigma 1.3) over a floor of 20 ratings, scaled
 *     so that the total is exactly --ratings; nobody rates more than 60 % of the
 *     movies.
 *   - User u's taste theta_u ~ Dirichlet(0.2) over the K groups. Each rating
 *     draws a movie from the whole catalogue by popularity (25 %) or from a
 *     group drawn from theta_u, by popularity within it (75 %): the user x movie
 *     matrix has a planted rank-K structure that a recommender can find.
 *   - The star value is 3.2 + movie quality + user bias + taste (how much u
 *     likes the movie's group) + noise, rounded to whole stars (100k, 1m) or,
 *     for 10m and later, to half stars 30 % of the time, clipped to the scale.
 *   - Timestamps: each user is active from a random day within the release's
 *     years, for a log-normal span (many users rate in one sitting, some for
 *     years).
 *   - Titles: "Words (Year)", some with ", The" moved to the end, commas and
 *     double quotes, and accented words (Latin-1 where the release is).
 * Ratings are written user by user (movies in id order within a user); user
 * u's ratings depend only on (seed, u) and the catalogue, so runs are
 * reproducible byte for byte.
 *
 * Exit: 0 ok, 64 usage, 73 cannot create the directory, 74 a write failed.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "rng.h"
#include "util.h"

#include "synth/synth.h"

static const shape shapes[] = {
	{"100k", K_100K, 943, 1682, 100000, 0, 1, 874724710, 893286638, 1.0},
	{"1m", K_1M, 6040, 3883, 1000209, 0, 1, 956703932, 1046454590, 1.02},
	{"10m", K_10M, 69878, 10681, 10000054, 1, 0, 789652009, 1231131736, 6.1},
	{"20m", K_CSV, 138493, 27278, 20000263, 1, 0, 789652009, 1427784002, 4.8},
	{"25m", K_CSV, 162541, 62423, 25000095, 1, 0, 789652009, 1574327703, 3.35},
	{"32m", K_CSV, 200948, 87585, 32000204, 1, 0, 789652009, 1697164144, 3.3},
	{"latest-small", K_CSV, 610, 9742, 100836, 1, 0, 828124615, 1537799250, 19.9},
};

/* Vose's alias method over w[0..n) for the movies items[0..n). */
static void alias_build(alias *a, const double *w, const int32_t *items, size_t n)
{
	a->n = n;
	a->prob = xcalloc(n, sizeof *a->prob);
	a->alias = xcalloc(n, sizeof *a->alias);
	a->items = xcalloc(n, sizeof *a->items);
	int32_t *small = xcalloc(n, sizeof *small), *large = xcalloc(n, sizeof *large);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += w[i];
	size_t ns = 0, nl = 0;
	for (size_t i = 0; i < n; i++) {
		a->items[i] = items[i];
		a->prob[i] = w[i] * (double)n / sum;
		if (a->prob[i] < 1)
			small[ns++] = (int32_t)i;
		else
			large[nl++] = (int32_t)i;
	}
	while (ns && nl) {
		int32_t s = small[--ns], l = large[--nl];
		a->alias[s] = l;
		a->prob[l] -= 1 - a->prob[s];
		if (a->prob[l] < 1)
			small[ns++] = l;
		else
			large[nl++] = l;
	}
	while (nl)
		a->prob[large[--nl]] = 1;
	while (ns)
		a->prob[small[--ns]] = 1;
	free(small);
	free(large);
}

static int32_t alias_draw(const alias *a, rng *r)
{
	size_t i = rng_below(r, a->n);
	return a->items[rng_uniform(r) < a->prob[i] ? (int32_t)i : a->alias[i]];
}

static void alias_free(alias *a)
{
	free(a->prob);
	free(a->alias);
	free(a->items);
}

/* Gamma(a, 1) by Marsaglia–Tsang; a < 1 through Gamma(a+1)·U^(1/a). */
static double gamma_draw(rng *r, double a)
{
	if (a < 1) {
		double u = rng_uniform(r);
		return gamma_draw(r, a + 1) * pow(u > 0 ? u : 1e-300, 1 / a);
	}
	double d = a - 1.0 / 3, c = 1 / sqrt(9 * d);
	for (;;) {
		double x = rng_normal(r), v = 1 + c * x;
		if (v <= 0)
			continue;
		v = v * v * v;
		double u = rng_uniform(r);
		if (u > 0 && log(u) < 0.5 * x * x + d - d * v + d * log(v))
			return d * v;
	}
}

static uint64_t user_seed(uint64_t seed, long u)
{
	return seed * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)u + 1) * 0xbf58476d1ce4e5b9ULL;
}

/* ---- the catalogue and the users' activity ---- */

static void build_world(world *w)
{
	rng r;
	rng_seed(&r, w->seed);
	size_t m = (size_t)w->movies;
	w->ids = xcalloc(m, sizeof *w->ids);
	w->group = xcalloc(m, sizeof *w->group);
	w->quality = xcalloc(m, sizeof *w->quality);
	/* increasing ids with gaps so that the largest is about spread × movies */
	double gap = w->sh->spread - 1;
	int64_t id = 0;
	for (size_t i = 0; i < m; i++) {
		id += 1;
		if (gap > 0 && id < INT32_MAX / 2)
			id += (int64_t)(-log(1 - rng_uniform(&r)) * gap);
		w->ids[i] = (int32_t)id;
		w->group[i] = (int32_t)rng_below(&r, (uint64_t)w->rank);
		w->quality[i] = (float)(0.45 * rng_normal(&r));
	}
	/* popularity: Zipf over a random order of the movies */
	int32_t *order = xcalloc(m, sizeof *order), *idx = xcalloc(m, sizeof *idx);
	double *pop = xcalloc(m, sizeof *pop), *gw = xcalloc(m, sizeof *gw);
	for (size_t i = 0; i < m; i++)
		order[i] = (int32_t)i;
	rng_shuffle(&r, order, m, sizeof *order);
	/* the k-th most popular gets (k + k0)^-2: the top movie about 0.4 × users
	 * ratings (k0 = 2.5 × the mean activity), the last few a handful */
	double k0 = fmax(5, 2.5 * (double)w->ratings / (double)w->users);
	for (size_t k = 0; k < m; k++)
		pop[order[k]] = pow((double)k + k0, -2);
	for (size_t i = 0; i < m; i++)
		idx[i] = (int32_t)i;
	alias_build(&w->all, pop, idx, m);
	w->groups = xcalloc((size_t)w->rank, sizeof *w->groups);
	for (int g = 0; g < w->rank; g++) {
		size_t n = 0;
		for (size_t i = 0; i < m; i++)
			if (w->group[i] == g) {
				idx[n] = (int32_t)i;
				gw[n++] = pop[i];
			}
		if (n == 0) { /* a tiny catalogue: an empty group draws from all */
			idx[0] = (int32_t)rng_below(&r, m);
			gw[0] = 1;
			n = 1;
		}
		alias_build(&w->groups[g], gw, idx, n);
	}
	free(order);
	free(idx);
	free(pop);
	free(gw);

	/* activity: 20 + a log-normal share of the rest, exactly `ratings` in all */
	size_t nu = (size_t)w->users;
	long cap = (long)(0.6 * (double)w->movies);
	double *a = xcalloc(nu, sizeof *a), sum = 0;
	w->count = xcalloc(nu, sizeof *w->count);
	for (size_t u = 0; u < nu; u++)
		sum += a[u] = exp(1.3 * rng_normal(&r));
	long extra = w->ratings - 20 * w->users, total = 0;
	for (size_t u = 0; u < nu; u++) {
		long c = 20 + (long)((double)extra * a[u] / sum);
		w->count[u] = (int32_t)(c > cap ? cap : c);
		total += w->count[u];
	}
	for (size_t u = 0; total < w->ratings; u = (u + 1) % nu)
		if (w->count[u] < cap) {
			w->count[u]++;
			total++;
		}
	free(a);
}

static void free_world(world *w)
{
	free(w->ids);
	free(w->group);
	free(w->quality);
	free(w->count);
	alias_free(&w->all);
	for (int g = 0; g < w->rank; g++)
		alias_free(&w->groups[g]);
	free(w->groups);
}

/* ---- ratings, streamed user by user ---- */

static char *put_u64(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while (v /= 10);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static int by_int(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* Draws user u's movies (distinct indexes) into pick[0..n). */
static void draw_movies(const world *w, rng *r, const double *cum, int32_t *stamp, int32_t mark,
			int32_t *pick, long n)
{
	long got = 0, tries = 0, budget = 30 * n + 1000;
	while (got < n && tries++ < budget) {
		int32_t i;
		if (rng_uniform(r) < 0.25) {
			i = alias_draw(&w->all, r);
		} else {
			double x = rng_uniform(r);
			int g = 0;
			while (g + 1 < w->rank && cum[g] <= x)
				g++;
			i = alias_draw(&w->groups[g], r);
		}
		if (stamp[i] != mark) {
			stamp[i] = mark;
			pick[got++] = i;
		}
	}
	/* a very active user exhausted their tastes: the rest in catalogue order */
	for (long i = (long)rng_below(r, (uint64_t)w->movies); got < n; i = (i + 1) % w->movies)
		if (stamp[i] != mark) {
			stamp[i] = mark;
			pick[got++] = (int32_t)i;
		}
}

static void write_ratings(const world *w, const char *dir)
{
	const shape *sh = w->sh;
	const char *sep = sh->kind == K_100K ? "\t" : sh->kind == K_CSV ? "," : "::";
	size_t seplen = strlen(sep), m = (size_t)w->movies;
	int32_t *stamp = xcalloc(m, sizeof *stamp), *pick = xcalloc(m, sizeof *pick);
	double *theta = xcalloc((size_t)w->rank, sizeof *theta),
	       *cum = xcalloc((size_t)w->rank, sizeof *cum);
	char *line = xcalloc(m, 64);
	out o = {0};
	out_open(&o, dir, sh->kind == K_100K ? "u.data" : sh->kind == K_CSV ? "ratings.csv"
									     : "ratings.dat");
	if (sh->kind == K_CSV)
		fputs("userId,movieId,rating,timestamp\n", o.f);
	double span_all = (double)(sh->t1 - sh->t0);
	for (long u = 0; u < w->users; u++) {
		rng r;
		rng_seed(&r, user_seed(w->seed, u));
		double s = 0;
		for (int g = 0; g < w->rank; g++)
			s += theta[g] = gamma_draw(&r, 0.2);
		for (int g = 0; g < w->rank; g++) {
			theta[g] = s > 0 ? theta[g] / s : 1.0 / w->rank;
			cum[g] = (g ? cum[g - 1] : 0) + theta[g];
		}
		double bias = 0.4 * rng_normal(&r);
		double start = (double)sh->t0 + rng_uniform(&r) * span_all * 0.95;
		double span = fmin(exp(log(3 * 86400.0) + 2.5 * rng_normal(&r)),
				   (double)sh->t1 - start);
		long n = w->count[u];
		draw_movies(w, &r, cum, stamp, (int32_t)(u + 1), pick, n);
		qsort(pick, (size_t)n, sizeof *pick, by_int);
		char *p = line;
		for (long k = 0; k < n; k++) {
			int32_t i = pick[k];
			double x = 3.2 + w->quality[i] + bias +
				   0.9 * tanh(theta[w->group[i]] * w->rank - 1) + 0.7 * rng_normal(&r);
			int whole = !sh->half || rng_uniform(&r) < 0.7;
			long h = whole ? 2 * lround(x) : lround(2 * x); /* half stars */
			h = h < (whole ? 2 : 1) ? (whole ? 2 : 1) : h > 10 ? 10 : h;
			uint64_t ts = (uint64_t)(start + rng_uniform(&r) * span);
			p = put_u64(p, (uint64_t)u + 1);
			memcpy(p, sep, seplen), p += seplen;
			p = put_u64(p, (uint64_t)w->ids[i]);
			memcpy(p, sep, seplen), p += seplen;
			*p++ = (char)('0' + h / 2);
			if (h % 2 || sh->kind == K_CSV) {
				*p++ = '.';
				*p++ = h % 2 ? '5' : '0';
			}
			memcpy(p, sep, seplen), p += seplen;
			p = put_u64(p, ts);
			*p++ = '\n';
		}
		if (fwrite(line, 1, (size_t)(p - line), o.f) != (size_t)(p - line))
			break; /* reported by out_close */
	}
	out_close(&o);
	free(stamp);
	free(pick);
	free(theta);
	free(cum);
	free(line);
}

static const char usage[] =
	"usage: ml-synth --format F --out DIR [--users N] [--movies N] [--ratings N]\n"
	"                [--seed N] [--rank K]\n"
	"Writes a seeded synthetic MovieLens release into DIR, in the release's own files:\n"
	"  100k          u.data, u.item (Latin-1), u.genre, u.user\n"
	"  1m            ratings.dat, movies.dat (Latin-1), users.dat ('::')\n"
	"  10m           ratings.dat (half stars), movies.dat ('::', UTF-8)\n"
	"  20m 25m 32m latest-small   ratings.csv, movies.csv (header, quoted titles)\n"
	"Sizes default to the release's own (25m: 162541 users, 62423 movies, 25000095\n"
	"ratings); every user has at least 20 ratings. Movie popularity is long-tailed,\n"
	"user activity log-normal, and the ratings follow a planted rank-K taste\n"
	"(K = --rank, default 10) that a recommender can find. Same seed, same bytes.\n"
	"\n"
	"example:\n"
	"  ml-synth --format 1m --out /tmp/ml-1m && ml-fetch --source /tmp/ml-1m ratings\n";

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"format", required_argument, NULL, 'f'}, {"out", required_argument, NULL, 'o'},
		{"users", required_argument, NULL, 'u'},  {"movies", required_argument, NULL, 'm'},
		{"ratings", required_argument, NULL, 'r'}, {"seed", required_argument, NULL, 's'},
		{"rank", required_argument, NULL, 'k'},	  {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	log_set_prog("ml-synth");
	const char *format = NULL, *dir = NULL;
	int64_t users = 0, movies = 0, nratings = 0, seed = 42, rank = 10;
	int c, bad = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': format = optarg; break;
		case 'o': dir = optarg; break;
		case 'u': bad |= parse_i64(optarg, 1, 10000000, &users); break;
		case 'm': bad |= parse_i64(optarg, 1, 10000000, &movies); break;
		case 'r': bad |= parse_i64(optarg, 1, 2000000000, &nratings); break;
		case 's': bad |= parse_i64(optarg, 0, INT64_MAX, &seed); break;
		case 'k': bad |= parse_i64(optarg, 1, 1000, &rank); break;
		case 'h': fputs(usage, stdout); return 0;
		default: bad = 1;
		}
	}
	const shape *sh = NULL;
	for (size_t i = 0; format && i < sizeof shapes / sizeof shapes[0]; i++)
		if (strcmp(format, shapes[i].name) == 0 ||
		    (strncmp(format, "ml-", 3) == 0 && strcmp(format + 3, shapes[i].name) == 0))
			sh = &shapes[i];
	if (bad || !sh || !dir || optind != argc) {
		log_error("--format 100k|1m|10m|20m|25m|32m|latest-small and --out DIR are needed, "
			  "numbers positive; try 'ml-synth --help'");
		return EX_USAGE;
	}
	world w = {.sh = sh, .users = users ? users : sh->users,
		   .movies = movies ? movies : sh->movies,
		   .ratings = nratings ? nratings : sh->ratings, .rank = (int)rank,
		   .seed = (uint64_t)seed};
	long cap = (long)(0.6 * (double)w.movies);
	if (w.ratings < 20 * w.users || cap < 20 || w.ratings > cap * w.users) {
		log_error("%ld ratings cannot give %ld users 20 to %ld of %ld movies each",
			  w.ratings, w.users, cap, w.movies);
		return EX_USAGE;
	}
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		log_error("%s: %s", dir, strerror(errno));
		return EX_CANTCREAT;
	}
	build_world(&w);
	write_movies(&w, dir);
	write_users(&w, dir);
	write_ratings(&w, dir);
	free_world(&w);
	return 0;
}

