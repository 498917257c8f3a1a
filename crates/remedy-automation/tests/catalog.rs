use remedy_automation::{builtin, builtin_names, required_world_apis};

#[test]
fn every_builtin_parses() {
    let names = builtin_names();
    assert_eq!(names.len(), 14);
    for n in names {
        assert!(builtin(n).is_some(), "{n}");
    }
    let apis = required_world_apis();
    for (s, a) in &apis {
        println!("{s}:{a}");
    }
}
