/*
 * store_impressions.c — see store_impressions.h.
 */
#include "store_impressions.h"

#include <string.h>

#include "pg.h"

const char *arm_name(enum arm a)
{
	return a == ARM_CHALLENGER ? "challenger" : "champion";
}

int store_impressions_copy(PGconn *c, const char *model_name, const struct impression *rows,
			   size_t n, lf_error *err)
{
	pg_copy cp;
	if (pg_copy_begin(&cp, c,
			  "COPY impressions (request_id, served_at, user_id, model_name,"
			  " model_version, arm, movie_ids) FROM STDIN (FORMAT binary)",
			  err) < 0)
		return -1;
	size_t name_len = strlen(model_name);
	for (size_t i = 0; i < n; i++) {
		const struct impression *im = &rows[i];
		if (pg_copy_row(&cp, 7, err) < 0) {
			pg_copy_abort(&cp);
			return -1;
		}
		pg_copy_text(&cp, im->request_id, strnlen(im->request_id, IMPRESSION_ID_MAX));
		pg_copy_timestamptz_us(&cp, im->served_us);
		if (im->user_id > 0)
			pg_copy_int4(&cp, im->user_id);
		else
			pg_copy_null(&cp);
		pg_copy_text(&cp, model_name, name_len);
		pg_copy_int4(&cp, im->version);
		const char *arm = arm_name((enum arm)im->arm);
		pg_copy_text(&cp, arm, strlen(arm));
		pg_copy_int4_array(&cp, im->movie_ids,
				   im->n <= IMPRESSION_MAX_ITEMS ? im->n : IMPRESSION_MAX_ITEMS);
	}
	return pg_copy_end(&cp, err);
}
