/* `webssl-dist cost`: the cost model (model/cost_model.h) for one architecture or every
 * published one: FLOPs, weights and activations per rank, bytes all-reduced, expected throughput
 * and device-hours per billion images on a hardware profile, and the `--tp auto` choice for a
 * given device memory. `--markdown` prints the table docs/scaling.md is made from. */
#include <getopt.h>
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
    int res, batch, tp, format, world;   /* format: 0 text, 1 Markdown, 2 CSV */
    ws_dtype dtype;
    double device_memory;   /* bytes; 0: the hardware profile's */
    ws_hardware hw;
} cost_options;

static void usage(FILE *f) {
    fprintf(f,
            "usage: webssl-dist cost --arch NAME|FILE.yaml|published [options]\n"
            "  --resolution R       input resolution (default: the architecture's)\n"
            "  --batch B            images per batch (default 32)\n"
            "  --dtype fp32|bf16    GEMM weight type (default bf16)\n"
            "  --tp N|auto          one tensor-parallel size, or the smallest that fits\n"
            "                       (default: 1, 2, 4 and 8)\n"
            "  --world N            ranks to divide for --tp auto (default 8)\n"
            "  --hardware NAME      hardware profile (default h100)\n"
            "  --efficiency E       fraction of peak FLOP/s reached (default: the profile's)\n"
            "  --peak-gflops G      override the profile's peak GFLOP/s per rank (both dtypes)\n"
            "  --mem-gbs G          override its memory bandwidth (GB/s)\n"
            "  --link-gbs G         override its all-reduce link bandwidth inside a node (GB/s, one\n"
            "                       direction; the link efficiency becomes 1: give what was measured)\n"
            "  --link-latency-us U  override its all-reduce latency inside a node (microseconds)\n"
            "  --device-memory GiB  memory per rank (default: the profile's; 'host' = available\n"
            "                       host memory / --world)\n"
            "  --markdown, --csv    print a Markdown table / CSV (bytes, FLOPs, seconds)\n");
}

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

/* An integer flag (cli/flags.h), the message printed here. 0 or -1. */
static int parse_int(const char *flag, const char *s, int *out) {
    if (flag_int(flag, s, out) == WS_OK) return 0;
    fprintf(stderr, "webssl-dist cost: %s\n", ws_error_message());
    return -1;
}

static int parse_double(const char *flag, const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(v > 0)) {
        fprintf(stderr, "webssl-dist cost: %s '%s' must be a positive number\n", flag, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cmd_cost(int argc, char **argv) {
    static const struct option longopts[] = {
        {"arch", required_argument, 0, 'a'},       {"resolution", required_argument, 0, 'r'},
        {"batch", required_argument, 0, 'b'},      {"dtype", required_argument, 0, 'd'},
        {"tp", required_argument, 0, 't'},         {"world", required_argument, 0, 'w'},
        {"hardware", required_argument, 0, 'H'},   {"efficiency", required_argument, 0, 'e'},
        {"device-memory", required_argument, 0, 'm'},
        {"peak-gflops", required_argument, 0, 'P'}, {"mem-gbs", required_argument, 0, 'B'},
        {"link-gbs", required_argument, 0, 'L'},   {"link-latency-us", required_argument, 0, 'U'}, {"markdown", no_argument, 0, 'M'},
        {"csv", no_argument, 0, 'V'},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
    cost_options o = {.res = 0, .batch = 32, .tp = -1, .world = 8, .dtype = WS_DTYPE_BF16};
    const char *arch_name = NULL, *hw_name = "h100", *memory = NULL;
    double efficiency = 0, peak_gflops = 0, mem_gbs = 0, link_gbs = 0, link_us = 0;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (opt) {
        case 'a': arch_name = optarg; break;
        case 'r': bad = parse_int("--resolution", optarg, &o.res); break;
        case 'b': bad = parse_int("--batch", optarg, &o.batch); break;
        case 'd':
            if (ws_dtype_parse(optarg, &o.dtype) < 0 || o.dtype == WS_DTYPE_F16) {
                fprintf(stderr, "webssl-dist cost: --dtype '%s' must be fp32 or bf16\n", optarg);
                bad = 1;
            }
            break;
        case 't':
            if (!strcmp(optarg, "auto")) o.tp = 0;
            else bad = parse_int("--tp", optarg, &o.tp);
            break;
        case 'w': bad = parse_int("--world", optarg, &o.world); break;
        case 'H': hw_name = optarg; break;
        case 'e':
            bad = parse_double("--efficiency", optarg, &efficiency);
            if (!bad && efficiency > 1) {
                fprintf(stderr, "webssl-dist cost: --efficiency %g must be at most 1\n", efficiency);
                bad = 1;
            }
            break;
        case 'm': memory = optarg; break;
        case 'P': bad = parse_double("--peak-gflops", optarg, &peak_gflops); break;
        case 'B': bad = parse_double("--mem-gbs", optarg, &mem_gbs); break;
        case 'L': bad = parse_double("--link-gbs", optarg, &link_gbs); break;
        case 'U': bad = parse_double("--link-latency-us", optarg, &link_us); break;
        case 'M': o.format = 1; break;
        case 'V': o.format = 2; break;
        case 'h': usage(stdout); return WS_EXIT_OK;
        default: usage(stderr); return WS_EXIT_USAGE;
        }
        if (bad) return WS_EXIT_USAGE;
    }
    if (!arch_name || optind < argc) {
        if (optind < argc) fprintf(stderr, "webssl-dist cost: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return WS_EXIT_USAGE;
    }
    const ws_hardware *hw = cost_hardware_find(hw_name);
    if (!hw) {
        fprintf(stderr, "webssl-dist cost: unknown --hardware '%s' (known: h100)\n", hw_name);
        return WS_EXIT_USAGE;
    }
    o.hw = *hw;
    if (efficiency > 0) o.hw.efficiency = efficiency;
    if (peak_gflops > 0) o.hw.peak_flops_bf16 = o.hw.peak_flops_fp32 = peak_gflops * 1e9;
    if (mem_gbs > 0) o.hw.mem_bw = mem_gbs * 1e9;
    if (link_gbs > 0) {
        o.hw.intra_bw = link_gbs * 1e9;
        o.hw.link_efficiency = 1.0;
    }
    if (link_us > 0) o.hw.intra_latency = link_us * 1e-6;
    if (memory && !strcmp(memory, "host")) {
        size_t free_b = 0, total_b = 0;
        if (backend_memory_info("cpu", 0, &free_b, &total_b) != WS_OK) {
            fprintf(stderr, "webssl-dist cost: --device-memory host: %s\n", ws_error_message());
            return WS_EXIT_USAGE;
        }
        o.device_memory = (double)free_b / o.world;
    } else if (memory) {
        if (parse_double("--device-memory", memory, &o.device_memory)) return WS_EXIT_USAGE;
        o.device_memory *= GIB;
    }

    int rc = WS_OK;
    if (!strcmp(arch_name, "published")) {
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
    } else {
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
