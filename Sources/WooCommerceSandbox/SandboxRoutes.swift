import Foundation
import StockDomain
import WooCommerce

extension SandboxStore {
    static let variationEndpointMessage = "To manipulate product variations you should use the /products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint."

    func route(method: String, path: String, query: [(String, String)], body: [UInt8]) -> (SandboxResponse, Int) {
        guard path.hasPrefix(Self.prefix) else { return (.error(404, "rest_no_route", "No route was found matching the URL and request method."), 0) }
        let parts = path.dropFirst(Self.prefix.count).split(separator: "/").map(String.init)
        let isUpdate = method == "PUT" || method == "POST" || method == "PATCH"
        func json() -> JSONValue? { try? JSONReader.parse(String(decoding: body, as: UTF8.self)) }
        switch (method, parts.count) {
        case ("GET", 1) where parts[0] == "products":
            return (list(query: query, parent: nil), 0)
        case ("POST", 1) where parts[0] == "products":
            return (create(json(), parent: nil), 1)
        case ("POST", 2) where parts == ["products", "batch"], ("PUT", 2) where parts == ["products", "batch"]:
            return batch(json(), parent: nil)
        case (_, 2) where parts[0] == "products":
            guard let id = Int64(parts[1]) else { return (.error(404, "rest_no_route", "No route was found matching the URL and request method."), 0) }
            if method == "GET" {
                guard let p = products[id] else { return (.error(404, "woocommerce_rest_product_invalid_id", "Invalid ID."), 0) }
                return (.json(200, presented(p)), 0)
            }
            if method == "DELETE" {
                return (query.contains { $0 == ("force", "true") } ? delete(id, parent: nil) : trash(id), 1)
            }
            guard isUpdate else { break }
            return (update(id, json(), parent: nil).response, 1)
        case ("GET", 3) where parts[0] == "products" && parts[2] == "variations":
            guard let pid = Int64(parts[1]), products[pid]?.parentID == 0, products[pid] != nil else {
                return (.error(404, "woocommerce_rest_product_invalid_id", "Invalid product ID."), 0)
            }
            return (list(query: query, parent: pid), 0)
        case ("POST", 3) where parts[0] == "products" && parts[2] == "variations":
            guard let pid = Int64(parts[1]), let parent = products[pid], parent.parentID == 0 else {
                return (.error(404, "woocommerce_rest_product_invalid_id", "Invalid product ID."), 0)
            }
            return (create(json(), parent: pid), 1)
        case (_, 4) where parts[0] == "products" && parts[2] == "variations":
            guard let pid = Int64(parts[1]), let parent = products[pid], parent.parentID == 0 else {
                return (.error(404, "woocommerce_rest_product_invalid_id", "Invalid product ID."), 0)
            }
            if parts[3] == "batch" && (method == "POST" || method == "PUT") { return batch(json(), parent: pid) }
            guard let id = Int64(parts[3]) else { break }
            if method == "GET" {
                guard let v = products[id], v.parentID == pid else {
                    return (.error(404, "woocommerce_rest_product_variation_invalid_id", "Invalid ID."), 0)
                }
                return (.json(200, presented(v)), 0)
            }
            if method == "DELETE" { return (delete(id, parent: pid), 1) }
            guard isUpdate else { break }
            return (update(id, json(), parent: pid).response, 1)
        default: break
        }
        return (.error(404, "rest_no_route", "No route was found matching the URL and request method."), 0)
    }

    // MARK: Listing

    func list(query: [(String, String)], parent: Int64?) -> SandboxResponse {
        func q(_ k: String) -> String? { query.first { $0.0 == k }?.1 }
        let perPage = q("per_page").flatMap(Int.init) ?? 10
        guard (1...100).contains(perPage) else {
            return .json(400, SandboxResponse.invalidParam("per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)", code: "rest_out_of_bounds"))
        }
        let page = max(1, q("page").flatMap(Int.init) ?? 1)
        let ascending = q("order") == "asc"
        if parent == nil, q("sku") == nil, q("orderby") == "id" {
            // A full scan by id (what a refresh asks for): from the kept listing.
            let ids = listing ?? products.values.filter { $0.parentID == 0 && isListed($0) }
                .map(\.id).sorted()
            listing = ids
            let ordered = ascending ? ids : Array(ids.reversed())
            return listingPage(of: ordered.dropFirst((page - 1) * perPage).prefix(perPage).compactMap { products[$0] }, total: ids.count,
                        page: page, perPage: perPage, parent: nil, query: query)
        }
        var items = Array(products.values)
        if let skus = q("sku") {
            // Exact, case-insensitive as the default collation makes it; includes variations.
            let wanted = Set(skus.split(separator: ",").map { $0.lowercased() } + [skus.lowercased()])
            items = items.filter { !$0.sku.isEmpty && wanted.contains($0.sku.lowercased()) }
        } else if parent == nil {
            items = items.filter { $0.parentID == 0 }
        }
        if let parent { items = items.filter { $0.parentID == parent } }
        items = items.filter(isListed)
        if q("orderby") == "id" {
            items.sort { ascending ? $0.id < $1.id : $0.id > $1.id }
        } else {
            items.sort { a, b in
                let (x, y) = (a.dateCreatedGMT ?? "", b.dateCreatedGMT ?? "")
                return x != y ? (ascending ? x < y : x > y) : a.id < b.id
            }
        }
        return listingPage(of: Array(items.dropFirst((page - 1) * perPage).prefix(perPage)), total: items.count,
                         page: page, perPage: perPage, parent: parent, query: query)
    }

    /// Whether listings show the product: `status` defaults to `any`, which leaves the trash
    /// out; a `hide=` fault leaves it out too.
    func isListed(_ p: WooProductRecord) -> Bool { p.status != "trash" && !faults.hiddenFromListings.contains(p.id) }

    /// One page of a listing of `total` items, with WooCommerce's paging headers.
    func listingPage(of slice: [WooProductRecord], total: Int, page: Int, perPage: Int, parent: Int64?, query: [(String, String)]) -> SandboxResponse {
        let pages = total == 0 ? 0 : (total + perPage - 1) / perPage
        var headers = [("X-WP-Total", String(total)), ("X-WP-TotalPages", String(faults.totalPages ?? pages))]
        let base = homeURL + Self.prefix + (parent.map { "/products/\($0)/variations" } ?? "/products")
        var links: [String] = []
        func link(_ p: Int, _ rel: String) -> String {
            let others = query.filter { $0.0 != "page" && !$0.0.hasPrefix("oauth_") && !$0.0.hasPrefix("consumer_") }
            return "<\(base)?\((others + [("page", String(p))]).map { "\($0.0)=\($0.1)" }.joined(separator: "&"))>; rel=\"\(rel)\""
        }
        if page > 1 && page <= pages + 1 { links.append(link(page - 1, "prev")) }
        if page < pages { links.append(link(page + 1, "next")) }
        if !links.isEmpty { headers.append(("Link", links.joined(separator: ", "))) }
        return .json(200, .array(slice.map { presented($0) }), headers: headers)
    }

    /// A product as the REST API shows it. A variation that does not manage its own stock while
    /// its parent does reports `"manage_stock": "parent"` and the parent's quantity
    /// (WooCommerce's `get_manage_stock`, `get_stock_quantity`); it keeps its own flag, so an
    /// update with `manage_stock: true` gives it stock of its own.
    func presented(_ record: WooProductRecord) -> JSONValue {
        if faults.stockManagementOff {
            var shown = record
            shown.manageStock = false
            shown.stockQuantity = nil
            return shown.json()
        }
        guard record.parentID != 0, record.manageStock != true, let parent = products[record.parentID], parent.manageStock == true else {
            return record.json()
        }
        var shown = record
        shown.manageStock = nil
        shown.stockQuantity = parent.stockQuantity
        return shown.json()
    }

    // MARK: Writing

    func skuTaken(_ sku: String, except id: Int64?) -> Bool {
        !sku.isEmpty && products.values.contains { $0.id != id && $0.sku.lowercased() == sku.lowercased() }
    }

    func create(_ body: JSONValue?, parent: Int64?) -> SandboxResponse {
        guard case .object(let m)? = body else { return .error(400, "rest_invalid_json", "Invalid JSON body passed.") }
        var record = WooProductRecord(id: nextID, parentID: parent ?? 0, type: parent == nil ? "simple" : "variation",
                                      dateCreatedGMT: Self.nowGMT(), manageStock: false)
        if parent == nil, case .string(let t)? = m.first(where: { $0.key == "type" })?.value { record.type = t }
        if case .string(let sku)? = m.first(where: { $0.key == "sku" })?.value {
            if skuTaken(sku, except: nil) {
                return .error(400, "product_invalid_sku", "Invalid or duplicated SKU.")
            }
            record.sku = sku
        }
        if let refusal = apply(m, to: &record) { return .json(refusal.status, refusal.body) }
        nextID += 1
        products[record.id] = record
        if let parent { products[parent]?.variations.append(record.id) }
        return .json(201, presented(record))
    }

    static let stockQuantityNotInteger = SandboxResponse.invalidParam("stock_quantity", "stock_quantity is not of type integer.",
                                                                      code: "rest_invalid_type")

    /// Applies `manage_stock`, `stock_quantity`, `sku` and `date_created_gmt` as WooCommerce does:
    /// a quantity sent to an unmanaged product is ignored; null means 0; decimals are refused.
    /// A refusal is returned as its status and error body, which a request answers whole and a
    /// batch puts in the item's element.
    func apply(_ m: [JSONMember], to record: inout WooProductRecord) -> (status: Int, body: JSONValue)? {
        // With the store-wide option off, a product takes only `stock_status`; variations are not checked.
        let stockFieldsIgnored = faults.stockManagementOff && record.parentID == 0
        func value(_ k: String) -> JSONValue? { m.first { $0.key == k }?.value }
        if !stockFieldsIgnored, case .bool(let b)? = value("manage_stock") { record.manageStock = b }
        if case .string(let d)? = value("date_created_gmt") { record.dateCreatedGMT = d }
        if case .string(let sku)? = value("sku"), sku != record.sku {
            if skuTaken(sku, except: record.id) { return (400, SandboxResponse.errorBody(400, "product_invalid_sku", "Invalid or duplicated SKU.")) }
            record.sku = sku
        }
        if !stockFieldsIgnored, let q = value("stock_quantity") {
            var quantity: Int64?
            switch q {
            case .null: quantity = 0
            case .number(let t), .string(let t):
                guard let n = Int64(t) else { return (400, Self.stockQuantityNotInteger) }
                quantity = n
            default: return (400, Self.stockQuantityNotInteger)
            }
            if record.manageStock == true { record.stockQuantity = quantity }
        }
        if record.manageStock == false { record.stockQuantity = nil }
        return nil
    }

    func update(_ id: Int64, _ body: JSONValue?, parent: Int64?) -> (response: SandboxResponse, element: JSONValue) {
        func failure(_ status: Int, _ code: String, _ message: String) -> (SandboxResponse, JSONValue) {
            (.error(status, code, message),
             SandboxResponse.itemError(id, SandboxResponse.errorBody(status, code, message)))
        }
        guard var record = products[id] else {
            return parent == nil ? failure(400, "woocommerce_rest_product_invalid_id", "Invalid ID.")
                                 : failure(404, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
        }
        if let parent, record.parentID != parent { return failure(404, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.") }
        if parent == nil, record.parentID != 0 { return failure(404, "woocommerce_rest_invalid_product_id", Self.variationEndpointMessage) }
        guard case .object(let m)? = body else { return failure(400, "rest_invalid_json", "Invalid JSON body passed.") }
        if let refusal = apply(m, to: &record) {
            return (.json(refusal.status, refusal.body), SandboxResponse.itemError(id, refusal.body))
        }
        products[id] = record
        let shown = presented(record)
        return (.json(200, shown), shown)
    }

    func delete(_ id: Int64, parent: Int64?) -> SandboxResponse {
        guard let record = products[id], parent.map({ record.parentID == $0 }) ?? (record.parentID == 0) else {
            return .error(404, parent == nil ? "woocommerce_rest_product_invalid_id" : "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
        }
        products[id] = nil
        for child in record.variations { products[child] = nil }
        if record.parentID != 0 { products[record.parentID]?.variations.removeAll { $0 == id } }
        return .json(200, record.json())
    }

    /// `DELETE /products/{id}` without `force=true`: the product moves to the trash, where
    /// listings no longer show it and `GET /products/{id}` still does, with `"status":"trash"`.
    func trash(_ id: Int64) -> SandboxResponse {
        guard var record = products[id], record.parentID == 0 else {
            return .error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        }
        if record.status == "trash" { return .error(410, "woocommerce_rest_already_trashed", "The product has already been deleted.") }
        record.status = "trash"
        products[id] = record
        return .json(200, presented(record))
    }

    func batch(_ body: JSONValue?, parent: Int64?) -> (SandboxResponse, Int) {
        guard case .object(let m)? = body else { return (.error(400, "rest_invalid_json", "Invalid JSON body passed."), 0) }
        func array(_ k: String) -> [JSONValue] { if case .array(let a)? = m.first(where: { $0.key == k })?.value { return a }; return [] }
        let updates = array("update")
        let count = array("create").count + updates.count + array("delete").count
        guard count <= faults.batchLimit else {
            return (.error(413, "woocommerce_rest_request_entity_too_large", "Unable to accept more than \(faults.batchLimit) items for this request."), count)
        }
        var results: [JSONValue] = []
        for item in updates {
            guard case .object(let fields) = item, let idValue = fields.first(where: { $0.key == "id" })?.value,
                  case .number(let idText) = idValue, let id = Int64(idText) else { continue }
            if let refused = faults.itemErrors[id] {
                results.append(SandboxResponse.itemError(id, SandboxResponse.errorBody(refused.status, refused.code, "Refused by the sandbox's item-error fault.")))
                continue
            }
            let element = update(id, item, parent: parent).element
            if !faults.itemsMissing.contains(id) { results.append(element) }
        }
        return (.json(200, .object([JSONMember("update", .array(results))])), count)
    }

    static func nowGMT() -> String { String(Instant(seconds: Int64(Date().timeIntervalSince1970)).description.prefix(19)) }

    // MARK: Control (sandbox only, no auth): faults, request log, product dump

    func control(method: String, path: String, body: [UInt8]) -> SandboxResponse {
        switch (method, path) {
        case ("POST", "/__sandbox/faults"):
            do { faults = try FaultPlan(parsing: String(decoding: body, as: UTF8.self)) } catch {
                return .error(400, "sandbox_bad_faults", error.description)
            }
            return .json(200, .object([]))
        case ("GET", "/__sandbox/requests"):
            return .json(200, .array(seen.entries.map { r in
                .object([JSONMember("at", .number(String(Int64(r.at.timeIntervalSince1970 * 1_000_000)))), JSONMember("method", .string(r.method)),
                         JSONMember("path", .string(r.path)), JSONMember("items", .number(String(r.items))),
                         JSONMember("status", .number(String(r.status)))])
            }))
        case ("DELETE", "/__sandbox/requests"):
            seen.removeAll()
            return .json(200, .object([]))
        case ("GET", "/__sandbox/products"):
            return .json(200, .array(products.keys.sorted().map { products[$0]!.json() }))
        default:
            return .error(404, "rest_no_route", "No route was found matching the URL and request method.")
        }
    }

    /// Loads products as a database import would: ids and dates kept, duplicate SKUs allowed,
    /// a `variations` array of variation objects honoured.
    func seed(_ value: JSONValue) throws(SandboxError) {
        guard case .array(let items) = value else { throw SandboxError("--seed: expected a JSON array of products") }
        for (i, item) in items.enumerated() {
            guard case .object(let m) = item else { throw SandboxError("--seed: item \(i) is not an object") }
            let record = try seedRecord(m, parent: 0, index: i)
            products[record.id] = record
            if case .array(let variations)? = m.first(where: { $0.key == "variations" })?.value {
                for (j, v) in variations.enumerated() {
                    guard case .object(let vm) = v else { throw SandboxError("--seed: item \(i) variation \(j) is not an object") }
                    let child = try seedRecord(vm, parent: record.id, index: i)
                    products[child.id] = child
                    products[record.id]?.variations.append(child.id)
                }
            }
        }
    }

    func seedRecord(_ m: [JSONMember], parent: Int64, index: Int) throws(SandboxError) -> WooProductRecord {
        func value(_ k: String) -> JSONValue? { m.first { $0.key == k }?.value }
        var id = nextID
        if let v = value("id") {
            // Below Int64.max, so that the next id given out still fits.
            guard case .number(let t) = v, let n = Int64(t), n > 0, n < Int64.max else {
                throw SandboxError("--seed: item \(index): 'id' must be a positive integer")
            }
            id = n
        }
        guard products[id] == nil else { throw SandboxError("--seed: item \(index): id \(id) is given twice") }
        nextID = max(nextID, id + 1)
        var record = WooProductRecord(id: id, parentID: parent, type: parent != 0 ? "variation" : "simple",
                                      dateCreatedGMT: Self.nowGMT(), manageStock: false)
        if parent == 0, case .string(let t)? = value("type") { record.type = t }
        if case .string(let sku)? = value("sku") { record.sku = sku }
        if case .bool(let b)? = value("manage_stock") { record.manageStock = b }
        if case .string(let d)? = value("date_created_gmt") { record.dateCreatedGMT = d }
        if value("date_created_gmt") == .null { record.dateCreatedGMT = nil }
        if record.manageStock == true {
            switch value("stock_quantity") {
            case .number(let t)?, .string(let t)?:
                guard let n = Int64(t) else { throw SandboxError("--seed: item \(index): 'stock_quantity' must be an integer, not '\(t)'") }
                record.stockQuantity = n
            default: record.stockQuantity = 0
            }
        }
        return record
    }
}

/// A problem starting or seeding the sandbox.
public struct SandboxError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
