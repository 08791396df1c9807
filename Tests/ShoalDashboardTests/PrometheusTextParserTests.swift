import ShoalDashboard
import Testing

@Suite struct PrometheusTextParserTests {
    @Test func skipsCommentsAndBlankLinesAndReadsLabels() throws {
        let text = """
            # HELP vllm:num_requests_running Number of requests in model execution batches.
            # TYPE vllm:num_requests_running gauge
            vllm:num_requests_running{model_name="smollm2"} 3

            vllm:generation_tokens_total{model_name="smollm2",engine="0"} 1027
            process_start_time_seconds 1.7e9
            """
        let samples = try PrometheusTextParser.parse(text)
        #expect(samples == [
            PrometheusSample(name: "vllm:num_requests_running", labels: ["model_name": "smollm2"], value: 3),
            PrometheusSample(name: "vllm:generation_tokens_total", labels: ["model_name": "smollm2", "engine": "0"],
                             value: 1027),
            PrometheusSample(name: "process_start_time_seconds", value: 1.7e9),
        ])
    }

    @Test func unescapesLabelValues() throws {
        let text = #"m{path="C:\\dir\\file",quote="say \"hi\"",lines="a\nb",odd="\t",brace="}{,="} 1"#
        let sample = try #require(try PrometheusTextParser.parse(text).first)
        #expect(sample.labels["path"] == #"C:\dir\file"#)
        #expect(sample.labels["quote"] == #"say "hi""#)
        #expect(sample.labels["lines"] == "a\nb")
        #expect(sample.labels["odd"] == #"\t"#, "an unknown escape stays as written")
        #expect(sample.labels["brace"] == "}{,=")
    }

    @Test func toleratesSpacesTrailingCommasTimestampsAndCRLF() throws {
        let text = "a { x = \"1\" , y=\"2\", } 5 1712345678000\r\nb{} 6\r\n\tc 7  \r\n"
        let samples = try PrometheusTextParser.parse(text)
        #expect(samples == [
            PrometheusSample(name: "a", labels: ["x": "1", "y": "2"], value: 5),
            PrometheusSample(name: "b", value: 6),
            PrometheusSample(name: "c", value: 7),
        ])
    }

    @Test(arguments: [("+Inf", Double.infinity), ("-Inf", -Double.infinity), ("Inf", Double.infinity),
                      ("1e-3", 0.001), ("-0.5", -0.5), ("42", 42), (".25", 0.25)])
    func readsSpecialAndExponentValues(text: String, expected: Double) throws {
        let samples = try PrometheusTextParser.parse("m \(text)")
        #expect(samples.first?.value == expected)
    }

    @Test func readsNaN() throws {
        let samples = try PrometheusTextParser.parse("m NaN")
        #expect(samples.first?.value.isNaN == true)
    }

    @Test func readsAHistogramWithItsInfBucket() throws {
        let text = """
            # TYPE vllm:time_to_first_token_seconds histogram
            vllm:time_to_first_token_seconds_bucket{model_name="m",le="0.1"} 2
            vllm:time_to_first_token_seconds_bucket{model_name="m",le="0.5"} 5
            vllm:time_to_first_token_seconds_bucket{model_name="m",le="+Inf"} 6
            vllm:time_to_first_token_seconds_sum{model_name="m"} 1.9
            vllm:time_to_first_token_seconds_count{model_name="m"} 6
            """
        let samples = try PrometheusTextParser.parse(text)
        let histogram = try #require(HistogramBuckets(samples: samples, name: "vllm:time_to_first_token_seconds"))
        #expect(histogram.bounds == [0.1, 0.5, .infinity])
        #expect(histogram.counts == [2, 5, 6])
        #expect(histogram.total == 6)
    }

    @Test(arguments: [
        ("m{a=\"1\" 2", 1), ("m{a=1} 2", 1), ("m", 1), ("# ok\nm{=\"x\"} 1", 2), ("9m 1", 1), ("m 1 2 3", 1),
        ("m 1 later", 1), ("m{a=\"unterminated} 1", 1),
    ])
    func refusesMalformedLinesNamingTheLine(text: String, line: Int) {
        #expect {
            try PrometheusTextParser.parse(text)
        } throws: { error in
            (error as? PrometheusParseError)?.line == line
        }
    }

    @Test func refusesAValueThatIsNotANumber() {
        #expect {
            try PrometheusTextParser.parse("ok 1\nm twelve")
        } throws: { error in
            let error = error as? PrometheusParseError
            return error?.code == .invalidValue && error?.line == 2
        }
    }
}
