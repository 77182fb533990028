//! `brokerlab compare --systems`: the list parser, the scenario → system mapping, the text and
//! JSON reports and the TUI compare view's systems mode.
//!
//! Until RabbitMQ, SQS and Redis run, validation refuses them and their columns say why; the
//! tests of their outcomes check them only once they run (and then must hold).

use brokerlab::compare::systems::{self, QueueSystem, map};
use brokerlab::scenario::{
    self, AckMode, Acks, CommitMode, FaultAction, GroupType, RedisMode, Scenario, System,
};

use crate::util::{brokerlab, stderr, stdout};

fn load(name: &str) -> Scenario {
    scenario::load(name).unwrap().1
}

/// The validation error of a system that does not run yet.
fn not_simulated_yet(why: &str) -> bool {
    why.contains("is not simulated yet")
}

// ----- the list ------------------------------------------------------------------------------

#[test]
fn the_system_list_keeps_the_order_given_and_refuses_unknown_and_repeated_names() {
    assert_eq!(
        systems::parse_systems("sqs, kafka,redis-stream").unwrap(),
        [
            QueueSystem::Sqs,
            QueueSystem::Kafka,
            QueueSystem::RedisStream
        ]
    );
    let every = QueueSystem::ALL.map(QueueSystem::name).join(",");
    assert_eq!(systems::parse_systems(&every).unwrap(), QueueSystem::ALL);
    let e = systems::parse_systems("kafka,rabitmq").unwrap_err();
    assert!(
        e.contains("`rabitmq`") && e.contains("redis-reliable-list"),
        "{e}"
    );
    let e = systems::parse_systems("sqs,sqs").unwrap_err();
    assert!(e.contains("given twice"), "{e}");
    assert!(systems::parse_systems(" , ").is_err());
}

#[test]
fn bad_system_lists_exit_2_with_the_valid_names() {
    for list in ["kafka,nats", "kafka,kafka", ""] {
        let o = brokerlab(&["compare", "tour", "--systems", list]);
        assert_eq!(o.status.code(), Some(2), "{list}");
        let err = stderr(&o);
        assert!(
            err.contains("kafka-share, rabbitmq, sqs, sqs-fifo"),
            "{err}"
        );
        assert!(o.stdout.is_empty());
    }
    let o = brokerlab(&["compare", "tour", "--systems", "kafka", "--versions", "4.2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
}

// ----- the mapping ---------------------------------------------------------------------------

#[test]
fn rabbitmq_gets_one_queue_confirms_from_acks_and_an_ack_mode_from_the_commit() {
    let mut sc = load("consumer-crash-before-process");
    sc.producers[0].acks = Acks::None;
    sc.producers[0].transactional_id = Some("tx".into());
    let m = map(&sc, QueueSystem::Rabbitmq).scenario;
    assert_eq!(m.cluster.system, System::Rabbitmq);
    assert_eq!(m.topics[0].partitions, 1);
    assert_eq!(m.topics[0].replication_factor, 3, "a quorum queue of 3");
    let p = &m.producers[0];
    assert_eq!(p.confirms, Some(false), "acks=0: no confirms");
    assert!(p.transactional_id.is_none() && !p.idempotent());
    assert_eq!(
        m.groups[0].ack,
        Some(AckMode::Auto),
        "commit before-process"
    );
    assert!(m.expect.is_none() && m.notes.is_empty() && m.quiz.is_empty());

    let sc = load("consumer-crash-after-process");
    let m = map(&sc, QueueSystem::Rabbitmq).scenario;
    assert_eq!(m.producers[0].confirms, Some(true), "acks=all: confirms");
    assert_eq!(
        m.groups[0].ack,
        Some(AckMode::Manual),
        "commit after-process"
    );
    assert_eq!(m.groups[0].commit, CommitMode::default());
}

#[test]
fn the_attempt_limit_and_dead_letter_topic_become_each_systems_own() {
    let sc = load("poison-message-dead-letter");
    let g = &sc.groups[0];
    let dlt = g.dead_letter_topic.clone().expect("a dead-letter topic");
    let attempts = g.max_attempts;
    let quorum = sc
        .topics
        .iter()
        .find(|t| t.name == g.topic)
        .unwrap()
        .replication_factor
        > 1;

    let rabbit = map(&sc, QueueSystem::Rabbitmq);
    let r = &rabbit.scenario.groups[0];
    assert_eq!(r.dead_letter_topic.as_deref(), Some(dlt.as_str()));
    if quorum {
        // A quorum queue's limit counts redeliveries, so the same number of deliveries.
        assert_eq!(r.delivery_limit, Some(attempts.saturating_sub(1).max(1)));
    } else {
        assert_eq!(r.delivery_limit, None);
        assert!(rabbit.notes.iter().any(|n| n.contains("no delivery limit")));
    }
    let s = &map(&sc, QueueSystem::SqsFifo).scenario;
    assert!(s.topics.iter().all(|t| t.fifo));
    assert_eq!(s.groups[0].max_receive_count, Some(attempts));
    assert_eq!(s.groups[0].dead_letter_topic.as_deref(), Some(dlt.as_str()));
    let x = &map(&sc, QueueSystem::RedisStream).scenario;
    assert_eq!(x.cluster.mode, Some(RedisMode::Stream));
    assert_eq!(x.groups[0].max_deliveries, Some(attempts));
    let l = map(&sc, QueueSystem::RedisList);
    assert_eq!(l.scenario.groups[0].dead_letter_topic, None);
    assert!(l.notes.iter().any(|n| n.contains(&dlt)), "{:?}", l.notes);
    let share = map(&sc, QueueSystem::KafkaShare);
    let g = &share.scenario.groups[0];
    assert_eq!(g.group_type, GroupType::Share);
    assert_eq!(g.dead_letter_topic, None);
    assert_eq!(g.delivery_count_limit, Some(attempts.clamp(2, 10)));
    assert_eq!(
        share.scenario.topics[0].partitions, sc.topics[0].partitions,
        "a share group keeps the partitions"
    );
}

/// A scenario written for another system keeps its intent on Kafka: RabbitMQ's confirms and
/// ack mode become `acks` and the commit point, a quorum queue's delivery limit the attempts.
#[test]
fn a_queue_scenario_maps_back_to_kafka_with_its_intent() {
    let mut sc = load("poison-message-dead-letter");
    sc.producers[0].acks = Acks::None;
    let rabbit = map(&sc, QueueSystem::Rabbitmq).scenario;
    let back = map(&rabbit, QueueSystem::Kafka).scenario;
    assert_eq!(back.cluster.system, System::Kafka);
    assert_eq!(back.producers[0].acks, Acks::None, "no confirms: acks=0");
    assert_eq!(back.producers[0].confirms, None);
    assert_eq!(
        back.groups[0].commit,
        CommitMode::AfterProcess,
        "manual ack"
    );
    assert_eq!(back.groups[0].ack, None);
    assert_eq!(back.groups[0].delivery_limit, None);
    if let Some(limit) = rabbit.groups[0].delivery_limit {
        assert_eq!(back.groups[0].max_attempts, limit + 1);
    }
    let mut auto = rabbit.clone();
    auto.groups[0].ack = Some(AckMode::Auto);
    auto.producers[0].confirms = Some(true);
    let back = map(&auto, QueueSystem::Kafka).scenario;
    assert_eq!(back.groups[0].commit, CommitMode::BeforeProcess, "auto ack");
    assert_eq!(back.producers[0].acks, Acks::All);
    // BRPOP is at most once; a stream acknowledges after processing.
    let list = map(&sc, QueueSystem::RedisList).scenario;
    let r = map(&list, QueueSystem::Rabbitmq).scenario;
    assert_eq!(r.groups[0].ack, Some(AckMode::Auto));
    let stream = map(&sc, QueueSystem::RedisStream).scenario;
    let r = map(&stream, QueueSystem::Rabbitmq).scenario;
    assert_eq!(r.groups[0].ack, Some(AckMode::Manual));
}

#[test]
fn kafka_share_clamps_the_delivery_count_limit_to_the_brokers_bounds() {
    let mut sc = load("poison-message-dead-letter");
    sc.groups[0].max_attempts = 1;
    let m = map(&sc, QueueSystem::KafkaShare);
    assert_eq!(m.scenario.groups[0].delivery_count_limit, Some(2));
    assert!(m.notes.iter().any(|n| n.contains("delivery_count_limit 2")));
    // And back: a share group becomes a consumer group with the same attempt limit.
    let back = map(&m.scenario, QueueSystem::Kafka);
    assert_eq!(back.scenario.groups[0].group_type, GroupType::Consumer);
    assert_eq!(back.scenario.groups[0].max_attempts, 2);
    assert_eq!(back.scenario.groups[0].delivery_count_limit, None);
}

#[test]
fn redis_keeps_acks_as_wait_and_sqs_always_waits_for_storage() {
    let mut sc = load("acks1-leader-failover");
    let acks = sc.producers[0].acks;
    let m = map(&sc, QueueSystem::RedisList).scenario;
    assert_eq!(m.producers[0].acks, acks);
    assert_eq!(m.cluster.mode, Some(RedisMode::List));
    sc.producers[0].acks = Acks::Leader;
    let m = map(&sc, QueueSystem::Sqs);
    assert_eq!(m.scenario.producers[0].acks, Acks::All);
    assert!(m.notes.iter().any(|n| n.contains("acks=1 not kept")));
    assert!(m.scenario.topics.iter().all(|t| !t.fifo));
}

#[test]
fn kafka_only_faults_go_and_a_partition_leader_target_names_the_queue() {
    let mut sc = load("acks1-leader-failover");
    let mut zombie = scenario::Fault::new(100, FaultAction::ElectPreferred);
    zombie.partition = Some(format!("{}/0", sc.topics[0].name));
    sc.faults.push(zombie);
    let mut crash = scenario::Fault::new(200, FaultAction::Crash);
    crash.target = Some(format!("leader:{}/1", sc.topics[0].name));
    sc.faults.push(crash);
    let m = map(&sc, QueueSystem::Rabbitmq);
    let f = &m.scenario.faults;
    assert!(f.iter().all(|f| f.action != FaultAction::ElectPreferred));
    let target = format!("leader:{}/0", sc.topics[0].name);
    assert!(
        f.iter()
            .any(|f| f.target.as_deref() == Some(target.as_str()))
    );
    assert!(m.notes.iter().any(|n| n.contains("Kafka-only fault")));
    // Kafka keeps them.
    assert_eq!(map(&sc, QueueSystem::Kafka).scenario.faults, sc.faults);
}

/// Every bundled scenario maps to a valid scenario on every system (RabbitMQ, SQS and Redis
/// may only be refused as not simulated yet, until they are).
#[test]
fn every_bundled_scenario_maps_to_a_valid_scenario_on_every_system() {
    for b in scenario::bundled() {
        let (label, sc) = scenario::load(b.name).unwrap();
        for v in systems::system_variants(&label, &sc, &QueueSystem::ALL) {
            match (&v.scenario, v.system) {
                (Ok(_), _) => {}
                (Err(why), QueueSystem::Kafka | QueueSystem::KafkaShare) => {
                    panic!("{}: {} invalid: {why}", b.name, v.system.name())
                }
                (Err(why), q) => assert!(
                    not_simulated_yet(why),
                    "{}: {} invalid: {why}",
                    b.name,
                    q.name()
                ),
            }
            assert!(!v.settings.is_empty());
        }
    }
}

#[test]
fn the_settings_line_says_what_each_system_runs_with() {
    let sc = load("consumer-crash-after-process");
    let line = |q| systems::settings_line(q, &map(&sc, q).scenario);
    assert_eq!(
        line(QueueSystem::Rabbitmq),
        "quorum queue (3 members), confirms on, manual ack, prefetch unlimited, nack requeues, \
         delivery-limit 20"
    );
    assert!(line(QueueSystem::Kafka).starts_with("2 partitions × 3 replicas, acks=all"));
    assert!(line(QueueSystem::KafkaShare).contains("share group, lock 30 s"));
    assert!(line(QueueSystem::SqsFifo).starts_with("FIFO queue, batch 1, visibility timeout 30 s"));
    assert_eq!(
        line(QueueSystem::RedisList),
        "list on a primary + 2 replicas, WAIT for every replica, BRPOP (a popped message is gone)"
    );
    assert!(line(QueueSystem::RedisReliableList).contains("reaper after 30 s"));
}

// ----- the reports ---------------------------------------------------------------------------

fn json(args: &[&str]) -> serde_json::Value {
    let o = brokerlab(args);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Each system's entry holds a `run --json` report; the Kafka column of a consumer-group
/// scenario is that scenario's own run.
#[test]
fn json_has_one_run_report_per_system_in_the_order_asked() {
    let name = "consumer-crash-before-process";
    let args = [
        "compare",
        name,
        "--systems",
        "kafka-share,kafka,rabbitmq",
        "--json",
    ];
    let v = json(&args);
    let systems = v["systems"].as_object().unwrap();
    assert_eq!(systems.len(), 3);
    // In the order asked (serde_json's map sorts its keys, so read the text).
    let text = stdout(&brokerlab(&args));
    let at = |k: &str| text.find(&format!("\n    \"{k}\": {{")).expect(k);
    assert!(at("kafka-share") < at("kafka") && at("kafka") < at("rabbitmq"));
    let run = json(&["run", name, "--json"]);
    let kafka = &systems["kafka"];
    assert_eq!(kafka["report"]["digest"], run["digest"]);
    assert_eq!(kafka["report"]["outcome"], run["outcome"]);
    assert!(
        kafka["settings"]
            .as_str()
            .unwrap()
            .contains("commit before-process")
    );
    let share = &systems["kafka-share"]["report"];
    assert_eq!(share["outcome"]["sent"], run["outcome"]["sent"]);
    let rabbit = &systems["rabbitmq"];
    match rabbit["refused"].as_str() {
        Some(why) => assert!(not_simulated_yet(why) && rabbit["report"].is_null()),
        None => assert_eq!(rabbit["report"]["outcome"]["sent"], run["outcome"]["sent"]),
    }
}

/// A consumer crash mid-batch: committing before processing loses the rest of the batch on
/// Kafka; a share group's lock runs out and the records are delivered again, nothing lost.
/// Auto-ack and BRPOP lose too; SQS's visibility timeout and a stream's PEL do not.
#[test]
fn a_consumer_crash_on_each_system() {
    let v = json(&[
        "compare",
        "consumer-crash-before-process",
        "--systems",
        "kafka,kafka-share,rabbitmq,sqs,redis-list,redis-stream",
        "--json",
    ]);
    let outcome = |s: &str| {
        let c = &v["systems"][s];
        match c["refused"].as_str() {
            Some(why) => {
                assert!(not_simulated_yet(why), "{s}: {why}");
                None
            }
            None => Some(c["report"]["outcome"].clone()),
        }
    };
    let kafka = outcome("kafka").expect("kafka runs");
    assert!(
        kafka["lost_by_kind"]["skipped"].as_u64().unwrap() > 0,
        "{kafka}"
    );
    let share = outcome("kafka-share").expect("kafka share groups run");
    assert_eq!(share["lost"], 0, "{share}");
    assert!(share["redelivered"].as_u64().unwrap() > 0, "{share}");
    // Auto-ack with no prefetch limit pushes the whole backlog to the consumers: the crashed
    // one held what it had not applied yet.
    let rabbit = outcome("rabbitmq").expect("rabbitmq runs");
    assert_eq!(rabbit["sent"], kafka["sent"]);
    assert!(
        rabbit["lost_by_kind"]["skipped"].as_u64().unwrap() > 0,
        "{rabbit}"
    );
    // BRPOP takes one message at a time, and at 5.25 s the list is empty (the last send was
    // at 4.95 s) and consumer-1 has applied what it popped: nothing lost, nothing delivered
    // twice. Whatever a BRPOP consumer loses is a popped message (skipped).
    let list = outcome("redis-list").expect("redis-list runs");
    assert_eq!(list["sent"], kafka["sent"]);
    assert_eq!(list["redelivered"], 0, "{list}");
    assert_eq!(list["lost"], list["lost_by_kind"]["skipped"], "{list}");
    for s in ["sqs", "redis-stream"] {
        if let Some(o) = outcome(s) {
            assert_eq!(o["sent"], kafka["sent"], "{s}");
            assert_eq!(o["lost"], 0, "{s}: {o}");
            assert!(o["redelivered"].as_u64().unwrap() > 0, "{s}: {o}");
        }
    }
}

#[test]
fn text_has_a_column_per_system_and_says_why_one_does_not_run() {
    let o = brokerlab(&[
        "compare",
        "consumer-crash-before-process",
        "--systems",
        "kafka,kafka-share,redis-list",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t = stdout(&o);
    assert!(t.starts_with("Compare queue systems: "), "{t}");
    let header = t.lines().any(|l| {
        l.trim_start().starts_with("kafka ")
            && l.contains("kafka-share")
            && l.contains("redis-list")
    });
    assert!(header, "{t}");
    for row in [
        "sent",
        "acked",
        "applied",
        "lost",
        "duplicated",
        "redelivered",
        "reordered",
        "dead-lettered",
        "unseen",
        "verdict",
        "send→apply p99",
    ] {
        assert!(
            t.lines().any(|l| l.trim_start().starts_with(row)),
            "no row {row}:\n{t}"
        );
    }
    let verdict = t
        .lines()
        .find(|l| l.trim_start().starts_with("verdict"))
        .unwrap();
    assert!(verdict.contains("at-most-once"), "{verdict}");
    assert!(t.contains("BRPOP (a popped message is gone)"), "{t}");
    assert!(
        t.contains("does not run: `system = \"redis\"` is not simulated yet")
            || !t.contains("does not run"),
        "{t}"
    );
}

#[test]
fn no_system_that_runs_is_exit_2() {
    let o = brokerlab(&["compare", "tour", "--systems", "rabbitmq,sqs"]);
    let refused = stderr(&o).contains("runs on none of the systems");
    if refused {
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("= sqs: `system = \"sqs\"` is not simulated yet"));
    } else {
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

// ----- the TUI -------------------------------------------------------------------------------

/// `c`, then `v` twice: one run per system that accepts the scenario, with a settings line
/// each, agreeing with `compare --systems` once finished; `1` opens the first.
#[test]
fn the_tui_compare_view_shows_the_systems() {
    use brokerlab::session::Session;
    use brokerlab::sim::SimTime;
    use brokerlab::tui::compare::CompareMode;
    use brokerlab::tui::{App, View};
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::{Terminal, backend::TestBackend};
    let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
    let (label, sc) = scenario::load("consumer-crash-before-process").unwrap();
    let seed = sc.scenario.seed;
    let mut app = App::with_session(Session::new(label.clone(), sc.clone(), seed));
    for c in ['c', 'v', 'v'] {
        app.on_key(key(c));
    }
    assert_eq!(app.view, View::Compare);
    let runs = app.compare.as_ref().unwrap();
    assert_eq!(runs.mode, CompareMode::Systems);
    assert_eq!(&runs.columns[..2], ["kafka", "kafka-share"]);
    assert_eq!(
        runs.columns.len() + runs.refused.len(),
        QueueSystem::ALL.len()
    );
    assert_eq!(runs.settings.len(), runs.columns.len());
    for (_, why) in &runs.refused {
        assert!(not_simulated_yet(&why[0]), "{why:?}");
    }

    app.session
        .as_mut()
        .unwrap()
        .advance_to(SimTime(u64::MAX), u64::MAX);
    app.on_key(KeyEvent::new(KeyCode::End, KeyModifiers::NONE));
    let report = systems::compare_systems(&label, &sc, &QueueSystem::ALL, seed);
    let runs = app.compare.as_ref().unwrap();
    let ran: Vec<_> = report
        .systems
        .iter()
        .filter_map(|(n, c)| c.report.as_ref().map(|r| (n, r)))
        .collect();
    assert_eq!(ran.len(), runs.sessions.len());
    for (s, (name, r)) in runs.sessions.iter().zip(ran) {
        assert_eq!(s.outcome(), &r.outcome, "{name}");
    }

    let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
    t.draw(|f| f.render_widget(&app, f.area())).unwrap();
    let f: String = t
        .backend()
        .buffer()
        .content
        .chunks(120)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>() + "\n")
        .collect();
    assert!(f.contains("Compare queue systems"), "{f}");
    assert!(f.contains("1 kafka: 2 partitions"), "{f}");
    assert!(f.contains("2 kafka-share: "), "{f}");
    assert!(f.contains("v presets"), "{f}");

    app.on_key(key('2'));
    assert_eq!(app.view, View::Main);
    let s = app.session.as_ref().unwrap();
    assert!(
        s.scenario
            .groups
            .iter()
            .all(|g| g.group_type == GroupType::Share)
    );
    assert!(app.status.as_deref().unwrap_or("").contains("kafka-share"));
}
