/*
 * train.c — see train.h. Select-then-refit as the Python package did: the
 * epoch count that maximises validation NDCG@10 (lowest validation RMSE for
 * the rating head) on a 90/10 per-user holdout of train, then a fresh fit
 * on all of train for that many epochs, so no train rating is wasted and
 * test ratings are never looked at.
 */
#include "train.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void loss_push(loss_log *l, int step, const char *name, double value)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		loss_row *rows = lf_reallocarray(l->rows, cap, sizeof *rows);
		if (!rows) {
			l->failed = 1;
			return;
		}
		l->rows = rows;
		l->cap = cap;
	}
	l->rows[l->n++] = (loss_row){step, name, value};
}

typedef struct stage_ctx {
	loss_log *log;
	const char *what;      /* "ranking" or "rating" */
	const char *loss_name; /* in the losses file */
	const char *val_name;  /* in the losses file; NULL without validation */
	const char *val_label; /* in the progress line */
	int open_ended;	       /* the epoch count is not known yet */
	const char *unit;      /* "epoch", or "sweep" for the sampler */
} stage_ctx;

static void on_epoch(void *ctx, const char *stage, int epoch, int epochs, double loss, double val,
		     double seconds)
{
	stage_ctx *s = ctx;
	loss_push(s->log, epoch, s->loss_name, loss);
	if (isnan(val) && s->open_ended) {
		log_info("%s %s %s %d loss %.4f (%.2f s)", s->what, stage, s->unit, epoch, loss,
			 seconds);
		return;
	}
	if (isnan(val)) {
		log_info("%s %s %s %d/%d loss %.4f (%.2f s)", s->what, stage, s->unit, epoch,
			 epochs, loss, seconds);
		return;
	}
	loss_push(s->log, epoch, s->val_name, val);
	log_info("%s %s %s %d/%d loss %.4f %s %.4f (%.2f s)", s->what, stage, s->unit, epoch,
		 epochs, loss, s->val_label, val, seconds);
}

typedef struct job {
	const dataset *d;
	const train_config *c;
	const csr *fit, *val;
	train_result *out;
	lf_error err;
	int rc;
} job;

/*
 * With threads >= 2 the refit on all of train runs beside the selection,
 * one epoch behind it: after each of its epochs it waits for the
 * selection's verdict on that epoch, keeps a copy of its weights when that
 * epoch is the best so far, and stops once the selection has stopped and
 * the chosen epoch is behind it. Its arithmetic never depends on the
 * timing, so the model is the very one a refit started afterwards gives.
 */
typedef struct lockstep {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int validated; /* the last epoch the selection has judged */
	int best;      /* the best epoch so far */
	int done;      /* the selection has finished */
	int failed;    /* ... with an error */
	float *P, *Q;  /* the refit's weights at the best epoch */
	size_t nP, nQ;
} lockstep;

static int select_after(void *ctx, int epoch, const smf_model *m, int best)
{
	lockstep *ls = ctx;
	(void)m;
	pthread_mutex_lock(&ls->mu);
	ls->validated = epoch;
	ls->best = best;
	pthread_cond_broadcast(&ls->cv);
	pthread_mutex_unlock(&ls->mu);
	return 0;
}

static int refit_after(void *ctx, int epoch, const smf_model *m, int best)
{
	lockstep *ls = ctx;
	int stop = 0;
	(void)best;
	pthread_mutex_lock(&ls->mu);
	while (ls->validated < epoch && !ls->done)
		pthread_cond_wait(&ls->cv, &ls->mu);
	if (ls->failed) {
		stop = 1;
	} else {
		if (ls->validated >= epoch && ls->best == epoch) {
			memcpy(ls->P, m->P, ls->nP * sizeof(float));
			memcpy(ls->Q, m->Q, ls->nQ * sizeof(float));
		}
		stop = ls->done && epoch >= ls->best;
	}
	pthread_mutex_unlock(&ls->mu);
	return stop;
}

typedef struct refit_job {
	const job *j;
	lockstep *ls;
	smf_run run;
	lf_error err;
	int rc;
} refit_job;

static void *refit_thread(void *arg)
{
	refit_job *f = arg;
	f->rc = smf_train(&f->j->d->all, f->j->d->n_items, &f->j->c->rank, &f->run,
			  &f->j->out->rank, &f->err);
	return NULL;
}

/* Selection and refit side by side (see lockstep). */
static int rank_parallel(job *j, smf_run *sel_run)
{
	const train_config *c = j->c;
	train_result *r = j->out;
	size_t wd = c->rank.dim + 1;
	lockstep ls = {.nP = j->d->n_users * wd, .nQ = j->d->n_items * wd};
	stage_ctx fit = {&r->refit_losses, "ranking", "ranking_loss", NULL, NULL, 1, "epoch"};
	refit_job f = {.j = j, .ls = &ls};
	f.run = (smf_run){.max_epochs = c->max_epochs,
			  .stage = "refit",
			  .cb = on_epoch,
			  .ctx = &fit,
			  .after = refit_after,
			  .actx = &ls};
	ls.P = lf_calloc(ls.nP, sizeof(float));
	ls.Q = lf_calloc(ls.nQ, sizeof(float));
	pthread_t th;
	if (!ls.P || !ls.Q || pthread_mutex_init(&ls.mu, NULL) != 0) {
		free(ls.P);
		free(ls.Q);
		return lf_fail(&j->err, EX_OSERR, "out of memory for the refit");
	}
	pthread_cond_init(&ls.cv, NULL);
	int started = pthread_create(&th, NULL, refit_thread, &f) == 0;
	smf_model tmp;
	sel_run->after = started ? select_after : NULL;
	sel_run->actx = &ls;
	int rc = smf_train(j->fit, j->d->n_items, &c->rank, sel_run, &tmp, &j->err);
	sel_run->after = NULL; /* ls lives on this stack only */
	sel_run->actx = NULL;
	if (rc == 0)
		smf_free(&tmp);
	pthread_mutex_lock(&ls.mu);
	ls.done = 1;
	ls.failed = rc < 0;
	ls.best = sel_run->chosen;
	pthread_cond_broadcast(&ls.cv);
	pthread_mutex_unlock(&ls.mu);
	if (started)
		pthread_join(th, NULL);
	if (rc == 0 && started && f.rc < 0) {
		j->err = f.err;
		rc = -1;
	}
	if (rc == 0 && !started) { /* no thread: refit afterwards */
		fit.open_ended = 0;
		f.run = (smf_run){.max_epochs = sel_run->chosen,
				  .stage = "refit",
				  .cb = on_epoch,
				  .ctx = &fit};
		rc = smf_train(&j->d->all, j->d->n_items, &c->rank, &f.run, &r->rank, &j->err);
	} else if (rc == 0) {
		memcpy(r->rank.P, ls.P, ls.nP * sizeof(float));
		memcpy(r->rank.Q, ls.Q, ls.nQ * sizeof(float));
	}
	pthread_cond_destroy(&ls.cv);
	pthread_mutex_destroy(&ls.mu);
	free(ls.P);
	free(ls.Q);
	return rc;
}

static int rank_job(job *j)
{
	const train_config *c = j->c;
	train_result *r = j->out;
	smf_run run = {.stage = "select", .cb = on_epoch};
	stage_ctx sel = {&r->rank_losses,  "ranking",	  "select_ranking_loss",
			 "val_ndcg_at_10", "val_ndcg@10", 0,
			 "epoch"};
	stage_ctx fit = {&r->refit_losses, "ranking", "ranking_loss", NULL, NULL, 0, "epoch"};
	r->val_ndcg = NAN;
	int fixed = c->epochs;
	if (fixed == 0 && j->val->n == 0) {
		/* every user has too few ratings to hold one out */
		log_info("no rating can be held out for validation; training %d epochs",
			 c->max_epochs);
		fixed = c->max_epochs;
	}
	if (fixed > 0) {
		r->rank_epochs = fixed;
		run = (smf_run){.max_epochs = fixed, .stage = "fit", .cb = on_epoch, .ctx = &fit};
		return smf_train(&j->d->all, j->d->n_items, &c->rank, &run, &r->rank, &j->err);
	}
	run.max_epochs = c->max_epochs;
	run.val = j->val;
	run.ctx = &sel;
	if (c->threads >= 2) {
		if (rank_parallel(j, &run) < 0)
			return -1;
	} else {
		smf_model tmp;
		if (smf_train(j->fit, j->d->n_items, &c->rank, &run, &tmp, &j->err) < 0)
			return -1;
		smf_free(&tmp);
		smf_run refit = {
			.max_epochs = run.chosen, .stage = "refit", .cb = on_epoch, .ctx = &fit};
		if (smf_train(&j->d->all, j->d->n_items, &c->rank, &refit, &r->rank, &j->err) < 0)
			return -1;
	}
	r->rank_epochs = run.chosen;
	r->val_ndcg = run.best_val;
	return 0;
}

static int rating_job(job *j)
{
	train_result *r = j->out;
	stage_ctx fit = {&r->rating_losses, "rating", "rating_train_rmse", NULL, NULL, 0, "sweep"};
	r->rating_epochs = j->c->rating.sweeps;
	return rmf_train(&j->d->all, j->d->n_items, &j->c->rating, on_epoch, &fit, &r->rating,
			 &j->err);
}

static void *rating_thread(void *arg)
{
	job *j = arg;
	j->rc = rating_job(j);
	return NULL;
}

static int ease_job(job *j)
{
	double t0 = now_seconds();
	int rc = ease_fit(&j->d->all, j->d->n_items, &j->c->ease, &j->out->ease, &j->err);
	j->out->ease_seconds = now_seconds() - t0;
	if (rc == 0)
		log_info("ranking ease: %zu eigenpairs, l2 %g (%.2f s)", j->out->ease.dim,
			 j->c->ease.l2, j->out->ease_seconds);
	return rc;
}

static int ials_job(job *j)
{
	double t0 = now_seconds();
	int rc = ials_fit(&j->d->all, j->d->n_items, &j->c->ials, &j->out->ials, &j->err);
	j->out->ials_seconds = now_seconds() - t0;
	if (rc == 0)
		log_info("ranking ials: dim %zu, %d sweeps, alpha %g, reg %g (%.2f s)",
			 j->c->ials.dim, j->c->ials.iters, j->c->ials.alpha, j->c->ials.reg,
			 j->out->ials_seconds);
	return rc;
}

/* The closed forms (EASE, iALS) one after the other. */
static int side_job(job *j)
{
	const train_config *c = j->c;
	int blend = c->model == MODEL_BLEND;
	if ((blend || c->model == MODEL_EASE) && ease_job(j) < 0)
		return -1;
	if (((blend && c->ials_weight > 0) || c->model == MODEL_IALS) && ials_job(j) < 0)
		return -1;
	return 0;
}

static void *ease_thread(void *arg)
{
	job *j = arg;
	j->rc = side_job(j);
	return NULL;
}

int train_all(const dataset *d, const train_config *c, train_result *out, lf_error *err)
{
	memset(out, 0, sizeof *out);
	out->val_ndcg = NAN;
	double t0 = now_seconds();
	csr fit = {0}, val = {0};
	int use_smf = uses_mf(c);
	int use_ease = c->model != MODEL_SOFTMAX; /* EASE and/or iALS: side_job */
	if (use_smf && c->epochs == 0 &&
	    holdout_split(&d->all, c->validation_ratio, c->seed, &fit, &val, err) < 0)
		return -1;
	job rank = {d, c, &fit, &val, out, {0}, 0};
	job rating = rank, ease = rank;
	pthread_t th, th_e;
	int threaded = c->threads >= 2 && pthread_create(&th, NULL, rating_thread, &rating) == 0;
	int threaded_e =
		use_ease && c->threads >= 2 && pthread_create(&th_e, NULL, ease_thread, &ease) == 0;
	if (use_smf)
		rank.rc = rank_job(&rank);
	if (use_ease && !threaded_e && rank.rc == 0)
		ease.rc = side_job(&ease);
	if (threaded)
		pthread_join(th, NULL);
	else if (rank.rc == 0 && ease.rc == 0)
		rating.rc = rating_job(&rating);
	if (threaded_e)
		pthread_join(th_e, NULL);
	csr_free(&fit);
	csr_free(&val);
	out->seconds = now_seconds() - t0;
	if (rank.rc < 0 || rating.rc < 0 || ease.rc < 0) {
		*err = rank.rc < 0 ? rank.err : ease.rc < 0 ? ease.err : rating.err;
		train_result_free(out);
		return -1;
	}
	if (out->rank_losses.failed || out->refit_losses.failed || out->rating_losses.failed) {
		train_result_free(out);
		return lf_fail(err, EX_OSERR, "out of memory for the loss log");
	}
	return 0;
}

void train_result_free(train_result *r)
{
	smf_free(&r->rank);
	ease_free(&r->ease);
	ials_free(&r->ials);
	rmf_free(&r->rating);
	free(r->rank_losses.rows);
	free(r->refit_losses.rows);
	free(r->rating_losses.rows);
	memset(r, 0, sizeof *r);
}
