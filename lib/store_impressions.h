/*
 * store_impressions.h — the `impressions` table (sql/schema.sql): one row per
 * ranked answer ml-serve gave (request id, time, user, model version, arm,
 * the movie ids in order), written in batches by one binary COPY.
 *
 * Ownership: rows are the caller's; nothing is kept after returning.
 */
#ifndef LENSFLOW_STORE_IMPRESSIONS_H
#define LENSFLOW_STORE_IMPRESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "log.h"

/* The most movies one answer lists (ml-serve's k). */
#define IMPRESSION_MAX_ITEMS 100
#define IMPRESSION_ID_MAX 32

enum arm { ARM_CHAMPION, ARM_CHALLENGER, ARM_COUNT };
/* "champion" / "challenger" */
const char *arm_name(enum arm a);

struct impression {
	char request_id[IMPRESSION_ID_MAX]; /* NUL-terminated */
	int64_t served_us;                  /* unix microseconds */
	int32_t user_id;                    /* 0: a new user's answer (stored as NULL) */
	int32_t version;
	uint8_t arm;                        /* enum arm */
	uint8_t n;                          /* movies listed */
	int32_t movie_ids[IMPRESSION_MAX_ITEMS];
};

/* Appends n rows of model_name in one COPY (its own statement: committed
 * when it returns 0). -1 with err (EX_UNAVAILABLE when the database did not
 * answer). */
int store_impressions_copy(PGconn *c, const char *model_name, const struct impression *rows,
			   size_t n, lf_error *err);

#endif
