/* Hot loops compiled twice, for AVX2+FMA (x86-64-v3) and for baseline x86-64, and picked when the
 * program loads, so one binary runs on any x86-64 and is fast on current CPUs. Off where the
 * compiler lacks target_clones and under the sanitizers. */
#ifndef WEBSSL_COMMON_HOT_H
#define WEBSSL_COMMON_HOT_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define WS_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define WS_HOT
#endif

#endif
