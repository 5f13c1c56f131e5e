#include "commands.h"

#include <stdio.h>

int cmd_replay(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "driftwatch: 'replay' is not implemented yet\n");
    return 2;
}
