/* The kernel emulator's runtime (interface: cuda_emu.h, emu_control.h): one fiber (ucontext) per
 * CUDA thread, a scheduler that runs the blocks of a launch one at a time and resumes a block's
 * runnable threads in the order of the current schedule, the block barrier, warp-wide operations
 * (shuffles, mma.sync), dynamic shared memory and its per-kernel limit (cudaFuncSetAttribute), and
 * the launch status seen by cudaGetLastError(). Under AddressSanitizer
 * every switch is announced with __sanitizer_start/finish_switch_fiber. Single OS thread. */
#include "cuda_emu.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMU_ASAN 1
#endif
#endif
#ifdef EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

uint3 emu_thread_idx, emu_block_idx;
dim3 emu_block_dim, emu_grid_dim;

namespace {

enum { STACK_BYTES = 256 << 10, MAX_THREADS = 1024 };
/* Dynamic shared memory per block: the default limit, and the most cudaFuncSetAttribute may allow
 * (sm_90: 227 KB). */
enum { SMEM_DEFAULT = 48 << 10, SMEM_OPTIN_MAX = 227 << 10 };

enum state { RUNNABLE, AT_BARRIER, AT_WARP, STUCK, DONE };

struct async_copy {
    void *dst;
    unsigned char data[16];   /* read at issue */
    int group;                /* the commit that closes its group */
};

struct fiber {
    std::vector<async_copy> copies;   /* cp.async in flight */
    int committed = 0;
    ucontext_t ctx;
    char *stack = nullptr;
    state st = DONE;
    uint3 tid;
    int linear = 0;
    const void *in = nullptr;   /* operands of the warp operation this thread waits in */
    void *out = nullptr;
};

struct warp {
    uint32_t arrived = 0;       /* lanes waiting in the current operation */
    uint32_t mask = 0;
    const char *what = nullptr, *file = nullptr;
    int line = 0;
    emu_warp_fn fn = nullptr;
};

struct launch {
    const char *kernel = "";
    void (*body)(void *) = nullptr;
    void *ctx = nullptr;
    std::vector<fiber> fibers;
    std::vector<warp> warps;
    int nthreads = 0, live = 0;
    int bar_arrived = 0;
    const char *bar_file = nullptr;
    int bar_line = 0;
    fiber *cur = nullptr;
    ucontext_t sched;
    bool failed = false;
    std::string why;
    unsigned char *dyn = nullptr;   /* dynamic shared memory of the running launch, its exact size */
#ifdef EMU_ASAN
    const void *sched_bottom = nullptr;
    size_t sched_size = 0;
#endif
    ~launch() {
        for (fiber &f : fibers) free(f.stack);
    }
};

launch L;
emu_schedule schedule = EMU_SCHEDULE_FORWARD;
uint64_t rng = 1;
std::map<const void *, int> smem_limit;   /* MaxDynamicSharedMemorySize set per kernel */
cudaError_t last_error = cudaSuccess;
std::string last_failure;

uint64_t next_random() {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Orders idx[] by the current schedule. */
void order(std::vector<int> &idx) {
    if (schedule == EMU_SCHEDULE_REVERSE) std::reverse(idx.begin(), idx.end());
    if (schedule == EMU_SCHEDULE_RANDOM)
        for (size_t i = idx.size(); i > 1; i--) std::swap(idx[i - 1], idx[next_random() % i]);
}

void fail(const char *fmt, ...) {
    if (L.failed) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char where[160];
    snprintf(where, sizeof where, "%s, block (%u,%u,%u): ", L.kernel, emu_block_idx.x, emu_block_idx.y,
             emu_block_idx.z);
    L.failed = true;
    L.why = std::string(where) + msg;
}

/* Switch from the running fiber to the scheduler; returns when the scheduler resumes it. */
void yield_to_scheduler(bool dying) {
    fiber *f = L.cur;
#ifdef EMU_ASAN
    void *fake = nullptr;
    __sanitizer_start_switch_fiber(dying ? nullptr : &fake, L.sched_bottom, L.sched_size);
    swapcontext(&f->ctx, &L.sched);
    __sanitizer_finish_switch_fiber(fake, &L.sched_bottom, &L.sched_size);
#else
    (void)dying;
    swapcontext(&f->ctx, &L.sched);
#endif
}

/* The running thread waits (state already set) until another thread releases it; a thread that
 * caused a failure waits for ever (the block is abandoned). */
void block_current() {
    yield_to_scheduler(false);
}

void release_barrier() {
    for (fiber &f : L.fibers)
        if (f.st == AT_BARRIER) f.st = RUNNABLE;
    L.bar_arrived = 0;
}

void fiber_entry() {
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &L.sched_bottom, &L.sched_size);
#endif
    L.body(L.ctx);
    fiber *f = L.cur;
    f->st = DONE;
    L.live--;
    /* Exited threads no longer hold up a barrier (as on the device). */
    if (L.bar_arrived > 0 && L.bar_arrived == L.live) release_barrier();
    yield_to_scheduler(true);
}

void run_fiber(fiber *f) {
    L.cur = f;
    emu_thread_idx = f->tid;
#ifdef EMU_ASAN
    void *fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, f->stack, STACK_BYTES);
    swapcontext(&L.sched, &f->ctx);
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
    swapcontext(&L.sched, &f->ctx);
#endif
}

std::string lanes(uint32_t m) {
    std::string s;
    for (int i = 0; i < 32; i++)
        if (m >> i & 1) s += (s.empty() ? "" : ",") + std::to_string(i);
    return s;
}

/* Every live thread is blocked: say where. */
void report_deadlock() {
    std::string s = "deadlock:";
    if (L.bar_arrived)
        s += " " + std::to_string(L.bar_arrived) + " of " + std::to_string(L.live) + " live threads wait at " +
             "__syncthreads (" + L.bar_file + ":" + std::to_string(L.bar_line) + ");";
    for (size_t w = 0; w < L.warps.size(); w++) {
        const warp &W = L.warps[w];
        if (!W.arrived) continue;
        uint32_t exited = 0;
        for (int l = 0; l < 32; l++) {
            const size_t t = w * 32 + l;
            if (t >= L.fibers.size() || L.fibers[t].st == DONE) exited |= 1u << l;
        }
        s += " warp " + std::to_string(w) + " lanes " + lanes(W.arrived) + " wait in " + W.what + " (" + W.file + ":" +
             std::to_string(W.line) + ") for lanes " + lanes(W.mask & ~W.arrived) +
             ((W.mask & ~W.arrived & exited) ? " (some exited)" : "") + ";";
    }
    fail("%s", s.c_str());
}

void run_block() {
    for (int t = 0; t < L.nthreads; t++) {
        fiber &f = L.fibers[t];
        f.st = RUNNABLE;
        f.linear = t;
        f.copies.clear();
        f.committed = 0;
        f.tid.x = t % emu_block_dim.x;
        f.tid.y = t / emu_block_dim.x % emu_block_dim.y;
        f.tid.z = t / (emu_block_dim.x * emu_block_dim.y);
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = f.stack;
        f.ctx.uc_stack.ss_size = STACK_BYTES;
        f.ctx.uc_link = nullptr;
        makecontext(&f.ctx, fiber_entry, 0);
    }
    for (warp &W : L.warps) W = warp();
    L.live = L.nthreads;
    L.bar_arrived = 0;
    std::vector<int> idx;
    while (L.live > 0 && !L.failed) {
        idx.clear();
        for (int t = 0; t < L.nthreads; t++)
            if (L.fibers[t].st == RUNNABLE) idx.push_back(t);
        if (idx.empty()) {
            report_deadlock();
            break;
        }
        if (schedule == EMU_SCHEDULE_EAGER) idx.resize(1);   /* the lowest runs on until it blocks */
        order(idx);
        for (int t : idx) {
            if (L.failed) break;
            if (L.fibers[t].st == RUNNABLE) run_fiber(&L.fibers[t]);
        }
    }
#ifdef EMU_ASAN
    if (L.failed)   /* abandoned fibers leave poisoned frames on their stacks */
        for (fiber &f : L.fibers) __asan_unpoison_memory_region(f.stack, STACK_BYTES);
#endif
}

void warp_op_done(warp &W, int w) {
    for (int l = 0; l < 32; l++)
        if (W.mask >> l & 1) L.fibers[(size_t)w * 32 + l].st = RUNNABLE;
    W.arrived = 0;
}

/* bf16 halves of a packed .b32 register: the element with the lower index in the low 16 bits. */
float bf16_lo(uint32_t r) {
    const uint32_t u = r << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
float bf16_hi(uint32_t r) {
    const uint32_t u = r & 0xffff0000u;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

struct mma_in {
    uint32_t a[4], b[2];
    float c[4];
};

/* mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, from the PTX ISA's fragment layouts
 * (groupID = lane >> 2, threadID_in_group = lane % 4):
 *   A (16x16): a_i for i = 0..7 at row groupID (+8 for i in {2,3,6,7}),
 *              column threadID_in_group*2 + (i & 1) (+8 for i >= 4); registers a0a1, a2a3, ...
 *   B (16x8):  b_i for i = 0..3 at row threadID_in_group*2 + (i & 1) (+8 for i >= 2),
 *              column groupID; registers b0b1, b2b3
 *   C, D (16x8, f32): c_i at row groupID (+8 for i >= 2), column threadID_in_group*2 + (i & 1). */
void mma_16816(const void *const in[32], void *const out[32], uint32_t mask) {
    float A[16][16], B[16][8], C[16][8];
    for (int lane = 0; lane < 32; lane++) {
        const mma_in *p = static_cast<const mma_in *>(in[lane]);
        const int g = lane >> 2, t = lane & 3;
        for (int i = 0; i < 8; i++) {
            const uint32_t r = p->a[i / 2];
            A[g + ((i / 2) % 2) * 8][t * 2 + (i & 1) + (i >= 4 ? 8 : 0)] = (i & 1) ? bf16_hi(r) : bf16_lo(r);
        }
        for (int i = 0; i < 4; i++) {
            const uint32_t r = p->b[i / 2];
            B[t * 2 + (i & 1) + (i >= 2 ? 8 : 0)][g] = (i & 1) ? bf16_hi(r) : bf16_lo(r);
        }
        for (int i = 0; i < 4; i++) C[g + (i >= 2 ? 8 : 0)][t * 2 + (i & 1)] = p->c[i];
    }
    for (int lane = 0; lane < 32; lane++) {
        float *d = static_cast<float *>(out[lane]);
        const int g = lane >> 2, t = lane & 3;
        for (int i = 0; i < 4; i++) {
            const int m = g + (i >= 2 ? 8 : 0), n = t * 2 + (i & 1);
            double s = C[m][n];
            for (int k = 0; k < 16; k++) s += (double)A[m][k] * B[k][n];
            d[i] = (float)s;
        }
    }
    (void)mask;
}

/* ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16, from the PTX ISA: lane 8i + r holds the
 * address of row r of matrix i; lane l receives in register i the elements (l / 4, 2 (l % 4)) and
 * (l / 4, 2 (l % 4) + 1) of matrix i, or with .trans (2 (l % 4), l / 4) and (2 (l % 4) + 1, l / 4). */
template <bool TRANS>
void ldmatrix_x4(const void *const in[32], void *const out[32], uint32_t mask) {
    for (int l = 0; l < 32; l++) {
        uint32_t *r = static_cast<uint32_t *>(out[l]);
        for (int i = 0; i < 4; i++) {
            uint16_t e[2];
            for (int j = 0; j < 2; j++) {
                const int row = TRANS ? 2 * (l % 4) + j : l / 4, col = TRANS ? l / 4 : 2 * (l % 4) + j;
                const uint16_t *p = *static_cast<const uint16_t *const *>(in[i * 8 + row]);
                e[j] = p[col];
            }
            r[i] = (uint32_t)e[0] | (uint32_t)e[1] << 16;
        }
    }
    (void)mask;
}

struct shfl_in {
    uint32_t v;
    int arg;
};

void shfl_xor(const void *const in[32], void *const out[32], uint32_t mask) {
    for (int l = 0; l < 32; l++) {
        if (!in[l]) continue;
        const shfl_in *p = static_cast<const shfl_in *>(in[l]);
        const int src = l ^ (p->arg & 31);
        *static_cast<uint32_t *>(out[l]) = in[src] ? static_cast<const shfl_in *>(in[src])->v : p->v;
    }
    (void)mask;
}

void shfl_idx(const void *const in[32], void *const out[32], uint32_t mask) {
    for (int l = 0; l < 32; l++) {
        if (!in[l]) continue;
        const shfl_in *p = static_cast<const shfl_in *>(in[l]);
        const int src = p->arg & 31;
        *static_cast<uint32_t *>(out[l]) = in[src] ? static_cast<const shfl_in *>(in[src])->v : p->v;
    }
    (void)mask;
}

}  // namespace

cudaError_t emu_launch(const char *kernel, const void *key, dim3 grid, dim3 block, size_t smem,
                       void (*body)(void *), void *ctx) {
    const long nthreads = (long)block.x * block.y * block.z;
    const long nblocks = (long)grid.x * grid.y * grid.z;
    if (nthreads <= 0 || nthreads > MAX_THREADS || nblocks <= 0 || grid.y > 65535 || grid.z > 65535) {
        last_error = cudaErrorInvalidConfiguration;
        last_failure = std::string(kernel) + ": invalid launch configuration";
        return last_error;
    }
    const auto lim = smem_limit.find(key);
    const size_t max_smem = lim != smem_limit.end() ? (size_t)lim->second : (size_t)SMEM_DEFAULT;
    if (smem > max_smem) {
        last_error = cudaErrorInvalidValue;
        last_failure = std::string(kernel) + ": " + std::to_string(smem) + " bytes of dynamic shared memory, over " +
                       "the kernel's limit of " + std::to_string(max_smem) +
                       " (cudaFuncSetAttribute MaxDynamicSharedMemorySize)";
        fprintf(stderr, "emu: %s\n", last_failure.c_str());
        return last_error;
    }
    /* Its own allocation of the size asked for (a multiple of 16 in practice), so that AddressSanitizer
     * reports an access past it. */
    L.dyn = smem ? static_cast<unsigned char *>(aligned_alloc(16, (smem + 15) / 16 * 16)) : nullptr;
    if (smem) memset(L.dyn, 0xff, smem);
    L.kernel = kernel;
    L.body = body;
    L.ctx = ctx;
    L.nthreads = (int)nthreads;
    L.failed = false;
    L.why.clear();
    if (L.fibers.size() < (size_t)nthreads) {
        const size_t old = L.fibers.size();
        L.fibers.resize(nthreads);
        for (size_t i = old; i < L.fibers.size(); i++) L.fibers[i].stack = static_cast<char *>(malloc(STACK_BYTES));
    }
    L.warps.assign((nthreads + 31) / 32, warp());
    emu_block_dim = block;
    emu_grid_dim = grid;
    std::vector<int> blocks(nblocks);
    for (long b = 0; b < nblocks; b++) blocks[b] = (int)b;
    order(blocks);
    for (int b : blocks) {
        emu_block_idx.x = b % grid.x;
        emu_block_idx.y = b / grid.x % grid.y;
        emu_block_idx.z = b / (grid.x * grid.y);
        run_block();
        if (L.failed) break;
    }
    free(L.dyn);
    L.dyn = nullptr;
    if (L.failed) {
        fprintf(stderr, "emu: %s\n", L.why.c_str());
        last_failure = L.why;
        last_error = cudaErrorLaunchFailure;
        return last_error;
    }
    return cudaSuccess;
}

void emu_syncthreads(const char *file, int line) {
    fiber *f = L.cur;
    if (L.bar_arrived == 0) {
        L.bar_file = file;
        L.bar_line = line;
    } else if (L.bar_line != line || strcmp(L.bar_file, file) != 0) {
        fail("divergent __syncthreads: thread %d at %s:%d while %d threads wait at %s:%d", f->linear, file, line,
             L.bar_arrived, L.bar_file, L.bar_line);
        f->st = STUCK;
        block_current();
        return;
    }
    f->st = AT_BARRIER;
    if (++L.bar_arrived == L.live) {
        release_barrier();
        return;
    }
    block_current();
}

void emu_warp_op(const char *what, uint32_t mask, emu_warp_fn fn, const void *in, void *out, const char *file,
                 int line) {
    fiber *f = L.cur;
    const int lane = f->linear % 32, w = f->linear / 32;
    warp &W = L.warps[w];
    if (!(mask >> lane & 1)) {
        fail("%s (%s:%d) on lane %d of warp %d, which its mask 0x%08x leaves out", what, file, line, lane, w, mask);
        f->st = STUCK;
        block_current();
        return;
    }
    if (W.arrived == 0) {
        W.mask = mask;
        W.what = what;
        W.file = file;
        W.line = line;
        W.fn = fn;
    } else if (W.fn != fn || W.mask != mask || W.line != line || strcmp(W.file, file) != 0) {
        fail("divergent warp operation in warp %d: lane %d at %s (%s:%d) while lanes %s wait in %s (%s:%d)", w,
             lane, what, file, line, lanes(W.arrived).c_str(), W.what, W.file, W.line);
        f->st = STUCK;
        block_current();
        return;
    }
    f->in = in;
    f->out = out;
    f->st = AT_WARP;
    W.arrived |= 1u << lane;
    if (W.arrived == W.mask) {
        if (fn) {
            const void *ins[32] = {};
            void *outs[32] = {};
            for (int l = 0; l < 32; l++)
                if (mask >> l & 1) {
                    ins[l] = L.fibers[(size_t)w * 32 + l].in;
                    outs[l] = L.fibers[(size_t)w * 32 + l].out;
                }
            fn(ins, outs, mask);
        }
        warp_op_done(W, w);
        return;
    }
    block_current();
}

uint32_t emu_shfl(int kind, uint32_t mask, uint32_t v, int arg, const char *file, int line) {
    const shfl_in in = {v, arg};
    uint32_t out = v;
    if (kind == EMU_SHFL_XOR) emu_warp_op("__shfl_xor_sync", mask, shfl_xor, &in, &out, file, line);
    else emu_warp_op("__shfl_sync", mask, shfl_idx, &in, &out, file, line);
    return out;
}

void emu_mma_bf16_16816(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1, const char *file, int line) {
    mma_in in = {{a[0], a[1], a[2], a[3]}, {b0, b1}, {d[0], d[1], d[2], d[3]}};
    emu_warp_op("mma.sync.m16n8k16.bf16", 0xffffffffu, mma_16816, &in, d, file, line);
}

void emu_ldmatrix_x4(uint32_t r[4], const void *smem, bool trans, const char *file, int line) {
    if ((uintptr_t)smem % 16 != 0) {
        fail("ldmatrix (%s:%d): lane %d's row address %p is not 16-byte aligned", file, line, L.cur->linear % 32,
             smem);
        L.cur->st = STUCK;
        block_current();
        return;
    }
    const void *in = smem;
    emu_warp_op(trans ? "ldmatrix.x4.trans" : "ldmatrix.x4", 0xffffffffu, trans ? ldmatrix_x4<true> : ldmatrix_x4<false>,
                &in, r, file, line);
}

void emu_cp_async_16(void *smem, const void *gmem, int src_bytes, const char *file, int line) {
    fiber *f = L.cur;
    if ((uintptr_t)smem % 16 || (uintptr_t)gmem % 16 || src_bytes < 0 || src_bytes > 16) {
        fail("cp.async (%s:%d) on thread %d: addresses %p <- %p must be 16-byte aligned and the source size "
             "(%d) 0..16", file, line, f->linear, smem, gmem, src_bytes);
        f->st = STUCK;
        block_current();
        return;
    }
    async_copy c = {smem, {}, f->committed};
    if (src_bytes) memcpy(c.data, gmem, (size_t)src_bytes);
    if (schedule == EMU_SCHEDULE_EAGER) memcpy(smem, c.data, 16);
    else f->copies.push_back(c);
}

void emu_cp_async_commit(void) { L.cur->committed++; }

void *emu_dynamic_shared(void) { return L.dyn; }

void emu_cp_async_wait(int n) {
    fiber *f = L.cur;
    std::vector<async_copy> still;
    for (const async_copy &c : f->copies) {
        if (c.group < f->committed - n) memcpy(c.dst, c.data, 16);
        else still.push_back(c);
    }
    f->copies.swap(still);
}

void emu_record_error(cudaError_t e) { last_error = e; }

extern "C" {

/* The launchers' status: the last error of a launch or of a runtime call (emu_cudart.cpp), cleared
 * by reading it (the emulator's errors are not sticky: the next launch runs normally). */
cudaError_t cudaGetLastError(void) {
    const cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

void emu_set_schedule(emu_schedule s, uint64_t seed) {
    schedule = s;
    rng = seed ? seed : 1;
}

const char *emu_schedule_name(emu_schedule s) {
    return s == EMU_SCHEDULE_FORWARD ? "forward" : s == EMU_SCHEDULE_REVERSE ? "reverse"
                                                 : s == EMU_SCHEDULE_RANDOM  ? "random"
                                                                             : "eager";
}

/* The one attribute the kernels set: the dynamic shared memory a kernel may be launched with. */
cudaError_t cudaFuncSetAttribute(const void *func, enum cudaFuncAttribute attr, int value) {
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || value > SMEM_OPTIN_MAX)
        return cudaErrorInvalidValue;
    smem_limit[func] = value;
    return cudaSuccess;
}

const char *emu_last_failure(void) {
    static std::string copy;
    copy = last_failure;
    last_failure.clear();
    return copy.c_str();
}
}
