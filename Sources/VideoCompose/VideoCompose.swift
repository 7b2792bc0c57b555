/// Module `VideoCompose`: layouts, scaling and tile composition onto a canvas.
///
/// - `Layout`: grid / speaker / single tile rectangles, one per participant in participant order.
/// - `VideoCompositor`: clears a reused I420 canvas and draws pictures (aspect-preserving, libyuv
///   straight into the canvas planes) and placeholders (solid colour + a large initial).
/// - `Scaler`: the libyuv wrapper that scales straight into a canvas rectangle.
/// - `ActiveSpeakerDetector`: picks the speaker from audio levels with hysteresis.
import Media
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one tile shows.
public enum TileContent: Sendable {
    /// A decoded picture, scaled to fit the tile (aspect kept, centred, letterboxed with the background).
    case picture(I420Frame)
    /// No video: the whole tile in one colour with `initial` drawn large and white in the centre
    /// (A–Z and 0–9; lower case is upper-cased; anything else draws '?').
    case placeholder(y: UInt8, u: UInt8, v: UInt8, initial: Character)
}

/// Draws tiles onto one canvas that it owns and reuses from frame to frame.
///
/// Steady state allocates nothing: the canvas planes are cleared and drawn in place. `compose` returns the canvas by value (its arrays share storage with the
/// compositor's); use it before the next `compose`. Keeping a returned frame alive across the next call
/// is safe but makes that call copy the planes (copy-on-write) instead of reusing them.
/// Not thread-safe (one compositor per pipeline).
public final class VideoCompositor {
    public let width: Int
    public let height: Int
    public let background: (y: UInt8, u: UInt8, v: UInt8)
    /// The picture drawn by the last `compose` (the background before the first).
    public private(set) var canvas: I420Frame
    private let scaler: Scaler

    /// White used for placeholder initials (BT.601 limited range).
    public static let initialColor: (y: UInt8, u: UInt8, v: UInt8) = (235, 128, 128)

    /// `fastScaling`: bilinear instead of box filtering.
    public init(width: Int, height: Int, background: (y: UInt8, u: UInt8, v: UInt8) = (16, 128, 128),
                fastScaling: Bool = false) {
        precondition(width > 0 && height > 0, "canvas must not be empty")
        self.width = width
        self.height = height
        self.background = background
        canvas = I420Frame(width: width, height: height, y: background.y, u: background.u, v: background.v)
        scaler = Scaler(fast: fastScaling)
    }

    /// Clears the canvas to the background and draws `tiles` in order (later tiles over earlier ones).
    /// Rectangles are clipped to the canvas and snapped to even coordinates; empty ones are skipped.
    @discardableResult
    public func compose(_ tiles: [(rect: TileRect, content: TileContent)]) -> I420Frame {
        clear()
        for tile in tiles {
            guard let rect = sanitized(tile.rect) else { continue }
            switch tile.content {
            case .picture(let frame):
                if let (crop, target) = Layout.unscaled(sourceWidth: frame.width, sourceHeight: frame.height, in: rect) {
                    scaler.scale(frame, crop: crop, into: &canvas, rect: target)
                } else {
                    let target = Layout.fit(sourceWidth: frame.width, sourceHeight: frame.height, in: rect)
                    guard !target.isEmpty else { continue }
                    scaler.scale(frame, into: &canvas, rect: target)
                }
            case .placeholder(let y, let u, let v, let initial):
                Self.fill(&canvas, rect: rect, y: y, u: u, v: v)
                drawInitial(initial, in: rect)
            }
        }
        return canvas
    }

    // MARK: Drawing

    private func clear() {
        let bg = background
        canvas.y.withUnsafeMutableBufferPointer { p in if let b = p.baseAddress { memset(b, Int32(bg.y), p.count) } }
        canvas.u.withUnsafeMutableBufferPointer { p in if let b = p.baseAddress { memset(b, Int32(bg.u), p.count) } }
        canvas.v.withUnsafeMutableBufferPointer { p in if let b = p.baseAddress { memset(b, Int32(bg.v), p.count) } }
    }

    /// `rect` clipped to the canvas with its origin rounded up to even (its end stays, except that a
    /// size that would be odd inside the canvas is rounded down). Nil when nothing is left.
    private func sanitized(_ rect: TileRect) -> TileRect? {
        guard !rect.isEmpty else { return nil }
        let x0 = (max(0, rect.x) + 1) & ~1, y0 = (max(0, rect.y) + 1) & ~1
        var x1 = min(width, rect.maxX), y1 = min(height, rect.maxY)
        if x1 < width { x1 = x0 + even(x1 - x0) }
        if y1 < height { y1 = y0 + even(y1 - y0) }
        guard x1 > x0, y1 > y0 else { return nil }
        return TileRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }

    /// Paints `rect` (inside the canvas, even origin) with one colour, row by row.
    static func fill(_ frame: inout I420Frame, rect: TileRect, y: UInt8, u: UInt8, v: UInt8) {
        let w = frame.width, cw = frame.chromaWidth
        let cx0 = rect.x / 2, cy0 = rect.y / 2
        let cx1 = min(cw, (rect.maxX + 1) / 2), cy1 = min(frame.chromaHeight, (rect.maxY + 1) / 2)
        frame.y.withUnsafeMutableBufferPointer { p in
            guard let base = p.baseAddress else { return }
            for row in rect.y..<rect.maxY {
                memset(base + row * w + rect.x, Int32(y), rect.width)
            }
        }
        guard cx1 > cx0, cy1 > cy0 else { return }
        frame.u.withUnsafeMutableBufferPointer { pu in
            frame.v.withUnsafeMutableBufferPointer { pv in
                guard let bu = pu.baseAddress, let bv = pv.baseAddress else { return }
                for row in cy0..<cy1 {
                    memset(bu + row * cw + cx0, Int32(u), cx1 - cx0)
                    memset(bv + row * cw + cx0, Int32(v), cx1 - cx0)
                }
            }
        }
    }

    /// Draws `initial` centred in `rect`, about half the tile's height tall, with square "pixels" of an
    /// even size so every glyph pixel covers whole chroma samples. Nothing when the tile is too small.
    private func drawInitial(_ initial: Character, in rect: TileRect) {
        let glyph = BitmapFont.glyphIndex(for: initial)
        let byHeight = rect.height / 2 / BitmapFont.glyphHeight
        let byWidth = rect.width * 3 / 5 / BitmapFont.glyphWidth
        let cell = even(min(byHeight, byWidth))
        guard cell >= 2 else { return }
        let glyphW = cell * BitmapFont.glyphWidth, glyphH = cell * BitmapFont.glyphHeight
        let x0 = even(rect.x + (rect.width - glyphW) / 2), y0 = even(rect.y + (rect.height - glyphH) / 2)
        let white = Self.initialColor
        for row in 0..<BitmapFont.glyphHeight {
            let bits = BitmapFont.row(glyph, row)
            var col = 0
            while col < BitmapFont.glyphWidth {
                // Runs of set bits in one fill each.
                guard BitmapFont.isSet(bits, col) else { col += 1; continue }
                var end = col + 1
                while end < BitmapFont.glyphWidth && BitmapFont.isSet(bits, end) { end += 1 }
                Self.fill(&canvas, rect: TileRect(x: x0 + col * cell, y: y0 + row * cell,
                                                  width: (end - col) * cell, height: cell),
                          y: white.y, u: white.u, v: white.v)
                col = end
            }
        }
    }
}
