#include "commands.h"

#include <stdio.h>

int cmd_validate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "driftwatch: 'validate' is not implemented yet\n");
    return 2;
}
