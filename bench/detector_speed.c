/*  detector_speed: samples per second of predictor_detector_update on one
    core, and the bytes one detector holds. The series is a daily wave with
    noise and an occasional spike, so every view and the sorted windows do
    their normal work. Usage: detector_speed [samples] (default 2000000). */

#define _POSIX_C_SOURCE 200809L

#include "../node/predictor/predictor_detector.h"
#include "bench_util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int
main(int argc, char **argv)
{
    long samples = 2000000;
    if (argc > 1) {
        char *end;
        errno = 0;
        samples = strtol(argv[1], &end, 10);
        if (*end != '\0' || errno == ERANGE || samples < 1) {
            fprintf(stderr, "usage: detector_speed [samples]\n");
            return 2;
        }
    }
    predictor_detector_t *d = predictor_detector_new(NULL, NULL);
    if (!d) {
        fprintf(stderr, "detector_speed: out of memory\n");
        return 1;
    }
    uint64_t lcg = 1;
    long alerts = 0;
    double start = bench_now_s();
    for (long i = 0; i < samples; i++) {
        lcg = lcg * UINT64_C(6364136223846793005) + 1;
        double noise = (double)(lcg >> 11) / 9007199254740992.0 - 0.5;
        double v = 10 * sin(i * 6.283185307179586 / 288) + noise +
                   (i % 10007 == 0 ? 40 : 0);
        predictor_result_t r;
        predictor_detector_update(d, (int64_t)i * 300000, v, &r);
        alerts += r.alert;
    }
    double took = bench_now_s() - start;
    printf("detector_speed: %ld samples in %.3f s: %.0f samples/s, "
           "%.2f us/sample, %ld alerts\n",
           samples, took, samples / took, took * 1e6 / samples, alerts);
    printf("detector_speed: %zu bytes per detector, state blob %zu bytes\n",
           predictor_detector_bytes(d), predictor_detector_blob_size(d));
    predictor_detector_destroy(&d);
    return 0;
}
