//! Colours as the resident pages use them: a council's brand colour, and whether white
//! text on it is readable (the contrast ratio of WCAG 2.2, success criterion 1.4.3).

use std::fmt;

/// The contrast WCAG 2.2 AA asks of normal-size text against its background.
pub const AA_TEXT_CONTRAST: f64 = 4.5;

/// A colour of the sRGB space, 8 bits a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb {
    /// Red, green and blue.
    pub channels: [u8; 3],
}

/// Text that is not a colour written `#rrggbb`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a colour: write it as # and six hexadecimal digits, e.g. #1d4f91")]
pub struct NotAColour(pub String);

impl Rgb {
    /// Reads `#rrggbb` (either case, spaces around it ignored).
    pub fn parse(text: &str) -> Result<Self, NotAColour> {
        let refuse = || NotAColour(text.to_owned());
        let digits = text.trim().strip_prefix('#').ok_or_else(refuse)?;
        if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(refuse());
        }
        let channel = |i: usize| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| refuse());
        Ok(Self {
            channels: [channel(0)?, channel(2)?, channel(4)?],
        })
    }

    /// Relative luminance, from 0 (black) to 1 (white), as WCAG defines it.
    pub fn luminance(self) -> f64 {
        let linear = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let [r, g, b] = self.channels.map(linear);
        0.2126 * r + 0.7152 * g + 0.0722 * b
    }

    /// The contrast ratio of white on this colour, from 1 (white on white) to 21.
    pub fn contrast_with_white(self) -> f64 {
        1.05 / (self.luminance() + 0.05)
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b] = self.channels;
        write!(f, "#{r:02x}{g:02x}{b:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_ratios_match_the_wcag_definition() {
        let black = Rgb::parse("#000000").unwrap();
        assert!((black.contrast_with_white() - 21.0).abs() < 1e-9);
        let white = Rgb::parse("#FFFFFF").unwrap();
        assert!((white.contrast_with_white() - 1.0).abs() < 1e-9);
        // #767676 is the lightest grey that passes AA on white (4.54:1).
        let grey = Rgb::parse("#767676").unwrap().contrast_with_white();
        assert!((4.5..4.6).contains(&grey), "{grey}");
        let lighter = Rgb::parse("#777777").unwrap().contrast_with_white();
        assert!(lighter < AA_TEXT_CONTRAST, "{lighter}");
    }

    #[test]
    fn colours_are_read_as_hash_and_six_digits_and_written_in_lower_case() {
        assert_eq!(Rgb::parse(" #1D4F91 ").unwrap().to_string(), "#1d4f91");
        for bad in ["1d4f91", "#1d4f9", "#1d4f9g", "#1d4f911", "blue", "#+1d4f9"] {
            assert!(Rgb::parse(bad).is_err(), "{bad}");
        }
    }
}
