/* Per-rank timing and the --stats JSON lines (see embed_stats.h). */
#include "driver/embed_stats.h"
#include "common/error.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int embed_stats_open(const char *path) {
    if (!path) return -2;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return ws_errorf(WS_ERR_IO, "--stats %s: %s", path, strerror(errno)), -1;
    return fd;
}

void embed_stats_close(int fd) {
    if (fd >= 0) close(fd);
}

double embed_max_rss_mb(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)ru.ru_maxrss / 1024.0;  /* ru_maxrss is in KiB on Linux */
}

void embed_times_add(embed_times *acc, const embed_times *t) {
    acc->read += t->read;
    acc->decode += t->decode;
    acc->input_wait += t->input_wait;
    acc->scatter += t->scatter;
    acc->compute += t->compute;
    acc->comm += t->comm;
    acc->write += t->write;
    acc->images += t->images;
    acc->batches += t->batches;
}

void embed_stats_write(int fd, int rank, const char *event, const char *shard, const embed_times *t) {
    if (fd < 0) return;
    cJSON *o = cJSON_CreateObject();
    if (!o) return;
    cJSON_AddNumberToObject(o, "rank", rank);
    cJSON_AddStringToObject(o, "event", event);
    if (shard) cJSON_AddStringToObject(o, "shard", shard);
    cJSON_AddNumberToObject(o, "images", (double)t->images);
    cJSON_AddNumberToObject(o, "batches", (double)t->batches);
    cJSON_AddNumberToObject(o, "read", t->read);
    cJSON_AddNumberToObject(o, "decode", t->decode);
    cJSON_AddNumberToObject(o, "input_wait", t->input_wait);
    cJSON_AddNumberToObject(o, "scatter", t->scatter);
    cJSON_AddNumberToObject(o, "compute", t->compute);
    cJSON_AddNumberToObject(o, "comm", t->comm);
    cJSON_AddNumberToObject(o, "write", t->write);
    cJSON_AddNumberToObject(o, "max_rss_mb", embed_max_rss_mb());
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return;
    size_t n = strlen(s);
    s[n] = '\n';  /* replaces the terminator: written with an explicit length */
    ssize_t rc = write(fd, s, n + 1);
    (void)rc;     /* statistics are best effort: a failed write must not stop the run */
    cJSON_free(s);
}
