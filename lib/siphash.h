/* SipHash-2-4 (Aumasson & Bernstein), 64-bit output: the hash casync puts
 * into GOODBYE tables. */
#ifndef STASYNC_LIB_SIPHASH_H
#define STASYNC_LIB_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* sta_siphash24() — SipHash-2-4 of the n bytes at p under the 16-byte key
 * (read as two little-endian 64-bit words). p may be NULL when n is 0. */
uint64_t sta_siphash24(const void *p, size_t n, const uint8_t key[16]);

#endif
