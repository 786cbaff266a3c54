/*
 * test_mlflow_history.c — the pure parts of ml-mlflow-log: the champion
 * history (parse, append, dump, rollback target, TSV), the params and
 * losses readers, metric names and the gate's direction. The two source
 * files are compiled into this test (they need only lib/), so it does not
 * link the tool's network half.
 */
#include <stdlib.h>
#include <string.h>

#include "../../tools/ml-mlflow-log/history.c"
#include "../../tools/ml-mlflow-log/inputs.c"
#include "tap.h"

/* A history of moves "P3" (promote to 3) / "R2" (rollback to 2). */
static int build(history *h, const char *const *moves, size_t n)
{
	lf_error err;
	char prev[16] = "";
	for (size_t i = 0; i < n; i++) {
		const char *to = moves[i] + 1;
		if (history_append(h, "2026-01-01T00:00:00Z",
				   moves[i][0] == 'P' ? "promote" : "rollback", prev, to, "r",
				   &err) != 0)
			return -1;
		strcpy(prev, to);
	}
	return 0;
}

static int target_of(const char *const *moves, size_t n, const char *current, char *t)
{
	history h = {0};
	int rc = build(&h, moves, n) == 0 ? history_rollback_target(&h, current, t) : -1;
	history_free(&h);
	return rc;
}

TEST(rollback_targets)
{
	char t[16];
	const char *a[] = {"P1", "P2", "P3"};
	CHECK(target_of(a, 3, "3", t) == 0 && strcmp(t, "2") == 0);
	const char *b[] = {"P1", "P2", "P3", "R2"};
	CHECK(target_of(b, 4, "2", t) == 0 && strcmp(t, "1") == 0);
	const char *c[] = {"P1", "P2", "P3", "R2", "R1"};
	CHECK(target_of(c, 5, "1", t) == 1); /* nothing before the first */
	const char *d[] = {"P1", "P2", "R1", "P4"};
	CHECK(target_of(d, 4, "4", t) == 0 && strcmp(t, "1") == 0);
	const char *e[] = {"P1"};
	CHECK(target_of(e, 1, "1", t) == 1);
	CHECK(target_of(NULL, 0, "1", t) == 1);
	/* the alias moved outside the tool: the last recorded champion */
	CHECK(target_of(a, 3, "9", t) == 0 && strcmp(t, "3") == 0);
	/* promoting the same version twice does not stack it twice */
	const char *f[] = {"P1", "P2", "P2"};
	CHECK(target_of(f, 3, "2", t) == 0 && strcmp(t, "1") == 0);
}

TEST(dump_and_parse_round_trip)
{
	lf_error err;
	history h = {0}, back = {0};
	char *text = NULL;
	CHECK(history_append(&h, "2026-12-02T12:00:00Z", "promote", "", "1", "first", &err) == 0);
	CHECK(history_append(&h, "2026-12-02T12:05:00Z", "promote", "1", "2",
			     "tab\there \"quoted\"", &err) == 0);
	CHECK(history_dump(&h, &text, &err) == 0);
	CHECK(strstr(text, "\"from\":null") != NULL);
	CHECK(history_parse(text, &back, &err) == 0);
	CHECK_EQ_INT(back.n, 2);
	CHECK(strcmp(back.items[1].from, "1") == 0 && strcmp(back.items[1].to, "2") == 0);
	CHECK(strcmp(back.items[1].reason, "tab\there \"quoted\"") == 0);
	CHECK(back.items[0].from[0] == '\0');
	FILE *f = tmpfile();
	CHECK(f && history_write_tsv(f, &back, &err) == 0);
	char line[256] = "";
	rewind(f);
	CHECK(fgets(line, sizeof line, f) &&
	      strcmp(line, "2026-12-02T12:00:00Z\t\t1\tfirst\n") == 0);
	CHECK(fgets(line, sizeof line, f) &&
	      strcmp(line, "2026-12-02T12:05:00Z\t1\t2\ttab here \"quoted\"\n") == 0);
	fclose(f);
	free(text);
	history_free(&h);
	history_free(&back);
}

TEST(dump_keeps_the_newest)
{
	lf_error err;
	history h = {0}, back = {0};
	char *text = NULL, v[16];
	for (int i = 1; i <= HISTORY_KEEP + 5; i++) {
		snprintf(v, sizeof v, "%d", i);
		CHECK(history_append(&h, "2026-12-02T12:00:00Z", "promote", "", v, "", &err) == 0);
	}
	CHECK(history_dump(&h, &text, &err) == 0 && history_parse(text, &back, &err) == 0);
	CHECK_EQ_INT(back.n, HISTORY_KEEP);
	CHECK(strcmp(back.items[0].to, "6") == 0);
	free(text);
	history_free(&h);
	history_free(&back);
}

TEST(parse_rejects)
{
	lf_error err;
	history h = {0};
	CHECK(history_parse(NULL, &h, &err) == 0 && h.n == 0);
	CHECK(history_parse("", &h, &err) == 0 && h.n == 0);
	const char *bad[] = {
		"{}",
		"[1]",
		"[{\"time\": \"t\", \"action\": \"promote\", \"from\": null}]",
		"[{\"time\": \"t\", \"action\": \"jump\", \"from\": null, \"to\": \"1\"}]",
		"[{\"time\": \"t\", \"action\": \"promote\", \"from\": null, \"to\": \"0\"}]",
		"[{\"time\": \"t\", \"action\": \"promote\", \"from\": \"x\", \"to\": \"1\"}]",
		"[{\"time\": \"t\", \"action\": \"promote\", \"to\": \"1\", \"reason\": 3}]",
		"[{\"time\": \"tttttttttttttttttttttttttttttttttttttt\", \"action\": \"promote\", "
		"\"to\": \"1\"}]",
		"not json",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err.code = 0;
		CHECK(history_parse(bad[i], &h, &err) == -1);
		CHECK_EQ_INT(err.code, EX_DATAERR);
		CHECK(h.n == 0 && h.items == NULL);
	}
}

TEST(params_reader)
{
	lf_error err;
	kvlist l = {0};
	const char ok[] = "dim\t32\nmodel\tsoftmax-mf\nempty\t\n";
	CHECK(params_parse(ok, sizeof ok - 1, "p.tsv", &l, &err) == 0);
	CHECK_EQ_INT(l.n, 3);
	CHECK(strcmp(kvlist_get(&l, "model"), "softmax-mf") == 0);
	CHECK(strcmp(kvlist_get(&l, "empty"), "") == 0);
	CHECK(kvlist_put_arg(&l, "dim=64", 6000, "--param", &err) == 0); /* replaces */
	CHECK(strcmp(kvlist_get(&l, "dim"), "64") == 0 && l.n == 3);
	CHECK(kvlist_put_arg(&l, "=x", 6000, "--param", &err) == -1);
	CHECK_EQ_INT(err.code, EX_USAGE);
	kvlist_free(&l);
	struct {
		const char *text, *msg;
	} bad[] = {
		{"dim 32\n", "p.tsv:1: expected 2"},
		{"a\t1\nb\t2\tx\n", "p.tsv:2: expected 2"},
		{"a\t1\na\t2\n", "p.tsv:2: a repeated"},
		{"bad@name\t1\n", "p.tsv:1: name 'bad@name' is not valid"},
		{"a\t1\r\n", "p.tsv:1: expected 2"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK(params_parse(bad[i].text, strlen(bad[i].text), "p.tsv", &l, &err) == -1);
		CHECK_EQ_INT(err.code, EX_DATAERR);
		if (strstr(err.msg, bad[i].msg) == NULL)
			printf("# got: %s\n", err.msg);
		CHECK(strstr(err.msg, bad[i].msg) != NULL);
		CHECK(l.n == 0);
	}
}

TEST(losses_reader)
{
	lf_error err;
	steplist l = {0};
	const char ok[] = "1\ttrain/loss\t0.5\n2\ttrain/loss\t0.25\n2\tval@10\t-1e-3";
	CHECK(losses_parse(ok, sizeof ok - 1, "l.tsv", 1000, &l, &err) == 0);
	CHECK_EQ_INT(l.n, 3);
	CHECK(strcmp(l.items[2].key, "val_at_10") == 0);
	CHECK_EQ_INT(l.items[1].step, 2);
	CHECK_NEAR(l.items[2].value, -1e-3, 0);
	CHECK_EQ_INT(l.items[0].timestamp_ms, 1000);
	steplist_free(&l);
	const char *bad[] = {"x\tloss\t1\n", "-1\tloss\t1\n",  "1\tloss\tnan\n",
			     "1\tloss\n",    "1\tlo ss/\t1\n", "99999999999999999999\tloss\t1\n"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK(losses_parse(bad[i], strlen(bad[i]), "l.tsv", 0, &l, &err) == -1);
		CHECK_EQ_INT(err.code, EX_DATAERR);
		CHECK(strstr(err.msg, "l.tsv:1:") != NULL);
		CHECK(l.n == 0);
	}
}

TEST(metric_names_and_direction)
{
	char out[16];
	CHECK(metric_key("ndcg@10", out, sizeof out) == 0 && strcmp(out, "ndcg_at_10") == 0);
	CHECK(metric_key("a@b@c", out, sizeof out) == 0 && strcmp(out, "a_at_b_at_c") == 0);
	CHECK(metric_key("precision@10xx", out, sizeof out) == -1); /* does not fit */
	CHECK(metric_lower_is_better("rmse"));
	CHECK(metric_lower_is_better("train/loss"));
	CHECK(!metric_lower_is_better("ndcg_at_10"));
	CHECK(version_valid("1") && version_valid("123456789"));
	CHECK(!version_valid("0") && !version_valid("01") && !version_valid("1234567890") &&
	      !version_valid("") && !version_valid("-1") && !version_valid("1a"));
}

int main(void)
{
	RUN(rollback_targets);
	RUN(dump_and_parse_round_trip);
	RUN(dump_keeps_the_newest);
	RUN(parse_rejects);
	RUN(params_reader);
	RUN(losses_reader);
	RUN(metric_names_and_direction);
	return tap_done();
}
