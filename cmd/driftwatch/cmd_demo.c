#include "commands.h"

#include <stdio.h>

int cmd_demo(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "driftwatch: 'demo' is not implemented yet\n");
    return 2;
}
