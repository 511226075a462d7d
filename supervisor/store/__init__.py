"""The durable store: SQLite in WAL mode behind one thread, and its batched write queue."""
