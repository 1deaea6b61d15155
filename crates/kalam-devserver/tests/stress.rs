//! Issue 2, points 2, 6 and 8 under concurrency: writers and consumers at the same time,
//! several partitions, and a SIGKILL in the middle of acking.
mod common;

use common::*;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const PARTS: u32 = 3;

fn setup(s: &Server) {
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.src (k TEXT PRIMARY KEY, w INT)");
    s.root_sql(&format!("CREATE TOPIC app.t PARTITIONS {PARTS}"));
    s.root_sql("ALTER TOPIC app.t ADD SOURCE app.src ON INSERT");
}

#[test]
fn writers_and_consumers_at_the_same_time_deliver_everything_once() {
    let s = start();
    setup(&s);
    let root = s.root();
    let writers = 4;
    let per = 60;
    let done_writing = AtomicBool::new(false);
    // (partition, offset) -> key
    let delivered = Mutex::new(BTreeMap::<(u64, u64), String>::new());
    let dups = Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        let mut ws = Vec::new();
        for w in 0..writers {
            let (s, root) = (&s, &root);
            ws.push(sc.spawn(move || {
                for i in 0..per {
                    s.sql_ok(
                        root,
                        &format!("INSERT INTO app.src (k, w) VALUES ('w{w}-{i}', {w})"),
                    );
                }
            }));
        }
        // Two consumers per partition in one group.
        for p in 0..PARTS {
            for _ in 0..2 {
                let (s, root, delivered, dups, done) =
                    (&s, &root, &delivered, &dups, &done_writing);
                sc.spawn(move || {
                    let mut idle_after_done = 0;
                    loop {
                        let b = s.consume(root, "app.t", "grp", json!("Earliest"), 5, p);
                        if b.messages.is_empty() {
                            if done.load(Ordering::SeqCst) {
                                idle_after_done += 1;
                                if idle_after_done > 3 {
                                    break;
                                }
                            }
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                        let mut d = delivered.lock().unwrap();
                        for m in &b.messages {
                            assert_eq!(m.partition, p as u64);
                            if d.insert((m.partition, m.offset), m.key.clone().unwrap())
                                .is_some()
                            {
                                dups.lock().unwrap().push((m.partition, m.offset));
                            }
                        }
                        drop(d);
                        s.ack(root, "app.t", "grp", p, b.messages.last().unwrap().offset);
                    }
                });
            }
        }
        for w in ws {
            w.join().unwrap();
        }
        done_writing.store(true, Ordering::SeqCst);
    });
    let dups = dups.into_inner().unwrap();
    assert!(dups.is_empty(), "delivered twice in one group: {dups:?}");
    let delivered = delivered.into_inner().unwrap();
    assert_eq!(delivered.len(), writers * per, "every row delivered");
    let keys: HashSet<&String> = delivered.values().collect();
    assert_eq!(keys.len(), writers * per);
    for p in 0..PARTS as u64 {
        let offs: Vec<u64> = delivered
            .keys()
            .filter(|(pp, _)| *pp == p)
            .map(|(_, o)| *o)
            .collect();
        assert_eq!(
            offs,
            (0..offs.len() as u64).collect::<Vec<_>>(),
            "partition {p} gapless"
        );
        // Per-key ordering: one writer's rows in one partition keep their write order.
        for w in 0..writers {
            let seq: Vec<usize> = delivered
                .iter()
                .filter(|((pp, _), k)| *pp == p && k.starts_with(&format!("w{w}-")))
                .map(|(_, k)| k.rsplit('-').next().unwrap().parse().unwrap())
                .collect();
            let mut sorted = seq.clone();
            sorted.sort();
            assert_eq!(seq, sorted, "writer {w} order in partition {p}");
        }
    }
}

#[test]
fn acks_confirmed_before_sigkill_are_kept() {
    let mut s = start();
    setup(&s);
    let root = s.root();
    let vals: Vec<String> = (0..600).map(|i| format!("('k{i}', 0)")).collect();
    s.root_sql(&format!(
        "INSERT INTO app.src (k, w) VALUES {}",
        vals.join(", ")
    ));
    let confirmed = Mutex::new(BTreeMap::<u32, u64>::new());
    let seen = Mutex::new(HashSet::<String>::new());
    let stop = AtomicBool::new(false);
    std::thread::scope(|sc| {
        for p in 0..PARTS {
            let (base, root, confirmed, seen, stop) =
                (s.base.clone(), &root, &confirmed, &seen, &stop);
            sc.spawn(move || {
                let auth = format!("Bearer {root}");
                let h = [("Content-Type", "application/json"), ("Authorization", auth.as_str())];
                while !stop.load(Ordering::Relaxed) {
                    let body = format!(r#"{{"topic_id":"app.t","group_id":"g","start":"Earliest","limit":3,"partition_id":{p}}}"#);
                    let Ok(r) = http(&base, "POST", "/v1/api/topics/consume", &h, Some(body.as_bytes())) else { break };
                    if r.status != 200 {
                        break;
                    }
                    let b = Batch::decode(&r.json());
                    let Some(last) = b.messages.last().map(|m| m.offset) else { break };
                    seen.lock().unwrap().extend(b.messages.iter().map(|m| m.key.clone().unwrap()));
                    let ack = format!(r#"{{"topic_id":"app.t","group_id":"g","partition_id":{p},"upto_offset":{last}}}"#);
                    match http(&base, "POST", "/v1/api/topics/ack", &h, Some(ack.as_bytes())) {
                        Ok(r) if r.status == 200 => {
                            confirmed.lock().unwrap().insert(p, last);
                        }
                        _ => break,
                    }
                }
            });
        }
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_millis(3000)
            && confirmed.lock().unwrap().values().sum::<u64>() < 60
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        s.kill9();
        stop.store(true, Ordering::Relaxed);
    });
    let confirmed = confirmed.into_inner().unwrap();
    assert!(
        !confirmed.is_empty(),
        "some acks were confirmed before the kill"
    );
    s.start_again();
    let root = s.root();
    let b = s.root_sql(
        "SELECT partition_id, last_acked_offset FROM system.topic_offsets WHERE group_id = 'g'",
    );
    let stored: BTreeMap<u32, u64> = rows(&b, 0)
        .iter()
        .map(|r| {
            (
                r[0].as_u64().unwrap() as u32,
                r[1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    for (p, off) in &confirmed {
        let got = stored.get(p).copied();
        assert!(
            got.is_some_and(|g| g >= *off),
            "partition {p}: confirmed ack {off} but stored {got:?}"
        );
    }
    // Resuming after the restart: at-least-once, nothing skipped.
    let mut all = seen.into_inner().unwrap();
    for p in 0..PARTS {
        let resumed = s.drain(&root, "app.t", "g", p, 100);
        if let Some(first) = resumed.first() {
            assert_eq!(
                first.offset,
                stored.get(&p).map(|o| o + 1).unwrap_or(0),
                "partition {p} resumes at committed + 1"
            );
        }
        all.extend(resumed.into_iter().map(|m| m.key.unwrap()));
    }
    assert_eq!(
        all.len(),
        600,
        "every message delivered at least once across the restart"
    );
}

#[test]
fn crashing_consumers_with_expiring_claims_still_get_everything_processed() {
    let s = builder().visibility_timeout(1).start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.jobs (id BIGINT PRIMARY KEY)",
        "app.jobs",
        "app.q",
        &["INSERT"],
    );
    let vals: Vec<String> = (0..100).map(|i| format!("({i})")).collect();
    s.root_sql(&format!(
        "INSERT INTO app.jobs (id) VALUES {}",
        vals.join(", ")
    ));
    let seen = Mutex::new(HashSet::<u64>::new());
    let batches = std::sync::atomic::AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_secs(30);
    std::thread::scope(|sc| {
        for _ in 0..3 {
            let (s, root, seen, batches) = (&s, &root, &seen, &batches);
            sc.spawn(move || {
                while Instant::now() < deadline {
                    let committed = s.root_sql(
                        "SELECT last_acked_offset FROM system.topic_offsets WHERE group_id = 'w'",
                    );
                    if rows(&committed, 0)
                        .first()
                        .map(|r| r[0] == json!("99"))
                        .unwrap_or(false)
                    {
                        return;
                    }
                    let b = s.consume_earliest(root, "app.q", "w", 5);
                    if b.messages.is_empty() {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                    seen.lock().unwrap().extend(b.offsets());
                    // Every 4th batch "crashes": never acked, left to the visibility timeout.
                    if batches.fetch_add(1, Ordering::SeqCst) % 4 == 3 {
                        continue;
                    }
                    s.ack(root, "app.q", "w", 0, b.messages.last().unwrap().offset);
                }
            });
        }
    });
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), 100, "every message delivered at least once");
    let committed =
        s.root_sql("SELECT last_acked_offset FROM system.topic_offsets WHERE group_id = 'w'");
    assert_eq!(
        scalar(&committed),
        json!("99"),
        "everything committed within 30 s"
    );
    eprintln!(
        "{} batches fetched for 100 messages",
        batches.load(Ordering::SeqCst)
    );
}
