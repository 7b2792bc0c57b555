import CFFmpeg
import Media

/// libswscale wrapper: scales an `I420Frame` straight into a rectangle of another `I420Frame`'s
/// planes (destination pointers offset to the rectangle, the canvas strides), so no intermediate
/// picture is made. One `SwsContext` is kept per (source size, destination size) and reused; the
/// pointer and stride arrays handed to `sws_scale` are allocated once. Not thread-safe: one per
/// compositor.
public final class Scaler {
    private struct Key: Hashable {
        var srcW: Int32, srcH: Int32, dstW: Int32, dstH: Int32
    }

    /// At most this many contexts are kept (a room changes sizes rarely; past the limit all are freed).
    public static let maxCachedContexts = 32

    private let flags: Int32
    private var contexts: [Key: OpaquePointer] = [:]
    private let srcPlanes = UnsafeMutablePointer<UnsafePointer<UInt8>?>.allocate(capacity: 4)
    private let dstPlanes = UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>.allocate(capacity: 4)
    private let srcStrides = UnsafeMutablePointer<Int32>.allocate(capacity: 4)
    private let dstStrides = UnsafeMutablePointer<Int32>.allocate(capacity: 4)

    /// `fast`: `SWS_FAST_BILINEAR` instead of `SWS_BILINEAR`.
    public init(fast: Bool = false) {
        flags = fast ? Int32(SWS_FAST_BILINEAR) : Int32(SWS_BILINEAR)
        srcPlanes.initialize(repeating: nil, count: 4)
        dstPlanes.initialize(repeating: nil, count: 4)
        srcStrides.initialize(repeating: 0, count: 4)
        dstStrides.initialize(repeating: 0, count: 4)
    }

    deinit {
        for context in contexts.values { sws_freeContext(context) }
        srcPlanes.deallocate()
        dstPlanes.deallocate()
        srcStrides.deallocate()
        dstStrides.deallocate()
    }

    /// Number of cached contexts (for tests and diagnostics).
    public var cachedContextCount: Int { contexts.count }

    /// Scales all of `src` to exactly `rect` of `canvas` (no aspect handling: see `Layout.fit`).
    /// Returns false and draws nothing when `rect` is not inside the canvas, is not even-aligned,
    /// a frame's planes are shorter than its size says, or libswscale refuses the sizes.
    @discardableResult
    public func scale(_ src: I420Frame, into canvas: inout I420Frame, rect: TileRect) -> Bool {
        guard src.width > 0, src.height > 0, rect.width > 0, rect.height > 0,
              rect.x >= 0, rect.y >= 0, rect.x & 1 == 0, rect.y & 1 == 0,
              rect.maxX <= canvas.width, rect.maxY <= canvas.height,
              src.y.count >= src.width * src.height,
              src.u.count >= src.chromaWidth * src.chromaHeight, src.v.count >= src.chromaWidth * src.chromaHeight,
              canvas.y.count >= canvas.width * canvas.height,
              canvas.u.count >= canvas.chromaWidth * canvas.chromaHeight,
              canvas.v.count >= canvas.chromaWidth * canvas.chromaHeight,
              let context = context(for: Key(srcW: Int32(src.width), srcH: Int32(src.height),
                                             dstW: Int32(rect.width), dstH: Int32(rect.height)))
        else { return false }

        let lumaOffset = rect.y * canvas.width + rect.x
        let chromaOffset = (rect.y / 2) * canvas.chromaWidth + rect.x / 2
        srcStrides[0] = Int32(src.width)
        srcStrides[1] = Int32(src.chromaWidth)
        srcStrides[2] = Int32(src.chromaWidth)
        dstStrides[0] = Int32(canvas.width)
        dstStrides[1] = Int32(canvas.chromaWidth)
        dstStrides[2] = Int32(canvas.chromaWidth)
        let srcHeight = Int32(src.height)
        var result: Int32 = 0
        src.y.withUnsafeBufferPointer { sy in
            src.u.withUnsafeBufferPointer { su in
                src.v.withUnsafeBufferPointer { sv in
                    canvas.y.withUnsafeMutableBufferPointer { dy in
                        canvas.u.withUnsafeMutableBufferPointer { du in
                            canvas.v.withUnsafeMutableBufferPointer { dv in
                                srcPlanes[0] = sy.baseAddress
                                srcPlanes[1] = su.baseAddress
                                srcPlanes[2] = sv.baseAddress
                                dstPlanes[0] = dy.baseAddress! + lumaOffset
                                dstPlanes[1] = du.baseAddress! + chromaOffset
                                dstPlanes[2] = dv.baseAddress! + chromaOffset
                                result = sws_scale(context, srcPlanes, srcStrides, 0, srcHeight, dstPlanes, dstStrides)
                                for i in 0..<3 {
                                    srcPlanes[i] = nil
                                    dstPlanes[i] = nil
                                }
                            }
                        }
                    }
                }
            }
        }
        return result > 0
    }

    private func context(for key: Key) -> OpaquePointer? {
        if let cached = contexts[key] { return cached }
        if contexts.count >= Self.maxCachedContexts {
            for context in contexts.values { sws_freeContext(context) }
            contexts.removeAll()
        }
        guard let context = sws_getContext(key.srcW, key.srcH, AV_PIX_FMT_YUV420P,
                                           key.dstW, key.dstH, AV_PIX_FMT_YUV420P,
                                           flags, nil, nil, nil) else { return nil }
        contexts[key] = context
        return context
    }
}
