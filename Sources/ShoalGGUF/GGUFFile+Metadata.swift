extension GGUFFile {
    private func lookup<T>(_ key: String, _ expected: String, _ convert: (GGUFValue) -> T?) throws -> T? {
        guard let value = metadata[key] else { return nil }
        guard let converted = convert(value) else {
            throw GGUFError(.wrongType, "metadata '\(key)' is \(value.typeName), expected \(expected)")
        }
        return converted
    }

    private func required<T>(_ key: String, _ expected: String, _ convert: (GGUFValue) -> T?) throws -> T {
        guard let v = try lookup(key, expected, convert) else {
            throw GGUFError(.missingKey, "metadata '\(key)' (\(expected)) is missing")
        }
        return v
    }

    /// An integer of any integer type. - Throws: `GGUFError` (`missingKey`, `wrongType`) naming the key.
    public func int(_ key: String) throws -> Int { try required(key, "an integer", \.intValue) }
    /// An integer of any integer type, or nil when absent. - Throws: `GGUFError.wrongType` naming the key.
    public func optionalInt(_ key: String) throws -> Int? { try lookup(key, "an integer", \.intValue) }

    /// A number of any numeric type, as `Float`. - Throws: `GGUFError` naming the key.
    public func float(_ key: String) throws -> Float { try required(key, "a number", Self.toFloat) }
    /// A number of any numeric type, or nil when absent. - Throws: `GGUFError.wrongType` naming the key.
    public func optionalFloat(_ key: String) throws -> Float? { try lookup(key, "a number", Self.toFloat) }

    /// A string. - Throws: `GGUFError` naming the key.
    public func string(_ key: String) throws -> String { try required(key, "a string", \.stringValue) }
    /// A string, or nil when absent. - Throws: `GGUFError.wrongType` naming the key.
    public func optionalString(_ key: String) throws -> String? { try lookup(key, "a string", \.stringValue) }

    /// A bool. - Throws: `GGUFError` naming the key.
    public func bool(_ key: String) throws -> Bool { try required(key, "a bool", \.boolValue) }
    /// A bool, or nil when absent. - Throws: `GGUFError.wrongType` naming the key.
    public func optionalBool(_ key: String) throws -> Bool? { try lookup(key, "a bool", \.boolValue) }

    /// An array of strings. - Throws: `GGUFError` naming the key.
    public func stringArray(_ key: String) throws -> [String] { try required(key, "an array of strings", \.stringArray) }
    /// An array of strings, or nil when absent. - Throws: `GGUFError.wrongType` naming the key.
    public func optionalStringArray(_ key: String) throws -> [String]? {
        try lookup(key, "an array of strings", \.stringArray)
    }

    /// An array of numbers, as `Float`. - Throws: `GGUFError` naming the key.
    public func floatArray(_ key: String) throws -> [Float] { try required(key, "an array of numbers", \.floatArray) }
    /// An array of numbers, or nil when absent. - Throws: `GGUFError.wrongType` naming the key.
    public func optionalFloatArray(_ key: String) throws -> [Float]? {
        try lookup(key, "an array of numbers", \.floatArray)
    }

    /// An array of integers. - Throws: `GGUFError` naming the key.
    public func intArray(_ key: String) throws -> [Int] { try required(key, "an array of integers", \.intArray) }
    /// An array of integers, or nil when absent. - Throws: `GGUFError.wrongType` naming the key.
    public func optionalIntArray(_ key: String) throws -> [Int]? {
        try lookup(key, "an array of integers", \.intArray)
    }

    private static func toFloat(_ value: GGUFValue) -> Float? {
        if case .float32(let v) = value { return v }
        return value.doubleValue.map { Float($0) }
    }
}
