#include "commands.h"

#include <stdio.h>

int cmd_mock_kafka(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "driftwatch: 'mock_kafka' is not implemented yet\n");
    return 2;
}
