// Keccak-256 (Ethereum's: the original Keccak padding, not NIST SHA3-256) and SHA-256, written
// for this module from the specifications (FIPS 202's Keccak-f[1600] permutation, FIPS 180-4).
// Both are tested against supervm.crypto.keccak256 and hashlib.sha256 with hypothesis.
#ifndef SUPERVM_HASHES_H
#define SUPERVM_HASHES_H

#include <stddef.h>
#include <stdint.h>

void svm_keccak256(const uint8_t *data, size_t len, uint8_t out[32]);
void svm_sha256(const uint8_t *data, size_t len, uint8_t out[32]);

#endif
