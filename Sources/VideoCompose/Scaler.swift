import CFFmpeg
import Media

/// libswscale wrapper: scales an `I420Frame` straight into a rectangle of another `I420Frame`'s
/// planes (destination pointers offset to the rectangle, the canvas strides), so no intermediate
/// picture is made. One `SwsContext` is kept per (source size, destination size) and reused; the
/// pointer and stride arrays handed to `sws_scale` are allocated once. Not thread-safe: one per
/// compositor.
///
/// libswscale's SIMD output loops write each row in whole vector chunks, i.e. up to a few dozen bytes
/// past the destination width (into what it assumes is stride padding; it switches to exact C code
/// for the last rows of a picture, so it never writes past the end of the plane). Here that padding is
/// canvas, possibly another tile, so the bytes just right of each destination row (up to `guardBytes`,
/// never inside the rectangle) are saved before `sws_scale` and put back after it.
public final class Scaler {
    /// Bytes saved and restored after each destination row (vector width of the widest SIMD path, ×2).
    public static let guardBytes = 128
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
    /// Saved bytes right of each destination row: luma rows then chroma rows (u, v). Grows, never shrinks.
    private var guardBuffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 0)
    private var guardCapacity = 0

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
        guardBuffer.deallocate()
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
        let chromaRows = (rect.height + 1) / 2
        let lumaGuard = min(Self.guardBytes, canvas.width - rect.width)
        let chromaGuard = min(Self.guardBytes, canvas.chromaWidth - (rect.width + 1) / 2)
        reserveGuard(rect.height * lumaGuard + 2 * chromaRows * chromaGuard)
        let canvasWidth = canvas.width, canvasChromaWidth = canvas.chromaWidth
        let lumaFirst = lumaOffset + rect.width, chromaFirst = chromaOffset + (rect.width + 1) / 2
        let lumaRows = rect.height
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
                                let lumaTail = RowTail(plane: dy, first: lumaFirst, stride: canvasWidth,
                                                       rows: lumaRows, bytes: lumaGuard)
                                let uTail = RowTail(plane: du, first: chromaFirst,
                                                    stride: canvasChromaWidth, rows: chromaRows, bytes: chromaGuard)
                                let vTail = RowTail(plane: dv, first: chromaFirst, stride: canvasChromaWidth,
                                                    rows: chromaRows, bytes: chromaGuard)
                                let saved1 = lumaTail.save(to: guardBuffer)
                                let saved2 = uTail.save(to: saved1)
                                _ = vTail.save(to: saved2)
                                result = sws_scale(context, srcPlanes, srcStrides, 0, srcHeight, dstPlanes, dstStrides)
                                lumaTail.restore(from: guardBuffer)
                                uTail.restore(from: saved1)
                                vTail.restore(from: saved2)
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

    private func reserveGuard(_ bytes: Int) {
        guard bytes > guardCapacity else { return }
        guardBuffer.deallocate()
        guardBuffer = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes)
        guardCapacity = bytes
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

/// The bytes right of each row of a destination rectangle in one plane: `bytes` from `first`, then
/// every `stride` (clipped to the plane's end).
private struct RowTail {
    let plane: UnsafeMutableBufferPointer<UInt8>
    let first: Int
    let stride: Int
    let rows: Int
    let bytes: Int

    /// Copies the tails to `buffer`; returns where the next copy may start.
    func save(to buffer: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        guard bytes > 0, let base = plane.baseAddress else { return buffer }
        var out = buffer
        for row in 0..<rows {
            let start = first + row * stride
            let n = min(bytes, plane.count - start)
            if n > 0 { out.update(from: base + start, count: n) }
            out += bytes
        }
        return out
    }

    func restore(from buffer: UnsafeMutablePointer<UInt8>) {
        guard bytes > 0, let base = plane.baseAddress else { return }
        var input = UnsafePointer(buffer)
        for row in 0..<rows {
            let start = first + row * stride
            let n = min(bytes, plane.count - start)
            if n > 0 { (base + start).update(from: input, count: n) }
            input += bytes
        }
    }
}
