/*  predictor_detector: online anomaly detector over one numeric series.

    The predictor node keeps one detector per watched series (a metric, an
    error rate) and feeds it one sample at a time. The detector looks only at
    the past, does bounded work per sample, and holds memory fixed when it is
    created. It answers with a score in [0, 1] and an alert level; how it works
    is told in docs/prediction.md. Depends on libc and libm only. */

#ifndef PREDICTOR_DETECTOR_H
#define PREDICTOR_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct predictor_detector predictor_detector_t;

/*  Alert levels, in increasing severity. NONE means "no alert": a sample's
    level is NONE exactly when its score is below 0.5. */
typedef enum {
    PREDICTOR_LEVEL_NONE = 0,
    PREDICTOR_LEVEL_LOW,
    PREDICTOR_LEVEL_MEDIUM,
    PREDICTOR_LEVEL_HIGH,
    PREDICTOR_LEVEL_CRITICAL
} predictor_level_t;

/*  Error codes (0 is success), one per way a call can be refused. */
typedef enum {
    PREDICTOR_DETECTOR_OK = 0,
    PREDICTOR_DETECTOR_EVALUE,    // value is NaN or infinite: state unchanged
    PREDICTOR_DETECTOR_ECFG,      // a configuration field is out of range
    PREDICTOR_DETECTOR_ENOMEM,    // allocation failed
    PREDICTOR_DETECTOR_ESPACE,    // caller's buffer too small for the blob
    PREDICTOR_DETECTOR_ETRUNC,    // blob shorter than its header says
    PREDICTOR_DETECTOR_EMAGIC,    // blob is not a detector state
    PREDICTOR_DETECTOR_EVERSION,  // blob written by an unknown format version
    PREDICTOR_DETECTOR_ECHECKSUM, // blob bytes damaged
    PREDICTOR_DETECTOR_ESTATE     // blob checksums fine but fields inconsistent
} predictor_detector_err_t;

/*  Configuration. predictor_detector_cfg_default fills the one setting used
    for every series (and for the NAB figures in docs/prediction.md); the
    fields exist for tests and experiments, not for per-series tuning. */
typedef struct {
    uint32_t history;    // samples each view remembers, 64..65536 (2048)
    uint32_t refractory; // samples after an alert during which none is raised
    double alpha;        // tail probability per sample at which to alert,
                         // in (0, 0.01]; smaller = fewer, surer alerts
    int64_t season_ms;   // seasonal period (one day); 0 = no seasonal view
} predictor_detector_cfg_t;

/*  What one sample produced. */
typedef struct {
    double score;            // in [0, 1]; >= 0.5 exactly when `alert`
    double p_value;          // tail probability of the most surprising view
    predictor_level_t level; // NONE exactly when !alert
    bool alert;              // true on the first surprising sample of an
                             // episode (later ones within the refractory
                             // period are scored at most 0.499)
    int view;                // index of the most surprising view, -1 if none
} predictor_result_t;

/*  Fill `cfg` with the defaults. */
void predictor_detector_cfg_default(predictor_detector_cfg_t *cfg);

/*  Create a detector. `cfg` NULL means the defaults; it is copied. Returns
    NULL if a field is out of range or memory runs out, with the reason in
    `why` if not NULL. Caller destroys. Memory is allocated here only:
    predictor_detector_bytes tells how much. */
predictor_detector_t *
predictor_detector_new(const predictor_detector_cfg_t *cfg,
                       predictor_detector_err_t *why);

/*  Destroy the detector and write NULL back; NULL or *NULL is harmless. */
void predictor_detector_destroy(predictor_detector_t **self_p);

/*  Bytes held by the detector (struct and arrays), fixed at creation. */
size_t predictor_detector_bytes(const predictor_detector_t *self);

/*  Feed one sample taken at `ts_ms` (Unix milliseconds; expected not to go
    backwards, equal stamps are fine). Fills `out`. A NaN or infinite value
    returns PREDICTOR_DETECTOR_EVALUE and leaves the detector untouched.
    Bounded work: O(views x history) memory moves in the worst case. */
predictor_detector_err_t predictor_detector_update(predictor_detector_t *self,
                                                   int64_t ts_ms, double value,
                                                   predictor_result_t *out);

/*  Samples seen since creation (restored ones included). */
uint64_t predictor_detector_samples(const predictor_detector_t *self);

/*  "NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL"; "?" for anything else. */
const char *predictor_level_name(predictor_level_t level);

/*  Text for an error code; never NULL. */
const char *predictor_detector_strerror(predictor_detector_err_t err);

/*  Size in bytes of the state blob predictor_detector_save writes. */
size_t predictor_detector_blob_size(const predictor_detector_t *self);

/*  Write the whole learned state into `buf` (capacity `cap`) as a flat
    little-endian blob: magic, format version, length, configuration,
    state, then a 64-bit checksum of everything before it. `*len_out` gets
    the length. ESPACE if `cap` is too small. */
predictor_detector_err_t
predictor_detector_save(const predictor_detector_t *self, void *buf, size_t cap,
                        size_t *len_out);

/*  Make a detector from a blob written by predictor_detector_save, checking
    length, magic, version, checksum and every field before trusting it.
    Returns NULL with the reason in `why` on any failure. Caller destroys. */
predictor_detector_t *predictor_detector_load(const void *buf, size_t len,
                                              predictor_detector_err_t *why);

#endif
