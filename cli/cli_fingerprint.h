/*  cli_fingerprint: `healbus fingerprint`, the command-line face of the
    healer's template miner (node/healer/healer_templates). Reads one message
    per line on stdin and writes "<group-id>\t<template>" per input line on
    stdout, in order. Called by the `healbus` dispatcher (cli/cli_main.c). */
#ifndef CLI_FINGERPRINT_H
#define CLI_FINGERPRINT_H

/*  argv[0] is "fingerprint". Returns the process exit status: 0 on success
    (also for --help), 1 on an I/O or memory error, 2 on a usage error. Uses
    stdin, stdout and stderr; keeps no state between calls. */
int cli_fingerprint_main(int argc, char **argv);

#endif
