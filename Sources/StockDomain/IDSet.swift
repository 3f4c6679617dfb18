/// A set of ids that nearly always holds one: the variants carrying a SKU, the products of a
/// store carrying a SKU, the variants linking a product. One id is held inline and a `Set` is
/// made only for a second, so the indices of a 100,000-product catalogue do not allocate a
/// set per SKU each time the projection is loaded.
struct IDSet: Sequence, ExpressibleByArrayLiteral, Sendable {
    private enum Storage: Sendable {
        case empty
        case one(Int64)
        case many(Set<Int64>)
    }
    private var storage: Storage = .empty

    init() {}
    init(arrayLiteral ids: Int64...) { for id in ids { insert(id) } }

    var isEmpty: Bool {
        if case .empty = storage { return true }
        return false
    }

    var count: Int {
        switch storage {
        case .empty: 0
        case .one: 1
        case .many(let set): set.count
        }
    }

    mutating func insert(_ id: Int64) {
        switch storage {
        case .empty: storage = .one(id)
        case .one(let held): if held != id { storage = .many([held, id]) }
        case .many(var set):
            // Out of `storage` first, so the set is uniquely held and grows in place.
            storage = .empty
            set.insert(id)
            storage = .many(set)
        }
    }

    mutating func remove(_ id: Int64) {
        switch storage {
        case .empty: return
        case .one(let held): if held == id { storage = .empty }
        case .many(var set):
            storage = .empty
            set.remove(id)
            storage = set.count == 1 ? .one(set.first.unsafelyUnwrapped) : set.isEmpty ? .empty : .many(set)
        }
    }

    struct Iterator: IteratorProtocol {
        fileprivate var one: Int64?
        fileprivate var many: Set<Int64>.Iterator?

        mutating func next() -> Int64? {
            if let id = one {
                one = nil
                return id
            }
            return many?.next()
        }
    }

    func makeIterator() -> Iterator {
        switch storage {
        case .empty: Iterator(one: nil, many: nil)
        case .one(let id): Iterator(one: id, many: nil)
        case .many(let set): Iterator(one: nil, many: set.makeIterator())
        }
    }
}
