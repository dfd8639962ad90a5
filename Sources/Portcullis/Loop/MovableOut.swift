/// A value that can be moved out of an object's stored property for a call and put back after,
/// leaving behind a placeholder that owns no storage.
///
/// Work that calls C or may grow arrays (the parsers, the chunked decoders, the request path)
/// runs on the moved-out value. Done on the property in place, its access would span calls the
/// compiler cannot see through, and then every access to that property, everywhere, would pay
/// the runtime's exclusivity check. While the value is out, the property holds the placeholder:
/// the work must touch only the value it was given.
protocol MovableOut {
    /// What the property holds while the value is out.
    var placeholder: Self { get }
}

extension Array: MovableOut {
    /// The empty array (no storage).
    var placeholder: [Element] { [] }
}

/// Moves `value` out of its place, leaving its placeholder; put it back by assigning.
@inline(__always)
func moveOut<Value: MovableOut>(_ value: inout Value) -> Value {
    var moved = value.placeholder
    swap(&moved, &value)
    return moved
}
