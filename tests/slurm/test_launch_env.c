/* Unit tests of the launch checks: Slurm tasks-per-node lists against the TP size, and the
 * srun-without-PMIx detection from the environment. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "comm/launch_env.h"
#include "common/error.h"
#include "test_main.h"

START_TEST(tasks_per_node_fits) {
    ck_assert_int_eq(launch_env_check_tasks_per_node("4", 2), WS_OK);
    ck_assert_int_eq(launch_env_check_tasks_per_node("4(x2)", 4), WS_OK);
    ck_assert_int_eq(launch_env_check_tasks_per_node("8(x3),4", 4), WS_OK);
    ck_assert_int_eq(launch_env_check_tasks_per_node("3,1", 1), WS_OK);
}
END_TEST

START_TEST(tasks_per_node_does_not_fit) {
    ck_assert_int_eq(launch_env_check_tasks_per_node("3(x2)", 2), WS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "--ntasks-per-node a multiple of 2"));
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "3 tasks on node 0"));
    ck_assert_int_eq(launch_env_check_tasks_per_node("4(x2),2", 4), WS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "2 tasks on node 2"));
}
END_TEST

START_TEST(tasks_per_node_malformed) {
    const char *bad[] = {"", "x", "4(x", "4(x0)", "4(x2", "4,", ",4", "4;2", "-4", "99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(launch_env_check_tasks_per_node(bad[i], 2), WS_ERR_FORMAT);
        ck_assert_ptr_nonnull(strstr(ws_error_message(), "SLURM_STEP_TASKS_PER_NODE"));
    }
    ck_assert_int_eq(launch_env_check_tasks_per_node(NULL, 2), WS_ERR_FORMAT);
}
END_TEST

START_TEST(srun_without_pmix) {
    const char *vars[] = {"SLURM_STEP_ID", "PMIX_RANK", "PMI_RANK", "PMI_FD",
                          "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
    ck_assert_int_eq(launch_env_check_pre_mpi(), WS_OK);          /* no launcher */
    setenv("SLURM_STEP_ID", "0", 1);
    ck_assert_int_eq(launch_env_check_pre_mpi(), WS_ERR_ARG);     /* srun, no plugin */
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "srun --mpi=pmix"));
    setenv("PMIX_RANK", "0", 1);
    ck_assert_int_eq(launch_env_check_pre_mpi(), WS_OK);          /* srun --mpi=pmix */
    unsetenv("PMIX_RANK");
    setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
    ck_assert_int_eq(launch_env_check_pre_mpi(), WS_OK);          /* mpirun inside a job */
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("SLURM_STEP_ID");
}
END_TEST

int main(void) {
    Suite *s = suite_create("launch_env");
    TCase *tc = tcase_create("launch_env");
    tcase_add_test(tc, tasks_per_node_fits);
    tcase_add_test(tc, tasks_per_node_does_not_fit);
    tcase_add_test(tc, tasks_per_node_malformed);
    tcase_add_test(tc, srun_without_pmix);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_NORMAL);
}
