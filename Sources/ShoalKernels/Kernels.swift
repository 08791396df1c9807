public import ShoalGGUF

/// Facts about what the kernels can compute.
public enum Kernels {
    /// Whether `matmul` and `dequantizeRow` accept weights of this type.
    public static func supports(_ type: GGMLType) -> Bool {
        switch type {
        case .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K: true
        default: false
        }
    }
}
