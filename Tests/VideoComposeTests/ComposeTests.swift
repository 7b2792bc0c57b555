import Foundation
import Media
import Testing
import VideoCompose

/// Participant colours (BT.601 limited range), as in `SynthParticipant`.
let palette: [(y: UInt8, u: UInt8, v: UInt8)] = [(81, 90, 240), (145, 54, 34), (41, 240, 110), (210, 16, 146)]
let background: (y: UInt8, u: UInt8, v: UInt8) = (16, 128, 128)

func pixelRect(_ r: TileRect) -> PixelRect { r }

/// The middle of `r`, `fraction` of its size.
func centre(_ r: TileRect, fraction: Double = 0.5) -> PixelRect {
    let w = Int(Double(r.width) * fraction), h = Int(Double(r.height) * fraction)
    return PixelRect(x: r.x + (r.width - w) / 2, y: r.y + (r.height - h) / 2, width: w, height: h)
}

func expectColour(_ c: (y: Double, u: Double, v: Double), _ e: (y: UInt8, u: UInt8, v: UInt8),
                  tolerance: Double = 3, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(abs(c.y - Double(e.y)) <= tolerance && abs(c.u - Double(e.u)) <= tolerance && abs(c.v - Double(e.v)) <= tolerance,
            "\(label): got \(c), want \(e)", sourceLocation: sourceLocation)
}

/// Luma and chroma samples outside every rectangle in `allowed` that differ from the background.
func strayPixels(_ f: I420Frame, allowed: [TileRect]) -> Int {
    var stray = 0
    for row in 0..<f.height {
        for col in 0..<f.width where f.y[row * f.width + col] != background.y {
            if !allowed.contains(where: { col >= $0.x && col < $0.maxX && row >= $0.y && row < $0.maxY }) { stray += 1 }
        }
    }
    for row in 0..<f.chromaHeight {
        for col in 0..<f.chromaWidth {
            let i = row * f.chromaWidth + col
            guard f.u[i] != background.u || f.v[i] != background.v else { continue }
            if !allowed.contains(where: { 2 * col >= $0.x && 2 * col < $0.maxX && 2 * row >= $0.y && 2 * row < $0.maxY }) {
                stray += 1
            }
        }
    }
    return stray
}

func solid(_ w: Int, _ h: Int, _ c: (y: UInt8, u: UInt8, v: UInt8)) -> I420Frame {
    I420Frame(width: w, height: h, y: c.y, u: c.u, v: c.v)
}

@Suite struct ComposeTests {
    @Test func fourPicturesInAGrid() throws {
        let compositor = VideoCompositor(width: 1280, height: 720)
        let rects = Layout.grid(count: 4, canvasWidth: 1280, canvasHeight: 720)
        let tiles = (0..<4).map { (rect: rects[$0], content: TileContent.picture(solid(640, 360, palette[$0]))) }
        let out = compositor.compose(tiles)
        #expect(out.width == 1280 && out.height == 720)
        var pictures: [TileRect] = []
        for (i, r) in rects.enumerated() {
            expectColour(out.averageColor(in: centre(r, fraction: 0.8)), palette[i], "tile \(i) centre")
            // 640×360 is within 6% of the cell: drawn pixel for pixel, edges trimmed, not resampled.
            let picture = try #require(Layout.unscaled(sourceWidth: 640, sourceHeight: 360, in: r)).target
            pictures.append(picture)
            // The whole drawn picture, edges included, is the source colour.
            expectColour(out.averageColor(in: pixelRect(picture)), palette[i], "tile \(i) picture")
            // Any border left around the picture is background.
            if picture.x > r.x {
                expectColour(out.averageColor(in: PixelRect(x: r.x, y: r.y, width: picture.x - r.x, height: r.height)),
                             background, tolerance: 0, "tile \(i) left bar")
            }
        }
        // The gap between the top tiles and the margins are background.
        expectColour(out.averageColor(in: PixelRect(x: rects[0].maxX, y: 0, width: rects[1].x - rects[0].maxX, height: 720)),
                     background, tolerance: 0, "vertical gap")
        expectColour(out.averageColor(in: PixelRect(x: 0, y: 0, width: 1280, height: rects[0].y)),
                     background, tolerance: 0, "top margin")
        // Nothing was drawn outside the pictures (the scaler wrote only inside its rectangle).
        #expect(strayPixels(out, allowed: pictures) == 0)
    }

    @Test func nearSizePictureIsCopiedPixelForPixelWithItsEdgesTrimmed() throws {
        // A gradient picture slightly larger than its tile: the centre is copied exactly.
        var picture = I420Frame(width: 640, height: 360)
        for row in 0..<360 { for col in 0..<640 { picture.y[row * 640 + col] = UInt8(truncatingIfNeeded: col * 7 + row * 3) } }
        let tile = TileRect(x: 100, y: 50, width: 628, height: 348)
        let (crop, target) = try #require(Layout.unscaled(sourceWidth: 640, sourceHeight: 360, in: tile))
        #expect(crop == TileRect(x: 6, y: 6, width: 628, height: 348) && target == tile)
        let out = VideoCompositor(width: 1280, height: 720).compose([(tile, .picture(picture))])
        var mismatches = 0
        for row in 0..<348 {
            for col in 0..<628 where out.y[(50 + row) * 1280 + 100 + col] != picture.y[(6 + row) * 640 + 6 + col] { mismatches += 1 }
        }
        #expect(mismatches == 0)
        // Beyond 6% the picture is scaled to fit instead.
        #expect(Layout.unscaled(sourceWidth: 640, sourceHeight: 360, in: TileRect(x: 0, y: 0, width: 590, height: 332)) == nil)
        #expect(Layout.unscaled(sourceWidth: 640, sourceHeight: 480, in: tile) == nil)
    }

    @Test func fourByThreeIsPillarboxedInSixteenByNine() {
        let compositor = VideoCompositor(width: 1280, height: 720)
        let tile = TileRect(x: 0, y: 0, width: 1280, height: 720)
        let out = compositor.compose([(tile, .picture(solid(640, 480, palette[2])))])
        // 960×720 centred: bars of 160 px each side.
        expectColour(out.averageColor(in: PixelRect(x: 0, y: 0, width: 160, height: 720)), background, tolerance: 0, "left bar")
        expectColour(out.averageColor(in: PixelRect(x: 1120, y: 0, width: 160, height: 720)), background, tolerance: 0, "right bar")
        expectColour(out.averageColor(in: PixelRect(x: 160, y: 0, width: 960, height: 720)), palette[2], "picture")
        #expect(strayPixels(out, allowed: [TileRect(x: 160, y: 0, width: 960, height: 720)]) == 0)

        // And a 16:9 picture in a 4:3 tile is letterboxed top and bottom.
        let square = TileRect(x: 100, y: 60, width: 480, height: 360)
        let boxed = compositor.compose([(square, .picture(solid(1280, 720, palette[0])))])
        expectColour(boxed.averageColor(in: PixelRect(x: 100, y: 60, width: 480, height: 44)), background, tolerance: 0, "top bar")
        expectColour(boxed.averageColor(in: PixelRect(x: 100, y: 374, width: 480, height: 46)), background, tolerance: 0, "bottom bar")
        expectColour(boxed.averageColor(in: PixelRect(x: 100, y: 104, width: 480, height: 270)), palette[0], "picture")
    }

    @Test func pictureIsNotMirroredOrFlipped() {
        // Left half palette[0], right half palette[1]; top-left quarter marked with palette[3].
        var src = solid(320, 240, palette[0])
        src.fill(rect: PixelRect(x: 160, y: 0, width: 160, height: 240), y: palette[1].y, u: palette[1].u, v: palette[1].v)
        src.fill(rect: PixelRect(x: 0, y: 0, width: 80, height: 60), y: palette[3].y, u: palette[3].u, v: palette[3].v)
        let compositor = VideoCompositor(width: 640, height: 480)
        let out = compositor.compose([(TileRect(x: 0, y: 0, width: 640, height: 480), .picture(src))])
        expectColour(out.averageColor(in: PixelRect(x: 20, y: 200, width: 260, height: 260)), palette[0], "left")
        expectColour(out.averageColor(in: PixelRect(x: 360, y: 20, width: 260, height: 440)), palette[1], "right")
        expectColour(out.averageColor(in: PixelRect(x: 10, y: 10, width: 140, height: 100)), palette[3], "top-left mark")
    }

    @Test func oddSizesAndClipping() {
        let compositor = VideoCompositor(width: 640, height: 360)
        // Odd source size, tile partly outside the canvas, odd tile origin, tiny and empty tiles.
        let out = compositor.compose([
            (TileRect(x: 500, y: 250, width: 300, height: 200), .picture(solid(321, 179, palette[1]))),
            (TileRect(x: 11, y: 13, width: 101, height: 57), .picture(solid(99, 77, palette[2]))),
            (TileRect(x: 300, y: 10, width: 4, height: 4), .picture(solid(640, 360, palette[0]))),
            (TileRect(x: 0, y: 300, width: 10, height: 10), .placeholder(y: 100, u: 100, v: 100, initial: "Q")),
            (.empty, .picture(solid(64, 64, palette[3]))),
        ])
        #expect(out.y.count == 640 * 360)
        expectColour(out.averageColor(in: PixelRect(x: 560, y: 290, width: 40, height: 40)), palette[1], "clipped tile")
        expectColour(out.averageColor(in: PixelRect(x: 40, y: 30, width: 40, height: 20)), palette[2], "odd tile")
    }

    /// libswscale writes rows in whole SIMD chunks past the destination width; whatever was drawn
    /// right of (and below) a picture must survive, for every width and scaling direction.
    @Test func scalingNeverTouchesNeighbours() {
        let compositor = VideoCompositor(width: 320, height: 48)
        let under = TileRect(x: 0, y: 0, width: 320, height: 48)
        let neighbour: (rect: TileRect, content: TileContent) = (under, .placeholder(y: 60, u: 70, v: 80, initial: "W"))
        let reference = compositor.compose([neighbour])
        let (ry, ru, rv) = (reference.y, reference.u, reference.v)
        var failures: [String] = []
        for width in stride(from: 2, through: 200, by: 2) {
            // Top-left-ish, and flush with the canvas's bottom-right corner (end of the planes).
            for (sw, sh, x, y) in [(width * 3 + 1, 97, 10, 8), (max(1, width / 3), 11, 10, 8), (width, 32, 10, 8),
                                   (width * 2 + 1, 65, 320 - width, 16), (width, 32, 320 - width, 16)] {
                let tile = TileRect(x: x, y: y, width: width, height: 32)
                let picture = Layout.fit(sourceWidth: sw, sourceHeight: sh, in: tile)
                let out = compositor.compose([neighbour, (tile, .picture(solid(sw, sh, palette[2])))])
                var bad = 0
                for row in 0..<48 {
                    for col in 0..<320 where !(col >= picture.x && col < picture.maxX && row >= picture.y && row < picture.maxY) {
                        if out.y[row * 320 + col] != ry[row * 320 + col] { bad += 1 }
                    }
                }
                for row in 0..<24 {
                    for col in 0..<160 where !(2 * col >= picture.x && 2 * col < picture.maxX && 2 * row >= picture.y && 2 * row < picture.maxY) {
                        if out.u[row * 160 + col] != ru[row * 160 + col] || out.v[row * 160 + col] != rv[row * 160 + col] { bad += 1 }
                    }
                }
                if bad > 0 { failures.append("\(sw)x\(sh) → \(picture): \(bad)") }
                let inside = out.averageColor(in: pixelRect(picture))
                if abs(inside.y - Double(palette[2].y)) > 3 { failures.append("\(sw)x\(sh) → \(picture): inside \(inside)") }
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10))")
    }

    @Test func placeholderShowsColourAndInitial() {
        let compositor = VideoCompositor(width: 1280, height: 720)
        let rects = Layout.grid(count: 2, canvasWidth: 1280, canvasHeight: 720)
        let grey: (y: UInt8, u: UInt8, v: UInt8) = (90, 140, 110)
        func draw(_ c: Character) -> I420Frame {
            compositor.compose([(rects[0], .placeholder(y: grey.y, u: grey.u, v: grey.v, initial: c)),
                                (rects[1], .picture(solid(640, 360, palette[0])))])
        }
        let a = draw("A")
        let r = rects[0]
        // Corners of the tile: placeholder colour exactly.
        for corner in [PixelRect(x: r.x, y: r.y, width: 16, height: 16),
                       PixelRect(x: r.maxX - 16, y: r.maxY - 16, width: 16, height: 16)] {
            expectColour(a.averageColor(in: corner), grey, tolerance: 0, "corner")
        }
        // The centre holds white pixels (the initial): Y 235 with neutral chroma.
        let mid = centre(r, fraction: 0.6)
        func whiteCount(_ f: I420Frame) -> Int {
            var n = 0
            for row in mid.y..<(mid.y + mid.height) {
                for col in mid.x..<(mid.x + mid.width) where f.y[row * f.width + col] == 235 {
                    let ci = (row / 2) * f.chromaWidth + col / 2
                    if f.u[ci] == 128 && f.v[ci] == 128 { n += 1 }
                }
            }
            return n
        }
        let whiteA = whiteCount(a)
        #expect(whiteA > mid.width * mid.height / 20, "white pixels: \(whiteA)")
        // Large: the glyph is at least a third of the tile high.
        let rowsWithWhite = (r.y..<r.maxY).filter { row in (r.x..<r.maxX).contains { a.y[row * 1280 + $0] == 235 } }
        #expect(rowsWithWhite.count >= r.height / 3, "glyph height \(rowsWithWhite.count)")
        // Everything in the tile is either the placeholder colour or white.
        let tileLuma = (r.y..<r.maxY).flatMap { row in (r.x..<r.maxX).map { a.y[row * 1280 + $0] } }
        #expect(Set(tileLuma) == [grey.y, 235])

        let lumaA = a.y
        let b = draw("B")
        #expect(b.y != lumaA, "different initials must differ")
        #expect(draw("a").y == lumaA, "lower case is folded")
        let q = draw("?")
        #expect(q.y != lumaA)
        #expect(draw("€").y == q.y, "unknown characters draw '?'")
        var patterns: Set<[UInt8]> = []
        for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789?" {
            let f = draw(c)
            patterns.insert(Array(f.y[(r.y * 1280)..<(r.maxY * 1280)]))
        }
        #expect(patterns.count == 37, "every glyph is distinct")
    }

    @Test func canvasStorageIsReused() {
        let compositor = VideoCompositor(width: 1280, height: 720)
        let rects = Layout.grid(count: 4, canvasWidth: 1280, canvasHeight: 720)
        let tiles = (0..<4).map { (rect: rects[$0], content: TileContent.picture(solid(640, 360, palette[$0]))) }
        func addresses() -> [UnsafeRawPointer?] {
            let c = compositor.canvas
            return [c.y.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) },
                    c.u.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) },
                    c.v.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }]
        }
        let before = addresses()
        let first = compositor.compose(tiles).y.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        let second = compositor.compose(tiles).y.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        #expect(first == second)
        #expect(first == before[0])
        for _ in 0..<5 { compositor.compose(tiles) }
        #expect(addresses() == before)
        // A second, different compose still clears: a single placeholder leaves no old picture behind.
        let only = compositor.compose([(rects[3], .placeholder(y: 50, u: 128, v: 128, initial: "Z"))])
        #expect(strayPixels(only, allowed: [rects[3]]) == 0)
    }

    @Test func microTiming() {
        let rects = Layout.grid(count: 4, canvasWidth: 1280, canvasHeight: 720)
        let pictures = (0..<4).map { (rect: rects[$0], content: TileContent.picture(solid(640, 360, palette[$0]))) }
        let placeholders = (0..<4).map { (rect: rects[$0], content: TileContent.placeholder(y: 90, u: 128, v: 128, initial: "M")) }
        func time(_ label: String, fast: Bool = false, _ tiles: [(rect: TileRect, content: TileContent)]) {
            let compositor = VideoCompositor(width: 1280, height: 720, fastScaling: fast)
            compositor.compose(tiles)
            let n = 200
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<n { compositor.compose(tiles) }
            let micros = Double(DispatchTime.now().uptimeNanoseconds - start) / 1000 / Double(n)
            print("VideoCompositor 1280×720, \(label): \(Int(micros)) µs per frame")
        }
        time("4×640×360 pictures, bilinear", pictures)
        time("4×640×360 pictures, fast bilinear", fast: true, pictures)
        time("4 placeholders", placeholders)
        time("background only", [])
    }
}
