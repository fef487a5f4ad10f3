//! The test kit's promises: clusters come up healthy, members can be stopped, frozen and brought
//! back, data written is read back, and no etcd outlives a test that panics.

use std::time::Duration;

use testkit::{MemberState, TestCluster, data};

fn alive(pid: u32) -> bool {
    // /proc/<pid> disappears once the process is reaped; a zombie shows state 'Z'.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.split_whitespace().nth(2).is_none_or(|s| s != "Z"),
        Err(_) => false,
    }
}

#[test]
fn members_die_with_a_panicking_test() {
    let handle = std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let tc = TestCluster::plain(1).await;
            let pid = tc.cluster.members()[0].pid().expect("running");
            std::fs::write(
                std::env::temp_dir().join(format!("lifeboat-pid-{}", std::process::id())),
                pid.to_string(),
            )
            .unwrap();
            panic!("deliberate panic with a running cluster");
        })
    });
    assert!(handle.join().is_err(), "the thread panicked");
    let marker = std::env::temp_dir().join(format!("lifeboat-pid-{}", std::process::id()));
    let pid: u32 = std::fs::read_to_string(&marker)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _ = std::fs::remove_file(&marker);
    let mut gone = false;
    for _ in 0..100 {
        if !alive(pid) {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(gone, "etcd pid {pid} outlived the panicking test");
}

#[tokio::test]
async fn stop_pause_resume_and_restart_keep_the_data() {
    let mut tc = TestCluster::tls(3).await;
    let mut c = tc.any_client().await.unwrap();
    let written = data::mixed_history(&mut c, "/kit/", 300).await.unwrap();
    assert_eq!(data::read_prefix(&mut c, "/kit/").await.unwrap(), written);

    tc.cluster.stop(0);
    assert_eq!(tc.cluster.members()[0].state, MemberState::Stopped);
    tc.cluster.pause(1);
    assert_eq!(tc.cluster.members()[1].state, MemberState::Paused);
    tc.cluster.resume(1);
    tc.cluster.restart(0).unwrap();
    tc.wait_leader(Duration::from_secs(60)).await;
    let mut c0 = tc.client(0).await.unwrap();
    assert_eq!(data::read_prefix(&mut c0, "/kit/").await.unwrap(), written);
}

#[tokio::test]
async fn an_added_member_that_never_starts_is_listed_without_a_name() {
    let mut tc = TestCluster::plain(1).await;
    let (idx, id) = tc.cluster.add_member("late", true).await.unwrap();
    assert_eq!(tc.cluster.members()[idx].state, MemberState::NeverStarted);
    let mut c = tc.any_client().await.unwrap();
    let list = c.member_list().await.unwrap();
    let m = list
        .members()
        .iter()
        .find(|m| m.id() == id)
        .expect("listed");
    assert_eq!(m.name(), "");
    assert!(m.is_learner());
}
