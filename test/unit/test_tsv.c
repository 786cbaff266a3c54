/* test_tsv.c — the strict ratings, movies and metrics readers: every
 * rejection with its file:line message, round trips, UTF-8 validation, and
 * the speed of the ratings reader on a u.data-sized input. */
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "tap.h"
#include "tsv.h"
#include "util.h"

/* Parses s as ratings named "train.tsv"; returns rc, fills err. */
static int rp(const char *s, ratings *r, lf_error *err)
{
	return ratings_parse(s, strlen(s), "train.tsv", r, err);
}

/* Expects a rejection whose message contains want. */
static int rejects(const char *s, const char *want)
{
	ratings r;
	lf_error err = {0};
	int rc = rp(s, &r, &err);
	int ok = rc == -1 && err.code == EX_DATAERR && strstr(err.msg, want) != NULL &&
		 r.rows == NULL && r.n == 0;
	if (!ok)
		printf("# input %.40s: rc %d msg '%s' (wanted '%s')\n", s, rc, err.msg, want);
	ratings_free(&r);
	return ok;
}

TEST(ratings_parse_good)
{
	ratings r;
	lf_error err = {0};
	CHECK(rp("196\t242\t3\t881250949\n186\t302\t3\t891717742\n0\t2147483647\t5\t-1\n", &r,
		 &err) == 0);
	CHECK_EQ_INT(r.n, 3);
	CHECK_EQ_INT(r.rows[0].user, 196);
	CHECK_EQ_INT(r.rows[0].item, 242);
	CHECK_EQ_INT(r.rows[0].rating, 3);
	CHECK_EQ_INT(r.rows[0].ts, 881250949);
	CHECK_EQ_INT(r.rows[2].item, INT32_MAX);
	CHECK_EQ_INT(r.rows[2].ts, -1);
	ratings_free(&r);
}

/* Half stars in, written back as "4" / "3.5": whole stars keep their bytes. */
TEST(ratings_half_stars_round_trip)
{
	static const char in[] = "1\t2\t0.5\t10\n1\t3\t4.0\t11\n1\t4\t3.5\t12\n2\t2\t5\t13\n";
	static const char want[] = "1\t2\t0.5\t10\n1\t3\t4\t11\n1\t4\t3.5\t12\n2\t2\t5\t13\n";
	ratings r;
	lf_error err = {0};
	CHECK(rp(in, &r, &err) == 0);
	CHECK_EQ_INT(r.n, 4);
	CHECK(r.rows[0].rating == 0.5f && r.rows[1].rating == 4.0f && r.rows[2].rating == 3.5f);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(f && ratings_write(f, "out", &r, &err) == 0);
	fclose(f);
	CHECK_EQ_INT(len, sizeof want - 1);
	CHECK(memcmp(buf, want, len) == 0);
	free(buf);
	ratings_free(&r);
	/* every point of the scale, and nothing between */
	for (int h = 0; h <= 12; h++) {
		char s[8];
		float v = 0;
		snprintf(s, sizeof s, h % 2 ? "%d.5" : "%d", h / 2);
		int ok = h >= 1 && h <= 10;
		CHECK_EQ_INT(rating_parse(s, strlen(s), &v) == 0, ok);
		if (ok)
			CHECK(v * 2 == (float)h);
		CHECK_EQ_INT(rating_on_scale(h / 2.0), h >= 1 && h <= 10);
	}
	CHECK(!rating_on_scale(4.25) && !rating_on_scale(0) && !rating_on_scale(5.5));
}

TEST(ratings_missing_final_newline_accepted)
{
	ratings r;
	lf_error err = {0};
	CHECK(rp("1\t2\t3\t4\n5\t6\t1\t8", &r, &err) == 0);
	CHECK_EQ_INT(r.n, 2);
	CHECK_EQ_INT(r.rows[1].ts, 8);
	ratings_free(&r);
}

TEST(ratings_rejections)
{
	CHECK(rejects("", "train.tsv: empty input"));
	CHECK(rejects("1\t2\t3\n", "train.tsv:1: expected 4 tab-separated fields"));
	CHECK(rejects("1\t2\t3\t4\t5\n", "train.tsv:1: expected 4 tab-separated fields"));
	CHECK(rejects("1\t2\t3\t4\n\n", "train.tsv:2: expected 4"));
	CHECK(rejects("1 2 3 4\n", "train.tsv:1: expected 4"));
	CHECK(rejects("1\t2\t3\t4\nx\t2\t3\t4\n", "train.tsv:2: user id 'x' is not an integer"));
	CHECK(rejects("1\t2.5\t3\t4\n", "train.tsv:1: movie id '2.5'"));
	CHECK(rejects("1\t2\t3\t\n", "train.tsv:1: timestamp ''"));
	CHECK(rejects("2147483648\t2\t3\t4\n",
		      "train.tsv:1: user id '2147483648' is not an integer in 0..2147483647"));
	CHECK(rejects("-1\t2\t3\t4\n", "user id '-1'"));
	CHECK(rejects("1\t2\t3\t99999999999999999999\n", "timestamp '99999999999999999999'"));
	CHECK(rejects("1\t2\t0\t4\n", "train.tsv:1: rating '0' is not on the scale 0.5..5 in steps of 0.5"));
	CHECK(rejects("1\t2\t3\t4\n1\t3\t6\t4\n", "train.tsv:2: rating '6' is not on the scale"));
	CHECK(rejects("1\t2\t4.25\t4\n", "train.tsv:1: rating '4.25'"));
	CHECK(rejects("1\t2\t5.5\t4\n", "train.tsv:1: rating '5.5'"));
	CHECK(rejects("1\t2\t0.0\t4\n", "train.tsv:1: rating '0.0'"));
	CHECK(rejects("1\t2\t3.\t4\n", "train.tsv:1: rating '3.'"));
	CHECK(rejects("1\t2\t.5\t4\n", "train.tsv:1: rating '.5'"));
	CHECK(rejects("1\t2\t3.50\t4\n", "train.tsv:1: rating '3.50'"));
	CHECK(rejects("1\t2\t3e0\t4\n", "train.tsv:1: rating '3e0'"));
	CHECK(rejects("1\t2\t3\t4\n1\t2\t3\t4\n",
		      "train.tsv:2: user 1 rated movie 2 again (first at line 1)"));
	CHECK(rejects("1\t2\t3\t4\n1\t3\t3\t4\n2\t2\t3\t4\n1\t2\t5\t9\n",
		      "train.tsv:4: user 1 rated movie 2 again (first at line 1)"));
	CHECK(rejects("1\t2\t3\t4\r\n", "train.tsv:1: line ends with \"\\r\\n\""));
	CHECK(rejects("1\t2\t+3\t4\n", "rating '+3'"));
	CHECK(rejects("1\t2\t 3\t4\n", "rating ' 3'"));
}

TEST(ratings_embedded_nul_rejected)
{
	ratings r;
	lf_error err = {0};
	const char s[] = "1\t2\t3\t4\n1\t2\0\t3\t4\n";
	CHECK(ratings_parse(s, sizeof s - 1, "x", &r, &err) == -1);
	CHECK(strstr(err.msg, "x:2:") != NULL);
}

TEST(ratings_write_read_round_trip)
{
	ratings a = {0}, b;
	lf_error err = {0};
	rating_row rows[] = {{1, 2, 3, 0, 881250949},
			     {0, INT32_MAX, 5, 0, INT64_MIN},
			     {943, 1682, 1, 0, INT64_MAX},
			     {7, 7, 4, 0, 0}};
	for (size_t i = 0; i < 4; i++)
		CHECK(ratings_push(&a, rows[i]) == 0);
	FILE *f = tmpfile();
	CHECK(f);
	CHECK(ratings_write(f, "t", &a, &err) == 0);
	rewind(f);
	CHECK(ratings_read(f, "t", &b, &err) == 0);
	fclose(f);
	CHECK_EQ_INT(b.n, 4);
	for (size_t i = 0; i < 4; i++) {
		CHECK_EQ_INT(b.rows[i].user, a.rows[i].user);
		CHECK_EQ_INT(b.rows[i].item, a.rows[i].item);
		CHECK_EQ_INT(b.rows[i].rating, a.rows[i].rating);
		CHECK(b.rows[i].ts == a.rows[i].ts);
	}
	ratings_free(&a);
	ratings_free(&b);
}

TEST(ratings_write_exact_bytes)
{
	ratings a = {0};
	lf_error err = {0};
	CHECK(ratings_push(&a, (rating_row){196, 242, 3, 0, 881250949}) == 0);
	CHECK(ratings_push(&a, (rating_row){1, 2, 5, 0, -7}) == 0);
	char buf[128] = {0};
	FILE *f = fmemopen(buf, sizeof buf, "w");
	CHECK(f);
	CHECK(ratings_write(f, "t", &a, &err) == 0);
	fclose(f);
	CHECK(strcmp(buf, "196\t242\t3\t881250949\n1\t2\t5\t-7\n") == 0);
	ratings_free(&a);
}

TEST(ratings_parse_100k_lines)
{
	/* u.data's size: 100000 lines with distinct pairs */
	size_t cap = 100000 * 32, n = 0;
	char *buf = malloc(cap);
	CHECK(buf);
	for (int i = 0; i < 100000; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%d\t%d\t%d\t%d\n", 1 + i % 943,
				      1 + i / 943, 1 + i % 5, 881250949 + i);
	ratings r;
	lf_error err = {0};
	/* the time is printed for the reader, not asserted: speed lives in make bench */
	double dt = 1e9;
	int rc = 0;
	for (int rep = 0; rep < 3; rep++) {
		if (rep)
			ratings_free(&r);
		double t0 = now_seconds();
		rc = ratings_parse(buf, n, "big", &r, &err);
		double t = now_seconds() - t0;
		dt = t < dt ? t : dt;
	}
	free(buf);
	if (rc)
		printf("# %s\n", err.msg);
	printf("# 100000 lines parsed in %.1f ms\n", dt * 1e3);
	size_t rows = r.n;
	int32_t last_user = rc == 0 ? r.rows[99999].user : -1;
	ratings_free(&r);
	CHECK(rc == 0);
	CHECK_EQ_INT(rows, 100000);
	CHECK_EQ_INT(last_user, 1 + 99999 % 943);
}

TEST(movies_parse_and_round_trip)
{
	const char *s = "1\tToy Story (1995)\t01-Jan-1995\tAnimation|Children's|Comedy\n"
			"2\tCafé Society\t\t\n";
	movies m, m2;
	lf_error err = {0};
	CHECK(movies_parse(s, strlen(s), "movies.tsv", &m, &err) == 0);
	CHECK_EQ_INT(m.n, 2);
	CHECK(strcmp(m.rows[0].title, "Toy Story (1995)") == 0);
	CHECK(strcmp(m.rows[0].genres, "Animation|Children's|Comedy") == 0);
	CHECK(strcmp(m.rows[1].release_date, "") == 0);
	char buf[256] = {0};
	FILE *f = fmemopen(buf, sizeof buf, "w");
	CHECK(movies_write(f, "t", &m, &err) == 0);
	fclose(f);
	CHECK(strcmp(buf, s) == 0);
	CHECK(movies_parse(buf, strlen(buf), "t", &m2, &err) == 0);
	CHECK_EQ_INT(m2.n, 2);
	movies_free(&m);
	movies_free(&m2);
}

static int movies_rejects(const char *s, const char *want)
{
	movies m;
	lf_error err = {0};
	int rc = movies_parse(s, strlen(s), "movies.tsv", &m, &err);
	int ok = rc == -1 && err.code == EX_DATAERR && strstr(err.msg, want) && m.n == 0;
	if (!ok)
		printf("# rc %d msg '%s' (wanted '%s')\n", rc, err.msg, want);
	movies_free(&m);
	return ok;
}

TEST(movies_rejections)
{
	CHECK(movies_rejects("", "empty input"));
	CHECK(movies_rejects("1\tA\t\t\n2\tB\t\n", "movies.tsv:2: expected 4"));
	CHECK(movies_rejects("1\t\t\t\n", "movies.tsv:1: empty title"));
	CHECK(movies_rejects("x\tA\t\t\n", "movies.tsv:1: movie id 'x'"));
	CHECK(movies_rejects("1\tA\t\t\n2\tB\t\t\n1\tC\t\t\n",
			     "movies.tsv:3: movie id 1 repeated (first at line 1)"));
	CHECK(movies_rejects("1\tCaf\xe9\t\t\n", "movies.tsv:1: not valid UTF-8"));
	CHECK(movies_rejects("1\tA\t\t\r\n", "movies.tsv:1: line ends with"));
}

TEST(utf8_validation)
{
	CHECK(utf8_valid("plain", 5));
	CHECK(utf8_valid("caf\xc3\xa9", 5));
	CHECK(utf8_valid("\xe2\x82\xac", 3));	   /* euro sign */
	CHECK(utf8_valid("\xf0\x9f\x8e\xac", 4));  /* clapper board */
	CHECK(!utf8_valid("\xe9", 1));		   /* Latin-1 é */
	CHECK(!utf8_valid("\xc0\xaf", 2));	   /* overlong '/' */
	CHECK(!utf8_valid("\xe0\x80\xaf", 3));	   /* overlong, 3 bytes */
	CHECK(!utf8_valid("\xed\xa0\x80", 3));	   /* surrogate U+D800 */
	CHECK(!utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	CHECK(!utf8_valid("\xc3", 1));		   /* truncated */
	CHECK(!utf8_valid("\x80", 1));		   /* lone continuation */
}

TEST(metrics_round_trip_and_get_set)
{
	metric_set m = {0}, m2;
	lf_error err = {0};
	CHECK(metrics_set(&m, "ndcg@10", 0.4925) == 0);
	CHECK(metrics_set(&m, "rmse", 0.1 + 0.2) == 0);
	CHECK(metrics_set(&m, "ndcg@10", 0.5) == 0); /* replaces */
	CHECK(metrics_set(&m, "bad name", 1) == -1);
	CHECK(metrics_set(&m, "x", NAN) == -1);
	CHECK_EQ_INT(m.n, 2);
	char buf[256] = {0};
	FILE *f = fmemopen(buf, sizeof buf, "w");
	CHECK(metrics_write(f, "t", &m, &err) == 0);
	fclose(f);
	CHECK(strcmp(buf, "ndcg@10\t0.5\nrmse\t0.30000000000000004\n") == 0);
	CHECK(metrics_parse(buf, strlen(buf), "t", &m2, &err) == 0);
	double v = 0;
	CHECK(metrics_get(&m2, "rmse", &v) == 0 && v == 0.1 + 0.2);
	CHECK(metrics_get(&m2, "map@10", &v) == -1);
	metrics_free(&m);
	metrics_free(&m2);
}

TEST(metrics_rejections)
{
	const char *bad[][2] = {{"ndcg@10\tabc\n", "metrics.tsv:1: ndcg@10: value 'abc'"},
				{"ndcg@10\tnan\n", "value 'nan'"},
				{"a\t1\nb c\t2\n", "metrics.tsv:2: bad metric name"},
				{"a\t1\na\t2\n", "metrics.tsv:2: metric a repeated"},
				{"a\t1\t2\n", "metrics.tsv:1: expected 2"},
				{"a\t1\r\n", "metrics.tsv:1: line ends with"}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		metric_set m;
		lf_error err = {0};
		CHECK(metrics_parse(bad[i][0], strlen(bad[i][0]), "metrics.tsv", &m, &err) == -1);
		if (!strstr(err.msg, bad[i][1]))
			printf("# got '%s'\n", err.msg);
		CHECK(strstr(err.msg, bad[i][1]) != NULL);
		CHECK(m.n == 0 && m.items == NULL);
	}
}

TEST(random_inputs_never_crash_the_readers)
{
	/* inputs built from field tokens (valid and not), tabs, "\n" and "\r\n",
	 * so that some parse and most fail in every way the readers check */
	static const char *tok[] = {"1",       "2",   "3",   "5",	   "0",	       "6",
				    "-1",      "x",   "",    "2147483648", "\xc3\xa9", "\xe9",
				    "ndcg@10", "0.5", "nan", "a|b",	   " 4"};
	const size_t ntok = sizeof tok / sizeof tok[0];
	rng g;
	rng_seed(&g, 99);
	int ok_r = 0, ok_m = 0;
	for (int k = 0; k < 5000; k++) {
		char buf[512];
		size_t n = 0;
		int lines = 1 + (int)rng_below(&g, 5);
		for (int l = 0; l < lines; l++) {
			int fields = 2 + (int)rng_below(&g, 4);
			for (int f = 0; f < fields; f++) {
				/* mostly small valid ids so that some rows are good */
				const char *t = rng_below(&g, 3) ? tok[rng_below(&g, 4)]
								 : tok[rng_below(&g, ntok)];
				n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s",
						      f ? "\t" : "", t);
			}
			uint64_t end = rng_below(&g, 20);
			if (l < lines - 1 || end < 15)
				n += (size_t)snprintf(buf + n, sizeof buf - n, "%s",
						      end == 0 ? "\r\n" : "\n");
		}
		char *c = malloc(n ? n : 1); /* exact size: ASan sees any read past the end */
		CHECK(c);
		memcpy(c, buf, n);
		ratings r;
		movies m;
		metric_set ms;
		lf_error err = {0};
		if (ratings_parse(c, n, "f", &r, &err) == 0) {
			ok_r++;
			for (size_t i = 0; i < r.n; i++)
				CHECK(rating_on_scale(r.rows[i].rating));
		} else {
			CHECK_EQ_INT(err.code, EX_DATAERR);
			CHECK(strncmp(err.msg, "f:", 2) == 0);
		}
		ratings_free(&r);
		if (movies_parse(c, n, "f", &m, &err) == 0) {
			ok_m++;
			movies_free(&m);
		} else {
			CHECK_EQ_INT(err.code, EX_DATAERR);
		}
		if (metrics_parse(c, n, "f", &ms, &err) == 0)
			metrics_free(&ms);
		else
			CHECK_EQ_INT(err.code, EX_DATAERR);
		free(c);
	}
	printf("# of 5000 inputs: %d valid ratings, %d valid movies\n", ok_r, ok_m);
	CHECK(ok_r > 0); /* the generator does reach the accepting path */
}

int main(void)
{
	RUN(ratings_parse_good);
	RUN(ratings_half_stars_round_trip);
	RUN(ratings_missing_final_newline_accepted);
	RUN(ratings_rejections);
	RUN(ratings_embedded_nul_rejected);
	RUN(ratings_write_read_round_trip);
	RUN(ratings_write_exact_bytes);
	RUN(ratings_parse_100k_lines);
	RUN(movies_parse_and_round_trip);
	RUN(movies_rejections);
	RUN(utf8_validation);
	RUN(metrics_round_trip_and_get_set);
	RUN(metrics_rejections);
	RUN(random_inputs_never_crash_the_readers);
	return tap_done();
}
