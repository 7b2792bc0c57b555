import Testing
import VideoCompose

let canvases: [(w: Int, h: Int)] = [(1280, 720), (1920, 1080)]

func checkBasics(_ rects: [TileRect], count: Int, w: Int, h: Int, _ label: String) {
    #expect(rects.count == count, "\(label): count")
    let canvas = TileRect(x: 0, y: 0, width: w, height: h)
    let shown = rects.filter { !$0.isEmpty }
    for r in shown {
        #expect(canvas.contains(r), "\(label): \(r) outside the canvas")
        #expect(r.x % 2 == 0 && r.y % 2 == 0 && r.width % 2 == 0 && r.height % 2 == 0, "\(label): \(r) not even")
    }
    for i in shown.indices {
        for j in shown.indices where j > i {
            #expect(!shown[i].intersects(shown[j]), "\(label): \(shown[i]) overlaps \(shown[j])")
        }
    }
}

@Suite struct LayoutTests {
    @Test(arguments: 1...9)
    func gridGeometry(count: Int) {
        for (w, h) in canvases {
            let rects = Layout.grid(count: count, canvasWidth: w, canvasHeight: h)
            let label = "grid \(count) on \(w)x\(h)"
            checkBasics(rects, count: count, w: w, h: h, label)
            #expect(Set(rects.map { "\($0.width)x\($0.height)" }).count == 1, "\(label): unequal cells \(rects)")
            // Tiles cover most of the canvas…
            let used = Double(rects.map(\.area).reduce(0, +)) / Double(w * h)
            #expect(used > 0.65, "\(label): tiles use only \(used)")
            // …and a canvas-aspect picture fitted into each tile still uses a good share.
            let pictures = rects.map { Layout.fit(sourceWidth: w, sourceHeight: h, in: $0).area }.reduce(0, +)
            let pictureUse = Double(pictures) / Double(w * h)
            #expect(pictureUse > 0.45, "\(label): pictures use only \(pictureUse)")
        }
    }

    @Test func gridShapes() {
        for (w, h) in canvases {
            let two = Layout.grid(count: 2, canvasWidth: w, canvasHeight: h)
            #expect(two[0].y == two[1].y && two[0].maxX < two[1].x, "2 side by side: \(two)")

            // 3 → 2 + 1, the last one centred.
            let three = Layout.grid(count: 3, canvasWidth: w, canvasHeight: h)
            #expect(three[0].y == three[1].y && three[2].y > three[0].maxY)
            #expect(abs((three[2].x + three[2].width / 2) - w / 2) <= 2, "3rd not centred: \(three[2])")

            let four = Layout.grid(count: 4, canvasWidth: w, canvasHeight: h)
            #expect(Set(four.map(\.x)).count == 2 && Set(four.map(\.y)).count == 2, "4 → 2×2: \(four)")

            let nine = Layout.grid(count: 9, canvasWidth: w, canvasHeight: h)
            #expect(Set(nine.map(\.x)).count == 3 && Set(nine.map(\.y)).count == 3, "9 → 3×3")

            let one = Layout.grid(count: 1, canvasWidth: w, canvasHeight: h)
            #expect(one == [TileRect(x: 0, y: 0, width: w, height: h)])
        }
        // Portrait canvas: 2 stack vertically.
        let portrait = Layout.grid(count: 2, canvasWidth: 720, canvasHeight: 1280)
        #expect(portrait[0].x == portrait[1].x && portrait[0].maxY < portrait[1].y, "\(portrait)")
        #expect(Layout.grid(count: 0, canvasWidth: 1280, canvasHeight: 720).isEmpty)
    }

    @Test(arguments: 1...9)
    func speakerGeometry(count: Int) {
        for (w, h) in canvases {
            for active in 0..<count {
                let rects = Layout.speaker(count: count, active: active, canvasWidth: w, canvasHeight: h)
                let label = "speaker \(count)/\(active) on \(w)x\(h)"
                checkBasics(rects, count: count, w: w, h: h, label)
                if count == 1 {
                    #expect(rects == [TileRect(x: 0, y: 0, width: w, height: h)])
                    continue
                }
                for (i, r) in rects.enumerated() where i != active {
                    #expect(rects[active].width > r.width && rects[active].height > r.height, "\(label): \(r)")
                    #expect(r.area > 0)
                }
                #expect(Double(rects[active].area) > 0.5 * Double(w * h), "\(label): active too small")
                // The strip tiles share one row below the active tile.
                let strip = rects.enumerated().filter { $0.offset != active }.map(\.element)
                #expect(Set(strip.map(\.y)).count == 1 && strip[0].y >= rects[active].maxY)
            }
        }
        // Out-of-range active falls back to 0.
        #expect(Layout.speaker(count: 3, active: 7, canvasWidth: 1280, canvasHeight: 720)
                    == Layout.speaker(count: 3, active: 0, canvasWidth: 1280, canvasHeight: 720))
    }

    @Test func singleAndDispatch() {
        for (w, h) in canvases {
            for count in 1...9 {
                let active = count / 2
                let rects = Layout.single(count: count, active: active, canvasWidth: w, canvasHeight: h)
                checkBasics(rects, count: count, w: w, h: h, "single \(count)")
                #expect(rects[active] == TileRect(x: 0, y: 0, width: w, height: h))
                #expect(rects.enumerated().allSatisfy { $0.offset == active || $0.element.isEmpty })

                #expect(Layout.tiles(.grid, count: count, active: active, canvasWidth: w, canvasHeight: h)
                            == Layout.grid(count: count, canvasWidth: w, canvasHeight: h))
                #expect(Layout.tiles(.speaker, count: count, active: active, canvasWidth: w, canvasHeight: h)
                            == Layout.speaker(count: count, active: active, canvasWidth: w, canvasHeight: h))
                #expect(Layout.tiles(.single, count: count, active: active, canvasWidth: w, canvasHeight: h) == rects)
            }
        }
    }

    @Test func fitKeepsAspect() {
        let tile = TileRect(x: 100, y: 40, width: 640, height: 360)
        // 4:3 in 16:9 → pillarbox: full height, 480 wide, centred.
        #expect(Layout.fit(sourceWidth: 640, sourceHeight: 480, in: tile) == TileRect(x: 180, y: 40, width: 480, height: 360))
        // 16:9 in 4:3 → letterbox.
        let square = TileRect(x: 0, y: 0, width: 480, height: 360)
        #expect(Layout.fit(sourceWidth: 1280, sourceHeight: 720, in: square) == TileRect(x: 0, y: 44, width: 480, height: 270))
        // Same aspect → the whole tile.
        #expect(Layout.fit(sourceWidth: 320, sourceHeight: 180, in: tile) == tile)
        #expect(Layout.fit(sourceWidth: 0, sourceHeight: 180, in: tile).isEmpty)
    }
}
