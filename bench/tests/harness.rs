//! The harness against every server, briefly: each echoes, holds idle connections and fans
//! out without a failed connection. Rates are printed, never asserted (no timing here).

use std::{path::Path, time::Duration};

use ws_bench::{
    echo_load::{self, EchoLoad},
    fanout_load::{self, FanoutLoad},
    idle,
    kind::{Kind, ServerProcess},
};

fn start(kind: Kind) -> ServerProcess {
    ServerProcess::start_binary(Path::new(env!("CARGO_BIN_EXE_bench-server")), kind, None)
        .unwrap_or_else(|error| panic!("{kind} did not start: {error}"))
}

#[test]
fn every_server_echoes_every_size_under_load() {
    for kind in Kind::ALL {
        for size in [16, 1024, 65536] {
            let server = start(kind);
            let report = echo_load::run(&EchoLoad {
                addr: server.addr(),
                path: "/echo".to_owned(),
                connections: 8,
                size,
                warmup: Duration::from_millis(50),
                duration: Duration::from_millis(200),
                raw: !kind.is_websocket(),
                server_pid: Some(server.pid()),
            })
            .expect("load");
            eprintln!("{kind} {size} B: {:.0} msgs/s", report.rate());
            assert_eq!(report.failed, 0, "{kind} {size} B");
            assert!(report.messages > 0, "{kind} {size} B echoed nothing");
            assert_eq!(report.latency.len(), report.messages);
            assert!(report.cpu_per_message().is_some());
        }
    }
}

#[test]
fn every_websocket_server_holds_idle_connections() {
    for kind in Kind::ALL.into_iter().filter(|kind| kind.is_websocket()) {
        let server = start(kind);
        let report = idle::run(server.addr(), "/echo", 300, server.pid()).expect("idle");
        assert_eq!(report.connections, 300, "{kind}");
        assert_eq!(
            report.alive, report.sampled,
            "{kind}: idle connections died"
        );
        assert!(report.rss_after > 0 && report.rss_before > 0);
    }
}

#[test]
fn every_websocket_server_fans_out_to_every_subscriber() {
    for kind in Kind::ALL.into_iter().filter(|kind| kind.is_websocket()) {
        let server = start(kind);
        let report = fanout_load::run(&FanoutLoad {
            addr: server.addr(),
            subscribers: 50,
            size: 16,
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(300),
            server_pid: Some(server.pid()),
        })
        .expect("fan-out");
        eprintln!("{kind}: {:.0} deliveries/s", report.rate());
        assert_eq!(report.failed, 0, "{kind}");
        assert!(report.published > 0, "{kind} published nothing");
        // Every message reaches every subscriber, give or take those in flight at the ends.
        let expected = report.published * 50;
        assert!(
            report.deliveries.abs_diff(expected) <= 50 * 20,
            "{kind}: {} deliveries for {} messages",
            report.deliveries,
            report.published
        );
    }
}

#[test]
fn the_generator_refuses_remote_targets() {
    assert!(ws_bench::loopback::loopback_target("192.0.2.10:80").is_err());
    assert!(ws_bench::loopback::loopback_target("127.0.0.1:80").is_ok());
}
