/*
 * ml-eval — a model (.lfe) on stdin, or the popularity baseline, scored on
 * a train/test split: metrics TSV (name, value) on stdout, or one JSON
 * object with --json. Options and wiring only; eval.c has the protocol.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "lfe.h"
#include "log.h"
#include "online.h"
#include "tsv.h"
#include "util.h"

static const char usage[] =
	"usage: ml-eval --train FILE --test FILE [--k 10] [--json] < model.lfe\n"
	"       ml-eval --train FILE --test FILE --baseline popularity\n"
	"       ml-eval --online --impressions FILE --feedback FILE [--window 24h] [--k 10]\n"
	"Top-k over all movies of the model minus those the user rated in train;\n"
	"any test rating is relevant; users without a test rating are skipped.\n"
	"Prints ndcg@k, precision@k, recall@k, map@k, coverage@k, novelty@k (mean\n"
	"-log2 of the share of train users who rated a recommended movie), rmse (when\n"
	"the model has a rating head) and users (how many were evaluated).\n"
	"\n"
	"  --train FILE            the ratings the model was trained on (excluded from lists)\n"
	"  --test FILE             the held-out ratings (relevant items, RMSE pairs)\n"
	"  --k N                   list length (default 10)\n"
	"  --baseline popularity   rank movies by train rating count instead of a model\n"
	"  --json                  one JSON object instead of TSV\n"
	"  --lists                 print each test user's list instead of the metrics:\n"
	"                          TSV user, rank, movie, score\n"
	"  --online                what users did with what was served (the TSV of\n"
	"                          ml-fetch --source postgresql://... impressions|feedback):\n"
	"                          rows version, arm (champion|challenger|all), metric, value:\n"
	"                          impressions, users, hits@k, hit_rate@k, precision@k,\n"
	"                          mean_rating_of_hits; a hit is a rating by the answer's user\n"
	"                          (or with its request_id) of one of its first k movies, from\n"
	"                          the second it was served to --window later (24h; s, m, h, d)\n"
	"  -h, --help              this help\n"
	"      --version           version\n"
	"\n"
	"example:\n"
	"  ml-split --test test.tsv < u.data > train.tsv\n"
	"  ml-train < train.tsv | ml-eval --train train.tsv --test test.tsv\n";

enum { OPT_TRAIN = 256, OPT_TEST, OPT_K, OPT_BASELINE, OPT_JSON, OPT_VERSION, OPT_LISTS,
       OPT_ONLINE, OPT_IMPRESSIONS, OPT_FEEDBACK, OPT_WINDOW };

static const struct option longopts[] = {
	{"train", required_argument, NULL, OPT_TRAIN},
	{"test", required_argument, NULL, OPT_TEST},
	{"k", required_argument, NULL, OPT_K},
	{"baseline", required_argument, NULL, OPT_BASELINE},
	{"json", no_argument, NULL, OPT_JSON},
	{"lists", no_argument, NULL, OPT_LISTS},
	{"online", no_argument, NULL, OPT_ONLINE},
	{"impressions", required_argument, NULL, OPT_IMPRESSIONS},
	{"feedback", required_argument, NULL, OPT_FEEDBACK},
	{"window", required_argument, NULL, OPT_WINDOW},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

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

/* JSON numbers: the metric values are finite (metrics_set refuses others)
 * and names are [A-Za-z0-9_@.:/-], so nothing needs escaping. */
static void print_json(const metric_set *m)
{
	fputc('{', stdout);
	for (size_t i = 0; i < m->n; i++)
		printf("%s\"%s\": %.17g", i ? ", " : "", m->items[i].name, m->items[i].value);
	fputs("}\n", stdout);
}

int main(int argc, char **argv)
{
	log_set_prog("ml-eval");
	const char *train_path = NULL, *test_path = NULL;
	int json = 0, baseline = 0, lists = 0, online = 0, opt;
	const char *impressions_path = NULL, *feedback_path = NULL;
	double window_s = 86400;
	int64_t k = 10;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_TRAIN:
			train_path = optarg;
			break;
		case OPT_TEST:
			test_path = optarg;
			break;
		case OPT_K:
			if (parse_i64(optarg, 1, 100000, &k) < 0) {
				log_error("--k: bad value '%s' (want an integer in 1..100000)",
					  optarg);
				return EX_USAGE;
			}
			break;
		case OPT_BASELINE:
			if (strcmp(optarg, "popularity") != 0) {
				log_error("--baseline: unknown baseline '%s'; the baseline is "
					  "popularity",
					  optarg);
				return EX_USAGE;
			}
			baseline = 1;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_LISTS:
			lists = 1;
			break;
		case OPT_ONLINE:
			online = 1;
			break;
		case OPT_IMPRESSIONS:
			impressions_path = optarg;
			break;
		case OPT_FEEDBACK:
			feedback_path = optarg;
			break;
		case OPT_WINDOW:
			if (parse_window(optarg, &window_s) < 0) {
				log_error("--window: bad value '%s' (want a duration: 24h, 90m, "
					  "3600s, 2d)", optarg);
				return EX_USAGE;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case OPT_VERSION:
			printf("ml-eval lensflow %s (%s)\n", LENSFLOW_VERSION, LENSFLOW_COMMIT);
			return 0;
		default:
			fputs("usage: ml-eval --train FILE --test FILE [--k 10] [--json] < "
			      "model.lfe "
			      "(see --help)\n",
			      stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s'; the model comes on stdin (see --help)",
			  argv[optind]);
		return EX_USAGE;
	}
	if (online || impressions_path || feedback_path) {
		if (!online || !impressions_path || !feedback_path || train_path || test_path ||
		    baseline || json || lists) {
			log_error("--online takes --impressions FILE and --feedback FILE (and --k, "
				  "--window), nothing else (see --help)");
			return EX_USAGE;
		}
		stdout_mark();
		lf_error oerr = {0};
		if (online_evaluate(impressions_path, feedback_path, window_s, (int)k, stdout,
				    &oerr) < 0 ||
		    close_stream(stdout, "stdout", &oerr) < 0) {
			stdout_rollback();
			log_error("%s", oerr.msg);
			return oerr.code ? oerr.code : EX_SOFTWARE;
		}
		return 0;
	}
	if (!train_path || !test_path) {
		log_error("--train and --test are required (see --help)");
		return EX_USAGE;
	}
	stdout_mark();
	lf_error err = {0};
	ratings train = {0}, test = {0};
	lfe model = {0};
	metric_set out = {0};
	size_t skipped = 0;
	int rc = -1;
	if (read_ratings_file(train_path, &train, &err) < 0 ||
	    read_ratings_file(test_path, &test, &err) < 0 ||
	    (!baseline && lfe_read(stdin, "stdin", &model, &err) < 0) ||
	    evaluate(baseline ? NULL : &model, &train, &test, (size_t)k, lists ? stdout : NULL,
		     &out, &skipped, &err) < 0)
		goto done;
	if (skipped)
		log_info("%zu test users are unknown to the model and were skipped", skipped);
	if (!lists && json) /* with --lists the lists went out while ranking */
		print_json(&out);
	else if (!lists && metrics_write(stdout, "stdout", &out, &err) < 0)
		goto done;
	if (close_stream(stdout, "stdout", &err) < 0)
		goto done;
	rc = 0;
done:
	metrics_free(&out);
	lfe_free(&model);
	ratings_free(&train);
	ratings_free(&test);
	if (rc < 0) {
		stdout_rollback();
		log_error("%s", err.msg);
		return err.code ? err.code : EX_SOFTWARE;
	}
	return 0;
}
