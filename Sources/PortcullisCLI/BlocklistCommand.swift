import ArgumentParser
import Foundation
import Portcullis

/// `portcullis blocklist add|remove|list`: the admin API's blocklist endpoints from the shell
/// (token from the environment variable named in `[admin] token_env`).
struct BlocklistCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blocklist",
        abstract: "Change or list the running gateway's IP blocklist (admin API).",
        subcommands: [Add.self, Remove.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Block (or, with --allow, always allow) an address or CIDR block.")

        @OptionGroup var options: AdminOptions
        @Argument(help: "An IPv4/IPv6 address or CIDR block, e.g. 203.0.113.0/24.") var cidr: String
        @Option(help: "Seconds until the entry expires (default: never).") var ttl: Int?
        @Option(help: "Why (kept in the blocklist file and the API).") var reason: String?
        @Flag(help: "An allowlist entry: overrides every block.") var allow = false

        func run() throws {
            var body: [String: Any] = ["cidr": cidr]
            if let ttl { body["ttl_seconds"] = ttl }
            if let reason { body["reason"] = reason }
            if allow { body["allow"] = true }
            let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            try callAdmin("portcullis blocklist add", "POST", path: "/admin/blocklist", body: json, options: options, expecting: 201)
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an entry.")

        @OptionGroup var options: AdminOptions
        @Argument(help: "The entry's address or CIDR block, as listed.") var cidr: String

        func run() throws {
            let encoded = cidr.replacingOccurrences(of: "/", with: "%2F")
            try callAdmin("portcullis blocklist remove", "DELETE", path: "/admin/blocklist/\(encoded)", options: options, expecting: 204)
            print("removed \(cidr)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List entries (one page; --cursor takes next_cursor).")

        @OptionGroup var options: AdminOptions
        @Option(help: "Where to start (next_cursor of the previous page).") var cursor = 0
        @Option(help: "Entries per page (1-1000).") var limit = 100

        func run() throws {
            try callAdmin("portcullis blocklist list", "GET", path: "/admin/blocklist?cursor=\(cursor)&limit=\(limit)",
                          options: options, expecting: 200)
        }
    }
}

/// Calls the admin API named in the configuration; prints the answer; exit status 1 unless the
/// status is `expecting`.
func callAdmin(_ command: String, _ method: String, path: String, body: String = "", options: AdminOptions, expecting: Int,
               timeoutSeconds: Int = 30) throws {
    try reportingErrors(as: command) {
        let (status, answer) = try adminRequest(method, path: path, body: body, options: options, timeoutSeconds: timeoutSeconds)
        if !answer.isEmpty { print(answer, terminator: answer.hasSuffix("\n") ? "" : "\n") }
        if status != expecting { throw ExitCode(1) }
    }
}

/// One admin API call where `options` point (address and token from the configuration file
/// unless given): the status and the body.
func adminRequest(_ method: String, path: String, body: String = "", options: AdminOptions, timeoutSeconds: Int = 30) throws -> (Int, String) {
    let config = try ConfigLoader.load(path: options.config)
    let token = try AdminToken.load(settings: config.admin)
    let address = try options.admin.map { try SocketAddress(parsing: $0) } ?? config.admin.address
    return try AdminClient.request(method, path: path, body: body, to: address, token: token, timeoutSeconds: timeoutSeconds)
}
