import Glibc

@inline(__always)
func libmExp(_ x: Double) -> Double { Glibc.exp(x) }

@inline(__always)
func libmTanh(_ x: Double) -> Double { Glibc.tanh(x) }
