//! Live etcd operations.
