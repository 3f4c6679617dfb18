import StockDomain
@testable import StockEngine
import StockSyncTesting
import Testing

@Suite("The document buffer's table: a Dictionary's behaviour, one slot per key and record")
struct DocumentRecordTableTests {
    func record(_ position: Int64) -> DocumentRecord {
        DocumentRecord(updatedAt: nil, position: position, deleted: position % 7 == 0,
                       effects: EffectList([Effect(CellKey(position, 1), .inStock, Quantity(Int(position % 50)))]))
    }

    func change(_ record: inout DocumentRecord?, _ body: (inout DocumentRecord?) throws -> Void) rethrows { try body(&record) }

    @Test("random inserts, updates, removals and empty accesses, through growth, match a Dictionary at every step")
    func matchesDictionary() throws {
        var random = SeededRandom(seed: 3)
        var table = DocumentRecordTable()
        var model: [DocumentKey: DocumentRecord] = [:]
        for step in 0..<40_000 {
            // A key space a few times the table's first size, so that runs collide, grow and shrink.
            let key = DocumentKey(DocumentKind.allCases[Int.random(in: 0..<5, using: &random)], Int64.random(in: 0..<3_000, using: &random))
            let value: DocumentRecord? = Int.random(in: 0..<3, using: &random) == 0 ? nil : record(Int64(step))
            change(&table[key]) { $0 = value }
            model[key] = value
            if step % 997 == 0 || step == 39_999 {
                #expect(table.count == model.count)
                #expect(Set(table.keys) == Set(model.keys))
                for kind in DocumentKind.allCases.prefix(5) {
                    for id in Int64(0)..<3_000 where table[DocumentKey(kind, id)] != model[DocumentKey(kind, id)] {
                        Issue.record("step \(step): \(kind) \(id) differs")
                    }
                }
            }
        }
        table.removeAll()
        #expect(table.count == 0 && table.keys.isEmpty && table[DocumentKey(.salesOrder, 1)] == nil)
    }

    @Test("an access that changes the record and then throws leaves the change counted")
    func throwingAccess() throws {
        struct Refused: Error {}
        var table = DocumentRecordTable()
        let key = DocumentKey(.purchaseOrder, 9)
        #expect(throws: Refused.self) { try change(&table[key]) { $0 = record(1); throw Refused() } }
        #expect(table.count == 1 && table[key] == record(1))
        #expect(throws: Refused.self) { try change(&table[key]) { $0 = nil; throw Refused() } }
        #expect(table.count == 0 && table[key] == nil && table.keys.isEmpty)
    }
}
