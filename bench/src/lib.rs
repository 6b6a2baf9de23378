//! ws-server's benchmark harness: a closed-loop load generator that speaks WebSocket over
//! raw sockets with pre-encoded frames, the runner that pins servers and the generator to
//! their own cores and reads the server's CPU time, and the tables it prints.
//!
//! The binaries are `ws-bench` (the generator and the runner) and `bench-server` (ws-server
//! and its peers as echo and fan-out servers). `scripts/bench.sh` builds and runs them.

pub mod cpu;
pub mod echo_load;
pub mod fanout_load;
pub mod handshake;
pub mod idle;
pub mod kind;
pub mod loopback;
pub mod stats;
pub mod suite;
pub mod wire;
