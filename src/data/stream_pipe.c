/* pipe: connections of streamed shards: `sh -c CMD` in its own process group, its standard output
 * read through a pipe (stdin is /dev/null, stderr is ours). A rerun skips the bytes already
 * delivered (see stream_conn.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/stream_conn.h"

extern char **environ;

struct stream_conn {
    pid_t pid;             /* 0 once reaped */
    int fd;                /* read end; -1 once closed */
    uint64_t skip;
    int timeout_ms;
    int spawn_errno;
    const atomic_int *cancel;
};

static stream_conn *pipe_open(const char *source, uint64_t offset, const ws_stream_opts *opts, int head,
                              const atomic_int *cancel) {
    (void)head;   /* a command has no headers: probes are for URLs */
    stream_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cancel = cancel;
    c->fd = -1;
    c->skip = offset;
    c->timeout_ms = opts->timeout > 2e6 ? 2000000000 : (int)(opts->timeout * 1000);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        c->spawn_errno = errno;
        return c;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawnattr_init(&at);
    posix_spawnattr_setpgroup(&at, 0);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    char *argv[] = {"sh", "-c", (char *)source + 5, NULL};
    int rc = posix_spawn(&c->pid, "/bin/sh", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(p[1]);
    if (rc != 0) {
        c->pid = 0;
        c->spawn_errno = rc;
        close(p[0]);
        return c;
    }
    c->fd = p[0];
    return c;
}

/* Reap the command once its output has ended (killed when it lingers past the timeout); its
 * fate as a read result. */
static ssize_t reap(stream_conn *c, char *why, size_t whylen) {
    int st = 0;
    pid_t r;
    for (int waited_ms = 0; (r = waitpid(c->pid, &st, WNOHANG)) == 0 && waited_ms < c->timeout_ms && !atomic_load(c->cancel);
         waited_ms += 10)
        usleep(10000);
    if (r <= 0) {
        kill(-c->pid, SIGKILL);
        while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR) {}
        c->pid = 0;
        snprintf(why, whylen, "command still running %.3g s after closing its output; killed", c->timeout_ms / 1000.0);
        return CONN_RETRY;
    }
    c->pid = 0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    if (WIFEXITED(st)) snprintf(why, whylen, "command exited with status %d", WEXITSTATUS(st));
    else snprintf(why, whylen, "command killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    return CONN_RETRY;
}

static ssize_t pipe_read(stream_conn *c, void *buf, size_t cap, char *why, size_t whylen) {
    if (c->spawn_errno) {
        snprintf(why, whylen, "cannot start the command: %s", strerror(c->spawn_errno));
        return CONN_RETRY;
    }
    for (int waited_ms = 0;;) {
        if (atomic_load(c->cancel)) {
            snprintf(why, whylen, "cancelled");
            return CONN_PERMANENT;
        }
        struct pollfd pf = {c->fd, POLLIN, 0};
        int slice = c->timeout_ms - waited_ms < STREAM_CANCEL_POLL_MS ? c->timeout_ms - waited_ms : STREAM_CANCEL_POLL_MS;
        int pr = poll(&pf, 1, slice);
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0 && (waited_ms += slice) < c->timeout_ms) continue;
        if (pr == 0) {
            snprintf(why, whylen, "no output from the command for %.3g s", c->timeout_ms / 1000.0);
            return CONN_RETRY;
        }
        waited_ms = 0;
        ssize_t n = read(c->fd, buf, cap);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            snprintf(why, whylen, "reading the command's output: %s", strerror(errno));
            return CONN_RETRY;
        }
        if (n == 0) {
            close(c->fd);
            c->fd = -1;
            return reap(c, why, whylen);
        }
        if (c->skip >= (uint64_t)n) {
            c->skip -= (uint64_t)n;
            continue;
        }
        size_t drop = (size_t)c->skip;
        c->skip = 0;
        if (drop) memmove(buf, (char *)buf + drop, (size_t)n - drop);
        return n - (ssize_t)drop;
    }
}

static void pipe_close(stream_conn *c) {
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    if (c->pid > 0) {
        kill(-c->pid, SIGKILL);   /* abandoned: a retry or the end of the job */
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR) {}
    }
    free(c);
}

const stream_conn_ops stream_conn_pipe = {.open = pipe_open, .read = pipe_read, .close = pipe_close};
