import Platform

/// A value behind a pthread mutex, for state shared between threads.
///
/// Used instead of the standard library's `Mutex`: on Linux that lock is a
/// futex ThreadSanitizer does not see, so `swift test --sanitize=thread`
/// reports every access it guards as a race. pthread mutexes are
/// intercepted by the sanitizer, so a race it reports here is real.
package final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    package init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    package func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
