/* `webssl-dist cost`: the cost model (model/cost_model.h) for one architecture or every
 * published one: FLOPs, weights and activations per rank, bytes all-reduced, expected throughput
 * and device-hours per billion images on a hardware profile, and the `--tp auto` choice for a
 * given device memory. `--markdown` prints the table docs/scaling.md is made from. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "common/error.h"
#include "common/arch.h"
#include "model/cost_model.h"

#define GIB (1024.0 * 1024.0 * 1024.0)
#define MIB (1024.0 * 1024.0)

typedef struct {
    int res, batch, tp, format, world;   /* format: 0 text, 1 Markdown, 2 CSV; tp -1: 1, 2, 4 and 8 */
    ws_dtype dtype;
    double device_memory;   /* bytes; 0: the hardware profile's */
    ws_hardware hw;
    /* As given: */
    const char *arch, *hardware, *memory;
    double efficiency, peak_gflops, mem_gbs, link_gbs, link_us;
} cost_options;

#define O(field) offsetof(cost_options, field)

static const flag_spec flags[] = {
    FLAG("--arch", "NAME|FILE.yaml|published", FLAG_STRING, O(arch), "one architecture, or every published one",
     .attrs = FLAG_REQUIRED),
    FLAG("--resolution", "R", FLAG_INT, O(res), "input resolution [the architecture's]"),
    FLAG("--batch", "B", FLAG_INT, O(batch), "images per batch"),
    FLAG("--dtype", NULL, FLAG_DTYPE, O(dtype), "GEMM weight type", .words = "fp32|bf16"),
    FLAG("--tp", "N|auto", FLAG_INT_AUTO, O(tp), "one tensor-parallel size, or the smallest that fits\n"
     "[1, 2, 4 and 8]"),
    FLAG("--world", "N", FLAG_INT, O(world), "ranks to divide for --tp auto"),
    FLAG("--hardware", "NAME", FLAG_STRING, O(hardware), "hardware profile"),
    FLAG("--efficiency", "E", FLAG_REAL, O(efficiency), "fraction of peak FLOP/s reached [the profile's]"),
    FLAG("--peak-gflops", "G", FLAG_REAL, O(peak_gflops), "override the profile's peak GFLOP/s per rank (both dtypes)\n"
     "[the profile's]"),
    FLAG("--mem-gbs", "G", FLAG_REAL, O(mem_gbs), "override its memory bandwidth (GB/s) [the profile's]"),
    FLAG("--link-gbs", "G", FLAG_REAL, O(link_gbs), "override its all-reduce link bandwidth inside a node (GB/s, one\n"
     "direction; the link efficiency becomes 1: give what was measured)\n[the profile's]"),
    FLAG("--link-latency-us", "U", FLAG_REAL, O(link_us), "override its all-reduce latency inside a node\n"
     "(microseconds) [the profile's]"),
    FLAG("--device-memory", "GiB|host", FLAG_STRING, O(memory), "memory per rank ('host' = available host memory /\n"
     "--world) [the profile's]"),
    FLAG("--markdown", NULL, FLAG_SWITCH, O(format), "print a Markdown table", .set = 1),
    FLAG("--csv", NULL, FLAG_SWITCH, O(format), "print CSV (bytes, FLOPs, seconds)", .set = 2),
};

static const flag_table table = FLAG_TABLE("cost", NULL, flags);

static void print_header(int format) {
    if (format == 2) {
        printf("model,tp,batch,dtype,res,heads_rank,hidden_rank,params,params_rank,flops_image,"
               "flops_image_rank,weight_bytes_rank,activation_bytes_rank,rank_bytes,allreduce_bytes_block,"
               "allreduce_bytes_image,allreduces_batch,compute_s,weights_s,comm_s,images_per_s_device,"
               "gpu_hours_per_billion,comm_share\n");
    } else if (format == 1) {
        printf("| model | tp | heads/rank | GFLOP/img | weights/rank GiB | act/rank GiB | "
               "all-reduce MiB/block | all-reduce MiB/img | img/s/GPU | comm share | "
               "GPU-h per 1e9 img | fits |\n");
        printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    } else {
        printf("%-28s %3s %5s %9s %8s %8s %9s %9s %9s %6s %10s %4s\n", "model", "tp", "heads",
               "GFLOP/img", "w GiB", "act GiB", "AR MiB/b", "AR MiB/i", "img/s/GPU", "comm",
               "GPUh/1e9", "fits");
    }
}

static int print_row(const ws_arch *a, const cost_options *o, int tp) {
    ws_cost c;
    int rc = cost_compute(a, o->res, o->batch, tp, o->dtype, &c);
    if (rc < 0) return rc;
    ws_throughput t;
    cost_throughput(&c, &o->hw, &t);
    double mem = o->device_memory > 0 ? o->device_memory : o->hw.memory_bytes;
    const char *fits = cost_rank_bytes(&c) <= mem ? "yes" : "no";
    const int prec = t.images_per_s_device < 10 ? 2 : 0;   /* CPU rates are fractions of an image */
    if (o->format == 2)
        printf("%s,%d,%d,%s,%d,%d,%d,%lld,%lld,%.6g,%.6g,%zu,%zu,%.0f,%zu,%.6g,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.4f\n",
               a->name, tp, c.B, ws_dtype_name(c.dtype), c.res, c.heads_rank, c.hidden_rank,
               (long long)c.params, (long long)c.params_rank, c.flops_image, c.flops_image_rank,
               c.weight_bytes_rank, c.activation_bytes_rank, cost_rank_bytes(&c), c.allreduce_bytes_block,
               c.allreduce_bytes_image, c.allreduces_batch, t.compute_s, t.weights_s, t.comm_s,
               t.images_per_s_device, t.gpu_hours_per_billion, t.comm_share);
    else if (o->format == 1)
        printf("| %s | %d | %d | %.1f | %.2f | %.2f | %.1f | %.2f | %.*f | %.0f%% | %.0f | %s |\n", a->name,
               tp, c.heads_rank, c.flops_image / 1e9, (double)c.weight_bytes_rank / GIB,
               (double)c.activation_bytes_rank / GIB, (double)c.allreduce_bytes_block / MIB,
               c.allreduce_bytes_image / MIB, prec, t.images_per_s_device, 100.0 * t.comm_share,
               t.gpu_hours_per_billion, fits);
    else
        printf("%-28s %3d %5d %9.1f %8.2f %8.2f %9.1f %9.2f %9.*f %5.0f%% %10.0f %4s\n", a->name, tp,
               c.heads_rank, c.flops_image / 1e9, (double)c.weight_bytes_rank / GIB,
               (double)c.activation_bytes_rank / GIB, (double)c.allreduce_bytes_block / MIB,
               c.allreduce_bytes_image / MIB, prec, t.images_per_s_device, 100.0 * t.comm_share,
               t.gpu_hours_per_billion, fits);
    return WS_OK;
}

static int report_arch(const ws_arch *a, const cost_options *o) {
    if (o->tp == 0) {   /* --tp auto */
        char why[512];
        double mem = o->device_memory > 0 ? o->device_memory : o->hw.memory_bytes;
        int tp = cost_pick_tp(a, o->res, o->batch, o->dtype, o->world, mem, why, sizeof why);
        if (tp < 0) return tp;
        if (o->format == 0) printf("%s: --tp auto picks %s\n", a->name, why);
        return print_row(a, o, tp);
    }
    if (o->tp > 0) return print_row(a, o, o->tp);
    for (int tp = 1; tp <= 8 && tp <= a->num_heads; tp *= 2) {
        int rc = print_row(a, o, tp);
        if (rc < 0) return rc;
    }
    return WS_OK;
}

/* The hardware profile with the overrides given. */
static int set_hardware(cost_options *o) {
    const ws_hardware *hw = cost_hardware_find(o->hardware);
    if (!hw) return ws_errorf(WS_ERR_ARG, "unknown --hardware '%s' (known: h100)", o->hardware);
    o->hw = *hw;
    if (o->efficiency > 0) o->hw.efficiency = o->efficiency;
    if (o->peak_gflops > 0) o->hw.peak_flops_bf16 = o->hw.peak_flops_fp32 = o->peak_gflops * 1e9;
    if (o->mem_gbs > 0) o->hw.mem_bw = o->mem_gbs * 1e9;
    if (o->link_gbs > 0) {
        o->hw.intra_bw = o->link_gbs * 1e9;
        o->hw.link_efficiency = 1.0;
    }
    if (o->link_us > 0) o->hw.intra_latency = o->link_us * 1e-6;
    if (o->memory && !strcmp(o->memory, "host")) {
        size_t free_b = 0, total_b = 0;
        if (backend_memory_info("cpu", 0, &free_b, &total_b) != WS_OK)
            return ws_errorf(WS_ERR_ARG, "--device-memory host: %s", ws_error_message());
        o->device_memory = (double)free_b / o->world;
    } else if (o->memory) {
        int rc = flag_real("--device-memory", o->memory, &o->device_memory);
        if (rc != WS_OK) return rc;
        o->device_memory *= GIB;
    }
    return WS_OK;
}

int cmd_cost(int argc, char **argv) {
    cost_options o = {.res = 0, .batch = 32, .tp = -1, .world = 8, .dtype = WS_DTYPE_BF16, .hardware = "h100"};
    int code = flags_parse_or_exit(&table, argc, argv, &o, sizeof o, 1);
    if (code >= 0) return code;
    int rc = set_hardware(&o);
    const char *arch_name = o.arch;
    if (rc == WS_OK && !strcmp(arch_name, "published")) {
        print_header(o.format);
        for (size_t i = 0; i < arch_builtin_count() && rc == WS_OK; i++) {
            const ws_arch *a = arch_builtin_at(i);
            if (strncmp(a->name, "webssl-", 7)) continue;
            rc = report_arch(a, &o);
            if (rc == WS_ERR_ARG && o.tp == 0 && o.format == 0) {   /* --tp auto: say it, go on */
                printf("%s: %s\n", a->name, ws_error_message());
                rc = WS_OK;
            }
        }
    } else if (rc == WS_OK) {
        ws_arch a;
        rc = arch_resolve(arch_name, &a);
        /* Check the flags against the architecture before printing anything. */
        ws_cost c;
        if (rc == WS_OK) rc = cost_compute(&a, o.res, o.batch, o.tp > 0 ? o.tp : 1, o.dtype, &c);
        if (rc == WS_OK) {
            print_header(o.format);
            rc = report_arch(&a, &o);
        }
    }
    if (rc < 0) {
        fprintf(stderr, "webssl-dist cost: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    return WS_EXIT_OK;
}
