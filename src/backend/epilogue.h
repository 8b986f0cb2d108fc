/* What the backend's matmul op applies to in . w^T + bias before it stores the result. One home
 * for the enum, shared by the op table (backend.h) and the CUDA GEMM (backend/cuda/cuda_gemm.h). */
#ifndef WEBSSL_BACKEND_EPILOGUE_H
#define WEBSSL_BACKEND_EPILOGUE_H

typedef enum {
    WS_EPILOGUE_NONE = 0,   /* out = in . w^T + bias */
    WS_EPILOGUE_GELU = 1,   /* out = gelu(in . w^T + bias) (the MAE MLP's first GEMM) */
} ws_epilogue;

#endif
