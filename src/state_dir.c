#include "driftwatch/state_dir.h"

#include "driftwatch/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int writable_dir(const char *dir)
{
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && access(dir, W_OK | X_OK) == 0;
}

char *dw_state_dir_default(void)
{
    if (writable_dir(DW_STATE_DIR_SYSTEM))
        return dw_strdup(DW_STATE_DIR_SYSTEM);
    /* The XDG base directory specification's place for state that should
     * persist between restarts but is not worth a backup. */
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char buf[4096];
    if (xdg && xdg[0] == '/')
        snprintf(buf, sizeof buf, "%s/driftwatch", xdg);
    else if (home && home[0] == '/')
        snprintf(buf, sizeof buf, "%s/.local/state/driftwatch", home);
    else
        return dw_strdup(DW_STATE_DIR_SYSTEM);
    return dw_strdup(buf);
}

int dw_mkdir_p(const char *dir, unsigned mode, char *errbuf, size_t errlen)
{
    size_t n = strlen(dir);
    char *p = dw_strdup(dir);
    int rc = 0;
    /* mkdir -p: each prefix in turn; existing ones are fine. */
    for (size_t i = 1; i <= n && rc == 0; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST)
            rc = dw_seterr(errbuf, errlen, DW_ERR_IO, "cannot create %s: %s", p, strerror(errno));
        p[i] = c;
    }
    free(p);
    return rc;
}
