/* chattr(1) and FAT attribute bits ↔ catar feature flags, shared by the
 * encoder (reading) and extraction (writing). */
#ifndef STASYNC_LIB_FSFLAGS_H
#define STASYNC_LIB_FSFLAGS_H

#include <stdbool.h>
#include <stdint.h>

uint64_t sta_chattr_to_features(unsigned chattr);
unsigned sta_features_to_chattr(uint64_t features);
uint64_t sta_fat_to_features(uint32_t fat);
uint32_t sta_features_to_fat(uint64_t features);

/* sta_errno_unsupported() — whether a negative code is how a file system
 * or node type says "no such thing here" to an ioctl or xattr call. */
bool sta_errno_unsupported(int code);

#endif
