/*  predictor_advice.h - suggest_preventive_action.

    Maps what drives a predicted failure (the dominant error class of the
    operation, or the metric that rises) to a preventive action name, by a
    fixed table of case-insensitive name fragments: memory errors or a
    rising RSS -> more memory (or smaller batches), timeouts -> a longer
    timeout, load, overload and connection errors or a busy CPU -> load
    balancing; anything else -> investigate. */

#ifndef PREDICTOR_ADVICE_H
#define PREDICTOR_ADVICE_H

typedef struct {
    const char *error_class; // dominant error class, or NULL
    const char *metric;      // rising metric's name, or NULL
} predictor_advice_in_t;

typedef struct {
    const char *action;      // what to do first (static string)
    const char *alternative; // a second option, or NULL
} predictor_advice_t;

/*  The advice for `in` (never fails; "investigate" when nothing fits). */
predictor_advice_t predictor_advice_suggest(const predictor_advice_in_t *in);

#endif
