//! The built-in palettes a scene may name (`[color] palette = "fire"`): cyclic gradients of
//! sRGB stops, the last blending back into the first, chosen to read well over many cycles
//! (the darkest and brightest stops apart, no stop repeated next to itself).

use super::Rgb8;

/// `(name, stops)` of every built-in palette, in the order the docs list them.
pub const NAMED_PALETTES: [(&str, &[Rgb8]); 7] = [
    // Deep blue, white and gold: the palette of a scene that does not choose.
    ("classic", &CLASSIC),
    ("fire", &[rgb(0x14, 0x00, 0x00), rgb(0x7a, 0x10, 0x00), rgb(0xe0, 0x40, 0x00), rgb(0xff, 0xa0, 0x20), rgb(0xff, 0xf0, 0xa0), rgb(0x9a, 0x20, 0x04)]),
    ("ice", &[rgb(0x00, 0x08, 0x1e), rgb(0x0a, 0x3c, 0x78), rgb(0x50, 0xa0, 0xdc), rgb(0xe6, 0xf8, 0xff), rgb(0x3c, 0x78, 0xb4)]),
    ("sunset", &[rgb(0x1a, 0x05, 0x33), rgb(0x6b, 0x1f, 0x5c), rgb(0xd1, 0x49, 0x5b), rgb(0xf7, 0x9d, 0x5c), rgb(0xfd, 0xe6, 0xa8), rgb(0x3b, 0x6f, 0x8f)]),
    ("forest", &[rgb(0x0b, 0x1d, 0x0e), rgb(0x2f, 0x5d, 0x34), rgb(0x8f, 0xbf, 0x6a), rgb(0xf2, 0xe8, 0xb5), rgb(0x6b, 0x4f, 0x2a)]),
    ("neon", &[rgb(0x0d, 0x02, 0x21), rgb(0x7b, 0x2f, 0xf7), rgb(0xf1, 0x07, 0xa3), rgb(0xff, 0xd6, 0x0a), rgb(0x00, 0xf5, 0xd4)]),
    ("mono", &[rgb(0x10, 0x10, 0x10), rgb(0xf0, 0xf0, 0xf0)]),
];

/// The `classic` palette, the default.
pub(super) const CLASSIC: [Rgb8; 5] = [
    rgb(0x00, 0x07, 0x64),
    rgb(0x20, 0x6b, 0xcb),
    rgb(0xed, 0xff, 0xff),
    rgb(0xff, 0xaa, 0x00),
    rgb(0x00, 0x02, 0x00),
];

const fn rgb(r: u8, g: u8, b: u8) -> Rgb8 {
    Rgb8([r, g, b])
}

/// The stops of the built-in palette `name`.
pub fn named_palette(name: &str) -> Option<&'static [Rgb8]> {
    NAMED_PALETTES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, stops)| stops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_palettes_have_distinct_neighbours() {
        for (i, (name, stops)) in NAMED_PALETTES.iter().enumerate() {
            assert!(stops.len() >= 2, "{name}");
            assert_eq!(named_palette(name), Some(*stops));
            assert!(NAMED_PALETTES[..i].iter().all(|(n, _)| n != name), "{name} twice");
            for (k, stop) in stops.iter().enumerate() {
                assert_ne!(*stop, stops[(k + 1) % stops.len()], "{name}: stop {k}");
            }
        }
        assert_eq!(named_palette("classic"), Some(&CLASSIC[..]));
        assert_eq!(named_palette("Fire"), None);
    }
}
