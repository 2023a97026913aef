import RealModule

/// The pointwise functions of `torch.nn` recurrent cells (`aten/src/ATen/native/RNN.cpp`).
public enum Activation: String, Sendable {
    case tanh, relu

    @inlinable
    public func callAsFunction<T: Real>(_ x: T) -> T {
        switch self {
        case .tanh: return T.tanh(x)
        case .relu: return x < 0 ? 0 : x   // NaN stays NaN, as in torch.relu
        }
    }
}

/// `torch.sigmoid`: 1 / (1 + e^−x).
@inlinable
public func sigmoid<T: Real>(_ x: T) -> T {
    1 / (1 + T.exp(-x))
}
