/*
 * live.c — see live.h.
 */
#include "live.h"

#include <pthread.h>
#include <math.h>
#include <stdatomic.h>

#include "store_online.h"

static struct {
	_Atomic uint64_t feedback[FEEDBACK_COUNT];
	_Atomic uint64_t answers[ARM_COUNT];
	_Atomic uint64_t dropped, written;
	_Atomic int challenger;
	_Atomic uint64_t share_ppm;
	_Atomic uint64_t users[2]; /* unknown, known */
} L;

static pthread_mutex_t online_lock = PTHREAD_MUTEX_INITIALIZER;
static struct drift_row drift; /* under online_lock */
static int drift_set;
static struct online_arm online[ARM_COUNT];
static double online_window_s;
static int online_set;

void prom_feedback(enum feedback_outcome o, size_t n)
{
	atomic_fetch_add_explicit(&L.feedback[o], n, memory_order_relaxed);
}

void prom_impression(enum arm a, int queued)
{
	atomic_fetch_add_explicit(&L.answers[a], 1, memory_order_relaxed);
	if (!queued)
		atomic_fetch_add_explicit(&L.dropped, 1, memory_order_relaxed);
}

void prom_impressions_written(size_t n)
{
	atomic_fetch_add_explicit(&L.written, n, memory_order_relaxed);
}

void prom_impressions_lost(size_t n)
{
	atomic_fetch_add_explicit(&L.dropped, n, memory_order_relaxed);
}

void prom_set_arms(int challenger, double share)
{
	atomic_store(&L.challenger, challenger);
	atomic_store(&L.share_ppm, (uint64_t)(share * 1e6 + 0.5));
}

void prom_user_request(int known)
{
	atomic_fetch_add_explicit(&L.users[known != 0], 1, memory_order_relaxed);
}

void prom_set_drift(const struct drift_row *d)
{
	pthread_mutex_lock(&online_lock);
	drift = *d;
	drift_set = 1;
	pthread_mutex_unlock(&online_lock);
}

/* A gauge value: NaN spelt as the exposition format spells it. */
static void put_value(struct buf *b, double v)
{
	if (isnan(v))
		buf_puts(b, "NaN");
	else
		buf_printf(b, "%.9g", v);
}

void prom_set_online(const struct online_arm arms[ARM_COUNT], double window_s)
{
	pthread_mutex_lock(&online_lock);
	for (int a = 0; a < ARM_COUNT; a++)
		online[a] = arms[a];
	online_window_s = window_s;
	online_set = 1;
	pthread_mutex_unlock(&online_lock);
}

static void head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void live_render(struct buf *b)
{
	head(b, "lensflow_feedback_events_total", "counter",
	     "Feedback events committed (accepted) or found already stored (duplicate).");
	buf_printf(b, "lensflow_feedback_events_total{outcome=\"accepted\"} %llu\n",
		   (unsigned long long)atomic_load(&L.feedback[FEEDBACK_ACCEPTED]));
	buf_printf(b, "lensflow_feedback_events_total{outcome=\"duplicate\"} %llu\n",
		   (unsigned long long)atomic_load(&L.feedback[FEEDBACK_DUPLICATE]));
	head(b, "lensflow_feedback_rejected_requests_total", "counter",
	     "POST /feedback requests refused for their content (nothing of them stored).");
	buf_printf(b, "lensflow_feedback_rejected_requests_total %llu\n",
		   (unsigned long long)atomic_load(&L.feedback[FEEDBACK_REJECTED]));
	head(b, "lensflow_impressions_total", "counter",
	     "Ranked answers given (each one impression), by arm.");
	for (int a = 0; a < ARM_COUNT; a++)
		buf_printf(b, "lensflow_impressions_total{arm=\"%s\"} %llu\n", arm_name((enum arm)a),
			   (unsigned long long)atomic_load(&L.answers[a]));
	head(b, "lensflow_impressions_written_total", "counter",
	     "Impressions written to the impressions table.");
	buf_printf(b, "lensflow_impressions_written_total %llu\n",
		   (unsigned long long)atomic_load(&L.written));
	head(b, "lensflow_impressions_dropped_total", "counter",
	     "Impressions not recorded: the queue was full, or their batch could not be written.");
	buf_printf(b, "lensflow_impressions_dropped_total %llu\n",
		   (unsigned long long)atomic_load(&L.dropped));
	head(b, "lensflow_serving_challenger_version", "gauge",
	     "Version served to the challenger's share of users (0 when none).");
	buf_printf(b, "lensflow_serving_challenger_version %d\n", atomic_load(&L.challenger));
	head(b, "lensflow_challenger_share", "gauge",
	     "Share of users answered by the challenger (0 when none).");
	buf_printf(b, "lensflow_challenger_share %.6f\n",
		   atomic_load(&L.challenger) ? (double)atomic_load(&L.share_ppm) / 1e6 : 0.0);

	head(b, "lensflow_user_requests_total", "counter",
	     "GET /recommendations/{user_id} requests, by whether a served set knows the user.");
	buf_printf(b, "lensflow_user_requests_total{known=\"false\"} %llu\n",
		   (unsigned long long)atomic_load(&L.users[0]));
	buf_printf(b, "lensflow_user_requests_total{known=\"true\"} %llu\n",
		   (unsigned long long)atomic_load(&L.users[1]));

	pthread_mutex_lock(&online_lock);
	if (drift_set) {
		head(b, "lensflow_drift_feedback_events", "gauge",
		     "Feedback events rated in the online window.");
		buf_printf(b, "lensflow_drift_feedback_events %lld\n", (long long)drift.events);
		head(b, "lensflow_drift_feedback_mean_rating", "gauge",
		     "Mean rating of the window's feedback (NaN when there is none).");
		buf_puts(b, "lensflow_drift_feedback_mean_rating ");
		put_value(b, drift.feedback_mean);
		buf_puts(b, "\n");
		head(b, "lensflow_drift_training_mean_rating", "gauge",
		     "Mean rating of the catalogue's ratings, the training set's source.");
		buf_puts(b, "lensflow_drift_training_mean_rating ");
		put_value(b, drift.training_mean);
		buf_puts(b, "\n");
		head(b, "lensflow_drift_popularity_psi", "gauge",
		     "Population stability index of movie popularity: the window's feedback against "
		     "the catalogue's ratings (0 when there is no feedback).");
		buf_puts(b, "lensflow_drift_popularity_psi ");
		put_value(b, drift.psi);
		buf_puts(b, "\n");
	}
	if (online_set) {
		head(b, "lensflow_online_impressions", "gauge",
		     "Ranked answers given in the online evaluation's window, by arm.");
		for (int a = 0; a < ARM_COUNT; a++)
			buf_printf(b, "lensflow_online_impressions{arm=\"%s\"} %lld\n",
				   arm_name((enum arm)a), (long long)online[a].impressions);
		head(b, "lensflow_online_hit_rate", "gauge",
		     "Share of the window's answers with a movie the user then rated (hit rate@k).");
		for (int a = 0; a < ARM_COUNT; a++)
			if (online[a].impressions > 0)
				buf_printf(b, "lensflow_online_hit_rate{arm=\"%s\"} %.9g\n",
					   arm_name((enum arm)a),
					   (double)online[a].hits / (double)online[a].impressions);
		head(b, "lensflow_online_window_seconds", "gauge",
		     "Length of the online evaluation's window.");
		buf_printf(b, "lensflow_online_window_seconds %g\n", online_window_s);
	}
	pthread_mutex_unlock(&online_lock);
}
