import ShoalGGUF
import Testing

struct GGUFValueTests {
    @Test func intValue() {
        #expect(GGUFValue.uint8(200).intValue == 200)
        #expect(GGUFValue.int8(-3).intValue == -3)
        #expect(GGUFValue.uint32(.max).intValue == Int(UInt32.max))
        #expect(GGUFValue.int64(.min).intValue == Int(Int64.min))
        #expect(GGUFValue.uint64(UInt64(Int.max)).intValue == Int.max)
        #expect(GGUFValue.uint64(UInt64(Int.max) + 1).intValue == nil)
        #expect(GGUFValue.float32(1).intValue == nil)
        #expect(GGUFValue.bool(true).intValue == nil)
        #expect(GGUFValue.string("1").intValue == nil)
    }

    @Test func doubleValue() {
        #expect(GGUFValue.int16(-7).doubleValue == -7)
        #expect(GGUFValue.float32(0.5).doubleValue == 0.5)
        #expect(GGUFValue.float64(1e300).doubleValue == 1e300)
        #expect(GGUFValue.uint64(.max).doubleValue == Double(UInt64.max))
        #expect(GGUFValue.bool(false).doubleValue == nil)
        #expect(GGUFValue.array([]).doubleValue == nil)
    }

    @Test func scalarsAndArrays() {
        #expect(GGUFValue.string("x").stringValue == "x")
        #expect(GGUFValue.uint8(1).stringValue == nil)
        #expect(GGUFValue.bool(true).boolValue == true)
        #expect(GGUFValue.uint8(1).boolValue == nil)
        #expect(GGUFValue.array([.uint8(1)]).arrayValue == [.uint8(1)])
        #expect(GGUFValue.string("x").arrayValue == nil)

        #expect(GGUFValue.array([]).stringArray == [])
        #expect(GGUFValue.array([.string("a"), .string("b")]).stringArray == ["a", "b"])
        #expect(GGUFValue.array([.uint8(1)]).stringArray == nil)
        #expect(GGUFValue.string("a").stringArray == nil)

        #expect(GGUFValue.array([.int32(-1), .int32(2)]).intArray == [-1, 2])
        #expect(GGUFValue.array([.uint64(.max)]).intArray == nil)
        #expect(GGUFValue.array([.float32(1)]).intArray == nil)

        #expect(GGUFValue.array([.float32(0.25), .float32(-1)]).floatArray == [0.25, -1])
        #expect(GGUFValue.array([.int32(3)]).floatArray == [3])
        #expect(GGUFValue.array([.float64(0.5)]).floatArray == [0.5])
        #expect(GGUFValue.array([.string("1")]).floatArray == nil)
    }

    @Test func typeNames() {
        #expect(GGUFValue.uint32(1).typeName == "uint32")
        #expect(GGUFValue.array([.string("a")]).typeName == "array<string>")
        #expect(GGUFValue.array([]).typeName == "array<empty>")
    }
}

struct GGUFTypedLookupTests {
    let file: GGUFFile

    init() throws {
        var w = GGUFWriter()
        w.set("n", .uint32(42))
        w.set("big", .uint64(.max))
        w.set("eps", .float32(1e-5))
        w.set("theta", .uint32(10000))
        w.set("name", .string("smol"))
        w.set("flag", .bool(true))
        w.set("tokens", .array([.string("a"), .string("b")]))
        w.set("scores", .array([.float32(-1), .float32(2)]))
        w.set("types", .array([.int32(1), .int32(3)]))
        file = try GGUFFile(bytes: w.serialized())
    }

    @Test func present() throws {
        #expect(try file.int("n") == 42)
        #expect(try file.optionalInt("n") == 42)
        #expect(try file.float("eps") == 1e-5)
        #expect(try file.float("theta") == 10000)
        #expect(try file.optionalFloat("eps") == 1e-5)
        #expect(try file.string("name") == "smol")
        #expect(try file.optionalString("name") == "smol")
        #expect(try file.bool("flag"))
        #expect(try file.optionalBool("flag") == true)
        #expect(try file.stringArray("tokens") == ["a", "b"])
        #expect(try file.optionalStringArray("tokens") == ["a", "b"])
        #expect(try file.floatArray("scores") == [-1, 2])
        #expect(try file.optionalFloatArray("scores") == [-1, 2])
        #expect(try file.intArray("types") == [1, 3])
        #expect(try file.optionalIntArray("types") == [1, 3])
    }

    @Test func missing() throws {
        #expect(try file.optionalInt("x") == nil)
        #expect(try file.optionalFloat("x") == nil)
        #expect(try file.optionalString("x") == nil)
        #expect(try file.optionalBool("x") == nil)
        #expect(try file.optionalStringArray("x") == nil)
        #expect(try file.optionalFloatArray("x") == nil)
        #expect(try file.optionalIntArray("x") == nil)
        let error = try #require(throws: GGUFError.self) { try file.int("llama.block_count") }
        #expect(error.code == .missingKey)
        #expect(error.message.contains("llama.block_count"))
        for lookup in [{ _ = try file.float("x") }, { _ = try file.string("x") }, { _ = try file.bool("x") },
                       { _ = try file.stringArray("x") }, { _ = try file.floatArray("x") }, { _ = try file.intArray("x") }]
        {
            #expect(throws: GGUFError.self) { try lookup() }
        }
    }

    @Test func wrongType() throws {
        let error = try #require(throws: GGUFError.self) { try file.int("name") }
        #expect(error.code == .wrongType)
        #expect(error.message.contains("name"))
        #expect(error.message.contains("string"))
        let big = try #require(throws: GGUFError.self) { try file.optionalInt("big") }
        #expect(big.code == .wrongType)
        let checks: [() throws -> Void] = [
            { _ = try file.float("name") }, { _ = try file.optionalFloat("tokens") },
            { _ = try file.string("n") }, { _ = try file.optionalString("n") },
            { _ = try file.bool("n") }, { _ = try file.optionalBool("n") },
            { _ = try file.stringArray("scores") }, { _ = try file.optionalStringArray("name") },
            { _ = try file.floatArray("tokens") }, { _ = try file.optionalFloatArray("n") },
            { _ = try file.intArray("scores") }, { _ = try file.optionalIntArray("tokens") },
        ]
        for check in checks {
            let e = try #require(throws: GGUFError.self) { try check() }
            #expect(e.code == .wrongType)
        }
    }
}
