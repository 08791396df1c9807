import Foundation
import NIOHTTP1
import ShoalAPI
import ShoalEngine
import ShoalServer
import ShoalTokenizers
import Testing

@Suite(.timeLimit(.minutes(1))) struct MetricsTests {
    @Test func metricsCountRequestsAndReadEngineStats() async throws {
        let engine = try ScriptedEngine()
        engine.setKVUsage(0.25)
        try await LiveServer.run([engine]) { server in
            let before = try await server.metrics()
            #expect(before[#"vllm:request_success_total{model_name="tiny",finished_reason="length"}"#] == 0)
            #expect(before[#"vllm:num_requests_waiting{model_name="tiny"}"#] == 0)
            for _ in 0..<3 {
                #expect(try await server.post("/v1/completions", #"{"prompt": "abc", "max_tokens": 2}"#).status == 200)
            }
            #expect(try await server.post("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}]}"#).status == 200)
            let metrics = try await server.metrics()
            let model = #"model_name="tiny""#
            #expect(metrics[#"vllm:request_success_total{\#(model),finished_reason="length"}"#] == 3)
            #expect(metrics[#"vllm:request_success_total{\#(model),finished_reason="stop"}"#] == 1)
            #expect(metrics["vllm:generation_tokens_total{\(model)}"] == Double(3 * 2 + 3))
            let promptTokens = engine.log.submitted.map(\.promptIDs.count).reduce(0, +)
            #expect(metrics["vllm:prompt_tokens_total{\(model)}"] == Double(promptTokens))
            #expect(metrics["vllm:num_requests_running{\(model)}"] == 0)
            #expect(metrics["vllm:kv_cache_usage_perc{\(model)}"] == 0.25)
            #expect(metrics["vllm:gpu_cache_usage_perc{\(model)}"] == 0.25)
            #expect(metrics["vllm:e2e_request_latency_seconds_count{\(model)}"] == 4)
            #expect(metrics["vllm:time_to_first_token_seconds_count{\(model)}"] == 4)
            #expect(metrics["vllm:request_queue_time_seconds_count{\(model)}"] == 4)
            // The engine's queue time, not the time to first token.
            #expect(metrics["vllm:request_queue_time_seconds_sum{\(model)}"] == 4 * ScriptedEngine.scriptedQueueSeconds)
            // Two gaps per request with 2 tokens (1) and 3 tokens (2).
            #expect(metrics["vllm:inter_token_latency_seconds_count{\(model)}"] == Double(3 * 1 + 2))
            #expect(metrics["vllm:time_per_output_token_seconds_count{\(model)}"] == 4)
            #expect(metrics["vllm:prefix_cache_queries_total{\(model)}"] == 0)
            #expect(metrics["vllm:gpu_prefix_cache_queries_total{\(model)}"] == 0)
            #expect(metrics["vllm:gpu_prefix_cache_hits_total{\(model)}"] == 0)
            // Per-request token counts (1-2-5 buckets up to the context) and the phases of each request.
            #expect(metrics["vllm:request_prompt_tokens_count{\(model)}"] == 4)
            #expect(metrics["vllm:request_prompt_tokens_sum{\(model)}"] == Double(promptTokens))
            #expect(metrics["vllm:request_generation_tokens_sum{\(model)}"] == Double(3 * 2 + 3))
            #expect(metrics[#"vllm:request_generation_tokens_bucket{\#(model),le="2.0"}"#] == 3)
            for phase in ["prefill", "decode", "inference"] {
                #expect(metrics["vllm:request_\(phase)_time_seconds_count{\(model)}"] == 4, "\(phase)")
            }
            // Inference is the request's time past its queue: at most end to end.
            let inference = try #require(metrics["vllm:request_inference_time_seconds_sum{\(model)}"])
            let endToEnd = try #require(metrics["vllm:e2e_request_latency_seconds_sum{\(model)}"])
            #expect(inference <= endToEnd)
            #expect(metrics["vllm:num_preemptions_total{\(model)}"] == 0)

            // Counters keep growing by the engine's difference between scrapes.
            #expect(try await server.post("/v1/completions", #"{"prompt": "abc", "max_tokens": 1}"#).status == 200)
            let after = try await server.metrics()
            #expect(after["vllm:generation_tokens_total{\(model)}"] == Double(3 * 2 + 3 + 1))
            #expect(after[#"vllm:request_success_total{\#(model),finished_reason="length"}"#] == 4)
        }
    }

    /// Models of different contexts in one server share each series name's buckets (Prometheus refuses, and the
    /// client library traps on, one name with two bucket sets).
    @Test func modelsOfDifferentContextsShareTheTokenBuckets() async throws {
        let small = try ScriptedEngine(name: "small", contextLength: 128)
        let large = try ScriptedEngine(name: "large", contextLength: 8192)
        try await LiveServer.run([small, large]) { server in
            for model in ["small", "large"] {
                #expect(try await server.post("/v1/completions", #"{"model": "\#(model)", "prompt": "abc", "max_tokens": 2}"#).status == 200)
            }
            let metrics = try await server.metrics()
            for model in ["small", "large"] {
                #expect(metrics[#"vllm:request_prompt_tokens_count{model_name="\#(model)"}"#] == 1)
                #expect(metrics[#"vllm:request_generation_tokens_bucket{model_name="\#(model)",le="1000000.0"}"#] == 1)
            }
        }
    }

    @Test func exposesPrometheusText() async throws {
        try await LiveServer.run([try ScriptedEngine()]) { server in
            let reply = try await server.get("/metrics")
            #expect(reply.headers["content-type"].first?.hasPrefix("text/plain") == true)
            #expect(reply.body.contains("# TYPE vllm:num_requests_waiting gauge"))
            #expect(reply.body.contains("# TYPE vllm:request_success_total counter"))
            #expect(reply.body.contains("# TYPE vllm:time_to_first_token_seconds histogram"))
        }
    }
}
