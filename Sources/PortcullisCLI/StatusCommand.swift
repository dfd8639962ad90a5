import ArgumentParser
import Foundation

/// `portcullis status`: the running gateway on one screen, from `GET /admin/status`.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the running gateway on one screen: version, uptime, connections, certificates, Redis, blocklist, recent audit events (admin API).")

    @OptionGroup var options: AdminOptions
    @Flag(help: "Print the admin API's JSON as it is.") var json = false

    func run() throws {
        try reportingErrors(as: "portcullis status") {
            let (status, answer) = try adminRequest("GET", path: "/admin/status", options: options)
            guard status == 200 else {
                print(answer, terminator: "")
                throw ExitCode(1)
            }
            if json {
                print(answer, terminator: "")
                return
            }
            let report = try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any] ?? [:]
            print(Self.screen(report), terminator: "")
        }
    }

    /// The report as lines of text.
    static func screen(_ report: [String: Any]) -> String {
        func list(_ key: String) -> [String] { report[key] as? [String] ?? [] }
        func table(_ key: String) -> [String: Any] { report[key] as? [String: Any] ?? [:] }
        func counts(_ value: Any?) -> String {
            let counts = (value as? [String: Int] ?? [:]).sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            return counts.isEmpty ? "none" : counts.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
        var lines: [String] = []
        lines.append("portcullis \(report["version"] ?? "?") (pid \(report["pid"] ?? "?")), up \(duration(report["uptime_seconds"] as? Int ?? 0)), "
                     + "configuration generation \(report["config_generation"] ?? "?"), \(report["workers"] ?? "?") worker(s)"
                     + ((report["draining"] as? Bool ?? false) ? ", DRAINING" : ""))
        lines.append("listening:    \(list("listeners").joined(separator: ", ")); admin \(report["admin"] ?? "?")")
        let connections = table("connections")
        lines.append("connections:  \(connections["active"] ?? 0) open, \(connections["accepted"] ?? 0) accepted since the start")
        let certificates = report["certificates"] as? [[String: Any]] ?? []
        if certificates.isEmpty { lines.append("certificates: none (no HTTPS listener)") }
        for certificate in certificates {
            let names = (certificate["names"] as? [String] ?? []).joined(separator: ", ")
            lines.append("certificate:  \(names) (serial \(certificate["serial"] ?? "?")) expires \(certificate["not_after"] ?? "?"), "
                         + "in \(certificate["days_left"] ?? "?") day(s)")
        }
        let redis = table("redis")
        if redis["configured"] as? Bool ?? false {
            let endpoints = (redis["endpoints"] as? [String] ?? []).joined(separator: ",")
            lines.append("redis:        \((redis["cluster"] as? Bool ?? false) ? "cluster " : "")\(endpoints), \(redis["ready_connections"] ?? 0) of "
                         + "\(report["workers"] ?? "?") worker connection(s) ready (on_redis_failure \(redis["on_redis_failure"] ?? "?"))")
        } else {
            lines.append("redis:        not configured")
        }
        let blocklist = table("blocklist")
        lines.append("blocklist:    \(blocklist["entries"] ?? 0) entr\((blocklist["entries"] as? Int) == 1 ? "y" : "ies") (\(blocklist["file"] ?? ""))")
        let audit = table("audit")
        let recent = audit.first { $0.key.hasPrefix("last_") }
        lines.append("audit:        \(recent.map { $0.key.replacingOccurrences(of: "_", with: " ") } ?? "recent"): \(counts(recent?.value))")
        lines.append("              since the start: \(counts(audit["since_start"])); \(audit["dropped"] ?? 0) dropped")
        return lines.joined(separator: "\n") + "\n"
    }

    private static func duration(_ seconds: Int) -> String {
        let days = seconds / 86_400, hours = seconds / 3600 % 24, minutes = seconds / 60 % 60
        return days > 0 ? "\(days)d \(hours)h \(minutes)m" : hours > 0 ? "\(hours)h \(minutes)m" : "\(minutes)m \(seconds % 60)s"
    }
}
