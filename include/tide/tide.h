/*
 * tide: a C11 engine for static and ticking tables. Umbrella header.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_TIDE_H
#define TIDE_TIDE_H

#define TIDE_VERSION_MAJOR 0
#define TIDE_VERSION_MINOR 1
#define TIDE_VERSION_PATCH 0
#define TIDE_VERSION_STRING "0.1.0"

#include "tide/core.h"
#include "tide/rowset.h"
#include "tide/table.h"
#include "tide/ops.h"
#include "tide/io.h"
#include "tide/engine.h"
#include "tide/graph.h"
#include "tide/ticking.h"
#include "tide/tabletypes.h"
#include "tide/numa.h"
#include "tide/storage.h"
#include "tide/intraday.h"
#include "tide/historical.h"

#endif /* TIDE_TIDE_H */
