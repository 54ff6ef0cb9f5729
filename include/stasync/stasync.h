/* stasync — content-defined chunking and casync-compatible archives.
 *
 * This is the umbrella header: it pulls in every public part of the
 * library. All functions report failure as a negative errno-style code and,
 * where they take a `stasync_error *`, a one-line message a caller can show.
 * The library never prints and never exits. */
#ifndef STASYNC_STASYNC_H
#define STASYNC_STASYNC_H

#include <stasync/error.h>
#include <stasync/digest.h>
#include <stasync/chunker.h>
#include <stasync/index.h>
#include <stasync/store.h>
#include <stasync/http.h>
#include <stasync/chunk-stream.h>
#include <stasync/index-view.h>
#include <stasync/blob.h>
#include <stasync/features.h>
#include <stasync/catar.h>
#include <stasync/catar-tree.h>
#include <stasync/extract.h>
#include <stasync/output.h>
#include <stasync/remote.h>
#include <stasync/maint.h>
#include <stasync/progress.h>
#include <stasync/seed.h>

/* stasync_version() — the library's version string, e.g. "0.1.0". */
const char *stasync_version(void);

#endif
