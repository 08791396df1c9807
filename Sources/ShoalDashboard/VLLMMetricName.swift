/// The series a replica's `/metrics` exports under vLLM's names (as `shoal serve` and vLLM write them), with
/// older aliases where vLLM renamed a series.
package enum VLLMMetricName {
    package static let modelLabel = "model_name"
    package static let running = ["vllm:num_requests_running"]
    package static let waiting = ["vllm:num_requests_waiting"]
    package static let kvCacheUsage = ["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"]
    package static let prefixCacheHits = ["vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"]
    package static let prefixCacheQueries = ["vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"]
    package static let promptTokens = ["vllm:prompt_tokens_total"]
    package static let generationTokens = ["vllm:generation_tokens_total"]
    /// Finished requests, labelled by `finished_reason` (`stop`, `length`, `abort`).
    package static let requestSuccess = ["vllm:request_success_total"]
    package static let finishedReasonLabel = "finished_reason"
    /// The time-to-first-token histogram (its `_bucket` series).
    package static let timeToFirstToken = "vllm:time_to_first_token_seconds"
}
