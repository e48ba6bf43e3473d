import Foundation
import Testing

@testable import Engine

/// What happens to an image before an RKNN encoder sees it (pad to a square, bilinear resize), and the
/// cache that spares a repeated image its encode.
struct ImagePreparationTests {
    @Test func paddingCentresTheImageOnGrey() {
        // 2 wide, 1 high: the square is 2×2; (2-1)/2 = 0 rows go above, so the grey row is below.
        let wide = ImageRaster(width: 2, height: 1, pixels: [10, 20, 30, 40, 50, 60])
        let square = wide.paddedToSquare()
        #expect(square.width == 2 && square.height == 2)
        #expect(square.pixels == [10, 20, 30, 40, 50, 60, 128, 128, 128, 128, 128, 128])
        // 1 wide, 3 high: (3-1)/2 = 1 column of fill on each side.
        let tall = ImageRaster(width: 1, height: 3, pixels: [1, 1, 1, 2, 2, 2, 3, 3, 3])
        let padded = tall.paddedToSquare(fill: 0)
        #expect(padded.width == 3 && padded.height == 3)
        #expect(Array(padded.pixels[0..<9]) == [0, 0, 0, 1, 1, 1, 0, 0, 0])
        #expect(Array(padded.pixels[18..<27]) == [0, 0, 0, 3, 3, 3, 0, 0, 0])
        #expect(square.paddedToSquare() == square, "a square image is left alone")
    }

    @Test func resizingIsBilinearWithCentredPixels() {
        // A 2×1 ramp from 0 to 100, made 4 wide: pixel centres 0.5, 1.5, 2.5, 3.5 map to source -0.25 (clamped
        // to 0), 0.25, 0.75, 1.25 (clamped to 1).
        let ramp = ImageRaster(width: 2, height: 1, pixels: [0, 0, 0, 100, 100, 100])
        let wide = ramp.resized(width: 4, height: 1)
        #expect(wide.pixels.enumerated().filter { $0.offset % 3 == 0 }.map(\.element) == [0, 25, 75, 100])
        let flat = ImageRaster(width: 3, height: 3, pixels: [UInt8](repeating: 77, count: 27))
        #expect(flat.resized(width: 5, height: 2).pixels == [UInt8](repeating: 77, count: 30))
        #expect(flat.resized(width: 3, height: 3) == flat)
    }

    @Test func recentEmbeddingsKeepTheLatestWithinTheirLimit() {
        var recent = RecentEmbeddings(limitBytes: 2 * 4 * MemoryLayout<Float>.size)
        recent.remember("a", [1, 1, 1, 1])
        recent.remember("b", [2, 2, 2, 2])
        #expect(recent.take("a") == [1, 1, 1, 1], "taken: now the most recent")
        recent.remember("c", [3, 3, 3, 3])
        #expect(recent.take("b") == nil, "the least recently used went first")
        #expect(recent.take("a") != nil && recent.take("c") != nil)
        recent.remember("", [9])
        #expect(recent.take("") == nil, "an image without a hash is never cached")
    }
}
