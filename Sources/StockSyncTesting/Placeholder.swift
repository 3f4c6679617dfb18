public enum StockSyncTesting {}
