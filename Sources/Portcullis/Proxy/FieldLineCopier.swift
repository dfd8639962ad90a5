/// Copies the field lines a head writer keeps into its output. A line received exactly as
/// `name: value\r\n` is passed on as received, and consecutive such lines in one copy: the fields
/// of a head mostly pass unchanged, so a head costs a few copies instead of four appends a field.
/// Other lines (no space or more than one after the colon, whitespace after the value) are
/// written in that form.
///
/// Whatever the writer appends by itself must come after `flush`, or it would land before lines
/// kept earlier.
struct FieldLineCopier {
    private let source: UnsafePointer<UInt8>
    private var runStart = 0
    private var runEnd = 0

    /// A copier of fields parsed from the head at `source`.
    init(from source: UnsafePointer<UInt8>) {
        self.source = source
    }

    /// Passes `field` on.
    @inline(__always)
    mutating func keep(_ field: HeaderField, to out: ByteBuffer) {
        let nameEnd = Int(field.nameEnd)
        let valueEnd = Int(field.valueEnd)
        guard Int(field.valueStart) == nameEnd + 2, source[nameEnd + 1] == ASCII.space, source[valueEnd] == ASCII.cr else {
            flush(to: out)
            out.append(source + Int(field.nameStart), count: nameEnd - Int(field.nameStart))
            out.append(": ")
            out.append(source + Int(field.valueStart), count: valueEnd - Int(field.valueStart))
            out.append("\r\n")
            return
        }
        if Int(field.nameStart) != runEnd {
            flush(to: out)
            runStart = Int(field.nameStart)
        }
        runEnd = valueEnd + 2
    }

    /// Writes the lines kept and not written yet.
    @inline(__always)
    mutating func flush(to out: ByteBuffer) {
        out.append(source + runStart, count: runEnd - runStart)
        runStart = runEnd
    }
}
