//! The repository README's examples, compiled as doctests so that they stay true (the
//! package's only library target; it has nothing else).

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
