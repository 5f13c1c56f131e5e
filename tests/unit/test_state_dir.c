#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/error.h"
#include "driftwatch/state_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int writable_system_dir(void)
{
    struct stat st;
    return stat(DW_STATE_DIR_SYSTEM, &st) == 0 && S_ISDIR(st.st_mode) &&
           access(DW_STATE_DIR_SYSTEM, W_OK | X_OK) == 0;
}

/* Without a writable /var/lib/driftwatch (a laptop), XDG_STATE_HOME wins
 * over HOME, and relative values of either are not used. */
static void test_default_follows_xdg_then_home(void **state)
{
    (void)state;
    if (writable_system_dir()) {
        char *d = dw_state_dir_default();
        assert_string_equal(d, DW_STATE_DIR_SYSTEM);
        free(d);
        skip();
    }
    setenv("XDG_STATE_HOME", "/x/state", 1);
    setenv("HOME", "/home/u", 1);
    char *d = dw_state_dir_default();
    assert_string_equal(d, "/x/state/driftwatch");
    free(d);
    setenv("XDG_STATE_HOME", "relative", 1);
    d = dw_state_dir_default();
    assert_string_equal(d, "/home/u/.local/state/driftwatch");
    free(d);
    unsetenv("XDG_STATE_HOME");
    unsetenv("HOME");
    d = dw_state_dir_default();
    assert_string_equal(d, DW_STATE_DIR_SYSTEM);
    free(d);
}

static void test_mkdir_p(void **state)
{
    (void)state;
    char base[] = "/tmp/dw_test_state_XXXXXX";
    assert_non_null(mkdtemp(base));
    char deep[256], file[256], below[300], err[512];
    snprintf(deep, sizeof deep, "%s/a/b/c", base);
    assert_int_equal(dw_mkdir_p(deep, 0700, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(deep, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 077, 0);
    assert_int_equal(dw_mkdir_p(deep, 0700, err, sizeof err), 0); /* exists: fine */
    /* A file in the way is an error naming it. */
    snprintf(file, sizeof file, "%s/f", base);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(below, sizeof below, "%s/x", file);
    assert_int_equal(dw_mkdir_p(below, 0755, err, sizeof err), DW_ERR_IO);
    assert_non_null(strstr(err, "cannot create"));
    assert_non_null(strstr(err, below));
    unlink(file);
    for (int i = 0; i < 3; i++) {
        rmdir(deep);
        *strrchr(deep, '/') = '\0';
    }
    assert_int_equal(rmdir(base), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_follows_xdg_then_home),
        cmocka_unit_test(test_mkdir_p),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
