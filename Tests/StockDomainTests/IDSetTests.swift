@testable import StockDomain
import Testing

/// `IDSet` stands in for `Set<Int64>` in the matching indices: it must behave as one through
/// every change of size, the inline single id included.
@Suite("IDSet, the matching indices' set of ids")
struct IDSetTests {
    @Test("inserts and removes behave like Set's through empty, one and many ids")
    func behavesLikeSet() {
        var rng = SplitMix(seed: 7)
        var ids = IDSet()
        var model = Set<Int64>()
        for _ in 0..<2_000 {
            // Few distinct ids, so the set keeps passing through zero, one and several.
            let id = Int64(rng.next() % 4)
            if rng.next() % 2 == 0 { ids.insert(id); model.insert(id) } else { ids.remove(id); model.remove(id) }
            #expect(Set(ids) == model)
            #expect(ids.count == model.count)
            #expect(ids.isEmpty == model.isEmpty)
        }
    }

    @Test("one id is listed once, however often it is inserted")
    func oneIDOnce() {
        var ids: IDSet = [5, 5]
        ids.insert(5)
        #expect(Array(ids) == [5])
        ids.remove(6)
        #expect(Array(ids) == [5])
        ids.remove(5)
        #expect(Array(ids).isEmpty)
    }
}
