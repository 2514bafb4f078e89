/*
 * backupd: the daemon. Schedules, WAL streaming, retention, drills, metrics and health are the
 * next milestones (docs/architecture.md); until then it says so and exits non-zero.
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--version") == 0)) {
        printf("backupd 0.1.0\n");
        return 0;
    }
    fprintf(stderr, "backupd: not yet: the daemon (schedules, WAL streaming, retention, drills) is the "
                    "next milestone; use backupctl for backups and restores today\n");
    return 3;
}
