/* launcher.c - the zip's root `bootstrap`: a tiny static program that starts the real
 * bin/bootstrap with the bundled dynamic loader and libraries, so the package runs on any
 * Amazon Linux 2023 (or an empty root) whatever its glibc. Linked with -static. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    (void)argc;
    char root[PATH_MAX];
    const char *task = getenv("LAMBDA_TASK_ROOT");
    if (task && *task) {
        snprintf(root, sizeof root, "%s", task);
    } else {
        /* the directory this launcher lives in */
        const char *self = argv[0] ? argv[0] : "./bootstrap";
        const char *slash = strrchr(self, '/');
        if (slash)
            snprintf(root, sizeof root, "%.*s", (int)(slash - self), self);
        else
            snprintf(root, sizeof root, ".");
        if (!root[0])
            snprintf(root, sizeof root, "/");
    }
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/')
        root[--rl] = '\0';
    const char *sep = (rl == 1 && root[0] == '/') ? "" : "/";
    char loader[PATH_MAX + 64], libdir[PATH_MAX + 16], prog[PATH_MAX + 32];
    snprintf(loader, sizeof loader, "%s%slib/ld-linux-x86-64.so.2", root, sep);
    snprintf(libdir, sizeof libdir, "%s%slib", root, sep);
    snprintf(prog, sizeof prog, "%s%sbin/bootstrap", root, sep);
    char *const args[] = {loader, "--library-path", libdir, prog, NULL};
    execv(loader, args);
    fprintf(stderr, "{\"level\":\"error\",\"msg\":\"launcher: cannot exec %s: %s\"}\n", loader,
            strerror(errno));
    return 127;
}
