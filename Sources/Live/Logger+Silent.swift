import Logging

extension Logger {
    /// A logger that drops everything: the default of the live jobs' `logger` parameters.
    public static let silent = Logger(label: "flowrec", factory: { _ in SwiftLogNoOpLogHandler() })
}
