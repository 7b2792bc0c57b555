/// Layouts: where each participant's tile goes on the output canvas.
///
/// Every layout returns one rectangle per participant, **in participant order** (`result[i]` is
/// participant `i`'s tile), so the caller can zip the result with its participants. Coordinates and
/// sizes are even (so the 4:2:0 chroma planes line up); an odd canvas size is treated as the even size
/// just below it.

import Media

/// A rectangle on the canvas, in luma pixels (Media's `PixelRect`). Layouts produce even
/// coordinates and sizes.
public typealias TileRect = PixelRect

extension PixelRect {
    /// The rectangle that draws nothing (used by `Layout.single` for hidden participants).
    public static let empty = TileRect(x: 0, y: 0, width: 0, height: 0)

    public var isEmpty: Bool { width <= 0 || height <= 0 }
    public var area: Int { isEmpty ? 0 : width * height }
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }

    /// True when the two rectangles share at least one pixel.
    public func intersects(_ other: TileRect) -> Bool {
        !isEmpty && !other.isEmpty && x < other.maxX && other.x < maxX && y < other.maxY && other.y < maxY
    }

    /// True when `other` lies entirely inside this rectangle.
    public func contains(_ other: TileRect) -> Bool {
        other.x >= x && other.y >= y && other.maxX <= maxX && other.maxY <= maxY
    }
}

/// How participants are arranged.
public enum LayoutKind: String, Sendable, CaseIterable {
    case grid, speaker, single
}

public enum Layout {
    /// Gap between tiles and margin around them: about 1/90 of the shorter canvas side, even, ≥ 2
    /// (8 px on 1280×720, 12 px on 1920×1080).
    public static func gap(canvasWidth: Int, canvasHeight: Int) -> Int {
        max(2, even(min(canvasWidth, canvasHeight) / 90))
    }

    /// Grid of equal cells with a gap between them and a margin of one gap around them.
    /// Starts from `columns = ceil(sqrt(n))` but tries every column count and keeps the one where a
    /// picture of the canvas's aspect ratio, fitted into a cell, is largest (ties: more columns on a
    /// landscape canvas, more rows on a portrait one). So 2 on 16:9 sit side by side; 3 → 2 + 1 with
    /// the last row centred. The block of cells is centred on the canvas. `count == 1` → the whole canvas.
    public static func grid(count: Int, canvasWidth: Int, canvasHeight: Int) -> [TileRect] {
        let w = even(canvasWidth), h = even(canvasHeight)
        guard count > 0, w >= 2, h >= 2 else { return [] }
        if count == 1 { return [TileRect(x: 0, y: 0, width: w, height: h)] }
        let g = gap(canvasWidth: w, canvasHeight: h)

        var best: (columns: Int, rows: Int, cellW: Int, cellH: Int, score: Int)?
        for columns in 1...count {
            let rows = (count + columns - 1) / columns
            let cellW = even((w - (columns + 1) * g) / columns)
            let cellH = even((h - (rows + 1) * g) / rows)
            guard cellW >= 2, cellH >= 2 else { continue }
            // A canvas-aspect picture fitted into the cell.
            let fitW = min(cellW, cellH * w / h)
            let fitH = min(cellH, cellW * h / w)
            let score = fitW * fitH
            if let b = best {
                let better = score > b.score || (score == b.score && (w >= h ? columns > b.columns : rows > b.rows))
                if !better { continue }
            }
            best = (columns, rows, cellW, cellH, score)
        }
        guard let b = best else { return Array(repeating: .empty, count: count) }

        let blockW = b.columns * b.cellW + (b.columns - 1) * g
        let blockH = b.rows * b.cellH + (b.rows - 1) * g
        let x0 = even((w - blockW) / 2), y0 = even((h - blockH) / 2)
        let lastRowCount = count - (b.rows - 1) * b.columns
        let lastRowShift = even((b.columns - lastRowCount) * (b.cellW + g) / 2)
        var rects: [TileRect] = []
        rects.reserveCapacity(count)
        for i in 0..<count {
            let row = i / b.columns, col = i % b.columns
            let shift = row == b.rows - 1 ? lastRowShift : 0
            rects.append(TileRect(x: x0 + shift + col * (b.cellW + g), y: y0 + row * (b.cellH + g),
                                  width: b.cellW, height: b.cellH))
        }
        return rects
    }

    /// Speaker view: the active participant in a large tile at the top, the others in a centred strip
    /// of small canvas-aspect tiles along the bottom (one fifth of the canvas height, narrower when
    /// many have to fit). `count == 1` → the whole canvas. `active` outside `0..<count` is treated as 0.
    public static func speaker(count: Int, active: Int, canvasWidth: Int, canvasHeight: Int) -> [TileRect] {
        let w = even(canvasWidth), h = even(canvasHeight)
        guard count > 0, w >= 2, h >= 2 else { return [] }
        if count == 1 { return [TileRect(x: 0, y: 0, width: w, height: h)] }
        let active = (0..<count).contains(active) ? active : 0
        let g = gap(canvasWidth: w, canvasHeight: h)
        let others = count - 1

        var tileH = max(2, even(h / 5))
        var tileW = max(2, even(tileH * w / h))
        if others * tileW + (others + 1) * g > w {
            tileW = max(2, even((w - (others + 1) * g) / others))
            tileH = max(2, even(tileW * h / w))
        }
        let stripW = others * tileW + (others - 1) * g
        let stripX = max(0, even((w - stripW) / 2))
        let stripY = h - g - tileH

        var rects: [TileRect] = []
        rects.reserveCapacity(count)
        var slot = 0
        for i in 0..<count {
            if i == active {
                rects.append(TileRect(x: g, y: g, width: even(w - 2 * g), height: max(2, even(stripY - 2 * g))))
            } else {
                rects.append(TileRect(x: stripX + slot * (tileW + g), y: stripY, width: tileW, height: tileH))
                slot += 1
            }
        }
        return rects
    }

    /// Single: the active participant fills the canvas; every other participant gets `TileRect.empty`
    /// (width and height 0, which `VideoCompositor` skips), so the result still has `count` entries.
    /// `active` outside `0..<count` is treated as 0.
    public static func single(count: Int, active: Int, canvasWidth: Int, canvasHeight: Int) -> [TileRect] {
        let w = even(canvasWidth), h = even(canvasHeight)
        guard count > 0, w >= 2, h >= 2 else { return [] }
        let active = (0..<count).contains(active) ? active : 0
        return (0..<count).map { $0 == active ? TileRect(x: 0, y: 0, width: w, height: h) : .empty }
    }

    public static func tiles(_ kind: LayoutKind, count: Int, active: Int, canvasWidth: Int, canvasHeight: Int) -> [TileRect] {
        switch kind {
        case .grid: grid(count: count, canvasWidth: canvasWidth, canvasHeight: canvasHeight)
        case .speaker: speaker(count: count, active: active, canvasWidth: canvasWidth, canvasHeight: canvasHeight)
        case .single: single(count: count, active: active, canvasWidth: canvasWidth, canvasHeight: canvasHeight)
        }
    }

    /// How far (as a fraction) a picture may differ from its tile in each direction and still be
    /// drawn pixel for pixel instead of resampled.
    public static let unscaledTolerance = 0.06

    /// When a picture is within ``unscaledTolerance`` of the tile in both directions, the part of
    /// it to copy (`crop`, centred in the picture) and where it goes (`target`, centred in the tile):
    /// the picture's edges are trimmed, or a thin border is left, rather than resampling it — sharper
    /// and much cheaper (a 640×360 camera in a 628×348 grid cell). Nil when it must be scaled.
    public static func unscaled(sourceWidth: Int, sourceHeight: Int, in rect: TileRect) -> (crop: TileRect, target: TileRect)? {
        guard sourceWidth > 0, sourceHeight > 0, rect.width > 0, rect.height > 0,
              abs(Double(sourceWidth - rect.width)) <= Double(rect.width) * unscaledTolerance,
              abs(Double(sourceHeight - rect.height)) <= Double(rect.height) * unscaledTolerance else { return nil }
        let width = even(min(sourceWidth, rect.width))
        let height = even(min(sourceHeight, rect.height))
        guard width >= 2, height >= 2 else { return nil }
        let crop = TileRect(x: even((sourceWidth - width) / 2), y: even((sourceHeight - height) / 2), width: width, height: height)
        let target = TileRect(x: rect.x + even((rect.width - width) / 2), y: rect.y + even((rect.height - height) / 2),
                              width: width, height: height)
        return (crop, target)
    }

    /// The largest rectangle with the aspect ratio of a `sourceWidth × sourceHeight` picture that fits
    /// in `rect`, centred (even coordinates and sizes, at least 2×2). Empty when either is empty.
    public static func fit(sourceWidth: Int, sourceHeight: Int, in rect: TileRect) -> TileRect {
        guard sourceWidth > 0, sourceHeight > 0, rect.width >= 2, rect.height >= 2 else { return .empty }
        var w: Int, h: Int
        if sourceWidth * rect.height <= sourceHeight * rect.width {
            // Source is narrower than the rect: full height, pillarboxed.
            h = rect.height
            w = (sourceWidth * rect.height + sourceHeight / 2) / sourceHeight
        } else {
            w = rect.width
            h = (sourceHeight * rect.width + sourceWidth / 2) / sourceWidth
        }
        w = max(2, min(even(rect.width), even(w)))
        h = max(2, min(even(rect.height), even(h)))
        return TileRect(x: even(rect.x + (rect.width - w) / 2), y: even(rect.y + (rect.height - h) / 2),
                        width: w, height: h)
    }
}

/// Rounds a non-negative value down to even (negative values round towards −∞ to even).
@inline(__always) func even(_ value: Int) -> Int { value & ~1 }
