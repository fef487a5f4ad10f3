//! Test kit: real etcd clusters on loopback.
