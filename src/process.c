#include "driftwatch/process.h"

#include "driftwatch/error.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* btime from /proc/stat: the boot time, Unix seconds. */
static int boot_time(double *out)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return DW_ERR_IO;
    char line[256];
    int rc = DW_ERR_PARSE;
    unsigned long long bt;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %llu", &bt) == 1) {
            *out = (double)bt;
            rc = 0;
            break;
        }
    fclose(f);
    return rc;
}

int dw_process_stats_read(dw_process_stats *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen("/proc/self/stat", "re");
    if (!f)
        return DW_ERR_IO;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) is in parentheses and may hold spaces and
     * parentheses itself: the fields that follow start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return DW_ERR_PARSE;
    unsigned long utime, stime, vsize;
    unsigned long long starttime;
    long rss;
    /* Fields 3..24 of proc(5): state ppid pgrp session tty_nr tpgid flags
     * minflt cminflt majflt cmajflt utime stime cutime cstime priority nice
     * num_threads itrealvalue starttime vsize rss. */
    if (sscanf(p + 2,
               "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d "
               "%llu %lu %ld",
               &utime, &stime, &starttime, &vsize, &rss) != 5)
        return DW_ERR_PARSE;
    double tck = (double)sysconf(_SC_CLK_TCK);
    double bt;
    if (tck <= 0 || boot_time(&bt) < 0)
        return DW_ERR_PARSE;
    out->cpu_seconds = (double)(utime + stime) / tck;
    out->virtual_bytes = vsize;
    out->rss_bytes = (uint64_t)(rss > 0 ? rss : 0) * (uint64_t)sysconf(_SC_PAGESIZE);
    out->start_time = bt + (double)starttime / tck;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return DW_ERR_IO;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            out->open_fds++;
    closedir(d);
    if (out->open_fds)
        out->open_fds--; /* the directory handle just used to count */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        out->max_fds = rl.rlim_cur == RLIM_INFINITY ? 0 : (uint64_t)rl.rlim_cur;
    return 0;
}
