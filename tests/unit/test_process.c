#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static unsigned count_fds(void)
{
    unsigned n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the handle used to count */
}

/* The numbers agree with what the process can see of itself another way. */
static void test_process_stats_match_the_process(void **state)
{
    (void)state;
    dw_process_stats a;
    assert_int_equal(dw_process_stats_read(&a), 0);
    assert_int_equal(a.open_fds, count_fds());
    int fd = open("/dev/null", O_RDONLY);
    assert_true(fd >= 0);
    dw_process_stats b;
    assert_int_equal(dw_process_stats_read(&b), 0);
    assert_int_equal(b.open_fds, a.open_fds + 1);
    close(fd);

    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_int_equal(a.max_fds, rl.rlim_cur == RLIM_INFINITY ? 0 : rl.rlim_cur);

    /* Resident memory grows by what is touched: 64 MiB written. */
    size_t big = 64u << 20;
    char *p = malloc(big);
    assert_non_null(p);
    memset(p, 1, big);
    assert_int_equal(dw_process_stats_read(&b), 0);
    assert_true(b.rss_bytes >= a.rss_bytes + big / 2);
    assert_true(b.virtual_bytes >= b.rss_bytes);
    free(p);

    /* CPU time is at least what clock() says this process used (both count
     * user + system; /proc rounds to clock ticks, hence the 0.02 s). */
    volatile double x = 0;
    for (long i = 0; i < 20000000; i++)
        x += (double)i * 1e-9;
    assert_true(x > 0);
    double used = (double)clock() / CLOCKS_PER_SEC;
    assert_int_equal(dw_process_stats_read(&b), 0);
    assert_true(b.cpu_seconds + 0.02 >= used && b.cpu_seconds <= used + 0.02);

    /* The process started before now and after the machine booted. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    assert_true(a.start_time <= (double)now.tv_sec + 1);
    assert_true(a.start_time > 1e9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_process_stats_match_the_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
