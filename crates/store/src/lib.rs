//! etcd's on-disk schema: snapshot files, buckets, revisions, members, WAL and snap files.
//!
//! # Layout
//! (filled in as the reader lands)
