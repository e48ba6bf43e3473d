import CLlama
import Foundation

/// An image as 8-bit RGB pixels, row by row, and the two steps Rockchip's vision pipeline applies before its
/// encoder: pad to a square, then resize to the encoder's input.
struct ImageRaster: Equatable {
    var width: Int
    var height: Int
    /// width × height × 3 bytes.
    var pixels: [UInt8]

    /// Decodes an image file with libmtmd's decoder (PNG, JPEG, GIF, BMP); also gives the file's SHA-256.
    static func decode(_ image: ImageInput, with library: MultimodalLibrary, index: Int) throws(EngineError) -> (
        ImageRaster, id: String
    ) {
        let wrapper = image.data.withUnsafeBytes { bytes in
            // No mtmd context: decoding an image file needs none.
            library.bitmapFromBuffer(
                nil, bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, false, library.initOptionsDefault())
        }
        if let video = wrapper.video_ctx { library.videoFree(video) }
        guard let bitmap = wrapper.bitmap else {
            throw EngineError(
                .invalidRequest, "image \(index + 1) could not be decoded (PNG, JPEG, GIF and BMP are supported)")
        }
        defer { library.bitmapFree(bitmap) }
        guard !library.bitmapIsAudio(bitmap), let data = library.bitmapData(bitmap) else {
            throw EngineError(.invalidRequest, "image \(index + 1) is not an image")
        }
        let width = Int(library.bitmapWidth(bitmap))
        let height = Int(library.bitmapHeight(bitmap))
        let raster = ImageRaster(
            width: width, height: height, pixels: Array(UnsafeBufferPointer(start: data, count: width * height * 3)))
        return (raster, library.bitmapID(bitmap).map { String(cString: $0) } ?? "")
    }

    /// The image centred on a square of side max(width, height), the margins filled with `fill` (the vendor's
    /// demo pads with mid-grey, 127.5 rounded).
    func paddedToSquare(fill: UInt8 = 128) -> ImageRaster {
        let side = max(width, height)
        guard side != width || side != height else { return self }
        var out = [UInt8](repeating: fill, count: side * side * 3)
        let left = (side - width) / 2
        let top = (side - height) / 2
        for row in 0..<height {
            let source = row * width * 3
            let target = ((row + top) * side + left) * 3
            out.replaceSubrange(target..<target + width * 3, with: pixels[source..<source + width * 3])
        }
        return ImageRaster(width: side, height: side, pixels: out)
    }

    /// Bilinear resize with pixel centres aligned (OpenCV's INTER_LINEAR, which the vendor's demo uses).
    func resized(width newWidth: Int, height newHeight: Int) -> ImageRaster {
        guard newWidth != width || newHeight != height else { return self }
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        let scaleX = Double(width) / Double(newWidth)
        let scaleY = Double(height) / Double(newHeight)
        for y in 0..<newHeight {
            let sy = min(max((Double(y) + 0.5) * scaleY - 0.5, 0), Double(height - 1))
            let y0 = Int(sy)
            let y1 = min(y0 + 1, height - 1)
            let fy = sy - Double(y0)
            for x in 0..<newWidth {
                let sx = min(max((Double(x) + 0.5) * scaleX - 0.5, 0), Double(width - 1))
                let x0 = Int(sx)
                let x1 = min(x0 + 1, width - 1)
                let fx = sx - Double(x0)
                for channel in 0..<3 {
                    func at(_ px: Int, _ py: Int) -> Double { Double(pixels[(py * width + px) * 3 + channel]) }
                    let top = at(x0, y0) * (1 - fx) + at(x1, y0) * fx
                    let bottom = at(x0, y1) * (1 - fx) + at(x1, y1) * fx
                    out[(y * newWidth + x) * 3 + channel] = UInt8(clamping: Int((top * (1 - fy) + bottom * fy).rounded()))
                }
            }
        }
        return ImageRaster(width: newWidth, height: newHeight, pixels: out)
    }
}
