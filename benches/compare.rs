//! Placeholder: the comparison benches land here.
fn main() {}
