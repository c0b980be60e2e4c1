#pragma once
// The fast path of mixture_of_experts: the whole block in a few pool dispatches instead
// of three per routed expert.
//
// 1. The block's input rows are quantized once (the activation format of the gate / up
//    weights) and gathered per expert: [routed (token, slot) pairs in expert order][bytes].
// 2. One dispatch over (expert, row range) work items of every routed expert computes
//    gate and up for the same rows and applies SwiGLU at once: [pairs][expert_ffn].
// 3. Those rows are quantized for the down weights, and one dispatch over (expert, row
//    range) items computes down, scaled by each pair's routing weight.
// 4. Each token's pairs are summed in slot order.
// Batches of up to 64 pairs (decode steps) fold 2 and 3 into one dispatch of one item
// per expert (gate / up, SwiGLU, the quantization of its rows, down): no barrier between
// an expert's products, two dispatches fewer a layer.
// Every product is dot_weight_rows of the same rows and tokens as the per-expert path
// (matmul_fast of the gathered rows), so results equal it exactly, whatever the thread
// count and the work split.

#include "model/blocks.h"

namespace tandem {

// True when the fast path covers these weights (quantized gate / up / down of one type
// each, shapes that chain).
bool moe_fast_supported(const MoeFfnWeights& weights);

// As mixture_of_experts in ComputeMode::kFast; requires moe_fast_supported(weights).
void mixture_of_experts_fast(const MoeFfnWeights& weights, const Routing& routing,
                             const FloatMatrix& x, FloatMatrix& out, ThreadPool& pool);

}  // namespace tandem
