//! Property tests: no input makes the scene loader panic, and every rejection names a key or a
//! line. (The same check runs unbounded under cargo-fuzz: `fuzz/fuzz_targets/scene.rs`.)

use std::path::Path;

use proptest::prelude::*;
use zoomgen::scene::Scene;

fn check(text: &str) {
    if let Err(e) = Scene::from_toml_str(text, Path::new("p.toml")) {
        assert!(
            e.line.is_some() || e.message.contains("key") || e.message.contains('.'),
            "no key or line in: {e}"
        );
        assert!(!e.message.is_empty());
    }
}

/// A TOML value of any kind, as source text.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| format!("{v:?}")),
        Just("nan".to_string()),
        Just("-inf".to_string()),
        Just("0x10".to_string()),
        Just("1e-400".to_string()),
        Just("1e400".to_string()),
        any::<bool>().prop_map(|v| v.to_string()),
        "[-+0-9.e_a-z#\"]{0,12}".prop_map(|s| format!("{s:?}")),
        Just("1979-05-27T07:32:00Z".to_string()),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            inner.prop_map(|v| format!("{{ x = {v} }}")),
        ]
    })
}

const KEYS: &[&str] = &[
    "video.width",
    "video.height",
    "video.fps",
    "video.frames",
    "render.max_iterations",
    "render.supersample",
    "color.palette",
    "color.cycle",
    "color.offset",
    "color.interior",
    "keyframe.frame",
    "keyframe.center",
    "keyframe.width",
    "keyframe.rotation",
    "keyframe.max_iterations",
    "title",
];

fn scene_with(key: &str, value: &str) -> String {
    let mut tables = vec![
        ("", vec![("title".to_string(), "\"t\"".to_string())]),
        (
            "[video]",
            vec![
                ("width".into(), "32".into()),
                ("height".into(), "18".into()),
                ("fps".into(), "24".into()),
                ("frames".into(), "3".into()),
            ],
        ),
        (
            "[render]",
            vec![
                ("max_iterations".into(), "100".into()),
                ("supersample".into(), "1".into()),
            ],
        ),
        (
            "[color]",
            vec![
                ("palette".into(), "[\"#000000\", \"#ffffff\"]".into()),
                ("cycle".into(), "16.0".into()),
                ("offset".into(), "0.0".into()),
                ("interior".into(), "\"#000000\"".into()),
            ],
        ),
        (
            "[[keyframe]]",
            vec![
                ("frame".into(), "0".into()),
                ("center".into(), "[\"-0.75\", \"0\"]".into()),
                ("width".into(), "3.5".into()),
                ("rotation".into(), "0.0".into()),
                ("max_iterations".into(), "100".into()),
            ],
        ),
    ];
    let (table, name) = key.split_once('.').unwrap_or(("", key));
    let header = match table {
        "" => "",
        "keyframe" => "[[keyframe]]",
        "video" => "[video]",
        "render" => "[render]",
        _ => "[color]",
    };
    for (h, entries) in &mut tables {
        if *h == header {
            for (k, v) in entries.iter_mut() {
                if k == name {
                    *v = value.to_string();
                }
            }
        }
    }
    let mut text = String::new();
    for (h, entries) in tables {
        text += h;
        text += "\n";
        for (k, v) in entries {
            text += &format!("{k} = {v}\n");
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_toml_like_text_never_panics(text in "[a-z\\[\\]=\"#.0-9 \n,{}-]{0,300}") {
        check(&text);
    }

    #[test]
    fn an_arbitrary_value_for_any_key_is_accepted_or_named(
        key in prop::sample::select(KEYS),
        value in value(),
    ) {
        let text = scene_with(key, &value);
        if let Err(e) = Scene::from_toml_str(&text, Path::new("p.toml")) {
            let name = key.rsplit('.').next().unwrap_or(key);
            let msg = e.to_string();
            prop_assert!(
                msg.contains(name) || msg.contains("invalid TOML"),
                "{key} = {value}: {msg}"
            );
            prop_assert!(e.line.is_some(), "{key} = {value}: no line in {msg}");
        }
    }
}
