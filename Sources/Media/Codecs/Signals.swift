import Foundation

// Test-signal helpers: generate and recognise content that survives lossy coding
// (tones for audio, flat colours for video), so tests can prove media by decoding it.

/// `count` samples of a sine tone, starting at sample index `startSample` (so consecutive calls
/// continue the same wave). `amplitude` is relative to full scale (0...1).
public func sineWave(frequency: Double, sampleRate: Int, count: Int, startSample: Int = 0,
                     amplitude: Double = 0.5) -> [Int16] {
    let step = 2 * Double.pi * frequency / Double(sampleRate)
    let scale = max(0, min(1, amplitude)) * Double(Int16.max)
    return (0..<max(0, count)).map { i in
        Int16((scale * sin(step * Double(startSample + i))).rounded())
    }
}

/// Power of `frequency` in `samples` (Goertzel algorithm), normalised so a full-scale sine of that
/// frequency gives about 0.25 and silence 0 (independent of the sample count).
public func goertzelPower(_ samples: [Int16], frequency: Double, sampleRate: Int) -> Double {
    guard !samples.isEmpty else { return 0 }
    let coeff = 2 * cos(2 * Double.pi * frequency / Double(sampleRate))
    var s1 = 0.0, s2 = 0.0
    for sample in samples {
        let s0 = Double(sample) / 32_768 + coeff * s1 - s2
        s2 = s1
        s1 = s0
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    let n = Double(samples.count)
    return power / (n * n)
}

/// The candidate frequency with the most power in `samples` (see `goertzelPower`).
public func dominantFrequency(_ samples: [Int16], sampleRate: Int, candidates: [Double]) -> Double {
    var best = candidates.first ?? 0
    var bestPower = -Double.infinity
    for f in candidates {
        let p = goertzelPower(samples, frequency: f, sampleRate: sampleRate)
        if p > bestPower {
            bestPower = p
            best = f
        }
    }
    return best
}

/// Root-mean-square level of `samples`, relative to full scale (a full-scale sine ≈ 0.707).
public func rmsLevel(_ samples: [Int16]) -> Double {
    guard !samples.isEmpty else { return 0 }
    var sum = 0.0
    for s in samples {
        let x = Double(s) / 32_768
        sum += x * x
    }
    return (sum / Double(samples.count)).squareRoot()
}

/// A rectangle of pixels in luma coordinates.
public struct PixelRect: Sendable, Equatable, Hashable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}

extension I420Frame {
    /// Luma rows/cols of `rect` clipped to the picture, and the chroma rows/cols covering it.
    private func clipped(_ rect: PixelRect) -> (luma: (x: Range<Int>, y: Range<Int>), chroma: (x: Range<Int>, y: Range<Int>))? {
        let x0 = max(0, rect.x), y0 = max(0, rect.y)
        let x1 = min(width, rect.x + rect.width), y1 = min(height, rect.y + rect.height)
        guard x0 < x1, y0 < y1 else { return nil }
        return ((x0..<x1, y0..<y1), ((x0 / 2)..<((x1 + 1) / 2), (y0 / 2)..<((y1 + 1) / 2)))
    }

    /// Paints `rect` (luma coordinates, clipped to the picture) with one colour. Chroma samples that
    /// the rectangle touches are painted too (a rectangle at odd coordinates rounds outwards).
    public mutating func fill(rect: PixelRect, y yValue: UInt8, u uValue: UInt8, v vValue: UInt8) {
        guard let area = clipped(rect) else { return }
        let w = width, cw = chromaWidth
        y.withUnsafeMutableBufferPointer { p in
            for row in area.luma.y {
                for col in area.luma.x { p[row * w + col] = yValue }
            }
        }
        u.withUnsafeMutableBufferPointer { pu in
            v.withUnsafeMutableBufferPointer { pv in
                for row in area.chroma.y {
                    for col in area.chroma.x {
                        pu[row * cw + col] = uValue
                        pv[row * cw + col] = vValue
                    }
                }
            }
        }
    }

    /// Mean Y, U and V over `rect` (luma coordinates, clipped). Zeros when the rectangle is outside.
    public func averageColor(in rect: PixelRect) -> (y: Double, u: Double, v: Double) {
        guard let area = clipped(rect) else { return (0, 0, 0) }
        var sy = 0, su = 0, sv = 0
        for row in area.luma.y {
            for col in area.luma.x { sy += Int(y[row * width + col]) }
        }
        for row in area.chroma.y {
            for col in area.chroma.x {
                su += Int(u[row * chromaWidth + col])
                sv += Int(v[row * chromaWidth + col])
            }
        }
        let nl = Double(area.luma.x.count * area.luma.y.count)
        let nc = Double(area.chroma.x.count * area.chroma.y.count)
        return (Double(sy) / nl, Double(su) / nc, Double(sv) / nc)
    }
}
