/*
 * impressions.h — what ml-serve served, recorded off the request path: a
 * request thread copies its answer's ids into a bounded ring (one mutex held
 * for the copy, never for I/O) and goes on; one thread empties the ring into
 * the `impressions` table in batches (lib/store_impressions.h, binary COPY)
 * on a connection of its own. A full ring drops the new answer's impression
 * and counts it (lensflow_impressions_dropped_total), so a slow or absent
 * database never slows an answer; a batch that cannot be written is counted
 * there too.
 *
 * Request ids are "<8 hex digits drawn at start>-<counter in hex>": unique
 * per process start with no formatting beyond two hex conversions.
 *
 * Ownership: the ring and the thread are module state, started by
 * impressions_start and ended by impressions_stop (which writes what is left).
 */
#ifndef ML_SERVE_IMPRESSIONS_H
#define ML_SERVE_IMPRESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "store_impressions.h"

/* Draws the request id prefix; with capacity > 0 starts the flush thread,
 * writing through url as model_name (both kept: they must outlive it). */
int impressions_start(const char *url, const char *model_name, size_t capacity, lf_error *err);
/* Writes what the ring holds (one attempt) and ends the thread. */
void impressions_stop(void);

/* A new request id into out (IMPRESSION_ID_MAX bytes); returns its length. */
size_t impressions_next_id(char *out);

/* Queues one answer (user_id 0: a new user's); n ids in the order served. */
void impressions_record(const char *request_id, int32_t user_id, int32_t version, enum arm arm,
			const int32_t *movie_ids, size_t n);

#endif
