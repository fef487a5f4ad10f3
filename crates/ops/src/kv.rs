//! Reading many keys safely: etcd caps a response at 4 MiB by default, so ranges are read in
//! pages, continuing after the last key seen. [`Pager`] is the one paging loop every ranged read
//! in the workspace uses.

use std::collections::BTreeMap;

use etcd_client::{Client, GetOptions, GetResponse, KeyValue};

/// A ranged read in pages, continuing after the last key seen and pinned to the revision of
/// the first page so the pages form one consistent cut. Sans I/O: each caller sends the request
/// with its own client (plain, or through an endpoint with retries) and hands back the response.
#[derive(Debug, Clone)]
pub struct Pager {
    start: Vec<u8>,
    end: Vec<u8>,
    page: i64,
    revision: i64,
    done: bool,
}

impl Pager {
    /// Every key under `prefix`; an empty prefix means every key.
    pub fn prefix(prefix: &[u8], page: i64) -> Self {
        let (start, end) = if prefix.is_empty() {
            (vec![0u8], vec![0u8])
        } else {
            (prefix.to_vec(), prefix_end(prefix))
        };
        Pager {
            start,
            end,
            page,
            revision: 0,
            done: false,
        }
    }

    /// The key and options of the next request, or `None` once the range is read.
    pub fn next_request(&self) -> Option<(Vec<u8>, GetOptions)> {
        if self.done {
            return None;
        }
        let mut opts = GetOptions::new()
            .with_range(self.end.clone())
            .with_limit(self.page);
        if self.revision > 0 {
            opts = opts.with_revision(self.revision);
        }
        Some((self.start.clone(), opts))
    }

    /// Takes in the response to the last request.
    pub fn advance(&mut self, resp: &GetResponse) {
        if self.revision == 0 {
            self.revision = resp.header().map_or(0, |h| h.revision());
        }
        match resp.kvs().last() {
            Some(last) if resp.more() => {
                self.start = last.key().to_vec();
                self.start.push(0);
            }
            _ => self.done = true,
        }
    }

    /// The revision every page was read at (0 before the first response).
    pub fn revision(&self) -> i64 {
        self.revision
    }
}

/// Every key under `prefix`, page by page (500 keys), each key handed to `each`. A page of large
/// objects can pass the client's default 4 MiB response limit, so this client's is raised (etcd
/// itself caps a request at about 1.5 MiB per value).
async fn for_each_key(
    client: &mut Client,
    prefix: &str,
    mut each: impl FnMut(&KeyValue),
) -> Result<(), etcd_client::Error> {
    let mut kv = client.kv_client().max_decoding_message_size(1 << 30);
    let mut pager = Pager::prefix(prefix.as_bytes(), 500);
    while let Some((key, opts)) = pager.next_request() {
        let resp = kv.get(key, Some(opts)).await?;
        resp.kvs().iter().for_each(&mut each);
        pager.advance(&resp);
    }
    Ok(())
}

/// Every key under `prefix` with its value (lossy UTF-8).
pub async fn read_prefix(
    client: &mut Client,
    prefix: &str,
) -> Result<BTreeMap<String, String>, etcd_client::Error> {
    let mut out = BTreeMap::new();
    for_each_key(client, prefix, |kv| {
        out.insert(
            String::from_utf8_lossy(kv.key()).into_owned(),
            String::from_utf8_lossy(kv.value()).into_owned(),
        );
    })
    .await?;
    Ok(out)
}

/// Every key under `prefix` with a 64-bit digest of its value instead of the value: enough to
/// prove nothing changed, without holding a large keyspace in memory twice.
pub async fn read_prefix_digests(
    client: &mut Client,
    prefix: &str,
) -> Result<BTreeMap<String, u64>, etcd_client::Error> {
    let mut out = BTreeMap::new();
    for_each_key(client, prefix, |kv| {
        out.insert(
            String::from_utf8_lossy(kv.key()).into_owned(),
            digest(kv.value()),
        );
    })
    .await?;
    Ok(out)
}

/// FNV-1a, 64 bits: stable across runs and machines, unlike the standard library's hasher.
pub fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

pub use store::keys::prefix_end;

#[cfg(test)]
mod tests {
    #[test]
    fn prefix_end_matches_etcd() {
        assert_eq!(super::prefix_end(b"/a"), b"/b");
        assert_eq!(super::prefix_end(b"a\xff"), b"b");
        assert_eq!(super::prefix_end(b"\xff"), b"\0");
    }
}
