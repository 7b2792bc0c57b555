/// A 5×7 bitmap font for placeholder initials: A–Z, 0–9 and '?' (the fallback).
enum BitmapFont {
    static let glyphWidth = 5
    static let glyphHeight = 7

    /// Index of the '?' glyph.
    static let fallback = 36

    /// Glyph index: 0–25 A–Z (lower case folded), 26–35 0–9, 36 '?' for anything else.
    static func glyphIndex(for character: Character) -> Int {
        guard let ascii = character.asciiValue else { return fallback }
        switch ascii {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return Int(ascii - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return Int(ascii - UInt8(ascii: "a"))
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return 26 + Int(ascii - UInt8(ascii: "0"))
        default: return fallback
        }
    }

    /// Row `row` (0 = top) of glyph `index`: bit 4 is the leftmost column.
    @inline(__always) static func row(_ index: Int, _ row: Int) -> UInt8 { rows[index * glyphHeight + row] }

    @inline(__always) static func isSet(_ bits: UInt8, _ column: Int) -> Bool { bits & (0b10000 >> UInt8(column)) != 0 }

    /// 37 glyphs × 7 rows.
    static let rows: [UInt8] = [
        0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, // A
        0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110, // B
        0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110, // C
        0b11100, 0b10010, 0b10001, 0b10001, 0b10001, 0b10010, 0b11100, // D
        0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111, // E
        0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000, // F
        0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111, // G
        0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, // H
        0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, // I
        0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100, // J
        0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001, // K
        0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111, // L
        0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001, // M
        0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001, // N
        0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, // O
        0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000, // P
        0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101, // Q
        0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001, // R
        0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110, // S
        0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, // T
        0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, // U
        0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, // V
        0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010, // W
        0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001, // X
        0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, // Y
        0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111, // Z
        0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110, // 0
        0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, // 1
        0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111, // 2
        0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110, // 3
        0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010, // 4
        0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110, // 5
        0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110, // 6
        0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000, // 7
        0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110, // 8
        0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100, // 9
        0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b00000, 0b00100, // ?
    ]
}
