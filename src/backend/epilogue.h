/* What the backend's matmul op applies to in . w^T + bias before it stores the result. One home
 * for the enum, shared by the op table (backend.h) and the CUDA GEMM (backend/cuda/cuda_gemm.h). */
#ifndef WEBSSL_BACKEND_EPILOGUE_H
#define WEBSSL_BACKEND_EPILOGUE_H

typedef enum {
    WS_EPILOGUE_NONE = 0,   /* out = in . w^T + bias */
    WS_EPILOGUE_GELU = 1,   /* out = gelu(in . w^T + bias) (the MAE MLP's first GEMM) */
    /* out[M,N] = silu(in . w[0:N]^T + bias[0:N]) * (in . w[N:2N]^T + bias[N:2N]): w holds 2N rows,
     * the gate's then the linear half's, bias 2N values (the SwiGLU FFN's w12). Only where the
     * backend's fuses_swiglu says so; elsewhere the product and the swiglu op run apart. */
    WS_EPILOGUE_SWIGLU = 2,
} ws_epilogue;

#endif
