//! ws-server as a user's crates see it, built outside this workspace with cargo: README's
//! first example with README's dependencies, the macros under a renamed dependency, and
//! resources defined in a library crate that the binary does or does not name.
//!
//! Each case is a small workspace under `target/user-crates/`, with this workspace's lock
//! file so that it builds offline with the same versions.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// This workspace's root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the user crates and their build go.
fn scratch() -> PathBuf {
    root().join("target/user-crates")
}

/// Writes `files` (path, contents) under a fresh workspace named `name`; returns its path.
fn workspace(name: &str, files: &[(&str, String)]) -> PathBuf {
    let dir = scratch().join(name);
    let _ = fs::remove_dir_all(&dir);
    for (path, contents) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().expect("a parent")).expect("create dir");
        fs::write(&path, contents).expect("write");
    }
    fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).expect("lock file");
    dir
}

/// Runs cargo in `dir` with `args`, sharing one target directory between the cases.
fn cargo(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO"))
        .args(args)
        .arg("--offline")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", scratch().join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo")
}

fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `[dependencies]` naming ws-server by path, as `name`.
fn ws_server_dependency(name: &str) -> String {
    let path = root().join("ws-server");
    if name == "ws-server" {
        format!("ws-server = {{ path = {path:?} }}\n")
    } else {
        format!("{name} = {{ package = \"ws-server\", path = {path:?} }}\n")
    }
}

/// The first Rust block of README.md, and the dependencies README gives for it.
fn readme_example() -> (String, String) {
    let readme = fs::read_to_string(root().join("README.md")).expect("README");
    let code = readme
        .split("```rust")
        .nth(1)
        .and_then(|block| block.split_once('\n'))
        .and_then(|(_, rest)| rest.split("```").next())
        .expect("a Rust block")
        .to_owned();
    let toml = readme
        .split("```toml")
        .nth(1)
        .and_then(|block| block.split("```").next())
        .expect("a Cargo.toml block")
        .trim_start_matches(['\n'])
        .to_owned();
    (code, toml)
}

/// README's dependencies build README's first example, as a user copies them.
#[test]
fn readmes_first_example_builds_with_readmes_dependencies() {
    let (code, toml) = readme_example();
    assert!(toml.contains("ws-server"), "{toml}");
    let path = root().join("ws-server");
    // The published crate, here from this workspace.
    let dependencies = toml.replace(
        "ws-server = \"0.1\"",
        &format!("ws-server = {{ path = {path:?} }}"),
    );
    let dir = workspace(
        "readme",
        &[
            (
                "Cargo.toml",
                format!(
                    "[workspace]\n\n[package]\nname = \"readme\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n{dependencies}"
                ),
            ),
            ("src/main.rs", code),
        ],
    );
    assert_success("building README's example", &cargo(&dir, &["build"]));
}

/// `wsx = { package = "ws-server" }`: the macros name the crate as the user does.
#[test]
fn the_macros_work_under_a_renamed_dependency() {
    let main = r#"
use wsx::{Connection, Handler, Text, ws_resource};

#[ws_resource("/renamed", max_payload = 1024, slow_consumer = "drop", origins = "any")]
#[derive(Default)]
struct Renamed;

impl Handler for Renamed {
    async fn on_text(&mut self, conn: &Connection, text: Text) {
        let _ = conn.send_text(text).await;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let server = wsx::Server::builder().registered_routes().bind("127.0.0.1:0").await.unwrap();
    let _ = wsx::serve!("127.0.0.1:0");
    println!("serving {}", server.handle().connection_count());
}
"#;
    let dir = workspace(
        "renamed",
        &[
            (
                "Cargo.toml",
                format!(
                    "[workspace]\n\n[package]\nname = \"renamed\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[dependencies]\n{}tokio = {{ version = \"1\", features = [\"macros\", \"rt\"] }}\n",
                    ws_server_dependency("wsx")
                ),
            ),
            ("src/main.rs", main.to_owned()),
        ],
    );
    let output = cargo(&dir, &["run", "--quiet"]);
    assert_success("the renamed dependency", &output);
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "serving 0");
}

/// Resources in a library crate: a binary that does not name the crate links none of
/// their registrations, and `serve!` says so and what to write instead of serving 404s.
#[test]
fn resources_in_a_library_are_served_once_the_binary_names_the_library() {
    let library = r#"
use ws_server::{Handler, ws_resource};

#[ws_resource("/room")]
#[derive(Default)]
pub struct Room;

impl Handler for Room {}
"#;
    let binary = |names_library: bool| {
        format!(
            r#"{}
#[tokio::main(flavor = "current_thread")]
async fn main() {{
    let server = ws_server::Server::builder().registered_routes().bind("127.0.0.1:0").await;
    match server {{
        Ok(_) => println!("serving"),
        Err(error) => {{
            eprintln!("{{error}}");
            std::process::exit(1);
        }}
    }}
}}
"#,
            if names_library {
                "use rooms as _;\n"
            } else {
                ""
            }
        )
    };
    let manifest = |name: &str, with_library: bool, with_tokio: bool| {
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[dependencies]\n{}{}{}",
            ws_server_dependency("ws-server"),
            if with_library {
                "rooms = { path = \"../rooms\" }\n"
            } else {
                ""
            },
            if with_tokio {
                "tokio = { version = \"1\", features = [\"macros\", \"rt\"] }\n"
            } else {
                ""
            },
        )
    };
    let dir = workspace(
        "library",
        &[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"rooms\", \"silent\", \"naming\"]\nresolver = \"3\"\n"
                    .to_owned(),
            ),
            ("rooms/Cargo.toml", manifest("rooms", false, false)),
            ("rooms/src/lib.rs", library.to_owned()),
            ("silent/Cargo.toml", manifest("silent", true, true)),
            ("silent/src/main.rs", binary(false)),
            ("naming/Cargo.toml", manifest("naming", true, true)),
            ("naming/src/main.rs", binary(true)),
        ],
    );
    let silent = cargo(&dir, &["run", "--quiet", "-p", "silent"]);
    assert!(
        !silent.status.success(),
        "a server with no resource started"
    );
    let error = String::from_utf8_lossy(&silent.stderr);
    assert!(
        error.contains("no WebSocket resource to serve")
            && error.contains("use my_resources as _;"),
        "{error}"
    );
    let naming = cargo(&dir, &["run", "--quiet", "-p", "naming"]);
    assert_success("the binary naming the library", &naming);
    assert_eq!(String::from_utf8_lossy(&naming.stdout).trim(), "serving");
}
