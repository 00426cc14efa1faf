/* File helpers shared by the kernel test harnesses (host libc or picolibc semihosting). */
#ifndef TINYML_HARNESS_IO_H
#define TINYML_HARNESS_IO_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint32_t pad4(uint32_t n) {
    return (n + 3) & ~3u;
}

/* The whole file at path in a malloc'd buffer (NULL if it cannot be opened). */
static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0) {
            break;
        }
        n += got;
    }
    fclose(f);
    *len = n;
    return buf;
}

#endif
