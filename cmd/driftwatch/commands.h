/* Subcommands of the driftwatch binary. Each parses its own options and
 * returns the process exit status (0 ok, 1 drift found where that applies,
 * 2 usage or input error). */
#ifndef DRIFTWATCH_COMMANDS_H
#define DRIFTWATCH_COMMANDS_H

#include <signal.h>

int cmd_reference(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_mock_kafka(int argc, char **argv);
int cmd_demo(int argc, char **argv);

/* Set by the SIGINT/SIGTERM handler installed in main.c. */
extern volatile sig_atomic_t dw_stop_requested;
extern volatile sig_atomic_t dw_reload_requested;

#endif
