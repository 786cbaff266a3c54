/*
 * synth.h — the parts of ml-synth (test/tools/ml-synth.c): the release
 * shapes, the synthetic world (catalogue, taste groups, activity), and the
 * writers of the catalogue files (synth/catalogue.c). A test helper, not
 * part of lensflow's library.
 *
 * Ownership: a world owns its arrays (free_world in ml-synth.c); out owns
 * its FILE until out_close, which exits on a write error (a test tool).
 */
#ifndef LENSFLOW_TEST_SYNTH_H
#define LENSFLOW_TEST_SYNTH_H

#include <stdint.h>
#include <stdio.h>

#include "rng.h"

enum kind { K_100K, K_1M, K_10M, K_CSV };

typedef struct shape {
	const char *name;
	enum kind kind;
	long users, movies, ratings;
	int half;	/* half stars */
	int latin1;	/* titles in Latin-1 */
	long t0, t1;	/* timestamps span */
	double spread;	/* max movie id / number of movies */
} shape;


typedef struct alias {
	double *prob;
	int32_t *alias;
	int32_t *items; /* which movie (index) each slot is */
	size_t n;
} alias;

typedef struct world {
	const shape *sh;
	long users, movies, ratings;
	int rank;
	uint64_t seed;
	int32_t *ids;	  /* movie id of index i (increasing) */
	int32_t *group;	  /* taste group of movie i */
	float *quality;	  /* movie bias */
	int32_t *count;	  /* ratings per user */
	alias all, *groups;
} world;


typedef struct out {
	FILE *f;
	char path[4096];
} out;

/* calloc that exits (EX_OSERR) on failure. */
void *xcalloc(size_t n, size_t size);
/* Opens DIR/name for writing (exits EX_CANTCREAT); out_close exits EX_IOERR
 * when a write failed. */
void out_open(out *o, const char *dir, const char *name);
void out_close(out *o);
/* movies file (u.item + u.genre, movies.dat or movies.csv) and users file
 * (u.user, users.dat; none for the later releases). */
void write_movies(const world *w, const char *dir);
void write_users(const world *w, const char *dir);

#endif
