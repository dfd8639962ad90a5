/// A value in storage of its own, owned by one object and reached through a `let`: for state
/// the request path works on in place, calls included (the codecs: parsing a head runs C and
/// may grow the field list).
///
/// A stored property of a class would get the runtime's exclusivity check at every access
/// unless the compiler can prove that no access overlaps another, and a call it cannot see
/// through breaks that proof. `MovableOut` keeps the proof by moving a value out for such a
/// call and back after, which copies it each way. A slot's value is reached through a pointer
/// instead: nothing to check and nothing to copy. What the compiler no longer checks is the
/// owner's rule to keep: only the owner touches the value, on its thread, and no access to it
/// starts while another is under way (no callback from inside a call on it reaches it again).
/// The owner frees it in its `deinit`.
///
/// A part of the value passed to a function that does not inline is copied first (a read
/// through a pointer cannot be proved free of writes for the length of the call), retains
/// included: 200 instructions for a request head. Functions that take a head from a slot on
/// the request path therefore take it `inout`, which passes its address; they do not change it.
struct OwnedSlot<Value> {
    /// The value's address, for the owner's addressors (`unsafeAddress`, `unsafeMutableAddress`:
    /// no accessor coroutine, which when not inlined allocates its frame).
    let pointer: UnsafeMutablePointer<Value>

    init(_ value: Value) {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: value)
    }

    var value: Value {
        @inline(__always) unsafeAddress { UnsafePointer(pointer) }
        @inline(__always) nonmutating unsafeMutableAddress { pointer }
    }

    /// Destroys the value and frees its storage; the slot must not be used after.
    func free() {
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }
}
