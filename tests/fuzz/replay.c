/*
 * replay.c: runs a fuzz target's LLVMFuzzerTestOneInput once on every
 * file of the corpus directories (or files) named on the command line, so
 * `make test` replays tests/fuzz/corpus/<target>/ with any C compiler,
 * no clang or libFuzzer needed (Envoy's test/fuzz/main.cc, in C). Link it
 * with exactly one fuzz_<target>.c.
 *
 * Each input runs in a child process: a target that aborts on a broken
 * property (or a sanitizer report) fails that input only, and the others
 * still run. Output matches tests/unit/fg_test.h: one "ok"/"not ok" line
 * per input, then "N passed, N failed"; the exit status is non-zero if an
 * input failed or a path could not be read.
 *
 * It does not mutate, minimise or measure coverage: that is libFuzzer's
 * job (`make fuzz`).
 *
 *   fuzz_replay_validate tests/fuzz/corpus/validate [more dirs or files]
 */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    size_t passed;
    size_t failed;
    int    unreadable;
} replay_counts_t;

static void replay_path(const char *path, replay_counts_t *counts);
static void replay_dir(const char *path, replay_counts_t *counts);
static void replay_one(const char *path, replay_counts_t *counts);
static int replay_file(const char *path);

int
main(int argc, char **argv)
{
    replay_counts_t counts = { 0, 0, 0 };
    int             i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s corpus-dir-or-file...\n", argv[0]);
        return 1;
    }
    for (i = 1; i < argc; i++) {
        replay_path(argv[i], &counts);
    }
    printf("%zu passed, %zu failed\n", counts.passed, counts.failed);
    return counts.failed == 0 && counts.unreadable == 0 ? 0 : 1;
}

static void
replay_path(const char *path, replay_counts_t *counts)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: cannot stat %s\n", path);
        counts->unreadable = 1;
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        replay_dir(path, counts);
    } else {
        replay_one(path, counts);
    }
}

/* Every regular file directly in @path, in directory order. */
static void
replay_dir(const char *path, replay_counts_t *counts)
{
    DIR           *dir;
    struct dirent *de;
    struct stat    st;
    char           file[4096];

    dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        counts->unreadable = 1;
        return;
    }
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
        if (stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
            replay_one(file, counts);
        }
    }
    closedir(dir);
}

/* Runs @path in a child so a crash fails this input only. */
static void
replay_one(const char *path, replay_counts_t *counts)
{
    pid_t pid;
    int   status;

    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        /* No child: run in-process; a crash then ends the replay. */
        status = replay_file(path) == 0 ? 0 : 1;
    } else if (pid == 0) {
        exit(replay_file(path));   /* exit(), so LSan still checks */
    } else if (waitpid(pid, &status, 0) < 0) {
        status = 1;
    }
    if (status == 0) {
        counts->passed++;
        printf("ok - replay: %s\n", path);
    } else {
        counts->failed++;
        printf("not ok - replay: %s\n", path);
    }
}

/* Reads @path into an exact-size buffer, so ASan sees any over-read. */
static int
replay_file(const char *path)
{
    FILE    *f;
    uint8_t *buf;
    long     size;
    size_t   n;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        fprintf(stderr, "replay: cannot size %s\n", path);
        fclose(f);
        return 1;
    }
    buf = malloc(size > 0 ? (size_t) size : 1);
    if (buf == NULL) {
        fclose(f);
        return 1;
    }
    n = fread(buf, 1, (size_t) size, f);
    fclose(f);
    if (n != (size_t) size) {
        fprintf(stderr, "replay: short read on %s\n", path);
        free(buf);
        return 1;
    }
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}
