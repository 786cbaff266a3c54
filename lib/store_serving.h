/*
 * store_serving.h — the `serving` row's champion and challenger (sql/schema.sql):
 * what ml-serve reads every poll, and what `ml-pgload --challenger M --share S`
 * and `--challenger none` write. The champion itself is switched by
 * `ml-pgload --switch N`; a switch to the challenger's version promotes it,
 * and store_serving_drop_promoted then clears the challenger.
 *
 * Ownership: nothing is kept; strings are the caller's.
 */
#ifndef LENSFLOW_STORE_SERVING_H
#define LENSFLOW_STORE_SERVING_H

#include <libpq-fe.h>

#include "log.h"

struct serving_row {
	int version;      /* the champion; 0: nothing served */
	int challenger;   /* 0: none */
	double share;     /* of users answered by the challenger, 0..1 */
};

/* The serving row of model (all 0 when there is none). -1 with err. */
int store_serving_get(PGconn *c, const char *model, struct serving_row *out, lf_error *err);

/* Sets (challenger > 0) or clears (challenger 0) the challenger and its share,
 * in one transaction with a serving_history row. The challenger must be a
 * loaded set other than the champion, and a champion must be served
 * (EX_DATAERR otherwise). */
int store_serving_set_challenger(PGconn *c, const char *model, int challenger, double share,
				 lf_error *err);

/* After a switch: a challenger that is now the champion is no longer one. */
int store_serving_drop_promoted(PGconn *c, const char *model, lf_error *err);

#endif
