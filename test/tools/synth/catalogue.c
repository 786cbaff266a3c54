/*
 * catalogue.c — ml-synth's catalogue files: titles "Words (Year)" (some with
 * ", The" moved to the end, commas, double quotes and accented words, Latin-1
 * where the release is), genres that go with the taste groups, and the users
 * file of 100k and 1m. See synth.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "synth.h"

/* u.genre's order (100k); 1m writes "Children's", the CSV releases "Children". */
static const char *const genre_names[19] = {
	"unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
	"Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
	"Romance", "Sci-Fi", "Thriller", "War", "Western"};

static const char *const words[] = {
	"Night", "River", "Star", "Heart", "Shadow", "Game", "City", "Love", "War", "Blue",
	"Last", "Dark", "Summer", "Road", "King", "Ghost", "House", "Secret", "Storm", "Dream",
	"Fire", "Island", "Moon", "Story", "Time", "Red", "Silent", "Lost", "Wild", "Money",
	"Kingdom", "Dance", "Iron", "Glass", "Winter", "Garden", "Train", "Angel", "Echo", "Stone"};
/* accented words as UTF-8; written as Latin-1 where the release is */
static const char *const accented[] = {"Café", "Amélie", "Señor", "Noël", "Über", "Été",
				       "Misérables", "Ça"};

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p) {
		log_error("out of memory");
		exit(EX_OSERR);
	}
	return p;
}

/* ---- output ---- */

void out_open(out *o, const char *dir, const char *name)
{
	snprintf(o->path, sizeof o->path, "%s/%s", dir, name);
	o->f = fopen(o->path, "wb");
	if (!o->f) {
		log_error("%s: %s", o->path, strerror(errno));
		exit(EX_CANTCREAT);
	}
	setvbuf(o->f, NULL, _IOFBF, 1 << 20);
}

void out_close(out *o)
{
	if (ferror(o->f) | fclose(o->f)) {
		log_error("%s: write failed: %s", o->path, strerror(errno ? errno : EIO));
		exit(EX_IOERR);
	}
}

/* Writes UTF-8 text s, narrowed to Latin-1 when latin1 (our words only use
 * U+0080..U+00FF, two bytes each). */
static void put_title(FILE *f, const char *s, int latin1)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (latin1 && (*p & 0xe0) == 0xc0 && p[1]) {
			putc(((p[0] & 0x1f) << 6) | (p[1] & 0x3f), f);
			p++;
		} else {
			putc(*p, f);
		}
	}
}

/* A title "Words (Year)" into buf (UTF-8), from the catalogue's rng. */
static int make_title(rng *r, char *buf, size_t size, int end_year)
{
	char t[200] = "";
	int n = 1 + (int)rng_below(r, 3);
	size_t nw = sizeof words / sizeof words[0];
	for (int i = 0; i < n; i++) {
		const char *wd = rng_uniform(r) < 0.05 ? accented[rng_below(r, 8)]
						       : words[rng_below(r, nw)];
		double q = rng_uniform(r);
		size_t l = strlen(t);
		if (q < 0.04)
			snprintf(t + l, sizeof t - l, "%s\"%s\"", i ? " " : "", wd);
		else if (q < 0.08 && i + 1 < n)
			snprintf(t + l, sizeof t - l, "%s%s,", i ? " " : "", wd);
		else
			snprintf(t + l, sizeof t - l, "%s%s", i ? " " : "", wd);
	}
	int year = 1915 + (int)rng_below(r, (uint64_t)(end_year - 1915 + 1));
	snprintf(buf, size, rng_uniform(r) < 0.12 ? "%s, The (%d)" : "%s (%d)", t, year);
	return year;
}

/* genres of a movie of group g, as flags over genre_names[1..18] */
static int genre_flags(int g, rng *r)
{
	int f = 1 << (1 + (g * 7) % 18);
	if (rng_uniform(r) < 0.5)
		f |= 1 << (1 + (g * 7 + 5) % 18);
	if (rng_uniform(r) < 0.2)
		f |= 1 << (1 + (int)rng_below(r, 18));
	return f;
}

static void put_genres(FILE *f, int flags, enum kind k)
{
	int first = 1;
	for (int i = 1; i < 19; i++)
		if (flags & 1 << i) {
			const char *name = genre_names[i];
			if (k == K_CSV && i == 4)
				name = "Children";
			fprintf(f, "%s%s", first ? "" : "|", name);
			first = 0;
		}
}

void write_movies(const world *w, const char *dir)
{
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	const shape *sh = w->sh;
	rng r;
	rng_seed(&r, w->seed ^ 0x6d6f76696573ULL);
	int end_year = (int)(1970 + sh->t1 / 31556952);
	out o = {0};
	out_open(&o, dir, sh->kind == K_100K ? "u.item" : sh->kind == K_CSV ? "movies.csv"
									     : "movies.dat");
	if (sh->kind == K_CSV)
		fputs("movieId,title,genres\n", o.f);
	for (long i = 0; i < w->movies; i++) {
		char title[256];
		int year = make_title(&r, title, sizeof title, end_year);
		int flags = genre_flags(w->group[i], &r);
		fprintf(o.f, sh->kind == K_100K ? "%d|" : sh->kind == K_CSV ? "%d," : "%d::",
			w->ids[i]);
		if (sh->kind == K_CSV && strpbrk(title, ",\"")) {
			putc('"', o.f);
			for (const char *p = title; *p; p++) {
				if (*p == '"')
					putc('"', o.f);
				putc(*p, o.f);
			}
			putc('"', o.f);
		} else {
			put_title(o.f, title, sh->latin1);
		}
		if (sh->kind == K_100K) {
			fprintf(o.f, "|%02d-%s-%d||http://us.imdb.com/M/title-exact?%d", 1 +
				(int)rng_below(&r, 28), mon[rng_below(&r, 12)], year, w->ids[i]);
			for (int g = 0; g < 19; g++)
				fprintf(o.f, "|%d", flags >> g & 1);
		} else {
			fputs(sh->kind == K_CSV ? "," : "::", o.f);
			if (sh->kind == K_CSV && rng_uniform(&r) < 0.01)
				fputs("(no genres listed)", o.f);
			else
				put_genres(o.f, flags, sh->kind);
		}
		putc('\n', o.f);
	}
	out_close(&o);
	if (sh->kind == K_100K) {
		out_open(&o, dir, "u.genre");
		for (int g = 0; g < 19; g++)
			fprintf(o.f, "%s|%d\n", genre_names[g], g);
		putc('\n', o.f);
		out_close(&o);
	}
}

void write_users(const world *w, const char *dir)
{
	static const int ages1m[] = {1, 18, 25, 35, 45, 50, 56};
	static const char *const jobs[] = {"student", "engineer", "writer", "artist", "other",
					   "programmer", "educator", "librarian", "none"};
	if (w->sh->kind != K_100K && w->sh->kind != K_1M)
		return;
	rng r;
	rng_seed(&r, w->seed ^ 0x7573657273ULL);
	out o = {0};
	out_open(&o, dir, w->sh->kind == K_100K ? "u.user" : "users.dat");
	for (long u = 1; u <= w->users; u++) {
		char sex = rng_uniform(&r) < 0.7 ? 'M' : 'F';
		unsigned zip = (unsigned)rng_below(&r, 100000);
		if (w->sh->kind == K_100K)
			fprintf(o.f, "%ld|%d|%c|%s|%05u\n", u, 7 + (int)rng_below(&r, 67), sex,
				jobs[rng_below(&r, 9)], zip);
		else
			fprintf(o.f, "%ld::%c::%d::%d::%05u\n", u, sex, ages1m[rng_below(&r, 7)],
				(int)rng_below(&r, 21), zip);
	}
	out_close(&o);
}

