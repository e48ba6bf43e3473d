import Foundation
import Testing

@testable import Gateway

/// What the gateway reads of an image before passing it on: the format from its magic bytes and the size from
/// its header, refusing what the engines cannot decode or afford.
struct ImageFileTests {
    func check(_ bytes: [UInt8]) -> Result<ImageFile.Format, ImageProblem> {
        Result { () throws(ImageProblem) in try ImageFile.check(Data(bytes)) }
    }

    func message(_ bytes: [UInt8]) -> String? {
        if case .failure(let problem) = check(bytes) { return problem.message }
        return nil
    }

    static func be32(_ value: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8((value >> $0) & 0xFF) } }
    static func le16(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF)] }
    static func le32(_ value: Int32) -> [UInt8] { (0..<4).map { UInt8((UInt32(bitPattern: value) >> ($0 * 8)) & 0xFF) } }

    static func png(_ width: Int, _ height: Int) -> [UInt8] {
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8) + be32(width) + be32(height)
            + [8, 2, 0, 0, 0]
    }

    @Test func formatsAndSizesFromTheHeader() throws {
        #expect(try check(Self.png(640, 480)).get() == .png)
        #expect(try check(Array("GIF89a".utf8) + Self.le16(10) + Self.le16(20)).get() == .gif)
        // BMP: width at 18, height at 22, negative when stored top-down.
        let bmp = Array("BM".utf8) + [UInt8](repeating: 0, count: 16) + Self.le32(32) + Self.le32(-16)
        #expect(try check(bmp).get() == .bmp)
        #expect(message(Array("BM".utf8) + [UInt8](repeating: 0, count: 16) + Self.le32(1) + Self.le32(Int32.min)) != nil)
        // JPEG: the size is in the first start-of-frame segment, after any others (here an APP0 of 16 bytes).
        let app0: [UInt8] = [0xFF, 0xE0, 0, 16] + [UInt8](repeating: 0, count: 14)
        let frame: [UInt8] = [0xFF, 0xC0, 0, 17, 8, 0x01, 0xE0, 0x02, 0x80, 3] + [UInt8](repeating: 0, count: 9)
        #expect(try check([0xFF, 0xD8] + app0 + frame).get() == .jpeg)
        #expect(message([0xFF, 0xD8] + app0)?.contains("no readable size") == true, "a JPEG without a frame header")
    }

    @Test func refusals() {
        #expect(message(Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBP".utf8))?.contains("WebP") == true)
        #expect(message(Array("not an image".utf8))?.contains("not an image") == true)
        #expect(message(Self.png(8193, 10))?.contains("8192 per side") == true)
        #expect(message(Self.png(8000, 8000))?.contains("40 megapixels") == true)
        #expect(message(Self.png(0, 10))?.contains("no readable size") == true)
        #expect(message(Array(Self.png(10, 10).prefix(12)))?.contains("no readable size") == true, "cut before IHDR")
        #expect(message(Self.png(1, 1) + [UInt8](repeating: 0, count: ImageFile.maxBytes))?.contains("bytes") == true)
        #expect(throws: ImageProblem.self) { try ImageFile.checkCount(ImageFile.maxPerRequest + 1) }
        #expect(throws: Never.self) { try ImageFile.checkCount(ImageFile.maxPerRequest) }
    }
}
