/* crc32c.h - CRC-32C (Castagnoli), with SSE4.2 when the CPU has it. Any thread. */
#ifndef KEVO_CRC32C_H
#define KEVO_CRC32C_H
#include <stddef.h>
#include <stdint.h>
/* crc of data appended to a stream whose crc so far is init (0 to start). */
uint32_t crc32c_extend(uint32_t init, const void *data, size_t n);
static inline uint32_t crc32c(const void *data, size_t n) { return crc32c_extend(0, data, n); }
/* Stored CRCs are masked (as LevelDB) so a CRC of data that embeds CRCs stays strong. */
static inline uint32_t crc32c_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
static inline uint32_t crc32c_unmask(uint32_t m) {
    uint32_t rot = m - 0xa282ead8u;
    return (rot >> 17) | (rot << 15);
}
#endif
