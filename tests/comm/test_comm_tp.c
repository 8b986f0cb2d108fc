/* Which communicator a TP group gets (comm_pick_kind, comm/comm_tp.h), over hand-made device
 * identities: host buffers and single ranks take MPI; distinct GPUs take NCCL (when built) even
 * when every rank sees its GPU as ordinal 0 (srun --gpus-per-task=1: only the UUIDs differ);
 * ranks that share a GPU, by UUID on the same host, take the staged path. */
#include <string.h>

#include "comm/comm_tp.h"
#include "test_main.h"

/* Rank identity: host name and a UUID whose bytes are all `u`. */
static comm_device_id id(const char *host, unsigned char u) {
    comm_device_id d;
    memset(&d, 0, sizeof d);
    strncpy(d.host, host, sizeof d.host - 1);
    memset(d.uuid, u, sizeof d.uuid);
    return d;
}

START_TEST(host_buffers_take_mpi) {
    const char *why = NULL;
    ck_assert_int_eq(comm_pick_kind(0, NULL, 4, 1, &why), COMM_KIND_MPI);
    ck_assert_str_eq(why, "host buffers");
    comm_device_id one = id("n1", 7);
    ck_assert_int_eq(comm_pick_kind(1, &one, 1, 1, &why), COMM_KIND_MPI);
}
END_TEST

START_TEST(distinct_uuids_take_nccl) {
    /* Four ranks, one GPU each, all seen as ordinal 0: the UUIDs differ. */
    comm_device_id ids[4] = {id("n1", 1), id("n1", 2), id("n1", 3), id("n1", 4)};
    const char *why = NULL;
    ck_assert_int_eq(comm_pick_kind(1, ids, 4, 1, &why), COMM_KIND_NCCL);
    ck_assert_str_eq(why, "one GPU per rank");
    ck_assert_int_eq(comm_pick_kind(1, ids, 4, 0, &why), COMM_KIND_STAGED);
    ck_assert_str_eq(why, "this build has no NCCL");
    ck_assert_int_eq(comm_pick_kind(1, ids, 4, 1, NULL), COMM_KIND_NCCL);
}
END_TEST

START_TEST(shared_gpu_takes_staged) {
    comm_device_id ids[3] = {id("n1", 1), id("n1", 2), id("n1", 1)};
    const char *why = NULL;
    ck_assert_int_eq(comm_pick_kind(1, ids, 3, 1, &why), COMM_KIND_STAGED);
    ck_assert_str_eq(why, "ranks of a TP group share a GPU");
    comm_device_id all_same[2] = {id("n1", 9), id("n1", 9)};
    ck_assert_int_eq(comm_pick_kind(1, all_same, 2, 1, NULL), COMM_KIND_STAGED);
}
END_TEST

START_TEST(same_uuid_other_host_is_another_gpu) {
    /* Identical identities on two hosts (e.g. zeroed UUIDs) are two devices. */
    comm_device_id ids[2] = {id("n1", 0), id("n2", 0)};
    ck_assert_int_eq(comm_pick_kind(1, ids, 2, 1, NULL), COMM_KIND_NCCL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("comm_tp");
    TCase *tc = tcase_create("pick");
    tcase_add_test(tc, host_buffers_take_mpi);
    tcase_add_test(tc, distinct_uuids_take_nccl);
    tcase_add_test(tc, shared_gpu_takes_staged);
    tcase_add_test(tc, same_uuid_other_host_is_another_gpu);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_VERBOSE);
}
