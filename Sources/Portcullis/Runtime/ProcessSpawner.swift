import Glibc

/// Starts a program with `posix_spawn` (no fork of a multi-threaded process): `passing`
/// descriptors become the child's 3, 4, … and every other descriptor from 3 up is closed in the
/// child, whatever its close-on-exec flag (hiredis' sockets have none); the child starts with
/// no signal blocked and SIGPIPE at its default, whatever this process set for itself.
public enum ProcessSpawner {
    /// Standard input, output and error of the child: kept from this process, or redirected.
    public enum StandardStreams {
        case inherited
        /// stdin from /dev/null, stdout and stderr appended to this file.
        case logFile(String)
    }

    /// The child's pid; throws with the reason `posix_spawn` gave.
    public static func spawn(_ executable: String, arguments: [String], environment: [String], passing descriptors: [Int32] = [],
                             streams: StandardStreams = .inherited) throws(SystemError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if case .logFile(let path) = streams {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_APPEND, 0)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        // Moved out of the way first, so that none is already at its target (dup2 onto itself
        // would leave it close-on-exec).
        let movedAside = descriptors.map { fcntl($0, F_DUPFD_CLOEXEC, 100) }
        defer { movedAside.forEach { close($0) } }
        for (index, fd) in movedAside.enumerated() { posix_spawn_file_actions_adddup2(&actions, fd, Int32(3 + index)) }
        _ = addCloseFrom?(&actions, Int32(3 + descriptors.count))
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw SystemError("start \(executable)", code: result) }
        return child
    }

    /// This process' environment as `NAME=value` strings.
    public static var currentEnvironment: [String] {
        var entries: [String] = []
        var entry = environ
        while let pointer = entry.pointee {
            entries.append(String(cString: pointer))
            entry += 1
        }
        return entries
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module
    /// does not export: looked up by name, skipped where absent.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? =
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np").map {
            unsafeBitCast($0, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
        }
}
