import ArgumentParser
import Foundation
import Logging
import Portcullis

/// `portcullis`: the gateway's command line.
@main
struct PortcullisCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portcullis",
        abstract: "A reverse-proxy security gateway.",
        subcommands: [Run.self, Check.self, Reload.self, Upgrade.self, StatusCommand.self, BlocklistCommand.self, Version.self],
        defaultSubcommand: nil)
}

/// Options shared by the commands that read a configuration file.
struct ConfigOption: ParsableArguments {
    @Option(name: [.short, .long], help: "Path to the configuration file (default: $PORTCULLIS_CONFIG, else conf/portcullis.toml in a source tree, else /etc/portcullis/portcullis.toml).")
    var config = ConfigOption.defaultPath

    /// `$PORTCULLIS_CONFIG`; else the source tree's file when run from one (`make run`); else
    /// the installed one.
    static var defaultPath: String {
        if let path = ProcessInfo.processInfo.environment["PORTCULLIS_CONFIG"], !path.isEmpty { return path }
        return FileManager.default.fileExists(atPath: "conf/portcullis.toml") ? "conf/portcullis.toml" : "/etc/portcullis/portcullis.toml"
    }
}

/// Options of the commands that call the running gateway's admin API.
struct AdminOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Path to the configuration file (admin address and token variable; default as for run).")
    var config = ConfigOption.defaultPath
    @Option(help: "The admin API's host:port, when it is not the configured one (a gateway started with port 0 logs it).")
    var admin: String?
}

extension PortcullisCommand {
    /// `portcullis run`: start the gateway in the foreground.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start the gateway (foreground).")

        @OptionGroup var options: ConfigOption

        func run() throws {
            LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
            // Started by `portcullis upgrade`: every failure is also told to the old gateway.
            let handover: UpgradeHandover?
            do {
                handover = try UpgradeHandover.receive()
            } catch {
                FileHandle.standardError.write(Data("portcullis: upgrade: \(error)\n".utf8))
                throw ExitCode(1)
            }
            let config: GatewayConfig
            do {
                config = try ConfigLoader.load(path: options.config)
            } catch {
                handover?.fail("invalid configuration: \(error)")
                FileHandle.standardError.write(Data("portcullis: invalid configuration\n\(error)\n".utf8))
                throw ExitCode(1)
            }
            try reportingErrors(as: "portcullis") {
                do {
                    throw ExitCode(try Gateway(configPath: options.config, config: config, handover: handover).run())
                } catch let error where !(error is ExitCode) {
                    handover?.fail("\(error)")
                    throw error
                }
            }
        }
    }

    /// `portcullis check`: validate a configuration file and list every problem.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a configuration file; exit 1 listing every problem.")

        @OptionGroup var options: ConfigOption

        func run() throws {
            do {
                let config = try ConfigLoader.load(path: options.config)
                print("\(options.config): OK (\(config.listeners.count) listener(s), \(config.upstreams.count) upstream(s), \(config.routes.count) route(s))")
                for warning in config.warnings { print("warning: \(options.config): \(warning)") }
                do {
                    _ = try AdminToken.load(settings: config.admin)
                } catch {
                    print("warning: \(error)")
                }
            } catch {
                FileHandle.standardError.write(Data("\(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    /// `portcullis reload`: asks the running gateway (through its admin API) to reload its
    /// configuration and certificates; prints the outcome.
    struct Reload: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reload the running gateway's configuration and certificates (admin API; token from the environment).")

        @OptionGroup var options: AdminOptions

        func run() throws {
            try callAdmin("portcullis reload", "POST", path: "/admin/certs/reload", options: options, expecting: 200)
        }
    }

    /// `portcullis upgrade`: asks the running gateway to start the binary now at its path and
    /// hand its sockets over (zero downtime); prints the outcome.
    struct Upgrade: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the running gateway with the binary now installed at its path, without dropping a connection (admin API).")

        @OptionGroup var options: AdminOptions

        func run() throws {
            let timeout = (try? ConfigLoader.load(path: options.config).timeouts.upgrade) ?? 30_000_000_000
            try callAdmin("portcullis upgrade", "POST", path: "/admin/upgrade", options: options, expecting: 200,
                          timeoutSeconds: Int(timeout / 1_000_000_000) + 20)
        }
    }

    /// `portcullis version`.
    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the version and the linked libraries.")

        func run() {
            print("portcullis \(LinkedLibraries.portcullisVersion)")
            print(LinkedLibraries.summary)
        }
    }
}

/// Runs `body`; an error other than an exit code is printed on stderr and exits with status 1.
func reportingErrors(as command: String, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        FileHandle.standardError.write(Data("\(command): \(error)\n".utf8))
        throw ExitCode(1)
    }
}
