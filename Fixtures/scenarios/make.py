#!/usr/bin/env python3
"""Writes Fixtures/scenarios/*/ from hand-computed expectations.

Each scenario is a small history for one rule of the seed or SPEC §2, with the `stock --json`
and `outbox --json` a correct engine must print. The numbers below were worked out by hand
from the spec — never copied from the engine's output — so the fixture tests can fail.
Only positions are computed here (the mechanical count of non-duplicate events).
Run: python3 Fixtures/scenarios/make.py
"""
import json, os

HERE = os.path.dirname(os.path.abspath(__file__))
AT = "2026-11-26T10:00:00Z"

class S:
    def __init__(self, name, rule):
        self.name, self.rule, self.events, self.seen = name, rule, [], set()
        self.positions = {}
    def add(self, type, data, id=None, at=AT):
        id = id or f"{self.name}-{len(self.events)+1}"
        self.events.append({"id": id, "type": type, "at": at, "data": data})
        if id not in self.seen:
            self.seen.add(id)
            self.positions[id] = len(self.seen)
        return id
    def pos(self, label): return self.positions[label]
    # builders
    def connect(self, store, loc, sync=True, reduce=None, floor=None):
        d = {"store": store, "url": f"https://{store}.example.com", "location_id": loc, "stock_sync": sync}
        if reduce is not None: d["katana_orders_reduce_stock"] = reduce
        if floor is not None: d["floor_at_zero"] = floor
        return self.add("store.connected", d)
    def reconf(self, store, **kw): return self.add("store.reconfigured", dict(store=store, **kw))
    def disconnect(self, store): return self.add("store.disconnected", {"store": store})
    def product(self, store, woo, sku, date="2025-01-01T00:00:00", parent=0, type="simple"):
        return self.add("woo.product.upserted", {"store": store, "woo_id": woo, "parent_id": parent, "sku": sku, "date_created": date, "type": type})
    def pdel(self, store, woo): return self.add("woo.product.deleted", {"store": store, "woo_id": woo})
    def variant(self, v, sku, kind="product", comps=None, links=None):
        d = {"variant_id": v, "sku": sku, "kind": kind}
        if comps: d["components"] = [{"variant_id": c, "quantity": q} for c, q in comps]
        if links: d["woo_links"] = [{"store": s, "woo_id": w} for s, w in links]
        return self.add("variant.upserted", d)
    def vdel(self, v): return self.add("variant.deleted", {"variant_id": v})
    def rec(self, v, loc, q): return self.add("inventory.reconciled", {"variant_id": v, "location_id": loc, "in_stock": q})
    def so(self, oid, status, loc, source, rows, upd=AT, store=None, id=None):
        d = {"order_id": oid, "updated_at": upd, "status": status, "location_id": loc, "source": source, "rows": []}
        if store: d["store"] = store
        for i, r in enumerate(rows):
            row = {"row_id": i + 1, "variant_id": r[0], "quantity": r[1]}
            if len(r) > 2 and r[2] is not None: row["fulfilled_quantity"] = r[2]
            if len(r) > 3: row["location_id"] = r[3]
            d["rows"].append(row)
        return self.add("sales_order.upserted", d, id=id)
    def mo(self, oid, status, loc, v, planned, ings, completed=None, upd=AT):
        d = {"order_id": oid, "updated_at": upd, "status": status, "location_id": loc, "variant_id": v, "planned_quantity": planned, "ingredients": []}
        if completed is not None: d["completed_quantity"] = completed
        for i in ings:
            ing = {"variant_id": i[0], "planned_quantity": i[1]}
            if len(i) > 2: ing["consumed_quantity"] = i[2]
            d["ingredients"].append(ing)
        return self.add("manufacturing_order.upserted", d)
    def po(self, oid, status, loc, rows, upd=AT):
        d = {"order_id": oid, "updated_at": upd, "status": status, "location_id": loc, "rows": []}
        for i, r in enumerate(rows):
            row = {"row_id": i + 1, "variant_id": r[0], "quantity": r[1]}
            for k, v in (r[2] if len(r) > 2 else {}).items(): row[k] = v
            d["rows"].append(row)
        return self.add("purchase_order.upserted", d)
    def adj(self, aid, loc, rows, upd=AT, id=None):
        return self.add("stock_adjustment.upserted", {"adjustment_id": aid, "updated_at": upd, "location_id": loc,
                        "rows": [{"variant_id": v, "quantity": q} for v, q in rows]}, id=id)
    def tr(self, tid, status, src, dst, rows, upd=AT):
        return self.add("stock_transfer.upserted", {"transfer_id": tid, "updated_at": upd, "status": status, "source_location_id": src,
                        "target_location_id": dst, "rows": [{"variant_id": v, "quantity": q} for v, q in rows]})
    def deleted(self, kind, key, id_): return self.add(f"{kind}.deleted", {key: id_})
    def ack(self, store, woo, sent, echoed): return self.add("woo.stock.acknowledged", {"store": store, "woo_id": woo, "sent": sent, "echoed": echoed})
    def rej(self, store, woo, sent): return self.add("woo.stock.rejected", {"store": store, "woo_id": woo, "sent": sent, "code": "rest_invalid_param", "status": 400})
    def resync(self, store): return self.add("store.resync_requested", {"store": store})

    def write(self, rows, pending):
        d = os.path.join(HERE, self.name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "events.jsonl"), "w") as f:
            for e in self.events: f.write(json.dumps(e, separators=(",", ":"), ensure_ascii=False) + "\n")
        stock = {"position": len(self.seen), "variants": [
            {"variant_id": v, "sku": sku, "location_id": loc, "in_stock": ins, "committed_total": ct, "expected": ex, "stores": stores}
            for (v, sku, loc, ins, ct, ex, stores) in rows]}
        outbox = {"pending": [{"store": s, "woo_id": w, "parent_id": p, "quantity": q, "position": self.pos(l)} for (s, w, p, q, l) in pending]}
        for name, obj in (("expected-stock.json", stock), ("expected-outbox.json", outbox)):
            with open(os.path.join(d, name), "w") as f: f.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
        with open(os.path.join(d, "RULE.md"), "w") as f: f.write(self.rule.strip() + "\n")

def st(store, cfs, synced, match="none", woo=None, parent=None, sync=True):
    return {"store": store, "stock_sync": sync, "committed_for_sync": cfs, "synced": synced, "match": match, "woo_id": woo, "parent_id": parent}

# --- seed: opt-out of Katana orders; SPEC §2.6 rule 9
s = S("opt-out-katana-orders", "Seed / SPEC §2.1, §2.6 rule 9: with katana_orders_reduce_stock off only orders whose source is exactly `woocommerce` (from any store) reduce the pushed quantity; `amazon` and `katana` orders do not. Two stores on one location see different numbers.")
s.connect("main", 1); s.connect("outlet", 1, reduce=False)
s.product("main", 11, "A"); s.product("outlet", 21, "A"); s.variant(1, "A"); s.rec(1, 1, "10")
s.so(100, "PENDING", 1, "katana", [(1, 3)])
so101 = s.so(101, "PENDING", 1, "woocommerce", [(1, 2)], store="outlet")
so102 = s.so(102, "PENDING", 1, "amazon", [(1, 1)])
s.write([(1, "A", 1, "10", "6", "0", [st("main", "6", 4, "sku", 11), st("outlet", "2", 8, "sku", 21)])],
        [("main", 11, None, 4, so102), ("outlet", 21, None, 8, so101)])

# --- seed: bundles / kits; SPEC §2.6 rule 1 and 16
s = S("kits", "Seed (bundles) / SPEC §2.6 rules 1 and 16: a kit row commits the kit itself for sync; its components get committed_total only, and lose in_stock on fulfilment; the kit's own in_stock never moves, so it is pushed negative while open.")
s.connect("main", 1); s.product("main", 11, "KIT"); s.product("main", 12, "C1"); s.product("main", 13, "C2")
s.variant(1, "KIT", comps=[(2, 1), (3, "2.5")]); s.variant(2, "C1"); s.variant(3, "C2")
s.rec(2, 1, 10); s.rec(3, 1, 20)
s.so(100, "PENDING", 1, "woocommerce", [(1, 2)], store="main", upd="2026-11-26T10:00:00Z")
b = s.so(100, "PARTIALLY_DELIVERED", 1, "woocommerce", [(1, 2, 1)], store="main", upd="2026-11-26T11:00:00Z")
s.write([(1, "KIT", 1, "0", "1", "0", [st("main", "1", -1, "sku", 11)]),
         (2, "C1", 1, "9", "1", "0", [st("main", "0", 9, "sku", 12)]),
         (3, "C2", 1, "17.5", "2.5", "0", [st("main", "0", 17, "sku", 13)])],
        [("main", 11, None, -1, b), ("main", 12, None, 9, b), ("main", 13, None, 17, b)])

# --- seed: subassembly commitments (manufacturing ingredients)
s = S("subassembly-commitments", "Seed (subassemblies) / SPEC §2.2: ingredient needs of open manufacturing orders are in committed_total but never in committed_for_sync; planned output is expected, not in stock.")
s.connect("main", 1); s.product("main", 11, "BOARD"); s.product("main", 12, "TABLE")
s.variant(1, "BOARD", kind="material"); s.variant(2, "TABLE"); s.rec(1, 1, "50")
s.mo(500, "IN_PROGRESS", 1, 2, 3, [(1, 12)], upd="2026-11-26T10:00:00Z")
m = s.mo(500, "PARTIALLY_COMPLETED", 1, 2, 3, [(1, 12, 4)], completed=1, upd="2026-11-26T11:00:00Z")
s.write([(1, "BOARD", 1, "46", "8", "0", [st("main", "0", 46, "sku", 11)]),
         (2, "TABLE", 1, "1", "0", "2", [st("main", "0", 1, "sku", 12)])],
        [("main", 11, None, 46, m), ("main", 12, None, 1, m)])

# --- partial fulfilment; SPEC §2.6 rule 3
s = S("partial-fulfilment", "SPEC §2.3 and §2.6 rule 3: open rest = max(0, quantity − fulfilled); explicit fulfilled quantities lower in_stock in every status; PACKED/DELIVERED have no open rest even when fulfilled < quantity; a missing fulfilled quantity on DELIVERED means all of it.")
s.connect("main", 1); s.product("main", 11, "A"); s.variant(1, "A"); s.rec(1, 1, 20)
s.so(100, "PARTIALLY_PACKED", 1, "katana", [(1, 5, 2)])
s.so(101, "PACKED", 1, "katana", [(1, 4, 1)])
s.so(102, "DELIVERED", 1, "katana", [(1, 2)])
s.so(103, "PENDING", 1, "katana", [(1, 3, 1)])
last = s.so(104, "NOT_SHIPPED", 1, "katana", [(1, 2, 5)])
s.write([(1, "A", 1, "9", "5", "0", [st("main", "5", 4, "sku", 11)])], [("main", 11, None, 4, last)])

# --- duplicate SKUs and creation dates; SPEC §2.5, §2.6 rule 12
s = S("duplicate-skus-creation-dates", "Seed / SPEC §2.5, §2.6 rule 12: several WooCommerce products with one SKU — the latest date_created wins (no offset = UTC; offsets compared as instants; null is oldest), ties go to the highest id; SKUs compare exactly and case-sensitively; empty SKUs never match.")
s.connect("main", 1)
s.product("main", 11, "A", "2025-01-01T10:00:00"); s.product("main", 12, "A", "2025-01-01T09:30:00Z"); s.product("main", 13, "A", None)
s.product("main", 21, "B", "2025-02-01T00:00:00"); s.product("main", 22, "B", "2025-02-01T00:00:00Z")
s.product("main", 31, "c-1"); s.product("main", 41, "")
s.product("main", 51, "D", "2025-03-01T12:00:00+02:00"); s.product("main", 52, "D", "2025-03-01T11:00:00")
for v, sku in [(1, "A"), (2, "B"), (3, "C-1"), (4, None), (5, "D")]: s.variant(v, sku)
r = {v: s.rec(v, 1, q) for v, q in [(1, 5), (2, 6), (3, 7), (4, 8), (5, 9)]}
s.write([(1, "A", 1, "5", "0", "0", [st("main", "0", 5, "sku", 11)]),
         (2, "B", 1, "6", "0", "0", [st("main", "0", 6, "sku", 22)]),
         (3, "C-1", 1, "7", "0", "0", [st("main", "0", 7)]),
         (4, None, 1, "8", "0", "0", [st("main", "0", 8)]),
         (5, "D", 1, "9", "0", "0", [st("main", "0", 9, "sku", 52)])],
        [("main", 11, None, 5, r[1]), ("main", 22, None, 6, r[2]), ("main", 52, None, 9, r[5])])

# --- WooCommerce-id fallback; SPEC §2.5 step 2, rule 12
s = S("woo-id-fallback", "Seed / SPEC §2.5 step 2 and §2.6 rule 12: with no SKU match, the first linked WooCommerce id (for that store) still in the catalogue is used; a SKU match wins over links; nothing matches otherwise.")
s.connect("main", 1); s.product("main", 11, "A-OLD"); s.product("main", 12, ""); s.product("main", 14, "Z")
s.variant(1, "A", links=[("main", 99), ("main", 11)]); s.variant(2, None, links=[("other", 12), ("main", 12)])
s.variant(3, "Q", links=[("main", 98)]); s.variant(4, "Z", links=[("main", 11)])
r = {v: s.rec(v, 1, v) for v in (1, 2, 3, 4)}
s.write([(1, "A", 1, "1", "0", "0", [st("main", "0", 1, "woo_id", 11)]),
         (2, None, 1, "2", "0", "0", [st("main", "0", 2, "woo_id", 12)]),
         (3, "Q", 1, "3", "0", "0", [st("main", "0", 3)]),
         (4, "Z", 1, "4", "0", "0", [st("main", "0", 4, "sku", 14)])],
        [("main", 11, None, 1, r[1]), ("main", 12, None, 2, r[2]), ("main", 14, None, 4, r[4])])

# --- variations
s = S("variations", "SPEC §2.5, §2.6 rule 12: variations match like products and carry their parent_id; a variable parent is in the catalogue and can match too; a reconciliation that changes nothing names the row but pushes nothing.")
s.connect("main", 1); s.product("main", 10, "SHIRT", type="variable")
s.product("main", 11, "SHIRT-S", parent=10, type="variation"); s.product("main", 12, "SHIRT-M", parent=10, type="variation")
s.variant(1, "SHIRT-S"); s.variant(2, "SHIRT-M"); s.variant(3, "SHIRT")
a = s.rec(1, 1, 3); b = s.rec(2, 1, 4); s.rec(3, 1, 0)
s.write([(1, "SHIRT-S", 1, "3", "0", "0", [st("main", "0", 3, "sku", 11, 10)]),
         (2, "SHIRT-M", 1, "4", "0", "0", [st("main", "0", 4, "sku", 12, 10)]),
         (3, "SHIRT", 1, "0", "0", "0", [st("main", "0", 0, "sku", 10)])],
        [("main", 11, 10, 3, a), ("main", 12, 10, 4, b)])

# --- two stores on one location
s = S("two-stores-one-location", "Seed (multiple stores) / SPEC §2.1, §2.5: stores sharing a location each get their own push; a store at another location sees only its location's rows.")
s.connect("main", 1); s.connect("outlet", 1); s.connect("eu", 2)
s.product("main", 11, "A"); s.product("outlet", 21, "A"); s.product("eu", 31, "A"); s.variant(1, "A")
a = s.rec(1, 1, 10); b = s.rec(1, 2, 5)
s.write([(1, "A", 1, "10", "0", "0", [st("main", "0", 10, "sku", 11), st("outlet", "0", 10, "sku", 21)]),
         (1, "A", 2, "5", "0", "0", [st("eu", "0", 5, "sku", 31)])],
        [("eu", 31, None, 5, b), ("main", 11, None, 10, a), ("outlet", 21, None, 10, a)])

# --- stock sync off
s = S("stock-sync-off", "Seed / SPEC §2.1, §2.4, §2.6 rule 10: with stock sync off nothing is enqueued and the opt-out has no effect; turning sync on pushes nothing by itself; the next change pushes.")
s.connect("test", 1, sync=False, reduce=False); s.product("test", 11, "A"); s.variant(1, "A"); s.rec(1, 1, 10)
s.so(100, "PENDING", 1, "katana", [(1, 3)])
mid_rows = None
s.reconf("test", stock_sync=True)
a = s.adj(900, 1, [(1, 1)])
s.write([(1, "A", 1, "11", "3", "0", [st("test", "0", 11, "sku", 11)])], [("test", 11, None, 11, a)])

# --- location mapping
s = S("location-mapping", "SPEC §2.1, §2.2, §2.6 rule 11: a store receives its location's stock only; a row's location_id overrides the order's; changing the store's location drops its pending entries.")
s.connect("main", 2); s.product("main", 11, "A"); s.variant(1, "A"); s.rec(1, 1, 100); s.rec(1, 2, 7)
s.so(100, "PENDING", 1, "katana", [(1, 2, None, 2)])
s.reconf("main", location_id=1)
s.write([(1, "A", 1, "100", "0", "0", [st("main", "0", 100, "sku", 11)]),
         (1, "A", 2, "7", "2", "0", [])], [])

# --- edits and deletions
s = S("edits-and-deletions", "SPEC §2.3, §2.6 rules 2, 8, 10: an edited snapshot replaces the previous effect; a deletion removes it entirely and is final; a deletion of a never-seen document is kept, so its later snapshots change nothing.")
s.connect("main", 1); s.product("main", 11, "A"); s.product("main", 12, "B"); s.variant(1, "A"); s.variant(2, "B")
s.adj(900, 1, [(1, 10), (2, 5)], upd="2026-11-26T10:00:00Z")
s.adj(900, 1, [(1, 8)], upd="2026-11-26T10:30:00Z")
s.so(100, "PENDING", 1, "katana", [(1, 3)], upd="2026-11-26T11:00:00Z")
s.so(100, "PENDING", 1, "katana", [(1, 1)], upd="2026-11-26T11:30:00Z")
d = s.deleted("sales_order", "order_id", 100)
s.so(100, "PENDING", 1, "katana", [(1, 9)], upd="2026-11-26T13:00:00Z")
s.deleted("purchase_order", "order_id", 700)
s.po(700, "RECEIVED", 1, [(2, 4)], upd="2026-11-26T14:00:00Z")
s.adj(901, 1, [(2, 3)])
d2 = s.deleted("stock_adjustment", "adjustment_id", 901)
s.write([(1, "A", 1, "8", "0", "0", [st("main", "0", 8, "sku", 11)]),
         (2, "B", 1, "0", "0", "0", [st("main", "0", 0, "sku", 12)])],
        [("main", 11, None, 8, d), ("main", 12, None, 0, d2)])

# --- out of order; rule 8
s = S("out-of-order-snapshots", "SPEC §2.3, §2.6 rule 8: updated_at is compared as an instant (offsets honoured, never as text); an older snapshot is recorded and takes a position but changes nothing; an equal instant is applied.")
s.connect("main", 1); s.product("main", 11, "A"); s.variant(1, "A")
s.so(100, "PENDING", 1, "katana", [(1, 5)], upd="2026-11-26T11:00:00Z")
s.so(100, "PENDING", 1, "katana", [(1, 2)], upd="2026-11-26T12:00:00+02:00")
s.so(100, "PENDING", 1, "katana", [(1, 4)], upd="2026-11-26T11:00:00.000Z")
last = s.so(100, "PENDING", 1, "katana", [(1, 3)], upd="2026-11-26T06:30:00-05:00")
s.write([(1, "A", 1, "0", "3", "0", [st("main", "3", -3, "sku", 11)])], [("main", 11, None, -3, last)])

# --- transfers; rule 6
s = S("transfers", "SPEC §2.3, §2.6 rule 6: a draft transfer names both ends and moves nothing; in transit lowers the source only; received also raises the target.")
s.connect("main", 1); s.connect("eu", 2); s.product("main", 11, "A"); s.product("eu", 21, "A"); s.variant(1, "A")
s.rec(1, 1, 10)
s.tr(300, "draft", 1, 2, [(1, 4)], upd="2026-11-26T10:00:00Z")
t = s.tr(300, "in_transit", 1, 2, [(1, 4)], upd="2026-11-26T11:00:00Z")
r = s.tr(300, "received", 1, 2, [(1, 4)], upd="2026-11-26T12:00:00Z")
s.write([(1, "A", 1, "6", "0", "0", [st("main", "0", 6, "sku", 11)]),
         (1, "A", 2, "4", "0", "0", [st("eu", "0", 4, "sku", 21)])],
        [("eu", 21, None, 4, r), ("main", 11, None, 6, t)])

# --- decimals and flooring
s = S("decimals-and-flooring", "SPEC §2.2: exact decimal arithmetic; numbers and decimal strings both accepted; the pushed value is the floor (−0.5 → −1); floor_at_zero pushes 0 instead of negatives; a pending entry already holding the target keeps its position (rule 11).")
s.connect("main", 1); s.connect("zero", 1, floor=True)
for st_, base in (("main", 10), ("zero", 20)): s.product(st_, base + 1, "M"); s.product(st_, base + 2, "N")
s.variant(1, "M", kind="material"); s.variant(2, "N")
s.rec(1, 1, "2.5")
a = s.so(100, "PENDING", 1, "katana", [(1, "0.75")])
b = s.so(101, "PENDING", 1, "katana", [(2, "0.500000000")])
c = s.adj(900, 1, [(2, 1.25)])
s.write([(1, "M", 1, "2.5", "0.75", "0", [st("main", "0.75", 1, "sku", 11), st("zero", "0.75", 1, "sku", 21)]),
         (2, "N", 1, "1.25", "0.5", "0", [st("main", "0.5", 0, "sku", 12), st("zero", "0.5", 0, "sku", 22)])],
        [("main", 11, None, 1, a), ("main", 12, None, 0, c), ("zero", 21, None, 1, a), ("zero", 22, None, 0, b)])

# --- rule 2: frozen effects
s = S("rule-02-frozen-effects", "SPEC §2.6 rule 2: a document's effect is computed with the kits' recipes of the moment it is applied; the next snapshot or the deletion removes exactly that effect, even after the recipe changed.")
s.connect("main", 1); s.product("main", 11, "KIT"); s.product("main", 12, "C1"); s.product("main", 13, "C2")
s.variant(1, "KIT", comps=[(2, 1)]); s.variant(2, "C1"); s.variant(3, "C2")
c1 = s.rec(2, 1, 10); s.rec(3, 1, 10)
s.so(100, "PENDING", 1, "woocommerce", [(1, 2)], store="main", upd="2026-11-26T10:00:00Z")
s.variant(1, "KIT", comps=[(3, 1)])
b = s.so(100, "DELIVERED", 1, "woocommerce", [(1, 2)], store="main", upd="2026-11-26T11:00:00Z")
s.so(101, "PENDING", 1, "katana", [(1, 1)])
s.variant(1, "KIT", comps=[(2, 1)])
d = s.deleted("sales_order", "order_id", 101)
s.write([(1, "KIT", 1, "0", "0", "0", [st("main", "0", 0, "sku", 11)]),
         (2, "C1", 1, "10", "0", "0", [st("main", "0", 10, "sku", 12)]),
         (3, "C2", 1, "8", "0", "0", [st("main", "0", 8, "sku", 13)])],
        [("main", 11, None, 0, d), ("main", 12, None, 10, c1), ("main", 13, None, 8, b)])

# --- rule 7: reconciliation
s = S("rule-07-reconciliation", "SPEC §2.6 rule 7: a reconciliation sets in_stock in journal order as a correction; the correction stays when an earlier document changes later.")
s.connect("main", 1); s.product("main", 11, "A"); s.variant(1, "A")
s.adj(900, 1, [(1, 5)], upd="2026-11-26T10:00:00Z"); s.rec(1, 1, 12)
a = s.adj(900, 1, [(1, 2)], upd="2026-11-26T11:00:00Z")
s.write([(1, "A", 1, "9", "0", "0", [st("main", "0", 9, "sku", 11)])], [("main", 11, None, 9, a)])

# --- rule 10: store settings
s = S("rule-10-store-settings", "SPEC §2.6 rule 10: a disconnected store drops its entries and held values; dispatcher events for it are recorded and change nothing; reconnecting with the same id keeps the catalogue; a sales order's store is only a label.")
s.connect("main", 1); s.product("main", 11, "A"); s.variant(1, "A"); s.rec(1, 1, 5)
s.ack("main", 11, 5, 5); s.disconnect("main"); s.ack("main", 11, 5, 5); s.pdel("main", 11)
s.connect("main", 1); s.rec(1, 1, 6)
o = s.so(100, "PENDING", 1, "woocommerce", [(1, 1)], store="ghost")
s.write([(1, "A", 1, "6", "1", "0", [st("main", "1", 5, "sku", 11)])], [("main", 11, None, 5, o)])

# --- rule 11: pending pushes
s = S("rule-11-pending-pushes", "SPEC §2.6 rule 11 and §2.4: a trigger back to the held value removes the entry; an acknowledgement removes the entry it confirms, keeps a newer one, and re-enqueues when the value changed back while in flight; a rejection drops its entry; a null echo forgets the held value; resync enqueues every matched product.")
s.connect("main", 1); s.product("main", 11, "A"); s.product("main", 12, "B"); s.variant(1, "A"); s.variant(2, "B")
s.rec(1, 1, 10); s.ack("main", 11, 10, 10)
s.adj(900, 1, [(1, 1)]); s.deleted("stock_adjustment", "adjustment_id", 900)
s.adj(901, 1, [(1, 2)]); s.adj(902, 1, [(1, 1)])
s.ack("main", 11, 12, 12)
s.ack("main", 11, 13, 13)
s.adj(903, 1, [(1, 1)]); s.deleted("stock_adjustment", "adjustment_id", 903)
s.ack("main", 11, 14, 14)
s.rec(2, 1, 5); s.rej("main", 12, 5); s.ack("main", 12, 7, None)
mid = s
r = s.resync("main")
s.write([(1, "A", 1, "13", "0", "0", [st("main", "0", 13, "sku", 11)]),
         (2, "B", 1, "5", "0", "0", [st("main", "0", 5, "sku", 12)])],
        [("main", 11, None, 13, r), ("main", 12, None, 5, r)])

s = S("rule-11-race-reenqueue", "SPEC §2.6 rule 11: when the value changes back while a push is in flight, the acknowledgement re-enqueues the current value at its own position.")
s.connect("main", 1); s.product("main", 11, "A"); s.variant(1, "A")
s.rec(1, 1, 10); s.ack("main", 11, 10, 10)
s.adj(903, 1, [(1, 1)])          # pending 11 (in flight)
s.deleted("stock_adjustment", "adjustment_id", 903)   # back to 10 = held: entry removed
a = s.ack("main", 11, 11, 11)    # the in-flight 11 lands; current is 10 → re-enqueue
s.write([(1, "A", 1, "10", "0", "0", [st("main", "0", 10, "sku", 11)])], [("main", 11, None, 10, a)])

s = S("rule-11-sync-off-drops", "SPEC §2.6 rule 11: turning stock sync off drops the store's pending entries; changes while off enqueue nothing; turning it back on pushes nothing by itself.")
s.connect("main", 1); s.product("main", 11, "A"); s.variant(1, "A"); s.rec(1, 1, 4)
s.reconf("main", stock_sync=False); s.adj(900, 1, [(1, 1)]); s.reconf("main", stock_sync=True)
s.write([(1, "A", 1, "5", "0", "0", [st("main", "0", 5, "sku", 11)])], [])

s = S("rule-11-product-deleted", "SPEC §2.6 rule 11 and §4: deleting the WooCommerce product drops its pending entry; the variant is then unmatched; re-adding it pushes nothing until the next change.")
s.connect("main", 1); s.product("main", 11, "A"); s.variant(1, "A"); s.rec(1, 1, 4)
s.pdel("main", 11); s.product("main", 11, "A")
s.write([(1, "A", 1, "4", "0", "0", [st("main", "0", 4, "sku", 11)])], [])

# --- rule 12: contention
s = S("rule-12-one-variant-per-product", "SPEC §2.6 rule 12: a product feeds at most one variant: a SKU match beats a woo_links match, then the lowest variant_id wins; the others show match none.")
s.connect("main", 1); s.product("main", 11, "A"); s.product("main", 12, "L"); s.product("main", 13, "")
s.variant(2, "A"); s.variant(1, "A"); s.variant(3, "X", links=[("main", 12)]); s.variant(4, "L")
s.variant(5, None, links=[("main", 13)]); s.variant(6, None, links=[("main", 13)])
r = {v: s.rec(v, 1, v) for v in range(1, 7)}
s.write([(1, "A", 1, "1", "0", "0", [st("main", "0", 1, "sku", 11)]),
         (2, "A", 1, "2", "0", "0", [st("main", "0", 2)]),
         (3, "X", 1, "3", "0", "0", [st("main", "0", 3)]),
         (4, "L", 1, "4", "0", "0", [st("main", "0", 4, "sku", 12)]),
         (5, None, 1, "5", "0", "0", [st("main", "0", 5, "woo_id", 13)]),
         (6, None, 1, "6", "0", "0", [st("main", "0", 6)])],
        [("main", 11, None, 1, r[1]), ("main", 12, None, 4, r[4]), ("main", 13, None, 5, r[5])])

# --- rule 14: duplicates
s = S("rule-14-duplicates", "SPEC §3.1, §2.6 rule 14: the first event with an id wins; a later one with the same id is skipped whole and takes no position; a stale snapshot takes a position.")
s.connect("main", 1); s.product("main", 11, "A"); s.variant(1, "A")
s.adj(900, 1, [(1, 5)], id="adj-900", upd="2026-11-26T10:00:00Z")
s.adj(900, 1, [(1, 100)], id="adj-900", upd="2026-11-26T12:00:00Z")
s.adj(900, 1, [(1, 50)], upd="2026-11-26T09:00:00Z")
r = s.rec(1, 1, 7)
s.write([(1, "A", 1, "7", "0", "0", [st("main", "0", 7, "sku", 11)])], [("main", 11, None, 7, r)])

# --- rule 15: references
s = S("rule-15-undeclared-variants", "SPEC §2.6 rule 15: a document may name a variant not declared yet (a plain variant without SKU); declaring it enqueues nothing; variant.deleted turns it back into an undeclared one, its rows and pending entries stay.")
s.connect("main", 1); s.product("main", 11, "A")
s.so(100, "PENDING", 1, "katana", [(7, 2)]); s.variant(7, "A")
a = s.adj(900, 1, [(7, 5)]); s.vdel(7)
s.write([(7, None, 1, "5", "2", "0", [st("main", "2", 3)])], [("main", 11, None, 3, a)])

# --- rule 5: purchase orders
s = S("rule-05-purchase-orders", "SPEC §2.3, §2.6 rule 5: DRAFT has no effect but names its rows; expected += (quantity − received) × rate; in_stock += received × rate; missing rate = 1; RECEIVED without a received quantity receives all; a row's location overrides the order's.")
s.connect("main", 1); s.product("main", 11, "M"); s.variant(1, "M", kind="material")
s.po(700, "DRAFT", 1, [(1, 10, {"conversion_rate": 2})], upd="2026-11-26T10:00:00Z")
s.po(700, "NOT_RECEIVED", 1, [(1, 10, {"conversion_rate": 2})], upd="2026-11-26T11:00:00Z")
s.po(700, "PARTIALLY_RECEIVED", 1, [(1, 10, {"conversion_rate": 2, "received_quantity": 3})], upd="2026-11-26T12:00:00Z")
p = s.po(701, "RECEIVED", 1, [(1, 2, {"conversion_rate": "0.5"})])
s.po(702, "NOT_RECEIVED", 1, [(1, 5, {"location_id": 2})])
s.write([(1, "M", 1, "7", "0", "14", [st("main", "0", 7, "sku", 11)]),
         (1, "M", 2, "0", "0", "5", [])], [("main", 11, None, 7, p)])

# --- manufacturing, rule 3 and 4
s = S("rule-04-manufacturing", "SPEC §2.3, §2.6 rules 3 and 4: ingredient quantities are order totals; DONE without explicit quantities completes and consumes the planned ones; a DONE order has no open rest even when completed < planned.")
s.connect("main", 1); s.product("main", 11, "T"); s.variant(1, "T"); s.variant(2, "W", kind="material"); s.rec(2, 1, 100)
s.mo(500, "NOT_STARTED", 1, 1, 5, [(2, 20)], upd="2026-11-26T10:00:00Z")
s.mo(500, "DONE", 1, 1, 5, [(2, 20)], upd="2026-11-26T11:00:00Z")
m = s.mo(501, "DONE", 1, 1, 3, [(2, 6, 5)], completed=2)
s.write([(1, "T", 1, "7", "0", "0", [st("main", "0", 7, "sku", 11)]),
         (2, "W", 1, "75", "0", "0", [st("main", "0", 75)])], [("main", 11, None, 7, m)])
print("written")
