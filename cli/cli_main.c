/*  cli_main.c - the `healbus` operator command: `healbus <command> ...`.
    Looks the command up in a table and hands it the rest of argv (argv[0]
    becomes the command's name); each command lives in cli_<name>.c. */

#include "cli_fingerprint.h"
#include "cli_predict.h"
#include "cli_tap.h"

#include "healbus.h"

#include <stdio.h>
#include <string.h>

typedef int(cli_main_fn)(int argc, char **argv);

typedef struct {
    const char *name;
    const char *summary;
    cli_main_fn *run;
} s_command_t;

static int s_version(int argc, char **argv);
static int s_help(int argc, char **argv);

static const s_command_t s_commands[] = {
    {"tap", "show bus messages live (text or JSON lines, rates, gaps)",
     cli_tap_main},
    {"fingerprint", "group error texts into templates (stdin to stdout)",
     cli_fingerprint_main},
    {"predict", "run the predictor's anomaly detector over a CSV series",
     cli_predict_main},
    {"version", "print the healbus version", s_version},
    {"help", "list the commands", s_help},
};

#define S_N_COMMANDS (sizeof s_commands / sizeof s_commands[0])

static void
s_list(FILE *out)
{
    fputs("usage: healbus <command> [options]\n"
          "\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < S_N_COMMANDS; i++)
        fprintf(out, "  %-12s %s\n", s_commands[i].name, s_commands[i].summary);
    fputs("\n'healbus <command> --help' describes a command's options.\n", out);
}

static int
s_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "healbus version: takes no options\n");
        return 2;
    }
    int lib = hb_version();
    printf("healbus %d.%d.%d (libhealbus %d.%d.%d)\n", HB_VERSION_MAJOR,
           HB_VERSION_MINOR, HB_VERSION_PATCH, lib / 10000, lib / 100 % 100,
           lib % 100);
    return 0;
}

static int
s_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    s_list(stdout);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        s_list(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        return s_help(argc - 1, argv + 1);
    if (strcmp(cmd, "--version") == 0)
        return s_version(1, argv + 1);
    for (size_t i = 0; i < S_N_COMMANDS; i++)
        if (strcmp(cmd, s_commands[i].name) == 0)
            return s_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr,
            "healbus: unknown command '%s'; 'healbus help' lists them\n", cmd);
    return 2;
}
