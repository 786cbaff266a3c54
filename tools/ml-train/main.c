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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compact.h"
#include "lfe.h"
#include "log.h"
#include "opts.h"
#include "train.h"
#include "tsv.h"
#include "util.h"

/* The blend's own default for the softmax MF's movie L2: with EASE beside it
 * a lighter one did better on validation splits carved from train (scripts/
 * tune: 0.2778 against 0.2742 val NDCG@10, flat from 6 to 10). */
#define BLEND_ITEM_L2 8.0

static train_config cfg = {
	.model = MODEL_BLEND,
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

/* --model's names beyond the model kinds: the blend without the softmax MF,
 * and the model chosen for the data's size. */
enum { MODEL_NAME_EASE_IALS = 100, MODEL_NAME_AUTO };

static struct {
	int model, item_l2_given, cg_given, verbosity;
	int64_t seed;
	const char *out, *losses, *params;
} args = {.model = MODEL_BLEND, .verbosity = 1, .seed = 42};

static const opts_choice models[] = {{"auto", MODEL_NAME_AUTO},
				     {"blend", MODEL_BLEND},
				     {"ease-ials", MODEL_NAME_EASE_IALS},
				     {"softmax-mf", MODEL_SOFTMAX},
				     {"ease", MODEL_EASE},
				     {"ials", MODEL_IALS},
				     {NULL, 0}};
static const opts_choice implicits[] = {
	{"none", 0},
	{"users", RMF_IMPLICIT_USERS},
	{"movies", RMF_IMPLICIT_MOVIES},
	{"both", RMF_IMPLICIT_USERS | RMF_IMPLICIT_MOVIES},
	{NULL, 0}};

static const opts_opt options[] = {
	OPTS_CHOICE(0, "model", &args.model, models, "NAME",
		    "blend (default), softmax-mf, ease, ials, ease-ials (the\n"
		    "blend without the softmax MF: --blend-weight for EASE,\n"
		    "iALS the rest, iALS by 3 CG steps unless --ials-cg) or\n"
		    "auto (the model for the data's size: the blend up to 2M\n"
		    "ratings, ease-ials beyond; recorded as the params'\n"
		    "model_auto)"),
	OPTS_DOUBLE(0, "ease-l2", &cfg.ease.l2, 1e-6, 1e9, "X",
		    "EASE's L2 on the Gram diagonal (default 500)"),
	OPTS_SIZE(0, "ease-dim", &cfg.ease.dim, 1, 2000, "N",
		  "EASE eigenpairs kept, capped at the user count (default 256)"),
	OPTS_INT(0, "ease-power", &cfg.ease.power, 0, 50, "N",
		 "subspace iterations for them (default 3)"),
	OPTS_SET(0, "ease-sparse", &cfg.ease.sparse, 1,
		 "the sparse path (iterations on X^T X through products with\n"
		 "the sparse ratings) even where the dense one fits; taken\n"
		 "by itself past 46,340 users or 2^26 user-movie cells"),
	OPTS_SIZE(0, "ials-dim", &cfg.ials.dim, 1, 1024, "N", "iALS factors (default 64)"),
	OPTS_DOUBLE(0, "ials-alpha", &cfg.ials.alpha, 0.0, 1e6, "X",
		    "iALS confidence of a rated pair, 1 + X (default 20)"),
	OPTS_DOUBLE(0, "ials-reg", &cfg.ials.reg, 1e-6, 1e6, "X", "iALS L2 (default 100)"),
	OPTS_INT(0, "ials-iters", &cfg.ials.iters, 1, 1024, "N",
		 "iALS alternating sweeps (default 8)"),
	{.type = OPTS_T_INT, .long_name = "ials-cg", .value = &cfg.ials.cg_steps, .imin = 0,
	 .imax = 64, .argh = "N", .seen = &args.cg_given,
	 .help = "N conjugate-gradient steps per row, warm-started, instead\n"
		 "of an exact Cholesky solve; 0: exact (default 0)"},
	OPTS_DOUBLE(0, "blend-weight", &cfg.blend_weight, 0.001, 0.999, "X",
		    "EASE's share of the blend (default 0.2)"),
	OPTS_DOUBLE(0, "ials-weight", &cfg.ials_weight, 0.0, 0.998, "X",
		    "iALS's share of the blend, 0: none (default 0.5); the\n"
		    "softmax MF gets the rest, which must stay above 0"),
	OPTS_SIZE(0, "dim", &cfg.rank.dim, 1, LFE_MAX_DIM - 1, "N",
		  "factor size (default 80; stored vectors have N+1)"),
	OPTS_INT(0, "epochs", &cfg.epochs, 1, 100000, "N",
		 "train exactly N epochs, no validation (default: early stopping)"),
	OPTS_INT(0, "max-epochs", &cfg.max_epochs, 1, 100000, "N",
		 "upper bound with early stopping (default 120)"),
	OPTS_INT(0, "patience", &cfg.rank.patience, 1, 100000, "N",
		 "validation epochs without gain before stopping (default 8)"),
	OPTS_DOUBLE(0, "lr", &cfg.rank.lr, 1e-9, 10.0, "X", "Adam learning rate (default 0.0183)"),
	OPTS_DOUBLE(0, "user-l2", &cfg.rank.user_l2, 0.0, 1e6, "X",
		    "L2 weight on each user vector (default 2.17)"),
	{.type = OPTS_T_DOUBLE, .long_name = "item-l2", .value = &cfg.rank.item_l2, .dmin = 0.0,
	 .dmax = 1e6, .argh = "X", .seen = &args.item_l2_given,
	 .help = "L2 weight on movie vectors and biases (default 14.86;\n"
		 "8 in the blend, chosen on validation splits of train)"},
	OPTS_DOUBLE(0, "user-weight-alpha", &cfg.rank.alpha, 0.0, 1.0, "X",
		    "user weight n_u^-alpha, mean 1 (default 0.40)"),
	OPTS_SIZE(0, "batch-users", &cfg.rank.batch_users, 1, 1 << 20, "N",
		  "users per step (default 256)"),
	OPTS_DOUBLE(0, "validation-ratio", &cfg.validation_ratio, 0.01, 0.99, "X",
		    "share of each user's ratings kept for fitting (default 0.9)"),
	OPTS_DOUBLE(0, "ema", &cfg.rank.ema, 0.0, 0.9999, "X",
		    "keep a moving average of the weights, avg = X avg + (1-X) w,\n"
		    "as the model (default 0: off)"),
	OPTS_SIZE(0, "rating-dim", &cfg.rating.dim, 1, 64, "N",
		  "rating head factors per sample, 1..64 (default 6)"),
	OPTS_SIZE(0, "serve-dim", &cfg.serve_dim, 0, LFE_MAX_DIM - 1, "N",
		  "write users and items at N dimensions: the best rank-N\n"
		  "approximation of the model's user x movie scores, with the\n"
		  "full-width movies (fold_items) and the map of a full-width\n"
		  "user into it (serve_map) for new users (0: full width, the default)"),
	OPTS_INT(0, "rating-sweeps", &cfg.rating.sweeps, 1, 100000, "N",
		 "rating head Gibbs sweeps (default 60)"),
	OPTS_INT(0, "rating-burn-in", &cfg.rating.burn_in, 0, 100000, "N",
		 "at least N sweeps before the first kept sample; the samples\n"
		 "end at the last sweep (default 10)"),
	OPTS_INT(0, "rating-samples", &cfg.rating.samples, 1, 100000, "N",
		 "samples averaged, stored side by side (default 50)"),
	OPTS_CHOICE(0, "rating-implicit", &cfg.rating.implicit, implicits, "WHO",
		    "implicit part (SVD++'s and its mirror): users (a user's\n"
		    "factors + |N(u)|^-1/2 sum z_j over the movies rated in train),\n"
		    "movies (the same over the users who rated the movie), both\n"
		    "or none (default both)"),
	OPTS_DOUBLE(0, "rating-robust", &cfg.rating.robust, 0.0, 1e6, "NU",
		    "per-user and per-movie noise scales ~ Gamma(NU/2, NU/2);\n"
		    "0: one noise level for all (default 20)"),
	OPTS_I64(0, "seed", &args.seed, 0, INT64_MAX, "N",
		 "random seed (default 42): same seed, same bytes"),
	OPTS_INT(0, "threads", &cfg.threads, 1, 64, "N",
		 "1: one thread; N >= 2: the rating head and the ranking refit\n"
		 "on threads of their own, N-1 BLAS threads (default 2); 1 and 2\n"
		 "give the same bytes, more BLAS threads may change the last bits"),
	OPTS_STRING(0, "losses", &args.losses, "FILE", "per-epoch losses, TSV step, name, value"),
	OPTS_STRING(0, "params", &args.params, "FILE",
		    "parameters used and run figures, TSV name, value"),
	OPTS_STRING('o', "output", &args.out, "FILE",
		    "write the model to FILE (atomically) instead of stdout"),
	OPTS_SET('q', "quiet", &args.verbosity, 0, "no progress on stderr"),
	OPTS_END,
};

static const opts_cmd cmd = {
	.prog = "ml-train",
	.usage = "usage: ml-train [options] < train.tsv > model.lfe\n"
		 "Trains user and movie embeddings whose dot product ranks movies, and a rating\n"
		 "head (Bayesian biased MF) on ratings TSV (user, movie, rating, timestamp).\n"
		 "Ranking models: blend (the default, the pipeline's: EASE, iALS and the softmax\n"
		 "MF, each score divided by its spread, vectors side by side: the best ranking;\n"
		 "see docs/architecture.md for its fold-in), softmax-mf (full-softmax matrix\n"
		 "factorisation; its epoch count is chosen on a 90/10 per-user holdout of the\n"
		 "input, then the model is refitted on all of it), ease (EASE's closed form, as\n"
		 "low-rank vectors) and ials.\n",
	.opts = options,
	.args_hint = "the ratings come on stdin",
	.footer = "exit: 0 ok, 64 usage, 65 bad input, 71 out of memory, 73/74 output\n"
		  "\n"
		  "example:\n"
		  "  ml-fetch ratings | ml-split --test test.tsv > train.tsv\n"
		  "  ml-train --losses losses.tsv --params params.tsv < train.tsv > model.lfe\n"
		  "  ml-eval --train train.tsv --test test.tsv < model.lfe\n",
};

/* What the table cannot say: the model's own defaults, the seed of every
 * part, the blend's shares. */
static int finish_args(void)
{
	cfg.mf_off = args.model == MODEL_NAME_EASE_IALS;
	cfg.model = args.model >= MODEL_NAME_EASE_IALS ? MODEL_BLEND : (model_kind)args.model;
	cfg.ease.threads = cfg.ials.threads = cfg.threads;
	if (cfg.model == MODEL_BLEND && !args.item_l2_given)
		cfg.rank.item_l2 = BLEND_ITEM_L2;
	if (cfg.mf_off) { /* ease-ials: EASE's share, iALS the rest */
		cfg.ials_weight = 1.0 - cfg.blend_weight;
		cfg.ials.cg_steps = args.cg_given ? cfg.ials.cg_steps : 3;
	} else if (cfg.model == MODEL_BLEND && cfg.blend_weight + cfg.ials_weight >= 0.999) {
		return opts_error(&cmd, "--blend-weight + --ials-weight must stay below 1 (the "
					"softmax MF's share)");
	}
	cfg.seed = cfg.rank.seed = cfg.ease.seed = cfg.ials.seed = (uint64_t)args.seed;
	cfg.rating.seed = (uint64_t)args.seed + 1;
	log_set_level(args.verbosity);
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

static int run(train_config *c, int want_auto, const char *out, const char *losses,
	       const char *params, lf_error *err)
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
	if (train_all(&d, c, &res, err) < 0 || train_to_lfe(&d, c, &res, &model, err) < 0 ||
	    (c->serve_dim && compact_model(&model, c->serve_dim, err) < 0))
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
	int argi, rc;
	log_set_prog(cmd.prog);
	if ((rc = opts_parse(&cmd, argc, argv, &argi)) != OPTS_CONTINUE || (rc = finish_args()))
		return rc;
	if (!args.out)
		stdout_mark();
	lf_error err = {0};
	if (run(&cfg, args.model == MODEL_NAME_AUTO, args.out, args.losses, args.params, &err) < 0) {
		if (!args.out)
			stdout_rollback();
		log_error("%s", err.msg);
		return err.code ? err.code : EX_SOFTWARE;
	}
	return 0;
}
