//! Writes a generated cluster (`gen_cluster cluster DIR ...`) into a running etcd under the keys
//! the API server would use, in transactions of 100: the inventory `webhook serve --from-etcd`
//! then reads (`scripts/bench-webhook.sh` with `BENCH_FROM_ETCD=1`).
//!
//!   target/release/examples/load_etcd DIR http://127.0.0.1:2379

use etcd_client::Client;

#[path = "common/generated.rs"]
mod generated;

use generated::{Failure, load};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: load_etcd DIR ENDPOINT";
    let dir = std::path::PathBuf::from(args.next().ok_or(usage)?);
    let endpoint = args.next().ok_or(usage)?;
    let mut client = Client::connect([endpoint], None).await?;
    let written = load(&mut client, &dir).await?;
    println!("load_etcd: {written} objects written");
    Ok(())
}
