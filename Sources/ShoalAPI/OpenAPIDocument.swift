/// The OpenAPI 3.1 description of the HTTP API, served at `GET /openapi.json` by `shoal serve` and `shoal route`.
///
/// The schemas state what the server enforces (types, ranges, required fields) and what it answers (every
/// status with its OpenAI error body), so that a schema-driven fuzzer (schemathesis) can hold the server to it.
public enum OpenAPIDocument {
    /// Which process serves the document: the router adds its admin API and leaves out `/version`.
    public enum Surface: Sendable {
        case server
        case router
    }

    /// The document as JSON text.
    /// - Parameter version: the `info.version` to report (Shoal's version).
    public static func json(for surface: Surface, version: String) -> String {
        var paths = [completionsPath, chatCompletionsPath, modelsPath, tokenizePath, detokenizePath, metricsPath,
                     dashboardPath, dashboardDataPath]
        switch surface {
        case .server:
            paths += [serverHealthPath, versionPath]
        case .router:
            paths += [routerHealthPath, adminReplicasPath, adminDrainPath]
        }
        let title = surface == .server ? "Shoal server" : "Shoal router"
        let description = surface == .server
            ? "OpenAI-compatible inference API of one `shoal serve` process."
            : "OpenAI-compatible inference API of `shoal route`, which forwards requests to replicas, and its admin API."
        return """
        {"openapi": "3.1.0",
         "info": {"title": "\(title)", "version": "\(escaped(version))", "description": "\(description)"},
         "paths": {\(paths.joined(separator: ",\n"))},
         "components": {
          "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
            "description": "An API key, when the server is started with --api-key (the router's admin API takes --admin-key)."}},
          "headers": \(headers),
          "responses": \(responses),
          "schemas": \(schemas)}}
        """
    }

    private static func escaped(_ text: String) -> String {
        var result = ""
        for character in text {
            if character == "\\" || character == "\"" { result.append("\\") }
            result.append(character)
        }
        return result
    }

    /// The error answers every generation endpoint may give.
    private static let generationErrors = """
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "404": {"$ref": "#/components/responses/NotFound"},
    "413": {"$ref": "#/components/responses/TooLarge"},
    "429": {"$ref": "#/components/responses/QueueFull"},
    "500": {"$ref": "#/components/responses/InternalError"},
    "502": {"$ref": "#/components/responses/BadGateway"},
    "503": {"$ref": "#/components/responses/Unavailable"},
    "504": {"$ref": "#/components/responses/GatewayTimeout"}
    """

    private static let completionsPath = """
    "/v1/completions": {"post": {
      "operationId": "createCompletion", "summary": "Complete one or more prompts (OpenAI's legacy completions).",
      "security": [{}, {"bearer": []}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CompletionRequest"}}}},
      "responses": {
        "200": {"description": "The completion, or with stream: true its server-sent events.",
          "headers": {"x-request-id": {"$ref": "#/components/headers/RequestID"}},
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CompletionResponse"}},
                      "text/event-stream": {"schema": {"$ref": "#/components/schemas/ServerSentEvent"}}}},
        \(generationErrors)}}}
    """

    private static let chatCompletionsPath = """
    "/v1/chat/completions": {"post": {
      "operationId": "createChatCompletion", "summary": "Answer a conversation, rendered with the model's chat template.",
      "security": [{}, {"bearer": []}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletionRequest"}}}},
      "responses": {
        "200": {"description": "The answer, or with stream: true its server-sent events.",
          "headers": {"x-request-id": {"$ref": "#/components/headers/RequestID"}},
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletionResponse"}},
                      "text/event-stream": {"schema": {"$ref": "#/components/schemas/ServerSentEvent"}}}},
        \(generationErrors)}}}
    """

    private static let modelsPath = """
    "/v1/models": {"get": {
      "operationId": "listModels", "summary": "The models served.", "security": [{}, {"bearer": []}],
      "responses": {
        "200": {"description": "The served models.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ModelList"}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"}}}}
    """

    private static let tokenizePath = """
    "/tokenize": {"post": {
      "operationId": "tokenize", "summary": "Token ids of a prompt or of rendered chat messages (vLLM's endpoint).",
      "security": [{}, {"bearer": []}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenizeRequest"}}}},
      "responses": {
        "200": {"description": "The tokens.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenizeResponse"}}}},
        \(generationErrors)}}}
    """

    private static let detokenizePath = """
    "/detokenize": {"post": {
      "operationId": "detokenize", "summary": "The text of token ids (vLLM's endpoint).", "security": [{}, {"bearer": []}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DetokenizeRequest"}}}},
      "responses": {
        "200": {"description": "The text.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DetokenizeResponse"}}}},
        \(generationErrors)}}}
    """

    private static let metricsPath = """
    "/metrics": {"get": {
      "operationId": "metrics", "summary": "Prometheus metrics (vLLM's names on the server, shoal_router_* on the router).",
      "responses": {"200": {"description": "Prometheus text exposition.", "content": {"text/plain": {"schema": {"type": "string"}}}}}}}
    """

    private static let dashboardPath = """
    "/dashboard": {"get": {
      "operationId": "dashboard", "summary": "A live page of the replicas (or the served models) and their load.",
      "responses": {"200": {"description": "The page (self-contained HTML).", "content": {"text/html": {"schema": {"type": "string"}}}}}}}
    """

    private static let dashboardDataPath = """
    "/dashboard/data": {"get": {
      "operationId": "dashboardData", "summary": "What the dashboard shows: rows, pool totals and their recent history.",
      "responses": {"200": {"description": "The latest sampling.", "content": {"application/json": {"schema": {"type": "object"}}}}}}}
    """

    private static let serverHealthPath = """
    "/health": {"get": {
      "operationId": "health", "summary": "200 while the engines make progress; 503 while loading, draining or stuck.",
      "responses": {
        "200": {"description": "Serving.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
        "503": {"description": "Not serving.", "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}}}}
    """

    private static let versionPath = """
    "/version": {"get": {
      "operationId": "version", "summary": "Shoal's version.",
      "responses": {"200": {"description": "The version.", "content": {"application/json": {"schema": {
        "type": "object", "required": ["version"], "properties": {"version": {"type": "string"}}}}}}}}}
    """

    private static let routerHealthPath = """
    "/health": {"get": {
      "operationId": "health", "summary": "200 while some pool has a healthy replica.",
      "responses": {
        "200": {"description": "Serving.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RouterHealth"}}}},
        "503": {"description": "No healthy replica.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RouterHealth"}}}}}}}
    """

    private static let adminErrors = """
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "404": {"$ref": "#/components/responses/NotFound"},
    "413": {"$ref": "#/components/responses/TooLarge"}
    """

    private static let replicaList = """
    {"description": "Every replica after the change.", "content": {"application/json": {"schema": {
      "type": "array", "items": {"$ref": "#/components/schemas/ReplicaStatus"}}}}}
    """

    private static let adminReplicasPath = """
    "/admin/replicas": {
      "get": {"operationId": "listReplicas", "summary": "The replicas with their health, breaker and load.",
        "security": [{"bearer": []}], "responses": {"200": \(replicaList), \(adminErrors)}},
      "post": {"operationId": "addReplica", "summary": "Add a replica; its models are read from its /v1/models.",
        "security": [{"bearer": []}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReplicaURL"}}}},
        "responses": {"201": {"description": "Added.", "content": {"application/json": {"schema": {
          "type": "object", "required": ["url", "models"], "properties": {"url": {"type": "string"}, "models": {"type": "string"}}}}}},
          \(adminErrors)}},
      "delete": {"operationId": "removeReplica", "summary": "Remove a replica at once.", "security": [{"bearer": []}],
        "parameters": [{"name": "url", "in": "query", "required": true, "schema": {"type": "string"}}],
        "responses": {"200": \(replicaList), \(adminErrors)}}}
    """

    private static let adminDrainPath = """
    "/admin/replicas/drain": {"post": {
      "operationId": "drainReplica", "summary": "Stop sending new requests to a replica; remove it once idle.",
      "security": [{"bearer": []}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReplicaURL"}}}},
      "responses": {"200": \(replicaList), \(adminErrors)}}}
    """

    private static let headers = """
    {"RequestID": {"description": "The request's id: the client's X-Request-Id when it is 1 to 128 visible ASCII characters, else a generated one.",
                   "schema": {"type": "string"}},
     "RetryAfter": {"description": "Seconds to wait before trying again.", "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
    """

    private static func errorResponse(_ description: String, retryAfter: Bool = false) -> String {
        let retry = retryAfter ? ##""Retry-After": {"$ref": "#/components/headers/RetryAfter"}, "## : ""
        return """
        {"description": "\(description)", "headers": {\(retry)"x-request-id": {"$ref": "#/components/headers/RequestID"}},
         "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
        """
    }

    private static let responses = """
    {"BadRequest": \(errorResponse("Malformed JSON, a missing or invalid parameter, or a prompt longer than the context.")),
     "Unauthorized": \(errorResponse("Missing or wrong API key.")),
     "Forbidden": \(errorResponse("The admin API is off (no --admin-key).")),
     "NotFound": \(errorResponse("The model (or replica) is not known.")),
     "TooLarge": \(errorResponse("The body is larger than the server accepts.")),
     "QueueFull": \(errorResponse("The waiting queue is full.", retryAfter: true)),
     "InternalError": \(errorResponse("The engine failed the request.")),
     "BadGateway": \(errorResponse("Router only: no replica gave an answer.")),
     "Unavailable": \(errorResponse("Loading, draining, or (router) no healthy replica for the model.", retryAfter: true)),
     "GatewayTimeout": \(errorResponse("Router only: the replicas did not answer in time."))}
    """

    private static let tokenIDs = #"{"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 2147483647}}"#

    /// Sampling and output fields shared by both generation requests.
    private static let samplingProperties = """
    "model": {"type": ["string", "null"], "description": "A served model; may be left out when one model is served."},
    "temperature": {"type": ["number", "null"], "minimum": 0, "maximum": 2},
    "top_p": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 1},
    "top_k": {"type": ["integer", "null"], "minimum": -1, "maximum": 2147483647, "description": "-1 or 0: off."},
    "min_p": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
    "n": {"type": ["integer", "null"], "minimum": 1, "maximum": 128},
    "stop": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "array", "items": {"type": "string", "minLength": 1}}, {"type": "null"}]},
    "stop_token_ids": \(tokenIDs),
    "seed": {"type": ["integer", "null"], "minimum": -9223372036854775808, "maximum": 9223372036854775807},
    "presence_penalty": {"type": ["number", "null"], "minimum": -2, "maximum": 2},
    "frequency_penalty": {"type": ["number", "null"], "minimum": -2, "maximum": 2},
    "repetition_penalty": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 2},
    "logit_bias": {"type": ["object", "null"], "description": "Token id (as a string) to a bias added to its logit.",
                   "additionalProperties": {"type": "number", "minimum": -100, "maximum": 100}},
    "stream": {"type": ["boolean", "null"]},
    "stream_options": {"type": ["object", "null"], "properties": {"include_usage": {"type": ["boolean", "null"]},
                       "continuous_usage_stats": {"type": ["boolean", "null"]}}, "description": "Only with stream: true."},
    "ignore_eos": {"type": ["boolean", "null"]},
    "user": {"type": ["string", "null"]},
    "priority": {"type": ["integer", "null"], "minimum": -9223372036854775808, "maximum": 9223372036854775807},
    "return_token_ids": {"type": ["boolean", "null"]},
    "response_format": {"type": ["object", "null"], "required": ["type"], "properties": {
      "type": {"enum": ["text", "json_object", "json_schema"]},
      "json_schema": {"type": ["object", "null"], "properties": {"name": {"type": ["string", "null"]}, "schema": {"type": ["object", "null"]}, "strict": {"type": ["boolean", "null"]}}}}},
    "guided_choice": {"type": ["array", "null"], "items": {"type": "string"}, "minItems": 1},
    "guided_json": {"type": ["object", "null"]}
    """

    private static let schemas = """
    {"ErrorResponse": {"type": "object", "required": ["error"], "properties": {"error": {
       "type": "object", "required": ["message", "type", "param", "code"], "properties": {
         "message": {"type": "string"}, "type": {"type": "string"},
         "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}}}}},
     "Usage": {"type": "object", "required": ["prompt_tokens", "completion_tokens", "total_tokens"], "properties": {
       "prompt_tokens": {"type": "integer", "minimum": 0}, "completion_tokens": {"type": "integer", "minimum": 0},
       "total_tokens": {"type": "integer", "minimum": 0},
       "prompt_tokens_details": {"type": ["object", "null"], "properties": {"cached_tokens": {"type": "integer", "minimum": 0}}}}},
     "CompletionRequest": {"type": "object", "required": ["prompt"], "properties": {
       "prompt": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
                            {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0, "maximum": 2147483647}},
                            {"type": "array", "minItems": 1, "items": {"type": "array", "minItems": 1,
                              "items": {"type": "integer", "minimum": 0, "maximum": 2147483647}}}]},
       "max_tokens": {"type": ["integer", "null"], "minimum": 1, "maximum": 9223372036854775807, "description": "Default 16."},
       "logprobs": {"type": ["integer", "null"], "minimum": 0, "maximum": 20},
       "echo": {"type": ["boolean", "null"]},
       \(samplingProperties)}},
     "ChatMessage": {"type": "object", "required": ["role"], "properties": {
       "role": {"enum": ["system", "developer", "user", "assistant", "tool", "function"]},
       "content": {"anyOf": [{"type": "string"}, {"type": "null"},
         {"type": "array", "items": {"type": "object", "required": ["type"], "properties": {
           "type": {"type": "string", "description": "Only text parts are served."}, "text": {"type": ["string", "null"]}}}}]},
       "name": {"type": ["string", "null"]},
       "tool_calls": {"type": ["array", "null"], "items": {"type": "object"}},
       "tool_call_id": {"type": ["string", "null"]}}},
     "ChatCompletionRequest": {"type": "object", "required": ["messages"], "properties": {
       "messages": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/ChatMessage"}},
       "max_tokens": {"type": ["integer", "null"], "minimum": 1, "maximum": 9223372036854775807, "description": "Default: the rest of the context."},
       "max_completion_tokens": {"type": ["integer", "null"], "minimum": 1, "maximum": 9223372036854775807},
       "logprobs": {"type": ["boolean", "null"]},
       "top_logprobs": {"type": ["integer", "null"], "minimum": 0, "maximum": 20, "description": "Needs logprobs: true when above 0."},
       "tools": {"type": ["array", "null"], "items": {"type": "object", "required": ["type", "function"], "properties": {
         "type": {"const": "function"}, "function": {"type": "object", "required": ["name"], "properties": {
           "name": {"type": "string", "minLength": 1}, "description": {"type": ["string", "null"]}, "parameters": {"type": ["object", "null"]}}}}}},
       "tool_choice": {"anyOf": [{"enum": ["none", "auto", "required"]}, {"type": "object", "required": ["type", "function"], "properties": {
         "type": {"const": "function"}, "function": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}, {"type": "null"}]},
       "parallel_tool_calls": {"type": ["boolean", "null"]},
       "add_generation_prompt": {"type": ["boolean", "null"]},
       \(samplingProperties)}},
     "CompletionResponse": {"type": "object", "required": ["id", "object", "created", "model", "choices"], "properties": {
       "id": {"type": "string"}, "object": {"const": "text_completion"}, "created": {"type": "integer"}, "model": {"type": "string"},
       "choices": {"type": "array", "items": {"type": "object", "required": ["index", "text", "finish_reason"], "properties": {
         "index": {"type": "integer", "minimum": 0}, "text": {"type": "string"},
         "finish_reason": {"type": ["string", "null"]},
         "logprobs": {"anyOf": [{"type": "null"}, {"type": "object", "required": ["text_offset", "token_logprobs", "tokens", "top_logprobs"], "properties": {
           "text_offset": {"type": "array", "items": {"type": "integer"}},
           "token_logprobs": {"type": "array", "items": {"type": ["number", "null"]}, "description": "null where the prompt has none (echo)"},
           "tokens": {"type": "array", "items": {"type": "string"}},
           "top_logprobs": {"type": "array", "items": {"anyOf": [{"type": "null"}, {"type": "object", "additionalProperties": {"type": "number"}}]}}}}]},
         "prompt_token_ids": \(tokenIDs), "token_ids": \(tokenIDs)}}},
       "usage": {"$ref": "#/components/schemas/Usage"}}},
     "ChatCompletionResponse": {"type": "object", "required": ["id", "object", "created", "model", "choices", "usage"], "properties": {
       "id": {"type": "string"}, "object": {"const": "chat.completion"}, "created": {"type": "integer"}, "model": {"type": "string"},
       "choices": {"type": "array", "items": {"type": "object", "required": ["index", "message", "finish_reason"], "properties": {
         "index": {"type": "integer", "minimum": 0},
         "message": {"type": "object", "required": ["role"], "properties": {
           "role": {"const": "assistant"}, "content": {"type": ["string", "null"]},
           "tool_calls": {"type": "array", "items": {"type": "object", "required": ["id", "type", "function"], "properties": {
             "id": {"type": "string"}, "type": {"const": "function"}, "function": {"type": "object", "required": ["name", "arguments"], "properties": {
               "name": {"type": "string"}, "arguments": {"type": "string"}}}}}}}},
         "logprobs": {"anyOf": [{"type": "null"}, {"type": "object", "required": ["content"], "properties": {"content": {"type": "array", "items": {
           "type": "object", "required": ["token", "logprob", "top_logprobs"], "properties": {
             "token": {"type": "string"}, "logprob": {"type": "number"}, "bytes": {"type": ["array", "null"], "items": {"type": "integer", "minimum": 0, "maximum": 255}},
             "top_logprobs": {"type": "array", "items": {"type": "object", "required": ["token", "logprob"], "properties": {
               "token": {"type": "string"}, "logprob": {"type": "number"}, "bytes": {"type": ["array", "null"], "items": {"type": "integer"}}}}}}}}}}]},
         "finish_reason": {"type": ["string", "null"]}, "token_ids": \(tokenIDs)}}},
       "usage": {"$ref": "#/components/schemas/Usage"}, "prompt_token_ids": \(tokenIDs)}},
     "ModelList": {"type": "object", "required": ["object", "data"], "properties": {
       "object": {"const": "list"}, "data": {"type": "array", "items": {"type": "object", "required": ["id", "object", "created", "owned_by"], "properties": {
         "id": {"type": "string"}, "object": {"const": "model"}, "created": {"type": "integer"}, "owned_by": {"type": "string"},
         "max_model_len": {"type": "integer", "minimum": 1}}}}}},
     "TokenizeRequest": {"type": "object", "description": "Either prompt or messages.", "properties": {
       "model": {"type": ["string", "null"]}, "prompt": {"type": ["string", "null"]},
       "messages": {"type": ["array", "null"], "minItems": 1, "items": {"$ref": "#/components/schemas/ChatMessage"}},
       "add_special_tokens": {"type": ["boolean", "null"]}, "add_generation_prompt": {"type": ["boolean", "null"]}, "return_token_strs": {"type": ["boolean", "null"]}}},
     "TokenizeResponse": {"type": "object", "required": ["count", "max_model_len", "tokens"], "properties": {
       "count": {"type": "integer", "minimum": 0}, "max_model_len": {"type": "integer"}, "tokens": \(tokenIDs),
       "token_strs": {"type": "array", "items": {"type": "string"}}}},
     "DetokenizeRequest": {"type": "object", "required": ["tokens"], "properties": {"model": {"type": ["string", "null"]}, "tokens": \(tokenIDs)}},
     "DetokenizeResponse": {"type": "object", "required": ["prompt"], "properties": {"prompt": {"type": "string"}}},
     "Health": {"type": "object", "required": ["status"], "properties": {
       "status": {"enum": ["ok", "loading", "draining", "unhealthy"]}, "message": {"type": "string"}}},
     "RouterHealth": {"type": "object", "required": ["status", "replicas", "healthy_replicas", "available_models"], "properties": {
       "status": {"enum": ["ok", "no_healthy_replica"]}, "replicas": {"type": "integer", "minimum": 0},
       "healthy_replicas": {"type": "integer", "minimum": 0}, "available_models": {"type": "array", "items": {"type": "string"}}}},
     "ServerSentEvent": {"type": "object", "required": ["data"], "description": "One event of a stream: a chunk as JSON, an error body, or [DONE] last.",
       "properties": {"data": {"type": "string"}, "event": {"type": "string"}}},
     "ReplicaURL": {"type": "object", "required": ["url"], "properties": {"url": {"type": "string", "description": "http://HOST:PORT"}}},
     "ReplicaStatus": {"type": "object", "required": ["url", "models", "healthy", "breaker", "outstanding", "draining"], "properties": {
       "url": {"type": "string"}, "models": {"type": "array", "items": {"type": "string"}}, "healthy": {"type": "boolean"},
       "breaker": {"enum": ["closed", "half_open", "open"]}, "outstanding": {"type": "integer", "minimum": 0},
       "draining": {"type": "boolean"}}}}
    """
}

/// Shoal's release, reported by `--version`, `/version` and the OpenAPI document.
public enum ShoalVersion {
    public static let string = "0.1.0"
}
