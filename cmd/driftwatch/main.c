/* driftwatch: streaming drift detection sidecar. This file parses the
 * subcommand, installs signal handlers and hands over; everything else lives
 * in src/ (the library) and in the cmd_*.c files (one per subcommand). */
#include "commands.h"

#include "driftwatch/log.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

volatile sig_atomic_t dw_stop_requested;
volatile sig_atomic_t dw_reload_requested;

static void on_stop(int sig)
{
    (void)sig;
    dw_stop_requested = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    dw_reload_requested = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void usage(FILE *f)
{
    fputs("usage: driftwatch <command> [options]\n"
          "\n"
          "commands:\n"
          "  run -c CONFIG              the sidecar: consume Kafka, detect drift, alert\n"
          "  replay -c CONFIG FILE      the same engine over a JSONL file ('-' = stdin)\n"
          "  reference build ...        reference statistics from training data (CSV/JSONL)\n"
          "  check --reference REF FILE one-shot comparison; exit 1 on drift\n"
          "  validate -c CONFIG         check a configuration file\n"
          "  mock-kafka                 a local Kafka-protocol broker for tests and trials\n"
          "  demo                       the whole pipeline with synthetic drift\n"
          "\n"
          "Run 'driftwatch <command> --help' for the options of a command.\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("driftwatch %s\n", DW_VERSION);
        return 0;
    }
    install_signals();

    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } commands[] = {
        {"run", cmd_run},     {"replay", cmd_replay},     {"reference", cmd_reference},
        {"check", cmd_check}, {"validate", cmd_validate}, {"mock-kafka", cmd_mock_kafka},
        {"demo", cmd_demo},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);

    fprintf(stderr, "driftwatch: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
