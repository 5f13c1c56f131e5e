#include "commands.h"

#include <stdio.h>

int cmd_reference(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "driftwatch: 'reference' is not implemented yet\n");
    return 2;
}
