/*
 * recs.c — the ranking endpoints (known user, new user by fold-in, similar
 * movies) and the catalogue endpoints (search, one movie, a user's ratings).
 * Ranked answers take titles from the snapshot; the database returns ids
 * and scores only. A movie whose title is not in the catalogue is skipped,
 * as an inner join with `movies` would skip it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "buf.h"
#include "jsontext.h"
#include "impressions.h"
#include "live.h"
#include "pgbin.h"
#include "serve.h"
#include "tsv.h"
#include "util.h"

static const char K_MSG[] = "k must be an integer from 1 to 100";

#define BUF_LIT(b, lit) buf_append((b), (lit), sizeof(lit) - 1)

/* Who an answer is for: a user's ranked answers are recorded as impressions
 * (user_id 0: a new user's), with their arm; similar movies are not. */
struct audience {
	int record;
	int32_t user_id;
	enum arm arm;
};

/* {key: value, "model_version": "N", ["arm", "request_id",] "items": [{movie_id,
 * title, score}]} from the binary (movie_id, score) rows of r, written directly
 * as jansson would (scores with 9 significant digits: pgvector's float4
 * arithmetic, which 9 digits give exactly). value is JSON text ("1", "null"). */
static int ranked(struct req *rq, const struct snapshot *s, enum kind_id kind, const char *key,
		  const char *value, const struct audience *who, PGresult *r)
{
	int n = PQntuples(r);
	unsigned served = 0;
	struct buf b = {0};
	char num[JSON_REAL_MAX];
	char rid[IMPRESSION_ID_MAX];
	int32_t ids[IMPRESSION_MAX_ITEMS];
	buf_reserve(&b, 160 + (size_t)n * 128);
	BUF_LIT(&b, "{\"");
	buf_puts(&b, key);
	BUF_LIT(&b, "\":");
	buf_puts(&b, value);
	BUF_LIT(&b, ",\"model_version\":\"");
	buf_append(&b, num, json_int(num, s->version));
	if (who->record) {
		BUF_LIT(&b, "\",\"arm\":\"");
		buf_puts(&b, arm_name(who->arm));
		BUF_LIT(&b, "\",\"request_id\":\"");
		buf_append(&b, rid, impressions_next_id(rid));
	}
	BUF_LIT(&b, "\",\"items\":[");
	for (int i = 0; i < n; i++) {
		int64_t id;
		double score;
		if (pgbin_integer(r, i, 0, &id) < 0 || id < INT32_MIN || id > INT32_MAX ||
		    pgbin_real(r, i, 1, &score) < 0 || !(fabs(score) <= 1e300))
			continue;
		long row = snapshot_item_row(s, id);
		if (row < 0 || !s->titles_json[row])
			continue;
		if (served)
			BUF_LIT(&b, ",");
		BUF_LIT(&b, "{\"movie_id\":");
		buf_append(&b, num, json_int(num, id));
		BUF_LIT(&b, ",\"title\":");
		buf_append(&b, s->titles_json[row], s->title_lens[row]);
		BUF_LIT(&b, ",\"score\":");
		buf_append(&b, num, json_real9(num, score));
		BUF_LIT(&b, "}");
		if (served < IMPRESSION_MAX_ITEMS)
			ids[served] = (int32_t)id;
		served++;
	}
	BUF_LIT(&b, "]}");
	PQclear(r);
	prom_served(kind, served);
	if (who->record && !b.failed)
		impressions_record(rid, who->user_id, s->version, who->arm, ids, served);
	int rc = b.failed ? reply_json(rq, 500, NULL) /* its "out of memory" 500 */
			  : reply_raw(rq, 200, "application/json", b.p, b.len);
	buf_free(&b);
	return rc;
}

/* Runs query (one parameter: id) on s and answers the ranked rows under key;
 * releases s. */
static int ranked_by_id(struct req *rq, struct snapshot *s, enum query_id query, int k,
			enum kind_id kind, const char *key, int64_t id, const struct audience *who)
{
	char text[24];
	json_int(text, id);
	const char *params[1] = {text};
	lf_error err = {0};
	PGresult *r = db_query(rq->w, query, s, k, 1, params, &err);
	int rc = r ? ranked(rq, s, kind, key, text, who, r) : reply_unavailable(rq, err.msg);
	snapshot_release(s);
	return rc;
}

int rec_user(struct req *rq, int64_t user_id)
{
	int64_t k;
	if (query_int(rq, "k", 1, MAX_K, 10, &k) < 0)
		return reply_error(rq, 422, "%s", K_MSG);
	enum arm arm;
	struct snapshot *s = snapshot_pick((uint64_t)user_id, &arm);
	if (!s)
		return reply_unavailable(rq, "no model loaded yet");
	if (!snapshot_has_user(s, user_id)) {
		/* Unknown to its arm's set (a user who exists only in feedback the challenger
		 * learnt, say): the other arm answers when it knows the user. */
		enum arm other_arm = arm == ARM_CHAMPION ? ARM_CHALLENGER : ARM_CHAMPION;
		struct snapshot *other = snapshot_current_arm(other_arm);
		if (other && snapshot_has_user(other, user_id)) {
			snapshot_release(s);
			s = other;
			arm = other_arm;
		} else {
			snapshot_release(other);
			prom_user_request(0);
			int rc = reply_error(rq, 404, "user %lld is unknown to model v%d",
					     (long long)user_id, s->version);
			snapshot_release(s);
			return rc;
		}
	}
	prom_user_request(1);
	struct audience who = {.record = 1, .user_id = (int32_t)user_id, .arm = arm};
	return ranked_by_id(rq, s, Q_USER_RECS, (int)k, KIND_USER, "user_id", user_id, &who);
}

int rec_similar(struct req *rq, int64_t movie_id)
{
	int64_t k;
	if (query_int(rq, "k", 1, MAX_K, 10, &k) < 0)
		return reply_error(rq, 422, "%s", K_MSG);
	struct snapshot *s = snapshot_current();
	if (!s)
		return reply_unavailable(rq, "no model loaded yet");
	if (snapshot_item_row(s, movie_id) < 0) {
		int rc = reply_error(rq, 404, "movie %lld is unknown", (long long)movie_id);
		snapshot_release(s);
		return rc;
	}
	struct audience who = {0};
	return ranked_by_id(rq, s, Q_SIMILAR, (int)k, KIND_SIMILAR, "movie_id", movie_id, &who);
}

int rec_new_user(struct req *rq, const char *text, size_t len)
{
	struct new_user nu = {0};
	char msg[256];
	int status = body_parse_new_user(text, len, &nu, msg, sizeof msg);
	if (status)
		return reply_error(rq, status, "%s", msg);
	if (nu.n == 0) { /* body_parse_new_user answers 422 for an empty list: never here */
		new_user_free(&nu);
		return reply_error(rq, 422, "ratings: an empty list");
	}
	/* The arm by the request's hash (FNV-1a over its movies and ratings): the same
	 * ratings always get the same arm. */
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < nu.n; i++) {
		uint64_t x[2] = {(uint64_t)nu.movie_ids[i], (uint64_t)nu.ratings[i]};
		for (size_t w = 0; w < 2; w++) /* the bytes of each word, least significant first */
			for (unsigned sh = 0; sh < 64; sh += 8)
				h = (h ^ ((x[w] >> sh) & 0xff)) * UINT64_C(0x100000001b3);
	}
	enum arm arm;
	struct snapshot *s = snapshot_pick(h, &arm);
	if (!s) {
		new_user_free(&nu);
		return reply_unavailable(rq, "no model loaded yet");
	}
	int rc;
	size_t *rows = calloc(nu.n, sizeof *rows);
	/* the compact form folds in at the full width, then maps (compactform.h) */
	size_t wdim = s->compact.present ? s->compact.wdim : s->dim;
	const double *fitems = s->compact.present ? s->compact.fold : s->items;
	double *vec = calloc(s->dim, sizeof *vec), *full = calloc(wdim, sizeof *full);
	struct buf unknown = {0}, v = {0}, ex = {0};
	size_t n_unknown = 0;
	if (!rows || !vec || !full) {
		rc = reply_unavailable(rq, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nu.n; i++) {
		long row = snapshot_item_row(s, nu.movie_ids[i]);
		if (row < 0 && n_unknown++ < 10)
			buf_printf(&unknown, "%s%lld", n_unknown > 1 ? ", " : "",
				   (long long)nu.movie_ids[i]);
		rows[i] = row < 0 ? 0 : (size_t)row;
	}
	if (n_unknown) {
		rc = reply_error(rq, 422, "unknown movie id(s): %s%s",
				 unknown.p ? unknown.p : "", n_unknown > 10 ? " ..." : "");
		goto out;
	}
	lf_error err = {0};
	double start = now_seconds();
	if (model_fold_solve(&s->fold, fitems, s->n_items, wdim, rows, nu.n, full, &err) < 0) {
		rc = reply_unavailable(rq, err.msg);
		goto out;
	}
	if (s->compact.present)
		compactform_map(&s->compact, full, s->dim, vec);
	else
		memcpy(vec, full, s->dim * sizeof *vec);
	prom_inference(now_seconds() - start);
	buf_puts(&v, "[");
	for (size_t j = 0; j < s->dim; j++)
		buf_printf(&v, "%s%.9g", j ? "," : "", (double)(float)vec[j]);
	buf_puts(&v, "]");
	buf_puts(&ex, "{");
	for (size_t i = 0; i < nu.n; i++)
		buf_printf(&ex, "%s%lld", i ? "," : "", (long long)nu.movie_ids[i]);
	buf_puts(&ex, "}");
	if (v.failed || ex.failed) {
		rc = reply_unavailable(rq, "out of memory");
		goto out;
	}
	/* a database connection only now: none is held while the fold-in computes */
	if ((rc = req_take_db(rq)))
		goto out;
	const char *params[2] = {v.p, ex.p};
	PGresult *r = db_query(rq->w, Q_NEW_USER_RECS, s, nu.k, 2, params, &err);
	struct audience who = {.record = 1, .arm = arm};
	rc = r ? ranked(rq, s, KIND_NEW_USER, "user_id", "null", &who, r)
	       : reply_unavailable(rq, err.msg);
out:
	buf_free(&unknown);
	buf_free(&v);
	buf_free(&ex);
	free(rows);
	free(vec);
	free(full);
	snapshot_release(s);
	new_user_free(&nu);
	return rc;
}

/* {movie_id, title, year, genres} from columns 0..3 of a catalogue row. */
static json_t *movie_json(PGresult *r, int i)
{
	int64_t id = 0, year = 0;
	parse_i64(PQgetvalue(r, i, 0), INT32_MIN, INT32_MAX, &id);
	int has_year = !PQgetisnull(r, i, 2) &&
		       parse_i64(PQgetvalue(r, i, 2), INT32_MIN, INT32_MAX, &year) == 0;
	json_error_t je;
	json_t *genres = json_loads(PQgetvalue(r, i, 3), JSON_DECODE_ANY, &je);
	if (!json_is_array(genres)) {
		json_decref(genres);
		genres = json_array();
	}
	json_t *title = json_string(PQgetvalue(r, i, 1));
	return json_pack("{s:I, s:o, s:o, s:o}", "movie_id", (json_int_t)id, "title",
			 title ? title : json_string(""), "year",
			 has_year ? json_integer(year) : json_null(), "genres",
			 genres ? genres : json_array());
}

int rec_movie(struct req *rq, int64_t movie_id)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)movie_id);
	const char *params[1] = {id};
	lf_error err = {0};
	PGresult *r = db_query(rq->w, Q_MOVIE, NULL, 1, 1, params, &err);
	if (!r)
		return reply_unavailable(rq, err.msg);
	if (PQntuples(r) != 1) {
		PQclear(r);
		return reply_error(rq, 404, "movie %lld is unknown", (long long)movie_id);
	}
	json_t *m = movie_json(r, 0);
	PQclear(r);
	return reply_json(rq, 200, m);
}

int rec_user_ratings(struct req *rq, int64_t user_id)
{
	int64_t limit;
	if (query_int(rq, "limit", 1, 100, 10, &limit) < 0)
		return reply_error(rq, 422, "limit must be an integer from 1 to 100");
	struct snapshot *s = snapshot_current(), *ch = snapshot_current_arm(ARM_CHALLENGER);
	if (!s) {
		snapshot_release(ch);
		return reply_unavailable(rq, "no model loaded yet");
	}
	int known = snapshot_has_user(s, user_id) || (ch && snapshot_has_user(ch, user_id));
	snapshot_release(s);
	snapshot_release(ch);
	if (!known)
		return reply_error(rq, 404, "user %lld is unknown", (long long)user_id);
	char id[24], lim[24];
	snprintf(id, sizeof id, "%lld", (long long)user_id);
	snprintf(lim, sizeof lim, "%lld", (long long)limit);
	const char *params[2] = {id, lim};
	lf_error err = {0};
	PGresult *r = db_query(rq->w, Q_USER_RATINGS, NULL, 1, 2, params, &err);
	if (!r)
		return reply_unavailable(rq, err.msg);
	json_t *items = json_array();
	for (int i = 0; items && i < PQntuples(r); i++) {
		json_t *m = movie_json(r, i);
		/* real: whole stars as JSON integers (as before half stars), halves as 3.5 */
		double stars = 0;
		parse_double(PQgetvalue(r, i, 4), 0, 10, &stars);
		json_object_set_new(m, "rating", stars == floor(stars)
							 ? json_integer((json_int_t)stars)
							 : json_real(stars));
		json_array_append_new(items, m);
	}
	PQclear(r);
	return reply_json(rq, 200, json_pack("{s:I, s:o}", "user_id", (json_int_t)user_id, "items",
					     items ? items : json_array()));
}

int rec_search(struct req *rq)
{
	int64_t limit;
	if (query_int(rq, "limit", 1, 50, 10, &limit) < 0)
		return reply_error(rq, 422, "limit must be an integer from 1 to 50");
	char q[512];
	const char *qs = rq->ri->query_string;
	int n = qs ? mg_get_var(qs, strlen(qs), "q", q, sizeof q) : -1;
	if (n == -1)
		return reply_error(rq, 422, "q is required: part of a title");
	size_t chars = 0;
	if (n < 0 || (size_t)n != strlen(q) || utf8_count(q, (size_t)n, &chars) < 0 || chars < 1 || chars > 100)
		return reply_error(rq, 422, "q must be 1 to 100 characters of UTF-8 text, without NUL");
	/* Surrounding spaces are not part of the search, unless there is nothing else. */
	const char *b = q, *e = q + strlen(q);
	while (*b == ' ')
		b++;
	while (e > b && e[-1] == ' ')
		e--;
	if (b == e) {
		b = q;
		e = q + strlen(q);
	}
	/* LIKE's wildcards and its escape character are literal in the search text. */
	struct buf any = {0}, prefix = {0};
	buf_puts(&any, "%");
	for (const char *p = b; p < e; p++) {
		if (*p == '\\' || *p == '%' || *p == '_')
			buf_puts(&any, "\\");
		buf_append(&any, p, 1);
	}
	buf_append(&prefix, any.p ? any.p + 1 : "", any.len ? any.len - 1 : 0);
	buf_puts(&prefix, "%");
	buf_puts(&any, "%");
	char lim[24];
	snprintf(lim, sizeof lim, "%lld", (long long)limit);
	int rc;
	if (any.failed || prefix.failed) {
		rc = reply_unavailable(rq, "out of memory");
	} else {
		const char *params[3] = {any.p, prefix.p, lim};
		lf_error err = {0};
		PGresult *r = db_query(rq->w, Q_SEARCH, NULL, 1, 3, params, &err);
		if (!r) {
			rc = reply_unavailable(rq, err.msg);
		} else {
			json_t *list = json_array();
			for (int i = 0; list && i < PQntuples(r); i++)
				json_array_append_new(list, movie_json(r, i));
			PQclear(r);
			rc = reply_json(rq, 200, list);
		}
	}
	buf_free(&any);
	buf_free(&prefix);
	return rc;
}
