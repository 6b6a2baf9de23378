//! Two resources on one path stop the server at start-up, naming both types.

use ws_server::{Handler, Server, serve, ws_resource};

#[ws_resource("/same")]
#[derive(Default)]
struct First;
impl Handler for First {}

#[ws_resource("/same")]
#[derive(Default)]
struct Second;
impl Handler for Second {}

fn names_both(error: &std::io::Error) -> bool {
    let text = error.to_string();
    text.contains("duplicate_paths::First")
        && text.contains("duplicate_paths::Second")
        && text.contains("\"/same\"")
}

#[tokio::test]
async fn serve_fails_at_start_up_naming_both_types() {
    let error = serve!("127.0.0.1:0")
        .await
        .expect_err("duplicate paths must fail");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(names_both(&error), "{error}");
}

#[tokio::test]
async fn the_builder_fails_the_same_way_and_tolerates_one_type_twice() {
    let error = Server::builder()
        .route::<First>()
        .route::<Second>()
        .bind("127.0.0.1:0")
        .await
        .expect_err("duplicate");
    assert!(names_both(&error), "{error}");
    let server = Server::builder()
        .route::<First>()
        .route::<First>()
        .bind("127.0.0.1:0")
        .await;
    assert!(server.is_ok(), "the same resource twice is one route");
}
