//! Kinds of input and their limits.
//!
//! A limit is generous for the real thing and small enough that a mistake cannot hurt the
//! node: the largest real inputs are inventories of big clusters (`kubectl get pods -A -o
//! yaml` of 150,000 pods is about 600 MiB), everything else is small.

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// A kind of input: its name in errors and the largest file accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// What the file is, as an error names it: "policy file", "client certificate".
    pub name: &'static str,
    /// The largest accepted size in bytes.
    pub max_bytes: u64,
}

impl Kind {
    /// A kind with its own name and limit.
    pub const fn new(name: &'static str, max_bytes: u64) -> Kind {
        Kind { name, max_bytes }
    }

    /// PEM certificates and keys (`--cacert`, `--cert`, `--key`, `--tls-cert`).
    pub const PEM: Kind = Kind::new("PEM file", MIB);
    /// age recipients or identities (`--encrypt-to FILE`, `--identity`).
    pub const AGE_KEYS: Kind = Kind::new("age key file", MIB);
    /// Kubernetes policy manifests (`policy check -f`).
    pub const POLICY: Kind = Kind::new("policy file", 256 * MIB);
    /// Cluster inventories (`--cluster`): pods, nodes, namespaces of a big cluster.
    pub const INVENTORY: Kind = Kind::new("inventory file", 2 * GIB);
    /// Small configuration: `cilium-config`, `--flows`, an env file, a manifest.
    pub const CONFIG: Kind = Kind::new("configuration file", 16 * MIB);
    /// JSON reports and plans written by lifeboat itself (`--datadir-report`, `--plan`).
    pub const REPORT: Kind = Kind::new("report file", 64 * MIB);
    /// A `kube delete` backup (one object, its revisions, a redacted view).
    pub const KUBE_BACKUP: Kind = Kind::new("object backup", 64 * MIB);
    /// etcd's `.snap` files (raft snapshots of the v2 store).
    pub const RAFT_SNAP: Kind = Kind::new("raft snap file", GIB);
    /// etcd WAL segments, streamed: only the file type is checked, the reader bounds itself.
    pub const WAL_SEGMENT: Kind = Kind::new("WAL segment", u64::MAX);
    /// A member's bbolt db (`member/snap/db`), read page by page: only the type is checked.
    pub const MEMBER_DB: Kind = Kind::new("member db", u64::MAX);
    /// Hubble flow exports (`policy check --observed`), streamed line by line: only the type
    /// is checked, the reader bounds each line.
    pub const FLOW_EXPORT: Kind = Kind::new("Hubble flow export", u64::MAX);
    /// Journals and state files lifeboat writes for itself.
    pub const STATE: Kind = Kind::new("state file", 16 * MIB);
}

/// `1.5 GiB`, `64 MiB`, `512 B`: a size as an error names it.
pub(crate) fn human(bytes: u64) -> String {
    let units = [(GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")];
    for (size, unit) in units {
        if bytes >= size {
            let whole = bytes / size;
            let tenth = (bytes % size) * 10 / size;
            return if tenth == 0 {
                format!("{whole} {unit}")
            } else {
                format!("{whole}.{tenth} {unit}")
            };
        }
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(MIB), "1 MiB");
        assert_eq!(human(3 * GIB / 2), "1.5 GiB");
    }
}
