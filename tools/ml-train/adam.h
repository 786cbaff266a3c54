/*
 * adam.h — the Adam optimiser (Kingma & Ba) over one float array, with the
 * update torch.optim.Adam makes (bias corrections, eps added to the
 * corrected root), so hyperparameters tuned on the Python model carry over.
 * Every step updates every element: a row without gradient in a batch still
 * moves by its decaying momentum, as a dense torch parameter does.
 *
 * Ownership: adam owns m and v; adam_free releases them.
 */
#ifndef LENSFLOW_TRAIN_ADAM_H
#define LENSFLOW_TRAIN_ADAM_H

#include <stddef.h>

typedef struct adam {
	size_t n;
	float *m, *v;
	double lr, beta1, beta2, eps;
	long t;
} adam;

/* lr as given; betas 0.9 / 0.999, eps 1e-8. -1 on allocation failure. */
int adam_init(adam *a, size_t n, double lr);
/* One step: param -= lr * mhat / (sqrt(vhat) + eps). */
void adam_step(adam *a, float *param, const float *grad);
void adam_free(adam *a);

#endif
