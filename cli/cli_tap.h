/*  cli_tap: `healbus tap`, the operator's live view of the bus.  Connects
    a SUB socket to each broker's back endpoint, decodes every message and
    prints one line per message (readable text, or one JSON object per
    line with --json), or per-kind rates each second with --stats.  Tracks
    each sender's sequence numbers to report lost messages and to drop the
    duplicates that two brokers deliver; reports undecodable messages and
    goes on.  Called by the `healbus` dispatcher (cli/cli_main.c). */

#ifndef CLI_TAP_H
#define CLI_TAP_H

/*  Exit codes of `healbus tap`. */
#define CLI_TAP_EXIT_OK 0      // --count reached, signal, or --timeout alone
#define CLI_TAP_EXIT_RUNTIME 1 // a socket, memory or stdout failure
#define CLI_TAP_EXIT_USAGE 2   // bad flag or value
#define CLI_TAP_EXIT_SHORT 3   // --timeout passed before --count was reached

/*  argv[0] is "tap".  Runs until --count, --timeout, SIGINT or SIGTERM and
    returns one of the exit codes above.  Writes messages to stdout and
    logs (the "tap: listening on ..." line first) to stderr.  Blocks SIGINT
    and SIGTERM while it runs (they are read through a signalfd) and
    restores the mask before returning.  Keeps no state between calls. */
int cli_tap_main(int argc, char **argv);

#endif
