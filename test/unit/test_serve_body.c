/*
 * test_serve_body.c — ml-serve's input checks without a server: the body of
 * POST /recommendations, ids in paths, Content-Type, UTF-8 counting, and the
 * metrics exposition's format (label escaping, cumulative buckets).
 */
#include <stdlib.h>
#include <string.h>

#include "../../tools/ml-serve/body.h"
#include "../../tools/ml-serve/buf.h"
#include "../../tools/ml-serve/prom.h"
#include "log.h"
#include "tap.h"
#include "tsv.h"
#include "util.h"

static int parse(const char *text, struct new_user *nu, char *msg)
{
	return body_parse_new_user(text, strlen(text), nu, msg, 256);
}

TEST(a_good_body_is_read_field_by_field)
{
	struct new_user nu;
	char msg[256] = "";
	CHECK_EQ_INT(parse("{\"ratings\": [{\"movie_id\": 50, \"rating\": 5}, "
			   "{\"rating\": 1, \"movie_id\": 7}], \"k\": 3}", &nu, msg), 0);
	CHECK_EQ_INT(nu.n, 2);
	CHECK_EQ_INT(nu.movie_ids[0], 50);
	CHECK_EQ_INT(nu.ratings[0], 5);
	CHECK_EQ_INT(nu.movie_ids[1], 7);
	CHECK_EQ_INT(nu.ratings[1], 1);
	CHECK_EQ_INT(nu.k, 3);
	new_user_free(&nu);
	CHECK_EQ_INT(parse("{\"ratings\": [{\"movie_id\": 2147483647, \"rating\": 3}]}", &nu, msg), 0);
	CHECK_EQ_INT(nu.k, 10); /* the default */
	CHECK_EQ_INT(nu.movie_ids[0], 2147483647);
	new_user_free(&nu);
	/* half stars (ML-10M and later) and whole stars written as reals */
	CHECK_EQ_INT(parse("{\"ratings\": [{\"movie_id\": 1, \"rating\": 3.5}, "
			   "{\"movie_id\": 2, \"rating\": 0.5}, {\"movie_id\": 3, \"rating\": 4.0}]}",
			   &nu, msg), 0);
	CHECK(nu.ratings[0] == 3.5 && nu.ratings[1] == 0.5 && nu.ratings[2] == 4.0);
	new_user_free(&nu);
}

TEST(every_bad_body_is_422_with_its_reason)
{
	static const struct { const char *body, *words; } cases[] = {
		{"", "not valid JSON"},
		{"{", "not valid JSON"},
		{"[]", "must be a JSON object"},
		{"{}", "ratings is required"},
		{"{\"ratings\": []}", "must not be empty"},
		{"{\"ratings\": {}}", "ratings is required"},
		{"{\"ratings\": [1]}", "ratings[0] must be an object"},
		{"{\"ratings\": [{\"movie_id\": 1}]}", "ratings[0].rating"},
		{"{\"ratings\": [{\"movie_id\": 1, \"rating\": 5.5}]}", "ratings[0].rating"},
		{"{\"ratings\": [{\"movie_id\": 1, \"rating\": 6}]}", "from 0.5 to 5 in steps of 0.5"},
		{"{\"ratings\": [{\"movie_id\": 1, \"rating\": false}]}", "from 0.5 to 5 in steps of 0.5"},
		{"{\"ratings\": [{\"movie_id\": -4, \"rating\": 5}]}", "movie_id"},
		{"{\"ratings\": [{\"movie_id\": 2147483648, \"rating\": 5}]}", "movie_id"},
		{"{\"ratings\": [{\"movie_id\": 99999999999999999999999, \"rating\": 5}]}", "not valid JSON"},
		{"{\"ratings\": [{\"movie_id\": 1, \"rating\": 5, \"x\": 0}]}", "unknown field"},
		{"{\"ratings\": [{\"movie_id\": 1, \"rating\": 5}], \"q\": 0}", "unknown field"},
		{"{\"ratings\": [{\"movie_id\": 1, \"rating\": 5}], \"k\": 0}", "k must be"},
		{"{\"ratings\": [{\"movie_id\": 1, \"rating\": 5}], \"k\": 101}", "k must be"},
		{"{\"ratings\": [{\"movie_id\": 1, \"rating\": 5}], \"k\": \"5\"}", "k must be"},
		{"{\"ratings\": [{\"movie_id\": 3, \"rating\": 5}, {\"movie_id\": 3, \"rating\": 1}]}",
		 "movie 3 is rated more than once"},
		{"{\"ratings\": [], \"ratings\": []}", "not valid JSON"},
		{"{\"ratings\": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", "nested more deeply"},
		{"{\"ratings\": \"\\u0000\"}", "not valid JSON"},
		{"{\"ratings\": \"\xff\"}", "not valid JSON"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct new_user nu;
		char msg[256] = "";
		int status = parse(cases[i].body, &nu, msg);
		if (status != 422 || !strstr(msg, cases[i].words))
			printf("# case %zu: %d '%s'\n", i, status, msg);
		CHECK_EQ_INT(status, 422);
		CHECK(strstr(msg, cases[i].words) != NULL);
		CHECK(nu.movie_ids == NULL && nu.n == 0);
	}
}

TEST(more_than_2000_ratings_are_refused)
{
	struct buf b = {0};
	buf_puts(&b, "{\"ratings\": [");
	for (int i = 0; i < 2001; i++)
		buf_printf(&b, "%s{\"movie_id\": %d, \"rating\": 4}", i ? "," : "", i + 1);
	buf_puts(&b, "]}");
	struct new_user nu;
	char msg[256];
	CHECK_EQ_INT(body_parse_new_user(b.p, b.len, &nu, msg, sizeof msg), 422);
	CHECK(strstr(msg, "at most 2000") != NULL);
	buf_free(&b);
}

TEST(path_ids_are_ids_unknown_or_malformed)
{
	int64_t id = 0;
	CHECK_EQ_INT(path_id("42", 2, &id), 1);
	CHECK_EQ_INT(id, 42);
	CHECK_EQ_INT(path_id("2147483647", 10, &id), 1);
	CHECK_EQ_INT(path_id("2147483648", 10, &id), 0);
	CHECK_EQ_INT(path_id("0", 1, &id), 0);
	CHECK_EQ_INT(path_id("-1", 2, &id), 0);
	CHECK_EQ_INT(path_id("99999999999999999999999999", 26, &id), 0);
	CHECK_EQ_INT(path_id("", 0, &id), -1);
	CHECK_EQ_INT(path_id("-", 1, &id), -1);
	CHECK_EQ_INT(path_id("1.5", 3, &id), -1);
	CHECK_EQ_INT(path_id("+5", 2, &id), -1);
	CHECK_EQ_INT(path_id(" 5", 2, &id), -1);
	CHECK_EQ_INT(path_id("0x10", 4, &id), -1);
	CHECK_EQ_INT(path_id("12/x", 2, &id), 1); /* only the segment's length is read */
	CHECK_EQ_INT(id, 12);
}

TEST(content_type_must_be_json_in_utf8)
{
	CHECK(content_type_is_json("application/json"));
	CHECK(content_type_is_json("Application/JSON; charset=utf-8"));
	CHECK(content_type_is_json("application/json;charset=\"UTF-8\""));
	CHECK(!content_type_is_json(NULL));
	CHECK(!content_type_is_json(""));
	CHECK(!content_type_is_json("text/plain"));
	CHECK(!content_type_is_json("application/jsonx"));
	CHECK(!content_type_is_json("application/json; charset=latin-1"));
	CHECK(!content_type_is_json("application/x-www-form-urlencoded"));
}

TEST(utf8_is_counted_in_code_points_and_checked)
{
	size_t n = 0;
	CHECK_EQ_INT(utf8_count("abc", 3, &n), 0);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(utf8_count("\xc3\x9f\xf0\x9f\x8e\xac", strlen("\xc3\x9f\xf0\x9f\x8e\xac"), &n), 0); /* ß and a clapper board */
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(utf8_count("\xff", strlen("\xff"), &n), -1);
	CHECK_EQ_INT(utf8_count("\xc3", strlen("\xc3"), &n), -1);            /* truncated */
	CHECK_EQ_INT(utf8_count("\xc0\xaf", strlen("\xc0\xaf"), &n), -1);        /* overlong */
	CHECK_EQ_INT(utf8_count("\xed\xa0\x80", strlen("\xed\xa0\x80"), &n), -1);    /* a surrogate */
	CHECK_EQ_INT(utf8_count("\xf4\x90\x80\x80", strlen("\xf4\x90\x80\x80"), &n), -1); /* beyond U+10FFFF */
}

TEST(prom_text_has_cumulative_buckets_and_escaped_labels)
{
	prom_init();
	prom_http(ROUTE_RECS_USER, METHOD_GET, 200, 0.0002);
	prom_http(ROUTE_RECS_USER, METHOD_GET, 200, 0.004);
	prom_http(ROUTE_RECS_USER, METHOD_GET, 404, 9.0);
	prom_served(KIND_USER, 10);
	const char *names[] = {"ndcg@10", "odd\"name\\\n"};
	double values[] = {0.2468, 1.5};
	struct prom_model mm = {.name = "lensflow", .version = 3, .run_id = "r\"1",
				   .loaded_at = 1.5e9, .n_offline = 2, .offline_names = names,
				   .offline_values = values};
	size_t len = 0;
	char *t = prom_render(&mm, &len);
	CHECK(t != NULL && len == strlen(t));
	int ok = strstr(t, "lensflow_http_requests_total{method=\"GET\",route=\"/recommendations/"
			   "{user_id}\",status_class=\"2xx\"} 2\n") &&
		 strstr(t, "lensflow_http_requests_total{method=\"GET\",route=\"/recommendations/"
			   "{user_id}\",status_class=\"4xx\"} 1\n") &&
		 strstr(t, "status_class=\"2xx\",le=\"0.00025\"} 1\n") &&
		 strstr(t, "status_class=\"2xx\",le=\"0.005\"} 2\n") &&
		 strstr(t, "status_class=\"4xx\",le=\"2.5\"} 0\n") &&
		 strstr(t, "status_class=\"4xx\",le=\"+Inf\"} 1\n") &&
		 strstr(t, "lensflow_recommendations_served_total{kind=\"user\"} 10\n") &&
		 strstr(t, "lensflow_model_info{name=\"lensflow\",version=\"3\",run_id=\"r\\\"1\"} 1\n") &&
		 strstr(t, "lensflow_model_offline_metric{metric=\"ndcg@10\"} 0.2468\n") &&
		 strstr(t, "lensflow_model_offline_metric{metric=\"odd\\\"name\\\\\\n\"} 1.5\n") &&
		 strstr(t, "lensflow_serving_model_version 3\n");
	if (!ok)
		printf("# %s\n", t);
	free(t);
	CHECK(ok);
}

int main(void)
{
	log_set_prog("test_serve_body");
	int64_t one = 0;
	if (parse_i64("1", 0, 1, &one) < 0 || one != 1) /* also links lib/util.o for the tool's parts */
		return 1;
	RUN(a_good_body_is_read_field_by_field);
	RUN(every_bad_body_is_422_with_its_reason);
	RUN(more_than_2000_ratings_are_refused);
	RUN(path_ids_are_ids_unknown_or_malformed);
	RUN(content_type_must_be_json_in_utf8);
	RUN(utf8_is_counted_in_code_points_and_checked);
	RUN(prom_text_has_cumulative_buckets_and_escaped_labels);
	return tap_done();
}
