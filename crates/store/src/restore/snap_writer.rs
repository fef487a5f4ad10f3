//! The `.snap` file of a restored member: a raft snapshot at (term 1, index n) whose data is
//! the v2 store holding the new members, serialised exactly as etcd 3.4's `v2store.Save`
//! does (shape copied from the fixture `restored-a`), wrapped in `snappb.Snapshot{crc, data}`.

use super::cluster::NewCluster;
use super::json::go_string;
use super::proto_out as pb;
use super::version::EtcdVersion;

const NO_EXPIRY: &str = "\"ExpireTime\":\"0001-01-01T00:00:00Z\"";
/// The v2 store's event history is a ring of 1000 slots, saved with its empty ones.
const EVENT_SLOTS: usize = 1000;

fn node(path: &str, index: u64, value: &str, children: &str) -> String {
    format!(
        "{{\"Path\":{},\"CreatedIndex\":{index},\"ModifiedIndex\":{index},{NO_EXPIRY},\"Value\":{},\"Children\":{children}}}",
        go_string(path),
        go_string(value)
    )
}

/// The v2 store JSON: `/0/members/<id>/raftAttributes` per member, created at index 1..n in
/// ascending ID order; Go writes map keys sorted, so children are listed by hex string.
/// etcd 3.6+ build it through `GetMembershipInfoInV2Format`, whose `verifyNoMembersInStore`
/// looks the members dir up first; that failed get is saved in `getsFail`.
pub fn v2_store_json(cluster: &NewCluster, v: EtcdVersion) -> String {
    let n = cluster.members.len();
    let mut members: Vec<(String, String)> = Vec::new();
    let mut events = Vec::new();
    for (i, m) in cluster.members.iter().enumerate() {
        let idx = i as u64 + 1;
        let hex = format!("{:x}", m.id);
        let dir = format!("/0/members/{hex}");
        let attr_path = format!("{dir}/raftAttributes");
        let attrs = m.raft_attributes();
        let attr = node(&attr_path, idx, &attrs, "null");
        let children = format!("{{\"raftAttributes\":{attr}}}");
        members.push((hex, node(&dir, idx, "", &children)));
        events.push(format!(
            "{{\"action\":\"create\",\"node\":{{\"key\":{},\"value\":{},\"modifiedIndex\":{idx},\"createdIndex\":{idx}}}}}",
            go_string(&attr_path),
            go_string(&attrs)
        ));
    }
    members.sort();
    let member_map: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{v}", go_string(k)))
        .collect();
    let members_dir = node(
        "/0/members",
        1,
        "",
        &format!("{{{}}}", member_map.join(",")),
    );
    let zero = node("/0", 0, "", &format!("{{\"members\":{members_dir}}}"));
    let one = node("/1", 0, "", "{}");
    let root = node("/", 0, "", &format!("{{\"0\":{zero},\"1\":{one}}}"));
    events.resize(EVENT_SLOTS.max(n), "null".into());
    let stats = [
        "getsSuccess",
        "getsFail",
        "setsSuccess",
        "setsFail",
        "deleteSuccess",
        "deleteFail",
        "updateSuccess",
        "updateFail",
        "createSuccess",
        "createFail",
        "compareAndSwapSuccess",
        "compareAndSwapFail",
        "compareAndDeleteSuccess",
        "compareAndDeleteFail",
        "expireCount",
        "watchers",
    ]
    .iter()
    .map(|s| {
        let count = match *s {
            "createSuccess" => n,
            "getsFail" if v.counts_v2_get() => 1,
            _ => 0,
        };
        format!("\"{s}\":{count}")
    })
    .collect::<Vec<_>>()
    .join(",");
    format!(
        "{{\"Root\":{root},\"WatcherHub\":{{\"EventHistory\":{{\"Queue\":{{\"Events\":[{}],\"Size\":{n},\"Front\":0,\"Back\":{},\"Capacity\":{EVENT_SLOTS}}},\"StartIndex\":1,\"LastIndex\":{n}}}}},\"CurrentIndex\":{n},\"Stats\":{{{stats}}},\"CurrentVersion\":2}}",
        events.join(","),
        n % EVENT_SLOTS
    )
}

/// The file name etcd gives it: `%016x-%016x.snap` of term and index.
pub fn snap_name(cluster: &NewCluster) -> String {
    format!("{:016x}-{:016x}.snap", 1, cluster.members.len())
}

/// The whole `.snap` file as etcd `v`'s restore writes it.
pub fn snap_bytes(cluster: &NewCluster, v: EtcdVersion) -> Vec<u8> {
    let n = cluster.members.len() as u64;
    let mut md = Vec::new();
    let cs = pb::conf_state(&cluster.ids(), v.omits_raft_defaults());
    pb::bytes(&mut md, 1, &cs);
    pb::uint(&mut md, 2, n);
    pb::uint(&mut md, 3, 1);
    let mut raft = Vec::new();
    pb::bytes(&mut raft, 1, v2_store_json(cluster, v).as_bytes());
    pb::bytes(&mut raft, 2, &md);
    let mut out = Vec::new();
    pb::uint(&mut out, 1, u64::from(crc32c::crc32c(&raft)));
    pb::bytes(&mut out, 2, &raft);
    out
}
