/* A host twin of the CUDA runtime API functions the CUDA backend calls (the .c files of
 * src/backend/cuda), from the runtime API's documented semantics, so that the backend, its pipeline
 * and the forward pass run on the CPU with the emulated kernels (cuda_emu.h) and cuBLASLt
 * (emu_cublaslt.cpp):
 * - one device; device memory is host memory. cudaMalloc and cudaHostAlloc allocations are tracked:
 *   a free of an unknown pointer (a double free included) or with the wrong function fails with
 *   cudaErrorInvalidValue and says so, and a copy whose device side is not inside a device
 *   allocation, or whose host side is, fails the same way (the direction given must be the true one);
 * - streams run their work in issue order, each launch or copy at once (a legal schedule: every
 *   stream complete before the next call), so events are complete when recorded;
 * - stream capture: between cudaStreamBeginCapture and cudaStreamEndCapture, launches, copies and
 *   graph launches on that stream are recorded (launch arguments by value, cuda_emu.h), not run;
 *   cudaGraphLaunch replays them in order. A potentially unsafe call during a capture
 *   (cudaMalloc, cudaHostAlloc, cudaFree, cudaFreeHost, a synchronisation) and a copy between the
 *   device and pageable host memory in the captured stream fail with
 *   cudaErrorStreamCaptureUnsupported and invalidate the capture, so that cudaStreamEndCapture fails
 *   with cudaErrorStreamCaptureInvalidated; waiting in the captured stream on an event recorded
 *   outside it fails with cudaErrorStreamCaptureIsolation, and using outside a capture an event last
 *   recorded inside it with cudaErrorCapturedEvent;
 * - a failing call leaves its error for cudaGetLastError (emu_runtime.cpp), as the runtime does;
 * - failures can be injected and counters read (emu_control.h). Single OS thread. */
#include "cuda_emu.h"

#include <stdio.h>
#include <stdlib.h>

#include <map>
#include <set>
#include <string>
#include <vector>

typedef std::function<cudaError_t()> emu_node;

struct CUstream_st {
    bool capturing = false, invalid = false;
    std::vector<emu_node> nodes;   /* recorded while capturing */
};
struct CUevent_st {
    bool recorded = false;   /* waiting on an event never recorded is a no-op */
    bool captured = false;   /* last recorded in a capturing stream */
};
struct CUgraph_st {
    std::vector<emu_node> nodes;
};
struct CUgraphExec_st {
    std::vector<emu_node> nodes;
};

namespace {

enum { DEVICES = 1, ALIGN = 256 };
const size_t TOTAL_MEMORY = (size_t)80 << 30;

struct allocation {
    size_t bytes;
    bool host;   /* cudaHostAlloc (pinned), else cudaMalloc */
};
std::map<uintptr_t, allocation> allocations;
size_t device_bytes = 0;
std::set<void *> streams, events, graphs, execs;
cudaStream_t capturing = nullptr;   /* the stream being captured, if any */
int current_device = 0;
std::string inject_call;
int inject_countdown = -1;
emu_counters counters;

cudaError_t fail(cudaError_t e) {
    emu_record_error(e);
    return e;
}

cudaError_t report(cudaError_t e, const char *fmt, const char *a, const void *p) {
    fprintf(stderr, "emu: ");
    fprintf(stderr, fmt, a, p);
    fprintf(stderr, "\n");
    return fail(e);
}

/* The allocation holding [p, p + bytes), or null. */
const allocation *find(const void *p, size_t bytes) {
    auto it = allocations.upper_bound((uintptr_t)p);
    if (it == allocations.begin()) return nullptr;
    --it;
    const uintptr_t base = it->first;
    if ((uintptr_t)p < base || (uintptr_t)p + bytes > base + (it->second.bytes ? it->second.bytes : 1)) return nullptr;
    return &it->second;
}
bool is_device(const void *p, size_t bytes) {
    const allocation *a = find(p, bytes);
    return a && !a->host;
}
bool is_pinned(const void *p, size_t bytes) {
    const allocation *a = find(p, bytes);
    return a && a->host;
}

/* A potentially unsafe call while a capture is under way: the capture is invalidated. */
bool unsafe_in_capture(const char *call) {
    if (!capturing) return false;
    fprintf(stderr, "emu: %s during stream capture: not allowed, the capture is invalidated\n", call);
    capturing->invalid = true;
    return true;
}

bool special(cudaStream_t s) { return s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread; }

/* Runs op on stream s now, or records it when s is being captured. */
cudaError_t enqueue(cudaStream_t s, emu_node op) {
    if (!special(s) && !streams.count(s)) return fail(cudaErrorInvalidResourceHandle);
    if (!special(s) && s->capturing) {
        if (s->invalid) return fail(cudaErrorStreamCaptureInvalidated);
        s->nodes.push_back(std::move(op));
        return cudaSuccess;
    }
    const cudaError_t e = op();
    return e == cudaSuccess ? e : fail(e);
}

/* Checks that the two sides of a copy (each `extent` bytes from its start; a 2-D copy: up to the end
 * of its last row) lie where `kind` says; in a captured stream, host memory must be pinned. */
cudaError_t check_copy(const char *call, void *dst, size_t dst_extent, const void *src, size_t src_extent,
                       cudaMemcpyKind kind, cudaStream_t s) {
    const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind != cudaMemcpyDefault) {
        if (dst_dev != is_device(dst, dst_extent))
            return report(cudaErrorInvalidValue, "%s: destination %p is not where the copy's kind says", call, dst);
        if (src_dev != is_device(src, src_extent))
            return report(cudaErrorInvalidValue, "%s: source %p is not where the copy's kind says", call, src);
    }
    const bool captured = !special(s) && s->capturing;
    if (captured && ((!dst_dev && !is_pinned(dst, dst_extent)) || (!src_dev && !is_pinned(src, src_extent)))) {
        unsafe_in_capture("a copy with pageable host memory");
        return fail(cudaErrorStreamCaptureUnsupported);
    }
    return cudaSuccess;
}

cudaError_t allocate(void **p, size_t bytes, bool host, const char *call) {
    if (!p) return fail(cudaErrorInvalidValue);
    *p = nullptr;
    if (unsafe_in_capture(call)) return fail(cudaErrorStreamCaptureUnsupported);
    if (emu_injected(call)) return fail(cudaErrorMemoryAllocation);
    void *q = aligned_alloc(ALIGN, (bytes + ALIGN - 1) / ALIGN * ALIGN + (bytes ? 0 : ALIGN));
    if (!q) return fail(cudaErrorMemoryAllocation);
    allocations[(uintptr_t)q] = allocation{bytes, host};
    if (!host) {
        device_bytes += bytes;
        counters.device_allocations++;
    }
    *p = q;
    return cudaSuccess;
}

cudaError_t release(void *p, bool host, const char *call) {
    if (unsafe_in_capture(call)) return fail(cudaErrorStreamCaptureUnsupported);
    if (!p) return cudaSuccess;
    auto it = allocations.find((uintptr_t)p);
    if (it == allocations.end() || it->second.host != host)
        return report(cudaErrorInvalidValue, "%s(%p): not an allocation of its kind (a double free?)", call, p);
    if (!host) {
        device_bytes -= it->second.bytes;
        counters.device_allocations--;
    }
    allocations.erase(it);
    free(p);
    return cudaSuccess;
}

cudaError_t run_nodes(const std::vector<emu_node> &nodes) {
    for (const emu_node &n : nodes) {
        const cudaError_t e = n();
        if (e != cudaSuccess) return e;
    }
    return cudaSuccess;
}

}  // namespace

cudaError_t emu_stream_enqueue(cudaStream_t stream, std::function<cudaError_t()> op) {
    return enqueue(stream, std::move(op));
}

int emu_is_device(const void *p, size_t bytes) { return is_device(p, bytes); }

void emu_stream_launch(cudaStream_t stream, const char *kernel, const void *key, dim3 grid, dim3 block, size_t smem,
                       std::function<void()> fn) {
    const cudaError_t e = enqueue(stream, [=]() {
        return emu_launch(kernel, key, grid, block, smem,
                          [](void *p) { (*static_cast<const std::function<void()> *>(p))(); },
                          const_cast<std::function<void()> *>(&fn));
    });
    if (e != cudaSuccess) emu_record_error(e);
}

extern "C" {

void emu_inject_failure(const char *call, int nth) {
    inject_call = call ? call : "";
    inject_countdown = call ? nth : -1;
}

int emu_injected(const char *call) {
    if (inject_countdown < 0 || inject_call != call) return 0;
    if (inject_countdown-- > 0) return 0;
    fprintf(stderr, "emu: %s fails (injected)\n", call);
    inject_call.clear();
    return 1;
}

emu_counters emu_get_counters(void) { return counters; }

cudaError_t cudaGetDeviceCount(int *count) {
    *count = DEVICES;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
    if (device < 0 || device >= DEVICES) return fail(cudaErrorInvalidDevice);
    current_device = device;
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int *device) {
    *device = current_device;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device) {
    if (device < 0 || device >= DEVICES) return fail(cudaErrorInvalidDevice);
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "emulated CUDA device (host memory)");
    for (int i = 0; i < 16; i++) prop->uuid.bytes[i] = (char)(0xe0 + i);
    prop->totalGlobalMem = TOTAL_MEMORY;
    prop->major = 9;
    prop->minor = 0;
    prop->warpSize = 32;
    prop->maxThreadsPerBlock = 1024;
    prop->sharedMemPerBlock = 48 << 10;
    prop->sharedMemPerBlockOptin = 227 << 10;
    prop->multiProcessorCount = 1;
    return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    *total_bytes = TOTAL_MEMORY;
    *free_bytes = TOTAL_MEMORY - device_bytes;
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t bytes) { return allocate(p, bytes, false, "cudaMalloc"); }
cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned int flags) {
    return allocate(p, bytes, true, "cudaHostAlloc");
}
cudaError_t cudaFree(void *p) { return release(p, false, "cudaFree"); }
cudaError_t cudaFreeHost(void *p) { return release(p, true, "cudaFreeHost"); }

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind, cudaStream_t s) {
    if (!bytes) return cudaSuccess;
    const cudaError_t e = check_copy("cudaMemcpyAsync", dst, bytes, src, bytes, kind, s);
    if (e != cudaSuccess) return e;
    return enqueue(s, [=]() {
        memmove(dst, src, bytes);
        return cudaSuccess;
    });
}

cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t height,
                              enum cudaMemcpyKind kind, cudaStream_t s) {
    if (!width || !height) return cudaSuccess;
    if (width > dpitch || width > spitch) return fail(cudaErrorInvalidPitchValue);
    const cudaError_t e = check_copy("cudaMemcpy2DAsync", dst, (height - 1) * dpitch + width, src,
                                     (height - 1) * spitch + width, kind, s);
    if (e != cudaSuccess) return e;
    return enqueue(s, [=]() {
        for (size_t r = 0; r < height; r++)
            memmove(static_cast<char *>(dst) + r * dpitch, static_cast<const char *>(src) + r * spitch, width);
        return cudaSuccess;
    });
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned int flags) {
    *s = new CUstream_st();
    streams.insert(*s);
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t s) {
    if (!streams.count(s)) return fail(cudaErrorInvalidResourceHandle);
    if (s == capturing) capturing = nullptr;
    streams.erase(s);
    delete s;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    if (!special(s) && !streams.count(s)) return fail(cudaErrorInvalidResourceHandle);
    if (unsafe_in_capture("cudaStreamSynchronize")) return fail(cudaErrorStreamCaptureUnsupported);
    return cudaSuccess;   /* its work has run */
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned int flags) {
    *e = new CUevent_st();
    events.insert(*e);
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e) {
    if (!events.count(e)) return fail(cudaErrorInvalidResourceHandle);
    events.erase(e);
    delete e;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    if (!events.count(e) || (!special(s) && !streams.count(s))) return fail(cudaErrorInvalidResourceHandle);
    e->recorded = true;
    e->captured = !special(s) && s->capturing;
    return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned int flags) {
    if (!events.count(e) || (!special(s) && !streams.count(s))) return fail(cudaErrorInvalidResourceHandle);
    const bool captured = !special(s) && s->capturing;
    if (!e->recorded) return cudaSuccess;
    if (captured && !e->captured) {
        fprintf(stderr, "emu: cudaStreamWaitEvent: the captured stream waits on an event recorded outside it\n");
        s->invalid = true;
        return fail(cudaErrorStreamCaptureIsolation);
    }
    if (!captured && e->captured) return fail(cudaErrorStreamCaptureIsolation);
    return cudaSuccess;   /* the work before the record has run */
}

cudaError_t cudaEventSynchronize(cudaEvent_t e) {
    if (!events.count(e)) return fail(cudaErrorInvalidResourceHandle);
    if (unsafe_in_capture("cudaEventSynchronize")) return fail(cudaErrorStreamCaptureUnsupported);
    return e->captured ? fail(cudaErrorCapturedEvent) : cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t e) {
    if (!events.count(e)) return fail(cudaErrorInvalidResourceHandle);
    if (unsafe_in_capture("cudaEventQuery")) return fail(cudaErrorStreamCaptureUnsupported);
    return e->captured ? fail(cudaErrorCapturedEvent) : cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t s, enum cudaStreamCaptureMode mode) {
    if (special(s)) return fail(cudaErrorStreamCaptureUnsupported);
    if (!streams.count(s)) return fail(cudaErrorInvalidResourceHandle);
    if (capturing) return fail(cudaErrorIllegalState);
    s->capturing = true;
    s->invalid = false;
    s->nodes.clear();
    capturing = s;
    return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *graph) {
    *graph = nullptr;
    if (special(s) || !streams.count(s) || !s->capturing) return fail(cudaErrorIllegalState);
    s->capturing = false;
    capturing = nullptr;
    std::vector<emu_node> nodes;
    nodes.swap(s->nodes);
    if (s->invalid) return fail(cudaErrorStreamCaptureInvalidated);
    *graph = new CUgraph_st{std::move(nodes)};
    graphs.insert(*graph);
    counters.captures++;
    return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags) {
    if (!graphs.count(graph)) return fail(cudaErrorInvalidValue);
    *exec = new CUgraphExec_st{graph->nodes};
    execs.insert(*exec);
    return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
    if (!graphs.count(graph)) return fail(cudaErrorInvalidValue);
    graphs.erase(graph);
    delete graph;
    return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
    if (!execs.count(exec)) return fail(cudaErrorInvalidValue);
    execs.erase(exec);
    delete exec;
    return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
    if (!execs.count(exec)) return fail(cudaErrorInvalidValue);
    const std::vector<emu_node> *nodes = &exec->nodes;
    return enqueue(s, [nodes]() {
        counters.graph_launches++;
        return run_nodes(*nodes);
    });
}

const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
#define EMU_ERROR(name) \
    case name: return #name;
        EMU_ERROR(cudaSuccess)
        EMU_ERROR(cudaErrorInvalidValue)
        EMU_ERROR(cudaErrorMemoryAllocation)
        EMU_ERROR(cudaErrorInvalidConfiguration)
        EMU_ERROR(cudaErrorInvalidPitchValue)
        EMU_ERROR(cudaErrorInvalidDevice)
        EMU_ERROR(cudaErrorInvalidResourceHandle)
        EMU_ERROR(cudaErrorIllegalState)
        EMU_ERROR(cudaErrorLaunchFailure)
        EMU_ERROR(cudaErrorStreamCaptureUnsupported)
        EMU_ERROR(cudaErrorStreamCaptureInvalidated)
        EMU_ERROR(cudaErrorStreamCaptureIsolation)
        EMU_ERROR(cudaErrorCapturedEvent)
#undef EMU_ERROR
    default: return "cudaErrorUnknown";
    }
}

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidPitchValue: return "invalid pitch argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorIllegalState: return "the operation cannot be performed in the present state";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureIsolation: return "dependency created on uncaptured work in another stream";
    case cudaErrorCapturedEvent: return "operation not permitted on an event last recorded in a capturing stream";
    default: return "unknown error";
    }
}
}
