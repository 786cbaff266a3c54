/*
 * tsv.h — the plain-text files the tools exchange (DESIGN.md "Files between
 * the tools"): ratings, movies and metrics TSV. Readers are strict and name
 * file and line in every message ("train.tsv:12: rating '7' is not on the
 * scale 0.5..5 in steps of 0.5");
 * errors are EX_DATAERR (65), read failures EX_IOERR (74).
 *
 * Ownership: every *_read fills a caller-owned struct whose arrays it
 * allocates; the caller releases them with the matching *_free (safe on a
 * zeroed struct and after a failed read).
 */
#ifndef LENSFLOW_TSV_H
#define LENSFLOW_TSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

/* ---- ratings: user_id \t movie_id \t rating \t timestamp \n ---- */

/* A rating is a number in 0.5 … 5 in steps of 0.5 (ML-10M and later rate in
 * half stars; ML-100k and ML-1M in whole ones). Written as an integer when
 * whole ("4"), with one decimal when not ("3.5"), so whole-star files stay
 * as they are; read from "4", "4.0" or "4.5". Exact in a float. */
#define RATING_MIN 0.5
#define RATING_MAX 5.0

typedef struct rating_row {
	int32_t user;   /* 0..INT32_MAX */
	int32_t item;   /* 0..INT32_MAX */
	float rating;   /* 0.5..5 in steps of 0.5 */
	int32_t pad;
	int64_t ts;     /* any int64 */
} rating_row;

typedef struct ratings {
	rating_row *rows;
	size_t n, cap;
} ratings;

/* "4", "4.0" or "4.5": one digit, optionally ".0" or ".5", in 0.5..5.
 * Returns 0 with *out set, -1 for anything else. */
int rating_parse(const char *s, size_t len, float *out);
/* True when v is on the scale (0.5..5 in steps of 0.5). */
int rating_on_scale(double v);
/* v as "4" or "4.5" into buf (4 bytes at least, NUL-terminated); the length. */
size_t rating_format(float v, char *buf);

/* Reads all of f. Rejects, naming name:line: a wrong field count, a
 * non-integer or overflowing id or timestamp, a rating off the scale, a repeated
 * (user, movie) pair, empty input. Accepts a missing final newline and a
 * trailing "\r" before "\n" is NOT accepted (u.data has none). Rows keep
 * input order. */
int ratings_read(FILE *f, const char *name, ratings *out, lf_error *err);
/* Parses a buffer (same rules; for fuzzing and tests). */
int ratings_parse(const char *buf, size_t len, const char *name, ratings *out, lf_error *err);
int ratings_push(ratings *r, rating_row row);   /* -1 on allocation failure */
int ratings_write(FILE *f, const char *name, const ratings *r, lf_error *err);
void ratings_free(ratings *r);

/* ---- movies: movie_id \t title \t release_date \t genres(|-joined) \n ---- */

typedef struct movie_row {
	int32_t id;
	char *title;        /* UTF-8, no tab or newline */
	char *release_date; /* as given (may be empty), e.g. "01-Jan-1995" */
	char *genres;       /* "Action|Comedy", may be empty */
} movie_row;

typedef struct movies {
	movie_row *rows;
	size_t n, cap;
} movies;

/* Strict: 4 fields, unique integer ids, valid UTF-8, non-empty title. */
int movies_read(FILE *f, const char *name, movies *out, lf_error *err);
int movies_parse(const char *buf, size_t len, const char *name, movies *out, lf_error *err);
int movies_write(FILE *f, const char *name, const movies *m, lf_error *err);
void movies_free(movies *m);

/* ---- metrics: name \t value \n  (names like "ndcg@10") ---- */

#define METRIC_NAME_MAX 64

typedef struct metric {
	char name[METRIC_NAME_MAX]; /* [A-Za-z0-9_@.:/-]+ */
	double value;               /* finite */
} metric;

typedef struct metric_set {
	metric *items;
	size_t n, cap;
} metric_set;

int metrics_read(FILE *f, const char *name, metric_set *out, lf_error *err);
int metrics_parse(const char *buf, size_t len, const char *name, metric_set *out, lf_error *err);
/* Appends or replaces by name; -1 on a bad name or allocation failure. */
int metrics_set(metric_set *m, const char *name, double value);
/* The value of name, or -1 when absent. */
int metrics_get(const metric_set *m, const char *name, double *value);
/* One "name\tvalue" line a metric, values by fmt_double (util.h). */
int metrics_write(FILE *f, const char *name, const metric_set *m, lf_error *err);
void metrics_free(metric_set *m);

/* True when [s, s+len) is valid UTF-8 (no overlongs, no surrogates). */
int utf8_valid(const char *s, size_t len);
/* The same check, and the code points counted into *chars (when not NULL):
 * 0, or -1 when [s, s+len) is not valid UTF-8 (*chars untouched). */
int utf8_count(const char *s, size_t len, size_t *chars);

#endif
