//! The scene loader's tests: every field, every kind of error, overrides, decimals.

use super::*;


const FULL: &str = r##"title = "Into Seahorse Valley"

[video]
width = 1920
height = 1080
fps = 60
frames = 900

[render]
max_iterations = 2000
supersample = 3

[color]
palette = ["#000000", "#FFaa00", "#ffffff"]
cycle = 32
offset = 0.25
interior = "#102030"

[[keyframe]]
frame = 0
center = ["-0.75", 0.0]
width = 3.5

[[keyframe]]
frame = 450
center = ["-0.743643887037158704752191506114774", "+0.131825904205311970493132056385139"]
width = 1e-11
rotation = 90
max_iterations = 50_000

[[keyframe]]
frame = 899
center = [-1, "-.5"]
width = "1e-500"
"##;

const MINIMAL: &str = r#"
[video]
width = 640
height = 480
seconds = 2.5

[[keyframe]]
frame = 0
center = [0, 0]
width = 4
"#;

fn load(text: &str) -> Result<Scene, SceneError> {
    Scene::from_toml_str(text, Path::new("scenes/x.toml"))
}

fn load_err(text: &str) -> SceneError {
    match load(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

/// Asserts an error at `line` whose message contains every one of `parts`.
#[track_caller]
fn assert_err(text: &str, line: Option<usize>, parts: &[&str]) {
    let e = load_err(text);
    assert_eq!(e.file, "scenes/x.toml", "{e}");
    assert_eq!(e.line, line, "{e}");
    for part in parts {
        assert!(e.message.contains(part), "{e:?} should contain {part:?}");
    }
}

/// MINIMAL with `line` inserted after line `after` (1-based, counting the leading newline).
fn with(after: usize, line: &str) -> String {
    let mut lines: Vec<&str> = MINIMAL.split('\n').collect();
    lines.insert(after, line);
    lines.join("\n")
}

fn dec(text: &str) -> Decimal {
    Decimal::parse(text).unwrap_or_else(|| panic!("{text:?} should parse"))
}

#[test]
fn max_iterations_auto_grows_with_depth() {
    let text = r#"
[video]
width = 64
height = 36
frames = 3
[render]
max_iterations = "auto"
[[keyframe]]
frame = 0
center = [0, 0]
width = 4
[[keyframe]]
frame = 1
center = [0, 0]
width = "1e-100"
[[keyframe]]
frame = 2
center = [0, 0]
width = "1e-100"
max_iterations = 77
"#;
    let scene = Scene::from_toml_str(text, Path::new("auto.toml")).unwrap();
    assert_eq!(scene.render.max_iterations, IterationBudget::Auto);
    let k = &scene.keyframes;
    assert_eq!(
        k[0].max_iterations,
        auto_max_iterations(4f64.log10())
    );
    assert_eq!(
        k[1].max_iterations,
        auto_max_iterations(-100.0)
    );
    assert!(k[1].max_iterations > 10 * k[0].max_iterations);
    assert_eq!(k[2].max_iterations, 77);
    let bad = text.replace(r#"max_iterations = "auto""#, r#"max_iterations = "many""#);
    let e = Scene::from_toml_str(&bad, Path::new("auto.toml")).unwrap_err();
    assert_eq!(e.line, Some(7), "{e}");
    assert!(
        e.message
            .contains(r#"render.max_iterations = "many" is invalid (expected an integer"#),
        "{e}"
    );
}

#[test]
fn full_scene_reads_every_value() {
    let scene = load(FULL).unwrap();
    assert_eq!(scene.source, PathBuf::from("scenes/x.toml"));
    assert_eq!(scene.stem(), "x");
    assert_eq!(scene.title.as_deref(), Some("Into Seahorse Valley"));
    assert_eq!(
        scene.video,
        Video {
            width: 1920,
            height: 1080,
            fps: Fps::whole(60),
            frames: 900,
            bit_depth: BitDepth::Eight,
            dither: true,
        }
    );
    assert_eq!(
        scene.render,
        RenderSettings {
            max_iterations: IterationBudget::Fixed(2000),
            supersample: 3,
            method: Method::Direct,
        }
    );
    assert_eq!(
        scene.color.palette,
        vec![
            Rgb8([0, 0, 0]),
            Rgb8([0xff, 0xaa, 0]),
            Rgb8([0xff, 0xff, 0xff])
        ]
    );
    assert_eq!(scene.color.cycle, 32.0);
    assert_eq!(scene.color.offset, 0.25);
    assert_eq!(scene.color.interior, Rgb8([0x10, 0x20, 0x30]));

    let k = &scene.keyframes;
    assert_eq!(k.len(), 3);
    assert_eq!(k[0].frame, 0);
    assert_eq!(k[0].center[0].text(), "-0.75");
    assert_eq!(k[0].center[1].text(), "0.0");
    assert_eq!(k[0].width.text(), "3.5");
    assert_eq!(k[0].rotation, 0.0);
    assert_eq!(k[0].max_iterations, 2000);

    assert_eq!(k[1].frame, 450);
    assert_eq!(
        k[1].center[0].text(),
        "-0.743643887037158704752191506114774"
    );
    assert_eq!(k[1].center[1].text(), "0.131825904205311970493132056385139");
    assert_eq!(k[1].width.text(), "1e-11");
    assert_eq!(k[1].width.to_f64(), 1e-11);
    assert_eq!(k[1].rotation, 90.0);
    assert_eq!(k[1].max_iterations, 50_000);

    assert_eq!(k[2].frame, 899);
    assert_eq!(k[2].center[0].text(), "-1");
    assert_eq!(k[2].center[1].text(), "-.5");
    assert_eq!(k[2].center[1].to_f64(), -0.5);
    assert_eq!(k[2].width.text(), "1e-500");
    assert!(k[2].width.is_positive());
    assert_eq!(k[2].width.log10_abs(), -500.0);
}

#[test]
fn minimal_scene_gets_defaults() {
    let scene = load(MINIMAL).unwrap();
    assert_eq!(scene.title, None);
    assert_eq!(scene.video.fps, Fps::whole(30));
    assert_eq!(scene.video.frames, 75); // 2.5 s * 30 fps
    assert_eq!(scene.render.max_iterations, IterationBudget::Fixed(1000));
    assert_eq!(scene.render.supersample, 1);
    assert_eq!(scene.color.palette, ColorSettings::default().palette);
    assert_eq!(
        scene.color.palette[0],
        Rgb8::parse("#000764").unwrap(),
        "default palette starts at #000764"
    );
    assert_eq!(scene.color.cycle, 64.0);
    assert_eq!(scene.color.offset, 0.0);
    assert_eq!(scene.color.interior, Rgb8([0, 0, 0]));
    assert_eq!(scene.keyframes[0].max_iterations, 1000);
    assert_eq!(scene.keyframes[0].center[0].text(), "0");
    assert_eq!(scene.keyframes[0].width.text(), "4");
}

#[test]
fn seconds_round_to_at_least_one_frame() {
    let scene = load(&MINIMAL.replace("seconds = 2.5", "seconds = 0.001")).unwrap();
    assert_eq!(scene.video.frames, 1);
    let scene = load(&MINIMAL.replace("seconds = 2.5", "seconds = 1\nfps = 24")).unwrap();
    assert_eq!(scene.video.frames, 24);
}

#[test]
fn decimal_parse_accepts_the_grammar() {
    for ok in [
        "0",
        "-0",
        "+2",
        "2.",
        "-.5",
        ".5",
        "1.5e-3",
        "1E+9",
        "1e-500",
        "1e1000000000",
        "007",
        "-0.743643887037158704752191506114774",
    ] {
        assert!(Decimal::parse(ok).is_some(), "{ok:?} should parse");
    }
    for bad in [
        "",
        "-",
        "+",
        ".",
        "e5",
        "1e",
        "1e+",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "infinity",
        "0x10",
        " 1",
        "1 ",
        "1_000",
        "1.2.3",
        "1e1000000001",
        "1e99999999999999999999",
        "--1",
        "+-1",
        "1e5.5",
        "١",
        "1,5",
    ] {
        assert!(Decimal::parse(bad).is_none(), "{bad:?} should not parse");
    }
    assert_eq!(dec("+2").text(), "2");
    assert_eq!(dec("+2").to_string(), "2");
    assert_eq!(dec("1.5e-3").to_f64(), 0.0015);
    assert_eq!(dec("-.5").to_f64(), -0.5);
}

#[test]
fn decimal_sign_comes_from_the_digits() {
    assert!(dec("1e-500").is_positive());
    assert_eq!(dec("1e-500").to_f64(), 0.0);
    assert!(dec("-1e-500").is_negative());
    assert!(!dec("-1e-500").is_positive());
    for zero in ["0", "-0", "0.000", "-0e-5", ".0", "0e1000"] {
        let d = dec(zero);
        assert!(
            d.is_zero() && !d.is_positive() && !d.is_negative(),
            "{zero}"
        );
    }
    assert!(dec("3").is_positive() && !dec("3").is_zero());
}

#[test]
fn decimal_log10_works_beyond_f64() {
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert!(close(dec("1e-500").log10_abs(), -500.0));
    assert!(close(dec("-1e+500").log10_abs(), 500.0));
    assert!(close(dec("100").log10_abs(), 2.0));
    assert!(close(dec("0.00123").log10_abs(), 1.23f64.log10() - 3.0));
    assert!(close(dec("-12.5e3").log10_abs(), 12500f64.log10()));
    assert!(close(dec("000.0025e-2").log10_abs(), 2.5e-5f64.log10()));
    assert_eq!(dec("0.0").log10_abs(), f64::NEG_INFINITY);
    assert!(close(dec("1e-400").log10_abs(), -400.0));
    assert!(close(dec("-2.5e-320").log10_abs(), 2.5f64.log10() - 320.0));
    assert_eq!(dec("4").ln_abs(), 4f64.ln());
    assert!(close(
        dec("1e-500").ln_abs(),
        -500.0 * std::f64::consts::LN_10
    ));
    assert_eq!(dec("-0").ln_abs(), f64::NEG_INFINITY);
}

#[test]
fn decimal_from_f64_round_trips() {
    for x in [
        0.0,
        -0.0,
        1.0,
        0.5,
        -0.75,
        1e-11,
        3.5,
        1e300,
        123456.789,
        f64::MIN_POSITIVE,
    ] {
        let d = Decimal::from_f64(x);
        assert_eq!(d.to_f64(), x);
        assert_eq!(Decimal::parse(d.text()).map(|d| d.to_f64()), Some(x), "{x}");
    }
    assert_eq!(Decimal::from_f64(1e-11).text(), "1e-11");
    assert_eq!(Decimal::from_f64(0.5).text(), "0.5");
    assert_eq!(Decimal::from_f64(3.0).text(), "3");
    assert_eq!(Decimal::from_f64(f64::NAN).text(), "0");
    assert!(Decimal::from_f64(f64::INFINITY).to_f64().is_finite());
}

#[test]
fn colors() {
    assert_eq!(Rgb8::parse("#aBcDeF"), Some(Rgb8([0xab, 0xcd, 0xef])));
    for bad in [
        "abcdef", "#abcde", "#abcdefa", "#ggg000", "#+1a2b3", "", "#", "#ébcde",
    ] {
        assert_eq!(Rgb8::parse(bad), None, "{bad:?}");
    }
    assert_eq!(Rgb8([1, 2, 255]).to_string(), "#0102ff");
}

#[test]
fn syntax_errors_have_a_line() {
    assert_err("[video\nwidth = 5\n", Some(1), &["invalid TOML"]);
    assert_err(&with(4, "height = "), Some(5), &["invalid TOML"]);
    assert_err(
        &with(4, "height = 5"),
        Some(5),
        &["invalid TOML", "duplicate key"],
    );
}

#[test]
fn unknown_keys_name_their_table() {
    assert_err(
        &with(3, "wdith = 5"),
        Some(4),
        &[
            "unknown key `wdith` in [video] (expected one of width, height, fps, frames, seconds, bit_depth, dither)",
        ],
    );
    assert_err(
        &with(0, "titel = \"x\""),
        Some(1),
        &["unknown key `titel` at the top level"],
    );
    assert_err(
        &with(10, "zoom = 2"),
        Some(11),
        &["unknown key `zoom` in keyframe[0]"],
    );
    assert_err(
        &format!("{MINIMAL}\n[render]\nsupersampling = 2\n"),
        Some(13),
        &["unknown key `supersampling` in [render]"],
    );
    assert_err(
        &format!("{MINIMAL}\n[color.extra]\n"),
        Some(12),
        &["unknown key `extra` in [color]"],
    );
}

#[test]
fn missing_keys() {
    assert_err(
        &MINIMAL.replace("width = 640\n", ""),
        Some(2),
        &["missing key video.width"],
    );
    assert_err(
        &MINIMAL.replace("height = 480\n", ""),
        Some(2),
        &["missing key video.height"],
    );
    assert_err(
        &MINIMAL.replace("seconds = 2.5\n", ""),
        Some(2),
        &["missing key video.frames or video.seconds"],
    );
    assert_err(
        &MINIMAL.replace("frame = 0\n", ""),
        Some(7),
        &["missing key keyframe[0].frame"],
    );
    assert_err(
        &MINIMAL.replace("center = [0, 0]\n", ""),
        Some(7),
        &["missing key keyframe[0].center"],
    );
    assert_err(
        &MINIMAL.replace("width = 4\n", ""),
        Some(7),
        &["missing key keyframe[0].width"],
    );
    let no_keyframes = MINIMAL.split("[[keyframe]]").next().unwrap_or("");
    assert_err(no_keyframes, None, &["missing key keyframe"]);
    assert_err("", None, &["missing key"]);
    assert_err(
        &format!("keyframe = []\n{no_keyframes}"),
        Some(1),
        &["keyframe is empty"],
    );
}

#[test]
fn wrong_types_name_the_key() {
    assert_err(
        &MINIMAL.replace("width = 640", "width = 640.5"),
        Some(3),
        &["video.width = 640.5 is invalid (expected an integer)"],
    );
    assert_err(
        &MINIMAL.replace("width = 640", "width = \"640\""),
        Some(3),
        &["video.width = \"640\" is invalid (expected an integer)"],
    );
    assert_err(
        &MINIMAL.replace("seconds = 2.5", "seconds = \"2\""),
        Some(5),
        &["video.seconds = \"2\" is invalid (expected a number)"],
    );
    assert_err(
        &MINIMAL.replace("center = [0, 0]", "center = \"0, 0\""),
        Some(9),
        &["keyframe[0].center = \"0, 0\" is invalid (expected [re, im]"],
    );
    assert_err(
        &MINIMAL.replace("center = [0, 0]", "center = [0, true]"),
        Some(9),
        &["keyframe[0].center[1] = true is invalid"],
    );
    assert_err(
        &format!("{MINIMAL}\n[color]\npalette = [\"#000000\", 7]\n"),
        Some(13),
        &["color.palette[1] = 7 is invalid (expected a string)"],
    );
    assert_err(
        &MINIMAL.replace("[[keyframe]]", "[keyframe]"),
        Some(7),
        &["keyframe is invalid (expected one or more [[keyframe]] tables)"],
    );
    assert_err(
        &MINIMAL.replace("width = 640", "width = 99999999999999999999"),
        Some(3),
        &["video.width = 99999999999999999999 is invalid"],
    );
}

#[test]
fn out_of_range_values() {
    let cases: &[(&str, &str, usize, &str)] = &[
        (
            "width = 640",
            "width = 15",
            3,
            "video.width = 15 is invalid (expected 16 to 16384)",
        ),
        (
            "width = 640",
            "width = 16385",
            3,
            "video.width = 16385 is invalid",
        ),
        (
            "height = 480",
            "height = -480",
            4,
            "video.height = -480 is invalid (expected 16 to 16384)",
        ),
        (
            "seconds = 2.5",
            "seconds = 2.5\nfps = 0",
            6,
            "video.fps = 0 is invalid (expected 1 to 240, or a video rate such as 29.97",
        ),
        (
            "seconds = 2.5",
            "seconds = 2.5\nfps = 241",
            6,
            "video.fps = 241 is invalid",
        ),
        (
            "seconds = 2.5",
            "frames = 0",
            5,
            "video.frames = 0 is invalid (expected >= 1)",
        ),
        (
            "seconds = 2.5",
            "seconds = 0",
            5,
            "video.seconds = 0 is invalid (expected > 0)",
        ),
        (
            "seconds = 2.5",
            "seconds = nan",
            5,
            "video.seconds = nan is invalid (expected a finite number)",
        ),
        (
            "seconds = 2.5",
            "seconds = -inf",
            5,
            "video.seconds = -inf is invalid",
        ),
        (
            "width = 4",
            "width = -1",
            10,
            "keyframe[0].width = -1 is invalid (expected > 0)",
        ),
        (
            "width = 4",
            "width = 0.0",
            10,
            "keyframe[0].width = 0.0 is invalid (expected > 0)",
        ),
        (
            "width = 4",
            "width = \"-1e-500\"",
            10,
            "keyframe[0].width = \"-1e-500\" is invalid (expected > 0)",
        ),
        (
            "width = 4",
            "width = nan",
            10,
            "keyframe[0].width = nan is invalid (expected a finite decimal",
        ),
        (
            "width = 4",
            "width = \"wide\"",
            10,
            "keyframe[0].width = \"wide\" is invalid",
        ),
        (
            "width = 4",
            "width = 4\nrotation = inf",
            11,
            "keyframe[0].rotation = inf is invalid (expected a finite number)",
        ),
        (
            "width = 4",
            "width = 4\nmax_iterations = 0",
            11,
            "keyframe[0].max_iterations = 0 is invalid (expected an integer from 1 to 4294967295, or \"auto\")",
        ),
        (
            "center = [0, 0]",
            "center = [0]",
            9,
            "keyframe[0].center = [0] is invalid (expected [re, im], an array of exactly 2",
        ),
        (
            "center = [0, 0]",
            "center = [0, 0, 0]",
            9,
            "keyframe[0].center = [0, 0, 0] is invalid",
        ),
        (
            "center = [0, 0]",
            "center = [\"0\", \"1e\"]",
            9,
            "keyframe[0].center[1] = \"1e\" is invalid (expected a finite decimal number",
        ),
        (
            "center = [0, 0]",
            "center = [\"0x1\", 0]",
            9,
            "keyframe[0].center[0] = \"0x1\" is invalid",
        ),
        (
            "frame = 0",
            "frame = 1",
            8,
            "keyframe[0].frame = 1 is invalid (expected 0: the first keyframe",
        ),
        (
            "frame = 0",
            "frame = -1",
            8,
            "keyframe[0].frame = -1 is invalid (expected >= 0)",
        ),
    ];
    for (from, to, line, part) in cases {
        let text = MINIMAL.replace(from, to);
        assert_err(&text, Some(*line), &[part]);
    }
}

#[test]
fn frames_and_seconds_are_exclusive() {
    assert_err(
        &MINIMAL.replace("seconds = 2.5", "seconds = 2.5\nframes = 10"),
        Some(6),
        &["video.frames and video.seconds are both set (expected exactly one of them)"],
    );
}

#[test]
fn render_and_color_ranges() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "[render]\nsupersample = 9",
            13,
            "render.supersample = 9 is invalid (expected 1 to 8)",
        ),
        (
            "[render]\nsupersample = 0",
            13,
            "render.supersample = 0 is invalid",
        ),
        (
            "[render]\nmax_iterations = 0",
            13,
            "render.max_iterations = 0 is invalid (expected an integer from 1 to 4294967295, or \"auto\")",
        ),
        (
            "[render]\nmax_iterations = 4294967296",
            13,
            "render.max_iterations = 4294967296 is invalid",
        ),
        (
            "[color]\npalette = [\"#000000\"]",
            13,
            "color.palette = [\"#000000\"] is invalid (expected at least 2 colors)",
        ),
        (
            "[color]\npalette = []",
            13,
            "color.palette = [] is invalid (expected at least 2 colors)",
        ),
        (
            "[color]\npalette = [\"#000000\", \"fff000\"]",
            13,
            "color.palette[1] = \"fff000\" is invalid (expected a color written \"#rrggbb\")",
        ),
        (
            "[color]\ninterior = \"black\"",
            13,
            "color.interior = \"black\" is invalid (expected a color",
        ),
        (
            "[color]\ncycle = 0",
            13,
            "color.cycle = 0 is invalid (expected > 0)",
        ),
        (
            "[color]\ncycle = -3.5",
            13,
            "color.cycle = -3.5 is invalid (expected > 0)",
        ),
        (
            "[color]\ncycle = nan",
            13,
            "color.cycle = nan is invalid (expected a finite number)",
        ),
        (
            "[color]\noffset = 1.0",
            13,
            "color.offset = 1.0 is invalid (expected >= 0 and < 1)",
        ),
        (
            "[color]\noffset = -0.1",
            13,
            "color.offset = -0.1 is invalid",
        ),
    ];
    for (table, line, part) in cases {
        assert_err(&format!("{MINIMAL}\n{table}\n"), Some(*line), &[part]);
    }
}

#[test]
fn look_settings_and_their_errors() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "[color]\nby = \"distances\"",
            13,
            "color.by = \"distances\" is invalid (expected one of \"count\", \"distance\")",
        ),
        (
            "[color]\ntransfer = \"square\"",
            13,
            "color.transfer = \"square\" is invalid (expected one of \"linear\", \"sqrt\", \"cbrt\", \"log\")",
        ),
        (
            "[color]\npalette = \"firey\"",
            13,
            "color.palette = \"firey\" is invalid (expected one of \"classic\", \"fire\"",
        ),
        (
            "[color]\nboundary = -1",
            13,
            "color.boundary = -1 is invalid (expected >= 0 and <= 1000)",
        ),
        (
            "[color]\nboundary_color = \"red\"",
            13,
            "color.boundary_color = \"red\" is invalid (expected a color",
        ),
        (
            "[color]\nlight = 1.5",
            13,
            "color.light = 1.5 is invalid (expected >= 0 and <= 1)",
        ),
        (
            "[color]\nlight_elevation = 95",
            13,
            "color.light_elevation = 95 is invalid (expected >= 0 and <= 90)",
        ),
        (
            "[color]\ncycles_per_second = inf",
            13,
            "color.cycles_per_second = inf is invalid (expected a finite number)",
        ),
        (
            "[color]\nshade = 1",
            13,
            "unknown key `shade` in [color]",
        ),
    ];
    for (table, line, part) in cases {
        assert_err(&format!("{MINIMAL}\n{table}\n"), Some(*line), &[part]);
    }
    assert_err(
        &MINIMAL.replace("width = 4", "width = 4\npalette_cycle = 0"),
        Some(11),
        &["keyframe[0].palette_cycle = 0 is invalid (expected > 0)"],
    );

    // Defaults: the count, linear, 64 per cycle, nothing else; a distance look cycles per 6
    // doublings unless told otherwise; names resolve to stops; keyframes inherit the palette.
    let plain = load(MINIMAL).unwrap();
    assert_eq!(plain.color, ColorSettings::default());
    assert_eq!(plain.keyframes[0].palette_offset, 0.0);
    assert_eq!(plain.keyframes[0].palette_cycle, 64.0);
    let look = load(&format!(
        "{MINIMAL}\n[color]\nby = \"distance\"\npalette = \"mono\"\nboundary = 1.5\n\
         light = 0.5\nlight_angle = 90\noffset = 0.25\ncycles_per_second = 0.1\n"
    ))
    .unwrap();
    assert_eq!(look.color.by, ColorBy::Distance);
    assert_eq!(look.color.cycle, 6.0);
    assert_eq!(look.color.palette, vec![Rgb8([16, 16, 16]), Rgb8([240, 240, 240])]);
    assert_eq!((look.color.boundary, look.color.light), (1.5, 0.5));
    assert_eq!(look.color.light_angle, 90.0);
    assert_eq!(look.keyframes[0].palette_offset, 0.25);
    assert_eq!(look.keyframes[0].palette_cycle, 6.0);
    let sqrt = load(&format!("{MINIMAL}\n[color]\ntransfer = \"sqrt\"\n")).unwrap();
    assert_eq!((sqrt.color.transfer, sqrt.color.cycle), (Transfer::Sqrt, 4.0));
    let keyed = load(&MINIMAL.replace("width = 4", "width = 4\npalette_offset = -2.5\npalette_cycle = 9"))
        .unwrap();
    assert_eq!(keyed.keyframes[0].palette_offset, -2.5);
    assert_eq!(keyed.keyframes[0].palette_cycle, 9.0);
}

#[test]
fn keyframe_order_and_range() {
    let two = |second: &str| {
        format!("{MINIMAL}\n[[keyframe]]\n{second}\ncenter = [0, 0]\nwidth = 1\n")
    };
    assert_err(
        &two("frame = 0"),
        Some(13),
        &["keyframe[1].frame = 0 is invalid (expected greater than keyframe[0].frame = 0)"],
    );
    assert_err(
        &two("frame = 75"),
        Some(13),
        &["keyframe[1].frame = 75 is invalid (expected < 75, the scene has 75 frames)"],
    );
    assert!(load(&two("frame = 74")).is_ok());
    let hex = load(&MINIMAL.replace("center = [0, 0]", "center = [0x10, 1_0]")).unwrap();
    assert_eq!(hex.keyframes[0].center[0].text(), "16");
    assert_eq!(hex.keyframes[0].center[1].text(), "10");
    let three = format!(
        "{}\n[[keyframe]]\nframe = 30\ncenter = [0, 0]\nwidth = 1\n",
        two("frame = 40")
    );
    assert_err(
        &three,
        Some(18),
        &["keyframe[2].frame = 30 is invalid (expected greater than keyframe[1].frame = 40)"],
    );
}

#[test]
fn keyframes_as_inline_array() {
    let text = "video = { width = 64, height = 64, frames = 2 }\nkeyframe = [{ frame = 0, center = [0, 0], width = 1 }, { frame = 1, center = [0, 0] }]\n";
    assert_err(text, Some(2), &["missing key keyframe[1].width"]);
}

fn set(text: &str, overrides: &[&str]) -> Result<Scene, SceneError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.toml");
    std::fs::write(&path, text).unwrap();
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Scene::load_with_overrides(&path, &overrides)
}

#[test]
fn overrides_change_the_document() {
    let scene = set(
        FULL,
        &[
            "video.width=3840",
            "color.cycle=16",
            "keyframe[1].width=\"1e-5\"",
            "keyframe[2].width=2.5e-3",
            "title=\"x\"",
            "render.supersample = 4",
            "color.palette[1]=\"#010203\"",
            "keyframe[0].center=[\"-1.5\", 2]",
        ],
    )
    .unwrap();
    assert_eq!(scene.video.width, 3840);
    assert_eq!(scene.color.cycle, 16.0);
    assert_eq!(scene.keyframes[1].width.text(), "1e-5");
    assert_eq!(scene.keyframes[2].width.text(), "2.5e-3");
    assert_eq!(scene.title.as_deref(), Some("x"));
    assert_eq!(scene.render.supersample, 4);
    assert_eq!(scene.color.palette[1], Rgb8([1, 2, 3]));
    assert_eq!(scene.keyframes[0].center[0].text(), "-1.5");
    assert_eq!(scene.keyframes[0].center[1].text(), "2");

    // Strings need no quotes; new tables and keyframes can be made.
    let scene = set(
        MINIMAL,
        &[
            "title=Hello world",
            "color.interior=#ffffff",
            "keyframe[1].frame=10",
            "keyframe[1].center=[0, 0]",
            "keyframe[1].width=1e-3",
        ],
    )
    .unwrap();
    assert_eq!(scene.title.as_deref(), Some("Hello world"));
    assert_eq!(scene.color.interior, Rgb8([255, 255, 255]));
    assert_eq!(scene.keyframes.len(), 2);
    assert_eq!(scene.keyframes[1].width.text(), "1e-3");
}

/// Video's frame rates are taken exactly: 29.97 is 30000/1001 (and so on for the other NTSC
/// rates), fractions may be written as text, and the length in seconds uses the exact rate.
#[test]
fn video_frame_rates_are_exact() {
    let rate = |fps: &str| load(&MINIMAL.replace("seconds = 2.5", &format!("seconds = 10\nfps = {fps}")));
    for (written, ffmpeg, human, frames) in [
        ("29.97", "30000/1001", "29.97", 300),
        ("23.976", "24000/1001", "23.976", 240),
        ("59.94", "60000/1001", "59.94", 599),
        ("\"30000/1001\"", "30000/1001", "29.97", 300),
        ("\"50/2\"", "25", "25", 250),
        ("25.0", "25", "25", 250),
        ("24", "24", "24", 240),
    ] {
        let scene = rate(written).unwrap_or_else(|e| panic!("fps = {written}: {e}"));
        assert_eq!(scene.video.fps.to_string(), ffmpeg, "fps = {written}");
        assert_eq!(scene.video.fps.human(), human, "fps = {written}");
        assert_eq!(scene.video.frames, frames, "fps = {written}");
    }
    for bad in ["29.5", "0", "241", "\"30000/0\"", "\"fast\"", "-30", "240.5"] {
        let e = rate(bad).unwrap_err();
        assert!(
            e.message.starts_with(&format!("video.fps = {bad} is invalid (expected 1 to 240, or a video rate")),
            "fps = {bad}: {e}"
        );
    }
}

/// `frames` and `seconds` are two ways to say one thing: overriding one replaces the other,
/// whichever the file gives, and both at once in the file stay an error.
#[test]
fn an_override_of_frames_or_seconds_replaces_the_other() {
    // MINIMAL gives seconds = 2.5 at the default 30 fps.
    let scene = set(MINIMAL, &["video.frames=12"]).unwrap();
    assert_eq!(scene.video.frames, 12);
    let with_frames = MINIMAL.replace("seconds = 2.5", "frames = 75");
    let scene = set(&with_frames, &["video.seconds=10"]).unwrap();
    assert_eq!(scene.video.frames, 300);
    // The last override wins.
    let scene = set(&with_frames, &["video.seconds=10", "video.frames=7"]).unwrap();
    assert_eq!(scene.video.frames, 7);
    assert!(load(&MINIMAL.replace("seconds = 2.5", "seconds = 2.5\nframes = 75")).is_err());
}

#[track_caller]
fn assert_set_err(overrides: &[&str], file: &str, parts: &[&str]) {
    let e = match set(MINIMAL, overrides) {
        Ok(_) => panic!("expected an error for {overrides:?}"),
        Err(e) => e,
    };
    assert_eq!(e.file, file, "{e}");
    assert_eq!(e.line, None, "{e}");
    for part in parts {
        assert!(e.message.contains(part), "{e:?} should contain {part:?}");
    }
}

#[test]
fn override_errors_name_the_override() {
    assert_set_err(
        &["video.width=8"],
        "--set video.width=8",
        &["video.width = 8 is invalid (expected 16 to 16384)"],
    );
    assert_set_err(
        &["title=\"ok\"", "video.width=19.5"],
        "--set video.width=19.5",
        &["video.width = 19.5 is invalid (expected an integer)"],
    );
    assert_set_err(
        &["video.wdith=8"],
        "--set video.wdith=8",
        &["unknown key `wdith` in [video]"],
    );
    assert_set_err(
        &["keyframe[0].width=\"-2\""],
        "--set keyframe[0].width=\"-2\"",
        &["keyframe[0].width = \"-2\" is invalid (expected > 0)"],
    );
    assert_set_err(
        &["keyframe[0].center=[1, \"x\"]"],
        "--set keyframe[0].center=[1, \"x\"]",
        &["keyframe[0].center[1] = \"x\" is invalid"],
    );
    assert_set_err(
        &["video.width"],
        "--set video.width",
        &["expected key=value"],
    );
    assert_set_err(&["=3"], "--set =3", &["expected key=value"]);
    assert_set_err(&["a..b=3"], "--set a..b=3", &["expected key=value"]);
    assert_set_err(
        &["keyframe[x].width=3"],
        "--set keyframe[x].width=3",
        &["expected key=value"],
    );
    assert_set_err(
        &["keyframe[5].width=3"],
        "--set keyframe[5].width=3",
        &["keyframe[5] does not exist"],
    );
    assert_set_err(
        &["video.width.x=3"],
        "--set video.width.x=3",
        &["video.width is not a table"],
    );
    assert_set_err(
        &["video[0]=3"],
        "--set video[0]=3",
        &["video is not an array"],
    );
    // An override of frames replaces the file's seconds (see
    // an_override_of_frames_or_seconds_replaces_the_other); a bad one is named.
    assert_set_err(
        &["video.frames=0"],
        "--set video.frames=0",
        &["video.frames = 0 is invalid"],
    );
}

#[test]
fn file_errors() {
    let e = Scene::load(Path::new("scenes/nope.toml")).unwrap_err();
    assert_eq!(e.file, "scenes/nope.toml");
    assert_eq!(e.line, None);
    assert!(e.message.starts_with("cannot read scene file: "), "{e}");
    assert!(
        e.to_string()
            .starts_with("scenes/nope.toml: cannot read scene file: ")
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bin.toml");
    std::fs::write(&path, b"title = \"a\"\n\xff\xfe\n").unwrap();
    let e = Scene::load(&path).unwrap_err();
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("UTF-8"), "{e}");

    let e = Scene::load(dir.path()).unwrap_err();
    assert!(e.message.starts_with("cannot read scene file: "), "{e}");
}

#[test]
fn garbage_never_panics() {
    let mut inputs: Vec<String> = [
        "", "\0", "=", "[", "]]", "[[", "[[keyframe]", "a = ", "\"", "'''", "\u{feff}",
        "video = 1", "video = []", "keyframe = {}", "keyframe = [1, 2]", "keyframe = [[]]",
        "[video]\nwidth = 1e999", "[video]\nwidth = -0x10", "x = 1979-05-27T07:32:00Z",
        "[[keyframe]]\ncenter = [{}, []]\nwidth = {}", "\u{1F600} = 1", "a.b.c.d.e = 1",
        "[video]\nwidth = 0b101\nheight = 0o777\nframes = +1_0\n[[keyframe]]\nframe = -0\ncenter = [\"+.5e-0\", -1_000.5e+3]\nwidth = \"1e-1000000000\"",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    inputs.push("[".repeat(5000));
    inputs.push(format!("[{}a]\n", "a.".repeat(100_000)));
    inputs.push(format!("{}a = 1\n", "a.".repeat(100_000)));
    inputs.push(format!("a = {}", "[".repeat(5000)));
    inputs.push(format!("a = {}1{}", "[".repeat(200), "]".repeat(200)));
    // Every prefix of a full scene, and the scene with each byte replaced.
    for end in 0..=FULL.len() {
        if let Some(prefix) = FULL.get(..end) {
            inputs.push(prefix.to_string());
        }
    }
    for (i, c) in FULL.char_indices().step_by(3) {
        for replacement in ["\"", "[", "=", "\n", "-", "#", "x"] {
            let mut s = FULL.to_string();
            s.replace_range(i..i + c.len_utf8(), replacement);
            inputs.push(s);
        }
    }
    for input in &inputs {
        let _ = load(input);
    }
    let overrides = [
        "",
        "=",
        "[",
        "a[",
        "a[]=1",
        "a[99999999999999999999999]=1",
        "keyframe=[",
        "keyframe[0]=1",
        "keyframe[0].center[9]=1",
        "video={}",
        "video.width=[[[[",
        "ü=1",
        "keyframe[0].center[0]=\"1e-500\"",
    ];
    let deep = format!("{}a=1", "a.".repeat(100_000));
    let e = set(FULL, &[&deep]).unwrap_err();
    assert!(e.message.contains("more than 16 parts"), "{e}");
    for ov in overrides {
        let _ = set(FULL, &[ov]);
    }
}