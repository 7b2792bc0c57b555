/// A strict reader of the Prometheus text format (0.0.4), enough to check what `RecordingMetrics` writes.
struct ParsedSample: Equatable {
    var name: String
    var labels: [String: String]
    var value: Double
}

struct ParsedFamily {
    var name: String
    var help: String?
    var type: String?
    var samples: [ParsedSample] = []
}

struct ExpositionError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Families in order. Throws on a blank line, a missing final newline, a second HELP or TYPE for a
/// family, a TYPE after samples, a sample outside its family's block, a family coming back later,
/// and on anything malformed.
func parseExposition(_ text: String) throws -> [ParsedFamily] {
    guard text.hasSuffix("\n") else { throw ExpositionError("no final newline") }
    var families: [ParsedFamily] = []
    func current(_ name: String) throws -> Int {
        if let last = families.indices.last, families[last].name == name { return last }
        guard !families.contains(where: { $0.name == name }) else { throw ExpositionError("\(name) comes back later") }
        families.append(ParsedFamily(name: name))
        return families.count - 1
    }
    for line in text.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
        guard !line.isEmpty else { throw ExpositionError("blank line") }
        if line.hasPrefix("# HELP ") {
            let rest = line.dropFirst(7)
            guard let space = rest.firstIndex(of: " ") else { throw ExpositionError("HELP without text: \(line)") }
            let index = try current(String(rest[..<space]))
            guard families[index].help == nil, families[index].type == nil, families[index].samples.isEmpty else {
                throw ExpositionError("HELP out of place: \(line)")
            }
            families[index].help = try unescape(rest[rest.index(after: space)...], quotes: false)
        } else if line.hasPrefix("# TYPE ") {
            let parts = line.dropFirst(7).split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, ["counter", "gauge", "untyped", "summary", "histogram"].contains(parts[1]) else {
                throw ExpositionError("bad TYPE: \(line)")
            }
            let index = try current(String(parts[0]))
            guard families[index].type == nil, families[index].samples.isEmpty else { throw ExpositionError("TYPE out of place: \(line)") }
            families[index].type = String(parts[1])
        } else if line.hasPrefix("#") {
            continue // a comment
        } else {
            let sample = try parseSample(line)
            let index = try current(sample.name)
            families[index].samples.append(sample)
        }
    }
    return families
}

private func isNameCharacter(_ c: Character, first: Bool) -> Bool {
    c.isASCII && (c.isLetter || c == "_" || c == ":" || (!first && c.isNumber))
}

private func parseSample(_ line: Substring) throws -> ParsedSample {
    var rest = line[...]
    let name = rest.prefix { isNameCharacter($0, first: false) }
    guard let first = name.first, isNameCharacter(first, first: true) else { throw ExpositionError("bad metric name: \(line)") }
    rest = rest.dropFirst(name.count)
    var labels: [String: String] = [:]
    if rest.first == "{" {
        rest = rest.dropFirst()
        while rest.first != "}" {
            let label = rest.prefix { isNameCharacter($0, first: false) && $0 != ":" }
            guard !label.isEmpty, rest.dropFirst(label.count).hasPrefix("=\"") else { throw ExpositionError("bad label: \(line)") }
            rest = rest.dropFirst(label.count + 2)
            var raw = ""
            var escaped = false
            while true {
                guard let c = rest.popFirst() else { throw ExpositionError("unterminated label value: \(line)") }
                if escaped {
                    raw += "\\" + String(c)
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "\"" {
                    break
                } else {
                    raw.append(c)
                }
            }
            guard labels[String(label)] == nil else { throw ExpositionError("label \(label) twice: \(line)") }
            labels[String(label)] = try unescape(raw[...], quotes: true)
            if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" { throw ExpositionError("bad label list: \(line)") }
        }
        rest = rest.dropFirst()
    }
    guard rest.first == " " else { throw ExpositionError("no value: \(line)") }
    let parts = rest.dropFirst().split(separator: " ", omittingEmptySubsequences: false)
    guard parts.count == 1 || parts.count == 2 else { throw ExpositionError("bad value: \(line)") }
    let value: Double
    switch parts[0] {
    case "+Inf": value = .infinity
    case "-Inf": value = -.infinity
    case "NaN": value = .nan
    default:
        guard let parsed = Double(parts[0]) else { throw ExpositionError("bad value: \(line)") }
        value = parsed
    }
    return ParsedSample(name: String(name), labels: labels, value: value)
}

/// `\\` and `\n` (and `\"` in label values); any other escape is an error.
private func unescape(_ text: Substring, quotes: Bool) throws -> String {
    var out = ""
    var escaped = false
    for c in text {
        if escaped {
            switch c {
            case "\\": out += "\\"
            case "n": out += "\n"
            case "\"" where quotes: out += "\""
            default: throw ExpositionError("bad escape \\\(c) in \(text)")
            }
            escaped = false
        } else if c == "\\" {
            escaped = true
        } else if c == "\n" || (quotes && c == "\"") {
            throw ExpositionError("unescaped \(c) in \(text)")
        } else {
            out.append(c)
        }
    }
    guard !escaped else { throw ExpositionError("trailing backslash in \(text)") }
    return out
}
