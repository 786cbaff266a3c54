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
} stage_ctx;

static void on_epoch(void *ctx, const char *stage, int epoch, int epochs, double loss, double val,
		     double seconds)
{
	stage_ctx *s = ctx;
	loss_push(s->log, epoch, s->loss_name, loss);
	if (isnan(val)) {
		log_info("%s %s epoch %d/%d loss %.4f (%.2f s)", s->what, stage, epoch, epochs, loss,
			 seconds);
		return;
	}
	loss_push(s->log, epoch, s->val_name, val);
	log_info("%s %s epoch %d/%d loss %.4f %s %.4f (%.2f s)", s->what, stage, epoch, epochs, loss,
		 s->val_label, val, seconds);
}

typedef struct job {
	const dataset *d;
	const train_config *c;
	const csr *fit, *val;
	train_result *out;
	lf_error err;
	int rc;
} job;

static int rank_job(job *j)
{
	const train_config *c = j->c;
	train_result *r = j->out;
	smf_run run = {.stage = "select", .cb = on_epoch};
	stage_ctx sel = {&r->rank_losses, "ranking", "select_ranking_loss", "val_ndcg_at_10",
			 "val_ndcg@10"};
	stage_ctx fit = {&r->rank_losses, "ranking", "ranking_loss", NULL, NULL};
	r->val_ndcg = NAN;
	if (c->epochs > 0) {
		r->rank_epochs = c->epochs;
	} else {
		run.max_epochs = c->max_epochs;
		run.val = j->val;
		run.ctx = &sel;
		smf_model tmp;
		if (smf_train(j->fit, j->d->n_items, &c->rank, &run, &tmp, &j->err) < 0)
			return -1;
		smf_free(&tmp);
		r->rank_epochs = run.chosen;
		r->val_ndcg = run.best_val;
	}
	run = (smf_run){.max_epochs = r->rank_epochs, .stage = c->epochs > 0 ? "fit" : "refit",
			.cb = on_epoch, .ctx = &fit};
	return smf_train(&j->d->all, j->d->n_items, &c->rank, &run, &r->rank, &j->err);
}

static int rating_job(job *j)
{
	train_result *r = j->out;
	stage_ctx fit = {&r->rating_losses, "rating", "rating_train_rmse", NULL, NULL};
	r->val_rmse = NAN;
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

int train_all(const dataset *d, const train_config *c, train_result *out, lf_error *err)
{
	memset(out, 0, sizeof *out);
	double t0 = now_seconds();
	csr fit = {0}, val = {0};
	if (c->epochs == 0 &&
	    holdout_split(&d->all, c->validation_ratio, c->seed, &fit, &val, err) < 0)
		return -1;
	job rank = {d, c, &fit, &val, out, {0}, 0};
	job rating = rank;
	pthread_t th;
	int threaded = c->threads >= 2 && pthread_create(&th, NULL, rating_thread, &rating) == 0;
	rank.rc = rank_job(&rank);
	if (threaded)
		pthread_join(th, NULL);
	else if (rank.rc == 0)
		rating.rc = rating_job(&rating);
	csr_free(&fit);
	csr_free(&val);
	out->seconds = now_seconds() - t0;
	if (rank.rc < 0 || rating.rc < 0) {
		*err = rank.rc < 0 ? rank.err : rating.err;
		train_result_free(out);
		return -1;
	}
	if (out->rank_losses.failed || out->rating_losses.failed) {
		train_result_free(out);
		return lf_fail(err, EX_SOFTWARE, "out of memory for the loss log");
	}
	return 0;
}

void train_result_free(train_result *r)
{
	smf_free(&r->rank);
	rmf_free(&r->rating);
	free(r->rank_losses.rows);
	free(r->rating_losses.rows);
	memset(r, 0, sizeof *r);
}
