/*
 * ml-train — train ratings TSV on stdin, a model (.lfe) on stdout.
 *
 * Options and wiring only: dataset.c indexes the ratings, train.c runs the
 * ranking model (smf.c) and the rating head (rmf.c), output.c writes the
 * model and the run's records. The model is built in memory and written
 * once at the end: -o through a temporary file renamed into place, stdout
 * truncated back when writing fails, so no half model is ever left.
 */
#include <cblas.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lfe.h"
#include "log.h"
#include "train.h"
#include "tsv.h"
#include "util.h"

static const char usage[] =
	"usage: ml-train [options] < train.tsv > model.lfe\n"
	"Trains user and movie embeddings whose dot product ranks movies, and a rating\n"
	"head (Bayesian biased MF) on ratings TSV (user, movie, rating, timestamp).\n"
	"Ranking models: softmax-mf (full-softmax matrix factorisation; its epoch count\n"
	"is chosen on a 90/10 per-user holdout of the input, then the model is refitted\n"
	"on all of it), ease (EASE's closed form, as low-rank vectors), and blend (both,\n"
	"each score divided by its spread, vectors side by side: the best ranking, the\n"
	"pipeline's default; see docs/architecture.md for its fold-in).\n"
	"\n"
	"  --model NAME            softmax-mf (default), blend, ease, ials, ease-ials (the\n"
	"                          blend without the softmax MF: --blend-weight for EASE,\n"
	"                          iALS the rest, iALS by 3 CG steps unless --ials-cg) or\n"
	"                          auto (the model for the data's size: the blend up to 2M\n"
	"                          ratings, ease-ials beyond; recorded as the params'\n"
	"                          model_auto)\n"
	"  --ease-l2 X             EASE's L2 on the Gram diagonal (default 500)\n"
	"  --ease-dim N            EASE eigenpairs kept, capped at the user count (default 256)\n"
	"  --ease-power N          subspace iterations for them (default 3)\n"
	"  --ease-sparse           the sparse path (iterations on X^T X through products with\n"
	"                          the sparse ratings) even where the dense one fits; taken\n"
	"                          by itself past 46,340 users or 2^26 user-movie cells\n"
	"  --ials-dim N            iALS factors (default 64)\n"
	"  --ials-alpha X          iALS confidence of a rated pair, 1 + X (default 20)\n"
	"  --ials-reg X            iALS L2 (default 100)\n"
	"  --ials-iters N          iALS alternating sweeps (default 8)\n"
	"  --ials-cg N             N conjugate-gradient steps per row, warm-started, instead\n"
	"                          of an exact Cholesky solve; 0: exact (default 0)\n"
	"  --blend-weight X        EASE's share of the blend (default 0.2)\n"
	"  --ials-weight X         iALS's share of the blend, 0: none (default 0.5); the\n"
	"                          softmax MF gets the rest, which must stay above 0\n"
	"  --dim N                 factor size (default 80; stored vectors have N+1)\n"
	"  --epochs N              train exactly N epochs, no validation (default: early "
	"stopping)\n"
	"  --max-epochs N          upper bound with early stopping (default 120)\n"
	"  --patience N            validation epochs without gain before stopping (default 8)\n"
	"  --lr X                  Adam learning rate (default 0.0183)\n"
	"  --user-l2 X             L2 weight on each user vector (default 2.17)\n"
	"  --item-l2 X             L2 weight on movie vectors and biases (default 14.86;\n"
	"                          8 in the blend, chosen on validation splits of train)\n"
	"  --user-weight-alpha X   user weight n_u^-alpha, mean 1 (default 0.40)\n"
	"  --batch-users N         users per step (default 256)\n"
	"  --validation-ratio X    share of each user's ratings kept for fitting (default 0.9)\n"
	"  --ema X                 keep a moving average of the weights, avg = X avg + (1-X) w,\n"
	"                          as the model (default 0: off)\n"
	"  --rating-dim N          rating head factors per sample, 1..64 (default 6)\n"
	"  --rating-sweeps N       rating head Gibbs sweeps (default 60)\n"
	"  --rating-burn-in N      at least N sweeps before the first kept sample; the samples\n"
	"                          end at the last sweep (default 10)\n"
	"  --rating-samples N      samples averaged, stored side by side (default 50)\n"
	"  --rating-implicit WHO   implicit part (SVD++'s and its mirror): users (a user's\n"
	"                          factors + |N(u)|^-1/2 sum z_j over the movies rated in train),\n"
	"                          movies (the same over the users who rated the movie), both\n"
	"                          or none (default both)\n"
	"  --rating-robust NU      per-user and per-movie noise scales ~ Gamma(NU/2, NU/2);\n"
	"                          0: one noise level for all (default 20)\n"
	"  --seed N                random seed (default 42): same seed, same bytes\n"
	"  --threads N             1: one thread; N >= 2: the rating head and the ranking refit\n"
	"                          on threads of their own, N-1 BLAS threads (default 2); 1 and 2\n"
	"                          give the same bytes, more BLAS threads may change the last "
	"bits\n"
	"  --losses FILE           per-epoch losses, TSV step, name, value\n"
	"  --params FILE           parameters used and run figures, TSV name, value\n"
	"  -o, --output FILE       write the model to FILE (atomically) instead of stdout\n"
	"  -q, --quiet             no progress on stderr\n"
	"  -h, --help              this help\n"
	"      --version           version\n"
	"\n"
	"example:\n"
	"  ml-fetch ratings | ml-split --test test.tsv > train.tsv\n"
	"  ml-train --losses losses.tsv --params params.tsv < train.tsv > model.lfe\n"
	"  ml-eval --train train.tsv --test test.tsv < model.lfe\n";

enum {
	OPT_MODEL = 256,
	OPT_DIM,
	OPT_EPOCHS,
	OPT_MAX_EPOCHS,
	OPT_PATIENCE,
	OPT_LR,
	OPT_USER_L2,
	OPT_ITEM_L2,
	OPT_ALPHA,
	OPT_BATCH,
	OPT_VRATIO,
	OPT_RDIM,
	OPT_RSWEEPS,
	OPT_RBURN,
	OPT_RSAMPLES,
	OPT_EMA,
	OPT_ROBUST,
	OPT_IMPLICIT,
	OPT_SEED,
	OPT_THREADS,
	OPT_LOSSES,
	OPT_PARAMS,
	OPT_VERSION,
	OPT_EASE_L2,
	OPT_EASE_DIM,
	OPT_EASE_POWER,
	OPT_EASE_SPARSE,
	OPT_BLEND_W,
	OPT_IALS_DIM,
	OPT_IALS_ALPHA,
	OPT_IALS_REG,
	OPT_IALS_ITERS,
	OPT_IALS_CG,
	OPT_IALS_W
};

static const struct option longopts[] = {
	{"model", required_argument, NULL, OPT_MODEL},
	{"ease-l2", required_argument, NULL, OPT_EASE_L2},
	{"ease-dim", required_argument, NULL, OPT_EASE_DIM},
	{"ease-power", required_argument, NULL, OPT_EASE_POWER},
	{"ease-sparse", no_argument, NULL, OPT_EASE_SPARSE},
	{"blend-weight", required_argument, NULL, OPT_BLEND_W},
	{"ials-dim", required_argument, NULL, OPT_IALS_DIM},
	{"ials-alpha", required_argument, NULL, OPT_IALS_ALPHA},
	{"ials-reg", required_argument, NULL, OPT_IALS_REG},
	{"ials-iters", required_argument, NULL, OPT_IALS_ITERS},
	{"ials-cg", required_argument, NULL, OPT_IALS_CG},
	{"ials-weight", required_argument, NULL, OPT_IALS_W},
	{"dim", required_argument, NULL, OPT_DIM},
	{"epochs", required_argument, NULL, OPT_EPOCHS},
	{"max-epochs", required_argument, NULL, OPT_MAX_EPOCHS},
	{"patience", required_argument, NULL, OPT_PATIENCE},
	{"lr", required_argument, NULL, OPT_LR},
	{"user-l2", required_argument, NULL, OPT_USER_L2},
	{"item-l2", required_argument, NULL, OPT_ITEM_L2},
	{"user-weight-alpha", required_argument, NULL, OPT_ALPHA},
	{"batch-users", required_argument, NULL, OPT_BATCH},
	{"validation-ratio", required_argument, NULL, OPT_VRATIO},
	{"rating-dim", required_argument, NULL, OPT_RDIM},
	{"rating-sweeps", required_argument, NULL, OPT_RSWEEPS},
	{"rating-burn-in", required_argument, NULL, OPT_RBURN},
	{"rating-samples", required_argument, NULL, OPT_RSAMPLES},
	{"ema", required_argument, NULL, OPT_EMA},
	{"rating-robust", required_argument, NULL, OPT_ROBUST},
	{"rating-implicit", required_argument, NULL, OPT_IMPLICIT},
	{"seed", required_argument, NULL, OPT_SEED},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"losses", required_argument, NULL, OPT_LOSSES},
	{"params", required_argument, NULL, OPT_PARAMS},
	{"output", required_argument, NULL, 'o'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static train_config defaults(void)
{
	train_config c = {
		.model = MODEL_SOFTMAX,
		.ease = {.l2 = 500, .dim = 256, .oversample = 32, .power = 3, .seed = 42},
		.blend_weight = 0.2,
		.ials = {.dim = 64, .alpha = 20, .reg = 100, .iters = 8, .seed = 42},
		.ials_weight = 0.5,
		.rank = {.dim = 80,
			 .lr = 0.0183,
			 .user_l2 = 2.17,
			 .item_l2 = 14.86,
			 .alpha = 0.40,
			 .batch_users = 256,
			 .patience = 8,
			 .seed = 42},
		.epochs = 0,
		.max_epochs = 120,
		.rating = {.dim = 6,
			   .sweeps = 60,
			   .burn_in = 10,
			   .samples = 50,
			   .init_sd = 0.1,
			   .robust = 20,
			   .implicit = RMF_IMPLICIT_USERS | RMF_IMPLICIT_MOVIES,
			   .seed = 43},
		.validation_ratio = 0.9,
		.seed = 42,
		.threads = 2,
	};
	return c;
}

static int bad_value(const char *opt, const char *arg, const char *want)
{
	log_error("--%s: bad value '%s' (want %s); see --help", opt, arg, want);
	return EX_USAGE;
}

/* Parses the options into c; 0, or an exit code (-1: exit 0 after help). */
/* The blend's own default for the softmax MF's movie L2: with EASE beside it
 * a lighter one did better on validation splits carved from train (scripts/
 * tune: 0.2778 against 0.2742 val NDCG@10, flat from 6 to 10). */
#define BLEND_ITEM_L2 8.0

static int parse_args(int argc, char **argv, train_config *c, const char **out, const char **losses,
		      const char **params, int *want_auto)
{
	int opt, item_l2_given = 0, cg_given = 0;
	while ((opt = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
		int64_t i = 0;
		double x = 0;
		const char *name = "";
		for (const struct option *o = longopts; o->name; o++)
			if (o->val == opt)
				name = o->name;
		switch (opt) {
		case OPT_MODEL:
			if (strcmp(optarg, "ease-ials") == 0) {
				c->model = MODEL_BLEND;
				c->mf_off = 1;
			} else if (strcmp(optarg, "auto") == 0) {
				c->model = MODEL_BLEND;
				*want_auto = 1;
			} else if (strcmp(optarg, "softmax-mf") == 0) {
				c->model = MODEL_SOFTMAX;
			} else if (strcmp(optarg, "ease") == 0) {
				c->model = MODEL_EASE;
			} else if (strcmp(optarg, "ials") == 0) {
				c->model = MODEL_IALS;
			} else if (strcmp(optarg, "blend") == 0) {
				c->model = MODEL_BLEND;
			} else {
				log_error("--model: unknown model '%s'; want auto, blend, "
					  "ease-ials, softmax-mf, ease or ials",
					  optarg);
				return EX_USAGE;
			}
			break;
		case OPT_EASE_L2:
			if (parse_double(optarg, 1e-6, 1e9, &x) < 0)
				return bad_value(name, optarg, "a number in 1e-6..1e9");
			c->ease.l2 = x;
			break;
		case OPT_EASE_DIM:
			if (parse_i64(optarg, 1, 2000, &i) < 0)
				return bad_value(name, optarg, "an integer in 1..2000");
			c->ease.dim = (size_t)i;
			break;
		case OPT_EASE_POWER:
			if (parse_i64(optarg, 0, 50, &i) < 0)
				return bad_value(name, optarg, "an integer in 0..50");
			c->ease.power = (int)i;
			break;
		case OPT_EASE_SPARSE:
			c->ease.sparse = 1;
			break;
		case OPT_BLEND_W:
			if (parse_double(optarg, 0.001, 0.999, &x) < 0)
				return bad_value(name, optarg, "a number in 0.001..0.999");
			c->blend_weight = x;
			break;
		case OPT_IALS_W:
			if (parse_double(optarg, 0.0, 0.998, &x) < 0)
				return bad_value(name, optarg, "a number in 0..0.998");
			c->ials_weight = x;
			break;
		case OPT_IALS_DIM:
		case OPT_IALS_ITERS:
			if (parse_i64(optarg, 1, 1024, &i) < 0)
				return bad_value(name, optarg, "an integer in 1..1024");
			if (opt == OPT_IALS_DIM)
				c->ials.dim = (size_t)i;
			else
				c->ials.iters = (int)i;
			break;
		case OPT_IALS_CG:
			if (parse_i64(optarg, 0, 64, &i) < 0)
				return bad_value(name, optarg, "an integer in 0..64");
			c->ials.cg_steps = (int)i;
			cg_given = 1;
			break;
		case OPT_IALS_ALPHA:
		case OPT_IALS_REG:
			if (parse_double(optarg, opt == OPT_IALS_REG ? 1e-6 : 0.0, 1e6, &x) < 0)
				return bad_value(name, optarg, "a number in 0..1e6 (reg > 0)");
			*(opt == OPT_IALS_ALPHA ? &c->ials.alpha : &c->ials.reg) = x;
			break;
		case OPT_DIM:
			if (parse_i64(optarg, 1, LFE_MAX_DIM - 1, &i) < 0)
				return bad_value(name, optarg, "an integer in 1..4095");
			c->rank.dim = (size_t)i;
			break;
		case OPT_RDIM:
			if (parse_i64(optarg, 1, 64, &i) < 0)
				return bad_value(name, optarg, "an integer in 1..64");
			c->rating.dim = (size_t)i;
			break;
		case OPT_EPOCHS:
		case OPT_MAX_EPOCHS:
		case OPT_PATIENCE:
		case OPT_RSWEEPS:
		case OPT_RSAMPLES:
			if (parse_i64(optarg, 1, 100000, &i) < 0)
				return bad_value(name, optarg, "an integer in 1..100000");
			if (opt == OPT_EPOCHS)
				c->epochs = (int)i;
			else if (opt == OPT_MAX_EPOCHS)
				c->max_epochs = (int)i;
			else if (opt == OPT_PATIENCE)
				c->rank.patience = (int)i;
			else if (opt == OPT_RSWEEPS)
				c->rating.sweeps = (int)i;
			else
				c->rating.samples = (int)i;
			break;
		case OPT_RBURN:
			if (parse_i64(optarg, 0, 100000, &i) < 0)
				return bad_value(name, optarg, "an integer in 0..100000");
			c->rating.burn_in = (int)i;
			break;
		case OPT_BATCH:
			if (parse_i64(optarg, 1, 1 << 20, &i) < 0)
				return bad_value(name, optarg, "an integer in 1..1048576");
			c->rank.batch_users = (size_t)i;
			break;
		case OPT_LR:
			if (parse_double(optarg, 1e-9, 10.0, &x) < 0)
				return bad_value(name, optarg, "a number in 1e-9..10");
			c->rank.lr = x;
			break;
		case OPT_USER_L2:
		case OPT_ITEM_L2:
			if (parse_double(optarg, 0.0, 1e6, &x) < 0)
				return bad_value(name, optarg, "a number in 0..1e6");
			*(opt == OPT_USER_L2 ? &c->rank.user_l2 : &c->rank.item_l2) = x;
			item_l2_given |= opt == OPT_ITEM_L2;
			break;
		case OPT_ALPHA:
			if (parse_double(optarg, 0.0, 1.0, &x) < 0)
				return bad_value(name, optarg, "a number in 0..1");
			c->rank.alpha = x;
			break;
		case OPT_EMA:
			if (parse_double(optarg, 0.0, 0.9999, &x) < 0)
				return bad_value(name, optarg, "a number in 0..0.9999");
			c->rank.ema = x;
			break;
		case OPT_ROBUST:
			if (parse_double(optarg, 0.0, 1e6, &x) < 0)
				return bad_value(name, optarg, "a number in 0..1e6");
			c->rating.robust = x;
			break;
		case OPT_IMPLICIT:
			if (strcmp(optarg, "none") == 0)
				c->rating.implicit = 0;
			else if (strcmp(optarg, "users") == 0)
				c->rating.implicit = RMF_IMPLICIT_USERS;
			else if (strcmp(optarg, "movies") == 0)
				c->rating.implicit = RMF_IMPLICIT_MOVIES;
			else if (strcmp(optarg, "both") == 0)
				c->rating.implicit = RMF_IMPLICIT_USERS | RMF_IMPLICIT_MOVIES;
			else
				return bad_value(name, optarg, "none, users, movies or both");
			break;
		case OPT_VRATIO:
			if (parse_double(optarg, 0.01, 0.99, &x) < 0)
				return bad_value(name, optarg, "a number in 0.01..0.99");
			c->validation_ratio = x;
			break;
		case OPT_SEED:
			if (parse_i64(optarg, 0, INT64_MAX, &i) < 0)
				return bad_value(name, optarg, "a non-negative integer");
			c->seed = c->rank.seed = c->ease.seed = c->ials.seed = (uint64_t)i;
			c->rating.seed = (uint64_t)i + 1;
			break;
		case OPT_THREADS:
			if (parse_i64(optarg, 1, 64, &i) < 0)
				return bad_value(name, optarg, "an integer in 1..64");
			c->threads = (int)i;
			break;
		case OPT_LOSSES:
			*losses = optarg;
			break;
		case OPT_PARAMS:
			*params = optarg;
			break;
		case 'o':
			*out = optarg;
			break;
		case 'q':
			log_set_level(0);
			break;
		case 'h':
			fputs(usage, stdout);
			return -1;
		case OPT_VERSION:
			printf("ml-train lensflow %s (%s)\n", LENSFLOW_VERSION, LENSFLOW_COMMIT);
			return -1;
		default:
			fputs("usage: ml-train [options] < train.tsv > model.lfe (see --help)\n",
			      stderr);
			return EX_USAGE;
		}
	}
	c->ease.threads = c->ials.threads = c->threads;
	if (c->model == MODEL_BLEND && !item_l2_given)
		c->rank.item_l2 = BLEND_ITEM_L2;
	if (c->mf_off) { /* ease-ials: EASE's share, iALS the rest */
		c->ials_weight = 1.0 - c->blend_weight;
		c->ials.cg_steps = cg_given ? c->ials.cg_steps : 3;
	} else if (c->model == MODEL_BLEND && c->blend_weight + c->ials_weight >= 0.999) {
		log_error("--blend-weight + --ials-weight must stay below 1 (the softmax MF's "
			  "share); "
			  "see --help");
		return EX_USAGE;
	}
	if (optind < argc) {
		log_error("unexpected argument '%s'; the ratings come on stdin (see --help)",
			  argv[optind]);
		return EX_USAGE;
	}
	return 0;
}

/* Writes a small text record through atomic_out. */
typedef int (*record_fn)(FILE *f, const char *name, const dataset *d, const train_config *c,
			 const train_result *r, lf_error *err);

static int losses_rec(FILE *f, const char *name, const dataset *d, const train_config *c,
		      const train_result *r, lf_error *err)
{
	(void)d, (void)c;
	return write_losses(f, name, r, err);
}

static int write_record(const char *path, record_fn fn, const dataset *d, const train_config *c,
			const train_result *r, atomic_out *o, lf_error *err)
{
	if (atomic_out_open(o, path, err) < 0)
		return -1;
	if (fn(o->f, path, d, c, r, err) < 0) {
		atomic_out_abort(o);
		return -1;
	}
	return 0;
}

static int run(train_config *c, int want_auto, const char *out, const char *losses, const char *params,
	       lf_error *err)
{
	ratings r = {0};
	dataset d = {0};
	train_result res = {0};
	lfe model = {0};
	atomic_out ol = {0}, op = {0}, om = {0};
	int have_l = 0, have_p = 0, have_m = 0, rc = -1;
	if (ratings_read(stdin, "stdin", &r, err) < 0 || dataset_build(&r, &d, err) < 0)
		goto done;
	ratings_free(&r);
	if (want_auto) {
		auto_choose(&d, c);
		log_info("--model auto: %s", c->auto_rule);
	}
	openblas_set_num_threads(c->threads > 1 ? c->threads - 1 : 1);
	if (train_all(&d, c, &res, err) < 0 || train_to_lfe(&d, c, &res, &model, err) < 0)
		goto done;
	/* every output is complete in its temporary file before any is renamed */
	if (losses && write_record(losses, losses_rec, &d, c, &res, &ol, err) < 0)
		goto done;
	have_l = losses != NULL;
	if (params && write_record(params, write_params, &d, c, &res, &op, err) < 0)
		goto done;
	have_p = params != NULL;
	if (out) {
		if (atomic_out_open(&om, out, err) < 0)
			goto done;
		have_m = 1;
		if (lfe_write(om.f, out, &model, err) < 0)
			goto done;
	} else if (lfe_write(stdout, "stdout", &model, err) < 0 ||
		   close_stream(stdout, "stdout", err) < 0) {
		goto done;
	}
	if ((have_l && atomic_out_commit(&ol, err) < 0) || (have_l = 0) ||
	    (have_p && atomic_out_commit(&op, err) < 0) || (have_p = 0) ||
	    (have_m && atomic_out_commit(&om, err) < 0) || (have_m = 0))
		goto done;
	log_info("trained on %zu ratings (%zu users, %zu movies): %d ranking epochs, %d rating "
		 "sweeps, %.2f s",
		 d.all.n, d.n_users, d.n_items, res.rank_epochs, res.rating_epochs, res.seconds);
	rc = 0;
done:
	if (have_l)
		atomic_out_abort(&ol);
	if (have_p)
		atomic_out_abort(&op);
	if (have_m)
		atomic_out_abort(&om);
	lfe_free(&model);
	train_result_free(&res);
	dataset_free(&d);
	ratings_free(&r);
	return rc;
}

int main(int argc, char **argv)
{
	log_set_prog("ml-train");
	train_config c = defaults();
	const char *out = NULL, *losses = NULL, *params = NULL;
	int want_auto = 0;
	int code = parse_args(argc, argv, &c, &out, &losses, &params, &want_auto);
	if (code != 0)
		return code < 0 ? 0 : code;
	if (!out)
		stdout_mark();
	lf_error err = {0};
	if (run(&c, want_auto, out, losses, params, &err) < 0) {
		if (!out)
			stdout_rollback();
		log_error("%s", err.msg);
		return err.code ? err.code : EX_SOFTWARE;
	}
	return 0;
}
