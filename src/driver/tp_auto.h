/* `--tp auto` for a launched run: the smallest tensor-parallel size whose weights and
 * activations fit the memory of one rank, from the cost model (model/cost_model.h,
 * cost_pick_tp). Runs before the topology is made (the choice decides the dp x tp split). */
#ifndef WEBSSL_DRIVER_TP_AUTO_H
#define WEBSSL_DRIVER_TP_AUTO_H

#include "common/dtype.h"
#include "loaders/checkpoint.h"

/* Collective over MPI_COMM_WORLD. World rank 0 reads the architecture of the open checkpoint
 * `model` (config.json, `arch_flag`, or shape match: loaders/arch_match.h); every rank measures the
 * memory it may use: on "cpu" the host's available memory / ranks on its node, on "cuda" its
 * GPU's free memory / ranks sharing that GPU. The minimum over the world goes to cost_pick_tp at
 * `resolution` (0: the model's), batch `B` and weight type `dt`, so every rank picks the same tp.
 * World rank 0 logs the choice and the reason. Returns WS_OK with *tp set, or the same error on
 * every rank (unreadable model, nothing fits: the message says what the largest tp needs). */
int tp_auto_pick(const ws_ckpt *model, const char *arch_flag, const char *device, int resolution, int B,
                 ws_dtype dt, int *tp);

#endif
