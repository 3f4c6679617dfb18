import StockDomain

/// Document records by key in one open-addressing table (linear probing, backward-shift
/// deletion) whose slots hold each key beside its record.
///
/// Replay's reading thread is bound by the cache misses of these lookups: a `Dictionary` keeps
/// keys and values in two arrays, so a lookup misses twice, here mostly once.
struct DocumentRecordTable {
    /// An empty slot is one without a record; its key is then meaningless.
    private struct Slot {
        var key: DocumentKey
        var record: DocumentRecord?
    }

    private static let empty = Slot(key: DocumentKey(.salesOrder, 0), record: nil)

    private var slots: [Slot]
    private var mask: Int
    private(set) var count = 0

    init() {
        slots = Array(repeating: DocumentRecordTable.empty, count: 1024)
        mask = slots.count - 1
    }

    /// The record of `key`, if any. Setting nil removes the entry; an access that leaves nil
    /// where there was none adds nothing.
    subscript(key: DocumentKey) -> DocumentRecord? {
        get {
            let (index, found) = find(key)
            return found ? slots[index].record : nil
        }
        _modify {
            let (index, found) = find(key)
            if !found { slots[index].key = key }
            // In a defer, so that the count and the probe chains stay right when the caller's
            // access throws after changing the record.
            defer {
                let present = slots[index].record != nil
                if found && !present {
                    count -= 1
                    closeGap(at: index)
                } else if !found && present {
                    count += 1
                    if count * 4 > slots.count * 3 { grow() }
                }
            }
            yield &slots[index].record
        }
    }

    /// The keys, in no particular order.
    var keys: [DocumentKey] {
        var keys: [DocumentKey] = []
        keys.reserveCapacity(count)
        for slot in slots where slot.record != nil { keys.append(slot.key) }
        return keys
    }

    mutating func removeAll() {
        for i in slots.indices { slots[i].record = nil }
        count = 0
    }

    private func home(_ key: DocumentKey) -> Int { key._rawHashValue(seed: 0) & mask }

    /// The slot holding `key`, or the empty slot where it would go. Through a buffer pointer,
    /// so that looking at a slot's key does not copy (and count a reference to) its record.
    private func find(_ key: DocumentKey) -> (index: Int, found: Bool) {
        slots.withUnsafeBufferPointer { slots in
            var i = home(key)
            while slots[i].record != nil {
                if slots[i].key == key { return (i, true) }
                i = (i + 1) & mask
            }
            return (i, false)
        }
    }

    /// Closes the gap a removal left at `gap`: each later entry of the run moves back into it
    /// when the gap lies between that entry's home slot and where it sits.
    private mutating func closeGap(at start: Int) {
        var gap = start
        var i = (start + 1) & mask
        while slots[i].record != nil {
            let wanted = home(slots[i].key)
            if (gap &- wanted) & mask < (i &- wanted) & mask {
                slots.swapAt(gap, i)
                gap = i
            }
            i = (i + 1) & mask
        }
    }

    private mutating func grow() {
        var old = Array(repeating: DocumentRecordTable.empty, count: slots.count * 2)
        swap(&old, &slots)
        mask = slots.count - 1
        for slot in old where slot.record != nil {
            var i = home(slot.key)
            while slots[i].record != nil { i = (i + 1) & mask }
            slots[i] = slot
        }
    }
}
