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
#include "tsv.h"
#include "util.h"

static const char usage[] =
	"usage: ml-eval --train FILE --test FILE [--k 10] [--json] < model.lfe\n"
	"       ml-eval --train FILE --test FILE --baseline popularity\n"
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
	"  --users N               rank a sample of N test users (0: all, the default),\n"
	"                          drawn by a seeded shuffle of the test user ids; RMSE\n"
	"                          stays over every test rating\n"
	"  --seed N                the sample's seed (default 42)\n"
	"  --lists                 print each test user's list instead of the metrics:\n"
	"                          TSV user, rank, movie, score\n"
	"  -h, --help              this help\n"
	"      --version           version\n"
	"\n"
	"example:\n"
	"  ml-split --test test.tsv < u.data > train.tsv\n"
	"  ml-train < train.tsv | ml-eval --train train.tsv --test test.tsv\n";

enum { OPT_TRAIN = 256, OPT_TEST, OPT_K, OPT_BASELINE, OPT_JSON, OPT_VERSION, OPT_LISTS, OPT_USERS, OPT_SEED };

static const struct option longopts[] = {
	{"train", required_argument, NULL, OPT_TRAIN},
	{"test", required_argument, NULL, OPT_TEST},
	{"k", required_argument, NULL, OPT_K},
	{"baseline", required_argument, NULL, OPT_BASELINE},
	{"json", no_argument, NULL, OPT_JSON},
	{"lists", no_argument, NULL, OPT_LISTS},
	{"users", required_argument, NULL, OPT_USERS},
	{"seed", required_argument, NULL, OPT_SEED},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
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
	int json = 0, baseline = 0, lists = 0, opt;
	int64_t k = 10, n_users = 0, seed = 42;
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
		case OPT_USERS:
		case OPT_SEED:
			if (parse_i64(optarg, 0, opt == OPT_USERS ? INT32_MAX : INT64_MAX,
				      opt == OPT_USERS ? &n_users : &seed) < 0) {
				log_error("--%s: bad value '%s' (want a non-negative integer)",
					  opt == OPT_USERS ? "users" : "seed", optarg);
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
	    evaluate(baseline ? NULL : &model, &train, &test, (size_t)k,
		     &(eval_sample){(size_t)n_users, (uint64_t)seed}, lists ? stdout : NULL, &out,
		     &skipped, &err) < 0)
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
