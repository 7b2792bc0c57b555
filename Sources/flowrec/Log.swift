import ArgumentParser
import FlowrecLogging
import Foundation
import Logging

/// The CLI's logger. Made on first use, which comes after `main` has bootstrapped the logging system.
let logger = Logger(label: "flowrec")

/// `--log-format` and `--log-level`, taken by every command.
struct LogOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Log lines on stderr: human, json (one JSON object a line) or auto (human on a terminal, "
                               + "json otherwise). Default: $FLOWREC_LOG_FORMAT, else auto.", valueName: "format"))
    var logFormat: LogFormat?

    @Option(help: ArgumentHelp("The least level logged. Default: $FLOWREC_LOG_LEVEL, else info.", valueName: "level"))
    var logLevel: Logger.Level?
}

/// A command that logs: all of flowrec's commands.
protocol LoggingCommand: ParsableCommand {
    var logging: LogOptions { get }
}

extension LogFormat: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

extension LogSettings {
    /// The settings of this process: the command's options, else the environment, else auto and info.
    static func current(_ options: LogOptions?) -> LogSettings {
        LogSettings(format: options?.logFormat, level: options?.logLevel,
                    environment: ProcessInfo.processInfo.environment, terminal: isatty(STDERR_FILENO) != 0)
    }
}

/// flowrec's entry point: parses the command line, bootstraps logging by `--log-format`/`--log-level`
/// (or the environment, when parsing failed), runs the command and exits. In JSON format an error
/// that ends the run (a usage error too) is a JSON line; `--help` and the like print as usual.
func runMain() -> Never {
    let parsed = Result { try Flowrec.parseAsRoot() }
    let settings = LogSettings.current(((try? parsed.get()) as? any LoggingCommand)?.logging)
    settings.bootstrap()
    for problem in settings.problems { logger.warning("\(problem)") }
    do {
        var command = try parsed.get()
        try command.run()
        Flowrec.exit()
    } catch {
        let code = Flowrec.exitCode(for: error)
        if settings.format == .json, code != .success {
            let message = Flowrec.message(for: error)
            if !message.isEmpty { logger.error("\(message)") }
            Flowrec.exit(withError: code)
        }
        Flowrec.exit(withError: error)
    }
}
