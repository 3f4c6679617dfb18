import StockDomain
import Testing

@Suite("Event interchange format (SPEC §3.2)")
struct EventCodecTests {
    func error(_ line: String) -> EventError? {
        do { _ = try EventCodec.decodeLine(line); return nil } catch { return error }
    }

    static let samples: [String] = [
        #"{"id":"v","type":"variant.upserted","at":"2026-11-26T10:00:00Z","data":{"variant_id":1,"sku":"A","kind":"product","components":[{"variant_id":2,"quantity":"0.5"}],"woo_links":[{"store":"main","woo_id":9}]}}"#,
        #"{"id":"vd","type":"variant.deleted","at":"2026-11-26T10:00:00Z","data":{"variant_id":1}}"#,
        #"{"id":"so","type":"sales_order.upserted","at":"2026-11-26T10:00:00+01:00","data":{"order_id":5,"order_no":"SO-5","updated_at":"2026-11-26T10:00:00.5Z","status":"PARTIALLY_PACKED","location_id":1,"source":"woocommerce","store":"main","rows":[{"row_id":1,"variant_id":1,"quantity":3.50,"fulfilled_quantity":"1","location_id":2}]}}"#,
        #"{"id":"sod","type":"sales_order.deleted","at":"2026-11-26T10:00:00Z","data":{"order_id":5}}"#,
        #"{"id":"mo","type":"manufacturing_order.upserted","at":"2026-11-26T10:00:00Z","data":{"order_id":6,"updated_at":"2026-11-26T10:00:00Z","status":"DONE","location_id":1,"variant_id":1,"planned_quantity":4,"completed_quantity":3,"ingredients":[{"variant_id":2,"planned_quantity":"22.5","consumed_quantity":20}]}}"#,
        #"{"id":"mod","type":"manufacturing_order.deleted","at":"2026-11-26T10:00:00Z","data":{"order_id":6}}"#,
        #"{"id":"po","type":"purchase_order.upserted","at":"2026-11-26T10:00:00Z","data":{"order_id":7,"updated_at":"2026-11-26T10:00:00Z","status":"PARTIALLY_RECEIVED","location_id":1,"rows":[{"row_id":1,"variant_id":2,"quantity":100,"received_quantity":60,"conversion_rate":"0.5","location_id":3}]}}"#,
        #"{"id":"pod","type":"purchase_order.deleted","at":"2026-11-26T10:00:00Z","data":{"order_id":7}}"#,
        #"{"id":"sa","type":"stock_adjustment.upserted","at":"2026-11-26T10:00:00Z","data":{"adjustment_id":8,"updated_at":"2026-11-26T10:00:00Z","location_id":1,"rows":[{"variant_id":1,"quantity":-2}]}}"#,
        #"{"id":"sad","type":"stock_adjustment.deleted","at":"2026-11-26T10:00:00Z","data":{"adjustment_id":8}}"#,
        #"{"id":"st","type":"stock_transfer.upserted","at":"2026-11-26T10:00:00Z","data":{"transfer_id":9,"updated_at":"2026-11-26T10:00:00Z","status":"in_transit","source_location_id":1,"target_location_id":2,"rows":[{"variant_id":1,"quantity":1}]}}"#,
        #"{"id":"std","type":"stock_transfer.deleted","at":"2026-11-26T10:00:00Z","data":{"transfer_id":9}}"#,
        #"{"id":"ir","type":"inventory.reconciled","at":"2026-11-26T10:00:00Z","data":{"variant_id":1,"location_id":1,"in_stock":"7.00000"}}"#,
        #"{"id":"sc","type":"store.connected","at":"2026-11-26T10:00:00Z","data":{"store":"main","url":"https://x.example","location_id":1,"stock_sync":true}}"#,
        #"{"id":"sr","type":"store.reconfigured","at":"2026-11-26T10:00:00Z","data":{"store":"main","floor_at_zero":true}}"#,
        #"{"id":"sdc","type":"store.disconnected","at":"2026-11-26T10:00:00Z","data":{"store":"main"}}"#,
        #"{"id":"wp","type":"woo.product.upserted","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_id":11,"parent_id":10,"sku":"A","date_created":"2025-01-01T00:00:00","type":"variation"}}"#,
        #"{"id":"wpd","type":"woo.product.deleted","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_id":11}}"#,
        #"{"id":"wa","type":"woo.stock.acknowledged","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_id":11,"sent":5,"echoed":null}}"#,
        #"{"id":"wr","type":"woo.stock.rejected","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_id":11,"sent":5,"code":"rest_invalid_param","status":400}}"#,
        #"{"id":"rs","type":"store.resync_requested","at":"2026-11-26T10:00:00Z","data":{"store":"main"}}"#,
        #"{"id":"rsl","type":"store.resync_requested","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_ids":[12,3,4000000000]}}"#,
    ]

    @Test("every event type round-trips: decode, encode canonically, decode again; encoding is a fixed point")
    func roundTrip() throws {
        #expect(Set(Self.samples.map { try! EventCodec.decodeLine($0).type }).count == EventType.allCases.count)
        for line in Self.samples {
            let event = try EventCodec.decodeLine(line)
            let canonical = EventCodec.encodeLine(event, position: nil)
            let again = try EventCodec.decodeLine(canonical)
            #expect(again == event, "\(line)")
            #expect(EventCodec.encodeLine(again, position: nil) == canonical)
        }
    }

    @Test("canonical export: decimals canonical, timestamps as given, defaults filled")
    func canonical() throws {
        let e = try EventCodec.decodeLine(Self.samples[2])
        let line = EventCodec.encodeLine(e, position: 3)
        #expect(line.hasPrefix(#"{"position":3,"id":"so","type":"sales_order.upserted","at":"2026-11-26T10:00:00+01:00""#))
        #expect(line.contains(#""quantity":"3.5","fulfilled_quantity":"1""#))
        #expect(line.contains(#""updated_at":"2026-11-26T10:00:00.5Z""#))
        let store = EventCodec.encodeLine(try EventCodec.decodeLine(Self.samples[13]), position: nil)
        #expect(store.contains(#""katana_orders_reduce_stock":true,"floor_at_zero":false"#))
    }

    @Test("bad input names the field and the problem")
    func errors() {
        #expect(error(#"{"id":"x","type":"nope","at":"2026-11-26T10:00:00Z","data":{}}"#)?.message == "unknown event type 'nope'")
        #expect(error(#"{"id":"x","type":"sales_order.updated","at":"2026-11-26T10:00:00Z","data":{}}"#)
            .map { $0.field == "type" && $0.message.hasSuffix("(known: sales_order.upserted, sales_order.deleted)") } == true,
                "a misremembered action gets its resource's types")
        #expect(error(#"{"id":"x","type":"sales_order.upserted","at":"2026-11-26T10:00:00Z","data":{"order_id":1,"updated_at":"2026-11-26T10:00:00Z","status":"SHIPPED","location_id":1,"source":"katana","rows":[]}}"#)
            .map { $0.field == "data.status" && $0.message.contains("unknown status 'SHIPPED'") } == true)
        #expect(error(#"{"id":"x","type":"variant.deleted","at":"2026-11-26T10:00:00Z","data":{"variant_id":"1"}}"#)?.field == "data.variant_id")
        #expect(error(#"{"id":"x","type":"variant.deleted","at":"2026-11-26T10:00:00Z","data":{"variant_id":1.5}}"#)?.field == "data.variant_id")
        #expect(error(#"{"id":"x","type":"variant.deleted","at":"2026-11-26T10:00:00Z","data":{}}"#)?.message == "missing")
        #expect(error(#"{"id":"x","type":"variant.deleted","at":"yesterday","data":{"variant_id":1}}"#)?.field == "at")
        #expect(error(#"{"id":"","type":"variant.deleted","at":"2026-11-26T10:00:00Z","data":{"variant_id":1}}"#)?.field == "id")
        #expect(error(#"{"id":"x","type":"stock_adjustment.upserted","at":"2026-11-26T10:00:00Z","data":{"adjustment_id":1,"updated_at":"2026-11-26T10:00:00Z","location_id":1,"rows":[{"variant_id":1,"quantity":true}]}}"#)?.field == "data.rows[0].quantity")
        #expect(error(#"{"id":"x","type":"purchase_order.upserted","at":"2026-11-26T10:00:00Z","data":{"order_id":1,"updated_at":"2026-11-26T10:00:00Z","status":"DRAFT","location_id":1,"rows":[{"row_id":1,"variant_id":1,"quantity":1,"conversion_rate":0}]}}"#)?.field == "data.rows[0].conversion_rate")
        // A store id names a store: an empty one is refused wherever a store is named.
        #expect(error(#"{"id":"x","type":"store.disconnected","at":"2026-11-26T10:00:00Z","data":{"store":""}}"#)?.field == "data.store")
        #expect(error(#"{"id":"x","type":"variant.upserted","at":"2026-11-26T10:00:00Z","data":{"variant_id":1,"kind":"product","woo_links":[{"store":"","woo_id":5}]}}"#)?.field == "data.woo_links[0].store")
        #expect(error(#"{"id":"x""#)?.field == nil)
        #expect(error("[1,2]") != nil)
        // §3.2: an id is 1 to 200 characters.
        let longest = String(repeating: "é", count: 200)
        #expect(error(#"{"id":"\#(longest)","type":"variant.deleted","at":"2026-11-26T10:00:00Z","data":{"variant_id":1}}"#) == nil)
        #expect(error(#"{"id":"\#(longest)x","type":"variant.deleted","at":"2026-11-26T10:00:00Z","data":{"variant_id":1}}"#)?.field == "id")
        // `echoed` may be null (unknown) but not left out: a dispatcher that forgot it must not read as "unknown".
        #expect(error(#"{"id":"x","type":"woo.stock.acknowledged","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_id":1,"sent":3}}"#)?.field == "data.echoed")
        #expect(error(#"{"id":"x","type":"woo.stock.acknowledged","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_id":1,"sent":3,"echoed":null}}"#) == nil)
        // A resync's list names products; an empty one is more likely a bug than a request.
        #expect(error(#"{"id":"x","type":"store.resync_requested","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_ids":[]}}"#)?.field == "data.woo_ids")
        #expect(error(#"{"id":"x","type":"store.resync_requested","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_ids":[1,"2"]}}"#)?.field == "data.woo_ids[1]")
        #expect(error(#"{"id":"x","type":"store.resync_requested","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_ids":5}}"#)?.field == "data.woo_ids")
        #expect(error(#"{"id":"x","type":"store.resync_requested","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_ids":null}}"#) == nil)
    }

    @Test("§2.1: a store id is a slug, checked byte for byte wherever a store is named; a sales order's store label is free text")
    func storeSlugs() {
        func connect(_ store: String) -> EventError? {
            error(#"{"id":"x","type":"store.connected","at":"2026-11-26T10:00:00Z","data":{"store":"\#(store)","url":"https://s.example.com","location_id":1,"stock_sync":true}}"#)
        }
        #expect(connect("eu-shop_2.b") == nil)
        #expect(connect(String(repeating: "a", count: 64)) == nil)
        #expect(connect(String(repeating: "a", count: 65))?.field == "data.store")
        #expect(connect("eu shop")?.message == "'eu shop' is not a store slug: use \(StoreSlug.rule)")
        // To Swift's character comparison the Kelvin sign is "K" and both spellings of "é" are
        // one; to SQLite's they are other ids. Either would be one store in the fold and two in
        // its tables.
        #expect(connect("\u{212A}-shop")?.message.hasPrefix(#"'\u{212A}-shop' is not a store slug"#) == true, "named as escaped, not as the K it looks like")
        #expect(connect("e\u{301}-shop")?.field == "data.store")
        #expect(connect("\u{E9}-shop")?.field == "data.store")
        #expect(error(#"{"id":"x","type":"woo.stock.acknowledged","at":"2026-11-26T10:00:00Z","data":{"store":"\#("\u{212A}")","woo_id":1,"sent":3,"echoed":3}}"#)?.field == "data.store")
        #expect(error(#"{"id":"x","type":"sales_order.upserted","at":"2026-11-26T10:00:00Z","data":{"order_id":1,"updated_at":"2026-11-26T10:00:00Z","status":"PENDING","location_id":1,"source":"woocommerce","store":"Boutique é ☃","rows":[]}}"#) == nil)
    }

    @Test("string escapes read as RFC 8259 says (\\/, the control escapes, \\u with surrogate pairs); a lone or reversed surrogate is refused")
    func stringEscapes() throws {
        let cases: [(json: String, text: String)] = [
            (#""a\/b""#, "a/b"),
            (#""\"\\\b\f\n\r\t""#, "\"\\\u{08}\u{0C}\n\r\t"),
            (#""caf\u00e9 \u00C9""#, "café É"),
            (#""\ud83d\ude00 \uD834\uDD1E""#, "😀 𝄞"),
            (#""\uffff""#, "\u{FFFF}"),
        ]
        for (json, text) in cases {
            #expect(try JSONReader.parse(json) == .string(text), "\(json)")
        }
        for json in [#""\udc00""#, #""\ude00\ud83d""#, #""\ud83d""#, #""\ud83dx""#, #""\ud83d\u0041""#] {
            let refusal = #expect(throws: JSONSyntaxError.self, "\(json)") { try JSONReader.parse(json) }
            #expect(refusal?.message == "unpaired surrogate", "\(json): \(String(describing: refusal))")
        }
    }

    @Test("§3.2: unknown fields are ignored (forward compatibility), even given twice")
    func unknownFields() throws {
        let e = try EventCodec.decodeLine(#"{"id":"x","type":"variant.deleted","at":"2026-11-26T10:00:00Z","extra":1,"extra":2,"data":{"variant_id":1,"future":{"a":[1]}}}"#)
        #expect(e.payload == .variantDeleted(1))
    }

    @Test("a store URL with credentials in its authority is refused on the way in; '@' in a path is not credentials")
    func credentialsInURL() {
        #expect(StoreSettings.urlCarriesCredentials("https://user:pw@shop.example.com"))
        #expect(StoreSettings.urlCarriesCredentials("http://user@shop.example.com:8080/x"))
        #expect(!StoreSettings.urlCarriesCredentials("https://shop.example.com/@team"))
        #expect(!StoreSettings.urlCarriesCredentials("https://shop.example.com?to=a@b"))
        #expect(!StoreSettings.urlCarriesCredentials("https://shop.example.com"))
        let connect = error(#"{"id":"x","type":"store.connected","at":"2026-11-26T10:00:00Z","data":{"store":"main","url":"https://u:pw@shop.example.com","location_id":1,"stock_sync":true}}"#)
        #expect(connect?.field == "data.url" && connect?.message.contains("pw") == false)
    }

    @Test("a known field given twice is refused, naming it, rather than one copy picked")
    func duplicateFields() {
        let twice = error(#"{"id":"a","id":"b","type":"variant.deleted","at":"2026-11-26T10:00:00Z","data":{"variant_id":1}}"#)
        #expect(twice?.field == "id" && twice?.message == "appears more than once")
        #expect(error(#"{"id":"x","type":"variant.deleted","at":"2026-11-26T10:00:00Z","data":{"variant_id":1},"data":{"variant_id":2}}"#)?.field == "data")
        #expect(error(#"{"id":"x","type":"stock_adjustment.upserted","at":"2026-11-26T10:00:00Z","data":{"adjustment_id":1,"updated_at":"2026-11-26T10:00:00Z","location_id":1,"rows":[{"variant_id":1,"quantity":5,"quantity":-5}]}}"#)?.field == "data.rows[0].quantity")
        #expect(error(#"{"id":"x","type":"woo.stock.acknowledged","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_id":1,"sent":3,"echoed":null,"echoed":3}}"#)?.field == "data.echoed")
    }
}
