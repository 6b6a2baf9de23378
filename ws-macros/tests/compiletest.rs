//! Every misuse of `#[ws_resource]` and `serve!` is a compile error pointing at the
//! offending tokens; correct uses compile.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
