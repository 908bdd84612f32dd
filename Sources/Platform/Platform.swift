// The C library of the host system, imported in one place: every other
// module imports `Platform` instead of repeating the Glibc/Musl/Darwin test.

#if canImport(Glibc)
@_exported import Glibc
#elseif canImport(Musl)
@_exported import Musl
#elseif canImport(Darwin)
@_exported import Darwin
#else
#error("gatesurgeon needs a POSIX C library (Glibc, Musl or Darwin)")
#endif

/// close(2), for types whose own `close()` method hides the C function.
@inlinable
public func systemClose(_ descriptor: Int32) -> Int32 { close(descriptor) }

/// write(2), for types whose own `write` methods hide the C function.
@inlinable
public func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

/// The text of the current `errno`.
public func systemErrorReason() -> String { String(cString: strerror(errno)) }
