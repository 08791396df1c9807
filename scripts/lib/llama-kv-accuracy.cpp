// KL divergence and top-1 agreement of llama.cpp's logits with a typed KV cache against its float32 cache, at
// every position of the prompts given on stdin (one prompt per line, token ids separated by spaces).
// Built and run by scripts/llama-kv-accuracy; the counterpart of Shoal's KVCacheAccuracyTests.
// With BASE_MODEL (the same weights dequantized to F32, which llama.cpp multiplies in float), the baseline is that
// file with a float32 cache instead: llama.cpp's distance from the exact products on MODEL (its 8-bit activations),
// the counterpart of Shoal's FastPathAccuracyTests (run by scripts/fast-path-accuracy).
#include "llama.h"
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

static ggml_type parseType(const char * name) {
    if (!strcmp(name, "f32")) return GGML_TYPE_F32;
    if (!strcmp(name, "f16")) return GGML_TYPE_F16;
    if (!strcmp(name, "bf16")) return GGML_TYPE_BF16;
    if (!strcmp(name, "q8_0")) return GGML_TYPE_Q8_0;
    if (!strcmp(name, "q4_0")) return GGML_TYPE_Q4_0;
    fprintf(stderr, "unknown cache type %s\n", name);
    exit(2);
}

/// Logits at every position of `ids`, one row of `vocab` floats per position.
static std::vector<float> logits(llama_model * model, ggml_type type, const std::vector<llama_token> & ids, int threads) {
    llama_context_params params = llama_context_default_params();
    params.n_ctx = (uint32_t) ids.size() + 16;
    params.n_batch = params.n_ctx;
    params.n_ubatch = 256;
    params.n_threads = threads;
    params.n_threads_batch = threads;
    params.type_k = type;
    params.type_v = type;
    // A quantized V cache needs flash attention, and llama.cpp's flash attention casts a float32 cache to f16, so
    // the float32 baseline runs without it (the true float32 cache) and every other type with it.
    params.flash_attn_type = type == GGML_TYPE_F32 ? LLAMA_FLASH_ATTN_TYPE_DISABLED : LLAMA_FLASH_ATTN_TYPE_ENABLED;
    params.no_perf = true;
    llama_context * ctx = llama_init_from_model(model, params);
    if (!ctx) { fprintf(stderr, "cannot create a context with cache type %d\n", (int) type); exit(1); }
    llama_batch batch = llama_batch_init((int32_t) ids.size(), 0, 1);
    for (size_t i = 0; i < ids.size(); i++) {
        batch.token[i] = ids[i];
        batch.pos[i] = (llama_pos) i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = (int32_t) ids.size();
    if (llama_decode(ctx, batch) != 0) { fprintf(stderr, "llama_decode failed\n"); exit(1); }
    const int vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    std::vector<float> out(ids.size() * (size_t) vocab);
    for (size_t i = 0; i < ids.size(); i++) memcpy(&out[i * vocab], llama_get_logits_ith(ctx, (int32_t) i), vocab * sizeof(float));
    llama_batch_free(batch);
    llama_free(ctx);
    return out;
}

static std::vector<double> logSoftmax(const float * x, int n) {
    double m = x[0];
    for (int i = 1; i < n; i++) m = std::max(m, (double) x[i]);
    double s = 0;
    for (int i = 0; i < n; i++) s += std::exp(x[i] - m);
    double l = m + std::log(s);
    std::vector<double> out(n);
    for (int i = 0; i < n; i++) out[i] = x[i] - l;
    return out;
}

int main(int argc, char ** argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s MODEL.gguf CACHE_TYPE [THREADS [BASE_MODEL.gguf]] < prompts\n", argv[0]); return 2; }
    const ggml_type type = parseType(argv[2]);
    const int threads = argc > 3 ? atoi(argv[3]) : 2;
    llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
    llama_backend_init();
    llama_model_params mparams = llama_model_default_params();
    llama_model * model = llama_model_load_from_file(argv[1], mparams);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    llama_model * baseModel = argc > 4 ? llama_model_load_from_file(argv[4], mparams) : model;
    if (!baseModel) { fprintf(stderr, "cannot load %s\n", argv[4]); return 1; }
    const int vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    double klSum = 0;
    long agree = 0, positions = 0;
    std::string line;
    while (std::getline(std::cin, line)) {
        std::istringstream in(line);
        std::vector<llama_token> ids;
        long id;
        while (in >> id) ids.push_back((llama_token) id);
        if (ids.empty()) continue;
        const std::vector<float> base = logits(baseModel, GGML_TYPE_F32, ids, threads);
        const std::vector<float> typed = logits(model, type, ids, threads);
        for (size_t p = 0; p < ids.size(); p++) {
            const float * a = &base[p * vocab], * b = &typed[p * vocab];
            std::vector<double> la = logSoftmax(a, vocab), lb = logSoftmax(b, vocab);
            double kl = 0;
            int topA = 0, topB = 0;
            for (int i = 0; i < vocab; i++) {
                kl += std::exp(la[i]) * (la[i] - lb[i]);
                if (a[i] > a[topA]) topA = i;
                if (b[i] > b[topB]) topB = i;
            }
            klSum += kl;
            agree += topA == topB;
            positions++;
        }
    }
    printf("{\"cache_type\": \"%s\", \"positions\": %ld, \"mean_kl\": %.3g, \"top1_agreement\": %.4f}\n",
           argv[2], positions, klSum / positions, (double) agree / positions);
    if (baseModel != model) llama_model_free(baseModel);
    llama_model_free(model);
    return 0;
}
