extension StringProtocol {
    /// Without leading and trailing spaces and tabs (and a trailing CR from a CRLF line).
    var trimmingSpaces: String {
        var slice = Substring(self)
        while slice.first == " " || slice.first == "\t" { slice.removeFirst() }
        while slice.last == " " || slice.last == "\t" || slice.last == "\r" { slice.removeLast() }
        return String(slice)
    }
}
