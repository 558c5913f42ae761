#ifndef ZOOM2S3_LOCKINIT_H
#define ZOOM2S3_LOCKINIT_H

#include <pthread.h>
#include <stddef.h>

/* A mutex and, when cv is not NULL, its condition variable, with default
 * attributes. 0, or -1 with neither left initialized: a caller that gets
 * -1 has nothing to destroy. */
static inline int lock_init(pthread_mutex_t *mu, pthread_cond_t *cv)
{
	if (pthread_mutex_init(mu, NULL) != 0)
		return -1;
	if (cv && pthread_cond_init(cv, NULL) != 0) {
		pthread_mutex_destroy(mu);
		return -1;
	}
	return 0;
}

#endif
