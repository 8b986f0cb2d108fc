/* Stop-request flag set by signal handlers (see embed_signal.h). */
#include "driver/embed_signal.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t stop_signal = 0;

static void on_signal(int sig) {
    if (!stop_signal) stop_signal = sig;
}

void embed_signal_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  /* reads and MPI progress resume; the flag is polled per batch */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);   /* the terminal or the ssh session went away */
    signal(SIGXFSZ, SIG_IGN);
}

int embed_signal_pending(void) { return stop_signal; }
