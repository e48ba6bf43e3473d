internal import Foundation

/// What the gateway checks of an image before a worker sees it: a format the engine decodes, and a size
/// it can afford. Only the file header is read; decoding is the engine's.
enum ImageFile {
    enum Format: String { case png = "PNG", jpeg = "JPEG", gif = "GIF", bmp = "BMP" }

    /// Largest encoded image accepted.
    static let maxBytes = 20 << 20
    /// Largest side and pixel count: a decoded image takes 3 bytes per pixel before it is resized.
    static let maxSide = 8192
    static let maxPixels = 40_000_000
    /// Images in one request.
    static let maxPerRequest = 16

    /// Checks one image; the error is a sentence for the client.
    static func check(_ data: Data) throws(ImageProblem) -> Format {
        if data.count > maxBytes {
            throw ImageProblem("the image is \(data.count) bytes; at most \(maxBytes) are accepted")
        }
        let bytes = [UInt8](data.prefix(1 << 20))  // a JPEG's frame header can follow a large EXIF block
        let (format, size) = try sniff(bytes)
        guard let (width, height) = size, width > 0, height > 0 else {
            throw ImageProblem("the \(format.rawValue) image has no readable size in its header; the file may be damaged")
        }
        if width > maxSide || height > maxSide || width * height > maxPixels {
            throw ImageProblem(
                "the image is \(width)×\(height) pixels; at most \(maxSide) per side and \(maxPixels / 1_000_000) megapixels are accepted"
            )
        }
        return format
    }

    static func checkCount(_ count: Int) throws(ImageProblem) {
        if count > maxPerRequest {
            throw ImageProblem("a request may carry at most \(maxPerRequest) images, found \(count)")
        }
    }

    private static func sniff(_ b: [UInt8]) throws(ImageProblem) -> (Format, (Int, Int)?) {
        func be16(_ i: Int) -> Int { i + 1 < b.count ? Int(b[i]) << 8 | Int(b[i + 1]) : 0 }
        func be32(_ i: Int) -> Int { be16(i) << 16 | be16(i + 2) }
        func le16(_ i: Int) -> Int { i + 1 < b.count ? Int(b[i]) | Int(b[i + 1]) << 8 : 0 }
        func le32(_ i: Int) -> Int32 { Int32(truncatingIfNeeded: le16(i) | le16(i + 2) << 16) }
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            b.count >= offset + magic.count && Array(b[offset..<offset + magic.count]) == magic
        }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            return (.png, b.count >= 24 && starts(Array("IHDR".utf8), at: 12) ? (be32(16), be32(20)) : nil)
        }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return (.gif, (le16(6), le16(8))) }
        // A BMP stored top-down has a negative height.
        if starts(Array("BM".utf8)) { return (.bmp, (Int(le32(18)), abs(Int(le32(22))))) }
        if starts([0xFF, 0xD8]) { return (.jpeg, jpegSize(b, be16)) }
        if starts(Array("RIFF".utf8)), starts(Array("WEBP".utf8), at: 8) {
            throw ImageProblem("WebP images are not supported; send PNG, JPEG, GIF or BMP")
        }
        throw ImageProblem("the data is not an image in a supported format (PNG, JPEG, GIF or BMP)")
    }

    /// The size in the first start-of-frame segment, walking the segments from the start of the file.
    private static func jpegSize(_ b: [UInt8], _ be16: (Int) -> Int) -> (Int, Int)? {
        var i = 2
        while i + 9 < b.count, b[i] == 0xFF {
            let marker = b[i + 1]
            if marker == 0xFF {  // fill byte
                i += 1
                continue
            }
            let isFrame = (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker)
            if isFrame { return (be16(i + 7), be16(i + 5)) }
            i += 2 + be16(i + 2)
        }
        return nil
    }
}

struct ImageProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
