/*
 * ml-eval — a model (.lfe) on stdin, or the popularity baseline, scored on
 * a train/test split: metrics TSV (name, value) on stdout, or one JSON
 * object with --json. Options and wiring only; eval.c has the protocol.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "lfe.h"
#include "log.h"
#include "online.h"
#include "opts.h"
#include "tsv.h"
#include "util.h"

static const opts_choice baselines[] = {{"popularity", 1}, {NULL, 0}};

static struct {
	const char *train_path, *test_path;
	int json, baseline, lists;
	size_t k, n_users;
	int64_t seed;
	int online;
	const char *impressions_path, *feedback_path, *window;
} args = {.k = 10, .seed = 42};

static const opts_opt options[] = {
	OPTS_STRING(0, "train", &args.train_path, "FILE",
		    "the ratings the model was trained on (excluded from lists)"),
	OPTS_STRING(0, "test", &args.test_path, "FILE",
		    "the held-out ratings (relevant items, RMSE pairs)"),
	OPTS_SIZE(0, "k", &args.k, 1, 100000, "N", "list length (default 10)"),
	OPTS_CHOICE(0, "baseline", &args.baseline, baselines, "popularity",
		    "rank movies by train rating count instead of a model"),
	OPTS_SET(0, "json", &args.json, 1, "one JSON object instead of TSV"),
	OPTS_SIZE(0, "users", &args.n_users, 0, INT32_MAX, "N",
		  "rank a sample of N test users (0: all, the default),\n"
		  "drawn by a seeded shuffle of the test user ids; RMSE\n"
		  "stays over every test rating"),
	OPTS_I64(0, "seed", &args.seed, 0, INT64_MAX, "N", "the sample's seed (default 42)"),
	OPTS_SET(0, "lists", &args.lists, 1,
		 "print each test user's list instead of the metrics:\n"
		 "TSV user, rank, movie, score"),
	OPTS_SET(0, "online", &args.online, 1,
		 "what users did with what was served (the TSV of\n"
		 "ml-fetch --source postgresql://... impressions|feedback):\n"
		 "rows version, arm (champion|challenger|all), metric, value:\n"
		 "impressions, users, hits@k, hit_rate@k, precision@k,\n"
		 "mean_rating_of_hits; a hit is a rating by the answer's user\n"
		 "(or with its request_id) of one of its first k movies, from\n"
		 "the second it was served to --window later"),
	OPTS_STRING(0, "impressions", &args.impressions_path, "FILE", "with --online"),
	OPTS_STRING(0, "feedback", &args.feedback_path, "FILE", "with --online"),
	OPTS_STRING(0, "window", &args.window, "DURATION",
		    "with --online: 24h (default); s, m, h, d or seconds"),
	OPTS_END,
};

static const opts_cmd cmd = {
	.prog = "ml-eval",
	.usage = "usage: ml-eval --train FILE --test FILE [--k 10] [--json] < model.lfe\n"
		 "       ml-eval --train FILE --test FILE --baseline popularity\n"
		 "       ml-eval --online --impressions FILE --feedback FILE [--window 24h] [--k 10]\n"
		 "Top-k over all movies of the model minus those the user rated in train;\n"
		 "any test rating is relevant; users without a test rating are skipped.\n"
		 "Prints ndcg@k, precision@k, recall@k, map@k, coverage@k, novelty@k (mean\n"
		 "-log2 of the share of train users who rated a recommended movie), rmse (when\n"
		 "the model has a rating head) and users (how many were evaluated).\n",
	.opts = options,
	.args_hint = "the model comes on stdin",
	.footer = "exit: 0 ok, 64 usage, 65 bad input, 66 no input, 71 out of memory, 74 I/O\n"
		  "\n"
		  "example:\n"
		  "  ml-split --test test.tsv < u.data > train.tsv\n"
		  "  ml-train < train.tsv | ml-eval --train train.tsv --test test.tsv\n",
};

static int read_ratings_file(const char *path, ratings *out, lf_error *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return lf_fail_errno(err,
				     errno == ENOENT || errno == EACCES ? EX_NOINPUT : EX_IOERR,
				     errno, "%s", path);
	int rc = ratings_read(f, path, out, err);
	fclose(f);
	return rc;
}

/* An integral value as a JSON integer ("users": 943, as %.17g prints it),
 * else a real (jansson prints those with %.17g). */
static json_t *json_number(double v)
{
	if (v == trunc(v) && fabs(v) < 9007199254740992.0)
		return json_integer((json_int_t)v);
	return json_real(v);
}

/* One JSON object, {"name": value, ...} in the metrics' order, by jansson. */
static int print_json(const metric_set *m, lf_error *err)
{
	json_t *o = json_object();
	int rc = o ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < m->n; i++)
		rc = json_object_set_new(o, m->items[i].name, json_number(m->items[i].value));
	if (rc < 0) {
		json_decref(o);
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	rc = json_dumpf(o, stdout, JSON_PRESERVE_ORDER);
	json_decref(o);
	if (rc < 0 || fputc('\n', stdout) == EOF)
		return lf_fail(err, EX_IOERR, "stdout: write failed");
	return 0;
}

/* "24h", "90m", "3600s", "2d" or seconds: a window in seconds, > 0. */
static int parse_window(const char *s, double *out)
{
	size_t n = strlen(s);
	double unit = 1;
	char num[32];
	if (n == 0 || n >= sizeof num)
		return -1;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 's': unit = 1; num[n - 1] = '\0'; break;
	case 'm': unit = 60; num[n - 1] = '\0'; break;
	case 'h': unit = 3600; num[n - 1] = '\0'; break;
	case 'd': unit = 86400; num[n - 1] = '\0'; break;
	default: break;
	}
	double v;
	if (parse_double(num, 1e-3, 1e9, &v) < 0)
		return -1;
	*out = v * unit;
	return 0;
}

/* --online, or --train and --test: the two ways in, never mixed. */
static int check_args(double *window_s)
{
	int online_opts = args.impressions_path || args.feedback_path || args.window;
	if (args.online || online_opts) {
		if (!args.online || !args.impressions_path || !args.feedback_path ||
		    args.train_path || args.test_path || args.baseline || args.json || args.lists)
			return opts_error(&cmd, "--online takes --impressions FILE and --feedback FILE "
						"(and --k, --window), nothing else");
		if (args.window && parse_window(args.window, window_s) < 0)
			return opts_error(&cmd, "--window: bad value '%s' (want a duration: 24h, 90m, "
						"3600s, 2d)", args.window);
		return 0;
	}
	if (!args.train_path || !args.test_path)
		return opts_error(&cmd, "--%s FILE is required", args.train_path ? "test" : "train");
	return 0;
}

static int run(lf_error *err)
{
	ratings train = {0}, test = {0};
	lfe model = {0};
	metric_set out = {0};
	size_t skipped = 0;
	int rc = -1;
	if (read_ratings_file(args.train_path, &train, err) < 0 ||
	    read_ratings_file(args.test_path, &test, err) < 0 ||
	    (!args.baseline && lfe_read(stdin, "stdin", &model, err) < 0) ||
	    evaluate(args.baseline ? NULL : &model, &train, &test, args.k,
		     &(eval_sample){args.n_users, (uint64_t)args.seed}, args.lists ? stdout : NULL,
		     &out, &skipped, err) < 0)
		goto done;
	if (skipped)
		log_info("%zu test users are unknown to the model and were skipped", skipped);
	/* with --lists the lists went out while ranking */
	if (!args.lists && (args.json ? print_json(&out, err) : metrics_write(stdout, "stdout", &out, err)) < 0)
		goto done;
	rc = close_stream(stdout, "stdout", err);
done:
	metrics_free(&out);
	lfe_free(&model);
	ratings_free(&train);
	ratings_free(&test);
	return rc;
}

int main(int argc, char **argv)
{
	int argi, rc;
	log_set_prog(cmd.prog);
	double window_s = 86400;
	if ((rc = opts_parse(&cmd, argc, argv, &argi)) != OPTS_CONTINUE || (rc = check_args(&window_s)))
		return rc;
	stdout_mark();
	lf_error err = {0};
	if (args.online ? online_evaluate(args.impressions_path, args.feedback_path, window_s,
					  (int)args.k, stdout, &err) < 0 ||
				  close_stream(stdout, "stdout", &err) < 0
			: run(&err) < 0) {
		stdout_rollback();
		log_error("%s", err.msg);
		return err.code ? err.code : EX_SOFTWARE;
	}
	return 0;
}
