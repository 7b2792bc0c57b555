import CYUV
import Media

/// libyuv wrapper: scales an `I420Frame` straight into a rectangle of another `I420Frame`'s
/// planes (destination pointers offset to the rectangle, the canvas strides), so no
/// intermediate picture is made. libyuv writes exactly the destination width of each row, so
/// neighbouring tiles and gaps are never touched. Stateless apart from the filter; one per
/// compositor.
///
/// libyuv replaced libswscale here: on the 4 × 640×360 → 1280×720 grid, swscale's bilinear took
/// about 1 ms per frame and overran each destination row by a SIMD chunk, which had to be saved
/// and restored around every call.
public final class Scaler {
    private let filter: FilterMode

    /// `fast`: bilinear filtering; otherwise box filtering (better when scaling down a lot).
    public init(fast: Bool = false) {
        filter = fast ? kFilterLinear : kFilterBilinear
    }

    /// Scales `src` (or its `crop` region: even-aligned, inside the picture) to exactly `rect` of
    /// `canvas` (no aspect handling: see `Layout.fit`). Equal sizes are a plain copy.
    /// Returns false and draws nothing when `rect` is not inside the canvas, is not even-aligned,
    /// a frame's planes are shorter than its size says, or libyuv refuses the sizes.
    @discardableResult
    public func scale(_ src: I420Frame, crop: TileRect? = nil, into canvas: inout I420Frame, rect: TileRect) -> Bool {
        let crop = crop ?? TileRect(x: 0, y: 0, width: src.width, height: src.height)
        guard src.width > 0, src.height > 0, rect.width > 0, rect.height > 0,
              crop.width > 0, crop.height > 0, crop.x >= 0, crop.y >= 0, crop.x & 1 == 0, crop.y & 1 == 0,
              crop.maxX <= src.width, crop.maxY <= src.height,
              rect.x >= 0, rect.y >= 0, rect.x & 1 == 0, rect.y & 1 == 0,
              rect.maxX <= canvas.width, rect.maxY <= canvas.height,
              src.y.count >= src.width * src.height,
              src.u.count >= src.chromaWidth * src.chromaHeight, src.v.count >= src.chromaWidth * src.chromaHeight,
              canvas.y.count >= canvas.width * canvas.height,
              canvas.u.count >= canvas.chromaWidth * canvas.chromaHeight,
              canvas.v.count >= canvas.chromaWidth * canvas.chromaHeight
        else { return false }
        let sourceLuma = crop.y * src.width + crop.x
        let sourceChroma = (crop.y / 2) * src.chromaWidth + crop.x / 2
        let lumaOffset = rect.y * canvas.width + rect.x
        let chromaOffset = (rect.y / 2) * canvas.chromaWidth + rect.x / 2
        let (canvasWidth, canvasChromaWidth) = (Int32(canvas.width), Int32(canvas.chromaWidth))
        let filter = filter
        var result: Int32 = -1
        src.y.withUnsafeBufferPointer { sy in
            src.u.withUnsafeBufferPointer { su in
                src.v.withUnsafeBufferPointer { sv in
                    canvas.y.withUnsafeMutableBufferPointer { dy in
                        canvas.u.withUnsafeMutableBufferPointer { du in
                            canvas.v.withUnsafeMutableBufferPointer { dv in
                                result = I420Scale(sy.baseAddress! + sourceLuma, Int32(src.width), su.baseAddress! + sourceChroma,
                                                   Int32(src.chromaWidth), sv.baseAddress! + sourceChroma, Int32(src.chromaWidth),
                                                   Int32(crop.width), Int32(crop.height),
                                                   dy.baseAddress! + lumaOffset, canvasWidth,
                                                   du.baseAddress! + chromaOffset, canvasChromaWidth,
                                                   dv.baseAddress! + chromaOffset, canvasChromaWidth,
                                                   Int32(rect.width), Int32(rect.height), filter)
                            }
                        }
                    }
                }
            }
        }
        return result == 0
    }
}
