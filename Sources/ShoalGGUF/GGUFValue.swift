/// A GGUF metadata value.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case uint64(UInt64)
    case int64(Int64)
    case float32(Float)
    case float64(Double)
    case bool(Bool)
    case string(String)
    /// An array; GGUF requires all elements to have the same type (nested arrays may differ from each other).
    case array([GGUFValue])
}

extension GGUFValue {
    /// The value of any integer case, or nil when it is not an integer or does not fit in `Int`.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(exactly: v)
        default: nil
        }
    }

    /// The value of any numeric (integer or float) case as a `Double`, else nil.
    public var doubleValue: Double? {
        switch self {
        case .uint8(let v): Double(v)
        case .int8(let v): Double(v)
        case .uint16(let v): Double(v)
        case .int16(let v): Double(v)
        case .uint32(let v): Double(v)
        case .int32(let v): Double(v)
        case .uint64(let v): Double(v)
        case .int64(let v): Double(v)
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: nil
        }
    }

    /// The string, when this is a string.
    public var stringValue: String? {
        if case .string(let v) = self { v } else { nil }
    }

    /// The bool, when this is a bool.
    public var boolValue: Bool? {
        if case .bool(let v) = self { v } else { nil }
    }

    /// The elements, when this is an array.
    public var arrayValue: [GGUFValue]? {
        if case .array(let v) = self { v } else { nil }
    }

    /// The elements, when this is an array of strings (an empty array counts).
    public var stringArray: [String]? {
        guard case .array(let elements) = self else { return nil }
        var result: [String] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard case .string(let s) = element else { return nil }
            result.append(s)
        }
        return result
    }

    /// The elements, when this is an array of integers that all fit in `Int`.
    public var intArray: [Int]? {
        guard case .array(let elements) = self else { return nil }
        var result: [Int] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard let v = element.intValue else { return nil }
            result.append(v)
        }
        return result
    }

    /// The elements as `Float`, when this is an array of numbers (integer or float).
    public var floatArray: [Float]? {
        guard case .array(let elements) = self else { return nil }
        var result: [Float] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            switch element {
            case .float32(let v): result.append(v)
            default:
                guard let v = element.doubleValue else { return nil }
                result.append(Float(v))
            }
        }
        return result
    }

    /// GGUF's name for the value's type (`uint32`, `string`, `array<string>` …), for messages.
    public var typeName: String {
        switch self {
        case .array(let elements):
            "array<\(elements.first?.typeName ?? "empty")>"
        default:
            valueType.name
        }
    }

    /// The GGUF type id of this value.
    var valueType: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }
}
