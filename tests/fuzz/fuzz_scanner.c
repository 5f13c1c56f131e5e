/* libFuzzer target: the record scanner against jansson (see scan_oracle.h).
 * Any disagreement that is not a documented difference aborts, so libFuzzer
 * saves the input as a crash. Build and run:
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
 *       -Db_lundef=false
 *   ninja -C build-fuzz tests/fuzz/fuzz_scanner
 *   build-fuzz/tests/fuzz/fuzz_scanner -max_total_time=120 -max_len=4096 \
 *       /tmp/corpus tests/fuzz/corpus
 * (the first corpus directory receives new inputs; keep the committed seed
 * corpus small and hand-picked). */
#include "scan_oracle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[512];
    if (dw_scan_oracle_check(data, size, why, sizeof why) < 0) {
        fprintf(stderr, "scanner/jansson mismatch: %s\n", why);
        abort();
    }
    return 0;
}
