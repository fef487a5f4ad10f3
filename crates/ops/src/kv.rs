//! Reading many keys safely: etcd caps a response at 4 MiB by default, so ranges are read in
//! pages, continuing after the last key seen.

use std::collections::BTreeMap;

use etcd_client::{Client, GetOptions};

/// Every key under `prefix` with its value (lossy UTF-8), in pages of 500. A page of large
/// objects can pass the client's default 4 MiB response limit, so this client's is raised (etcd
/// itself caps a request at about 1.5 MiB per value).
pub async fn read_prefix(
    client: &mut Client,
    prefix: &str,
) -> Result<BTreeMap<String, String>, etcd_client::Error> {
    let mut kv = client.kv_client().max_decoding_message_size(1 << 30);
    let mut out = BTreeMap::new();
    let end = prefix_end(prefix.as_bytes());
    let mut start = prefix.as_bytes().to_vec();
    loop {
        let opts = GetOptions::new().with_range(end.clone()).with_limit(500);
        let resp = kv.get(start.clone(), Some(opts)).await?;
        let kvs = resp.kvs();
        for kv in kvs {
            out.insert(
                String::from_utf8_lossy(kv.key()).into_owned(),
                String::from_utf8_lossy(kv.value()).into_owned(),
            );
        }
        match kvs.last() {
            Some(last) if resp.more() => {
                start = last.key().to_vec();
                start.push(0);
            }
            _ => break,
        }
    }
    Ok(out)
}

/// Every key under `prefix` with a 64-bit digest of its value instead of the value: enough to
/// prove nothing changed, without holding a large keyspace in memory twice.
pub async fn read_prefix_digests(
    client: &mut Client,
    prefix: &str,
) -> Result<BTreeMap<String, u64>, etcd_client::Error> {
    let mut kv = client.kv_client().max_decoding_message_size(1 << 30);
    let mut out = BTreeMap::new();
    let end = prefix_end(prefix.as_bytes());
    let mut start = prefix.as_bytes().to_vec();
    loop {
        let opts = GetOptions::new().with_range(end.clone()).with_limit(500);
        let resp = kv.get(start.clone(), Some(opts)).await?;
        let kvs = resp.kvs();
        for kv in kvs {
            out.insert(
                String::from_utf8_lossy(kv.key()).into_owned(),
                digest(kv.value()),
            );
        }
        match kvs.last() {
            Some(last) if resp.more() => {
                start = last.key().to_vec();
                start.push(0);
            }
            _ => break,
        }
    }
    Ok(out)
}

/// FNV-1a, 64 bits: stable across runs and machines, unlike the standard library's hasher.
pub fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The smallest key greater than every key with this prefix (etcd's range end for a prefix).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefix_end_matches_etcd() {
        assert_eq!(super::prefix_end(b"/a"), b"/b");
        assert_eq!(super::prefix_end(b"a\xff"), b"b");
        assert_eq!(super::prefix_end(b"\xff"), b"\0");
    }
}
