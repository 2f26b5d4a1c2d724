/*  cli_predict: `healbus predict`, the offline entry to the predictor's
    anomaly detector. It runs the same online detector the predictor node
    uses over a CSV series (NAB layout) and prints one scored row per input
    row, so the detector can be measured on public data. */

#ifndef CLI_PREDICT_H
#define CLI_PREDICT_H

/*  Run `healbus predict`; argv[0] is "predict". Writes the scored CSV to
    stdout and errors to stderr. Returns the process exit code: 0 done,
    1 unreadable or malformed input (the message names file and line),
    2 usage error. */
int cli_predict_main(int argc, char **argv);

#endif
