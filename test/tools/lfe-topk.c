/*
 * lfe-topk — test helper: the model's own top-k for one user, computed from
 * the .lfe file alone: score(i) = dot(users[u], items[i]) in double
 * precision, movies the user rated in RATINGS excluded, best first (ties by
 * lower movie id). Prints "movie_id\tscore" lines. The tests compare it with
 * what pgvector answers.
 *
 *   lfe-topk MODEL.lfe USER_ID K RATINGS.tsv
 */
#include <stdio.h>
#include <stdlib.h>

#include "lfe.h"
#include "log.h"
#include "tsv.h"
#include "util.h"

typedef struct scored {
	int32_t id;
	double score;
} scored;

static int by_score(const void *a, const void *b)
{
	const scored *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return (x->id > y->id) - (x->id < y->id);
}

int main(int argc, char **argv)
{
	log_set_prog("lfe-topk");
	if (argc != 5) {
		log_error("usage: lfe-topk MODEL.lfe USER_ID K RATINGS.tsv");
		return EX_USAGE;
	}
	int64_t user, k;
	if (parse_i64(argv[2], 0, INT32_MAX, &user) || parse_i64(argv[3], 1, 100000, &k)) {
		log_error("bad USER_ID or K");
		return EX_USAGE;
	}
	lf_error err = {0};
	lfe model = {0};
	ratings seen = {0};
	FILE *mf = fopen(argv[1], "rb");
	FILE *rf = fopen(argv[4], "r");
	int rc = EX_OK;
	scored *all = NULL;
	if (!mf || !rf) {
		log_error("cannot open inputs");
		rc = EX_NOINPUT;
		goto out;
	}
	if (lfe_read(mf, argv[1], &model, &err) || ratings_read(rf, argv[4], &seen, &err)) {
		log_error("%s", err.msg);
		rc = err.code;
		goto out;
	}
	const lfe_table *users = lfe_find(&model, "users"), *items = lfe_find(&model, "items");
	long row = users ? lfe_row_of(users, (int32_t)user) : -1;
	if (!items || row < 0 || users->dim != items->dim) {
		log_error("user %lld or the users/items tables are missing", (long long)user);
		rc = EX_DATAERR;
		goto out;
	}
	all = calloc(items->rows, sizeof *all);
	if (!all) {
		rc = EX_OSERR;
		goto out;
	}
	size_t n = 0;
	const float *u = users->values + (size_t)row * users->dim;
	for (uint32_t i = 0; i < items->rows; i++) {
		int rated = 0;
		for (size_t j = 0; j < seen.n && !rated; j++)
			rated = seen.rows[j].user == user && seen.rows[j].item == items->ids[i];
		if (rated)
			continue;
		double s = 0;
		for (uint32_t d = 0; d < items->dim; d++)
			s += (double)u[d] * items->values[(size_t)i * items->dim + d];
		all[n++] = (scored){items->ids[i], s};
	}
	qsort(all, n, sizeof *all, by_score);
	for (size_t i = 0; i < n && i < (size_t)k; i++)
		printf("%d\t%.6f\n", all[i].id, all[i].score);
out:
	free(all);
	lfe_free(&model);
	ratings_free(&seen);
	if (mf)
		fclose(mf);
	if (rf)
		fclose(rf);
	return rc;
}
