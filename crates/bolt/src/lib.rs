//! Read-only reader for bbolt database files (the storage engine under etcd).
//!
//! Knows nothing of etcd: pages, meta, buckets, cursors and a structural check.
//!
//! # Layout
//! (filled in as the reader lands)
