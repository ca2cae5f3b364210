/*
 * Engine-wide settings: the worker count used by parallel operations.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_ENGINE_H
#define TIDE_ENGINE_H

#include "tide/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of worker threads parallel operations use. Default: TIDE_THREADS
 * from the environment, else the number of CPUs this process may run on.
 * tide_set_threads(0) restores the default; values above 1024 are
 * TIDE_ERR_RANGE. */
tide_status tide_set_threads(int nthreads, tide_error *err);
int tide_get_threads(void);

#ifdef __cplusplus
}
#endif
#endif /* TIDE_ENGINE_H */
