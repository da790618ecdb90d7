//! QR codes for the join link printed on invitation letters.
//!
//! A resident who receives a letter can scan its QR code instead of typing the web address
//! and the invitation code. [`encode`] turns the link into a module matrix at error
//! correction level M (about 15 % of the symbol can be smudged or torn and still read),
//! which suits paper that is folded, posted and handled. [`to_svg`] and [`to_png`] draw
//! the matrix with the four-module light border (quiet zone) that scanners need.
//!
//! Both renderers are written here from the matrix, so the QR library needs none of its
//! optional image features and the dependency tree stays small. Neither output carries
//! metadata (no title, description or text chunk): the link is already in the symbol, and
//! copying it into readable metadata would only spread the invitation code further.

use std::fmt::Write as _;

use fast_qr::{ECL, QRBuilder};

/// Width in modules of the light border drawn on each side of the symbol.
pub const QUIET_ZONE: usize = 4;

/// Largest module size [`to_png`] draws, in pixels: far more than a printed letter needs.
pub const MAX_PNG_MODULE_PX: u32 = 64;

/// Why a QR code could not be made or drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// The text does not fit in the largest QR code (version 40) at level M.
    #[error("text of {len} bytes is too long for a QR code at error correction level M")]
    TooLong {
        /// Length of the text in bytes (UTF-8).
        len: usize,
    },
    /// The PNG could not be written, or the module size is outside 1 to 64 pixels.
    #[error("cannot write the QR code as PNG: {0}")]
    Png(String),
}

/// The modules of a QR code symbol, without the quiet zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrMatrix {
    /// Modules per side.
    width: usize,
    /// `width * width` flags, row by row from the top left; `true` is dark.
    dark: Vec<bool>,
}

/// Encodes `text` (usually the join link) as a QR code at error correction level M,
/// choosing the smallest version that holds it.
pub fn encode(text: &str) -> Result<QrMatrix, QrError> {
    // With the version chosen automatically, the only way encoding fails is that no
    // version up to 40 holds the data, so every error from the library means "too long".
    let mut builder = QRBuilder::new(text.as_bytes());
    builder.ecl(ECL::M);
    let code = builder
        .build()
        .map_err(|_| QrError::TooLong { len: text.len() })?;
    let width = code.size;
    let dark = code.data[..width * width]
        .iter()
        .map(|module| module.value())
        .collect();
    Ok(QrMatrix { width, dark })
}

impl QrMatrix {
    /// Modules per side, without the quiet zone (21 for version 1, 177 for version 40).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether the module in column `x` and row `y`, counted from the top left, is dark.
    /// Positions outside the symbol are light, like the quiet zone around it.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }

    /// Whether a module is dark, with coordinates that include the quiet zone.
    fn is_dark_with_border(&self, x: usize, y: usize) -> bool {
        match (x.checked_sub(QUIET_ZONE), y.checked_sub(QUIET_ZONE)) {
            (Some(x), Some(y)) => self.is_dark(x, y),
            _ => false,
        }
    }

    /// Modules per side including the quiet zone on both sides.
    fn bordered_width(&self) -> usize {
        self.width + 2 * QUIET_ZONE
    }
}

/// Draws the matrix as an SVG image with `module_px` pixels per module (0 counts as 1).
///
/// The view box is in modules, quiet zone included; `width` and `height` give the pixel
/// size. Dark modules are one black `<path>` of rectangles, one per horizontal run of dark
/// modules in a row, on a white background; `shape-rendering="crispEdges"` stops
/// anti-aliasing from blurring the gaps between modules.
pub fn to_svg(matrix: &QrMatrix, module_px: u32) -> String {
    let side = matrix.bordered_width();
    let px = side as u64 * u64::from(module_px.max(1));
    let mut path = String::new();
    for y in 0..matrix.width {
        let mut x = 0;
        while x < matrix.width {
            if !matrix.is_dark(x, y) {
                x += 1;
                continue;
            }
            let run = (x..matrix.width)
                .take_while(|&end| matrix.is_dark(end, y))
                .count();
            // Writing to a String cannot fail, so the fmt::Result carries no information.
            let _ = write!(
                path,
                "M{} {}h{run}v1h-{run}z",
                x + QUIET_ZONE,
                y + QUIET_ZONE
            );
            x += run;
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" \
         width=\"{px}\" height=\"{px}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>"
    )
}

/// Draws the matrix as a 1-bit greyscale PNG with `module_px` pixels per module
/// (1 to [`MAX_PNG_MODULE_PX`]), quiet zone included: `(width + 8) * module_px` pixels
/// per side.
pub fn to_png(matrix: &QrMatrix, module_px: u32) -> Result<Vec<u8>, QrError> {
    if !(1..=MAX_PNG_MODULE_PX).contains(&module_px) {
        return Err(QrError::Png(format!(
            "module size {module_px} px is not from 1 to {MAX_PNG_MODULE_PX} px"
        )));
    }
    let scale = module_px as usize;
    let side_px = matrix.bordered_width() * scale;
    let row_bytes = side_px.div_ceil(8);
    let mut pixels = Vec::with_capacity(row_bytes * side_px);
    for y in 0..matrix.bordered_width() {
        // In 1-bit greyscale a set bit is white; start white and clear the dark pixels.
        let mut row = vec![0xFF_u8; row_bytes];
        for x in (0..matrix.bordered_width()).filter(|&x| matrix.is_dark_with_border(x, y)) {
            for px in x * scale..(x + 1) * scale {
                row[px / 8] &= !(0x80 >> (px % 8));
            }
        }
        for _ in 0..scale {
            pixels.extend_from_slice(&row);
        }
    }

    let png_error = |error: png::EncodingError| QrError::Png(error.to_string());
    let side = u32::try_from(side_px).map_err(|error| QrError::Png(error.to_string()))?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    // Each module row repeats `module_px` times, so filtering by the row above leaves
    // mostly zeros, which the fast deflate packs as well as a slow one would.
    encoder.set_filter(png::Filter::Up);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(png_error)?;
    writer.write_image_data(&pixels).map_err(png_error)?;
    writer.finish().map_err(png_error)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    const JOIN_LINK: &str = "https://panel.example.gov.uk/join?code=7K3M9-QXW25";

    const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n'];

    fn dark_modules(matrix: &QrMatrix) -> usize {
        let w = matrix.width();
        (0..w)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .filter(|&(x, y)| matrix.is_dark(x, y))
            .count()
    }

    /// Decodes a PNG to (side, one byte per pixel: 0 black, 255 white).
    fn decode_png(bytes: &[u8]) -> (u32, Vec<u8>) {
        let mut decoder = png::Decoder::new(Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut buffer).unwrap();
        assert_eq!(frame.width, frame.height);
        assert_eq!(
            (frame.color_type, frame.bit_depth),
            (png::ColorType::Grayscale, png::BitDepth::Eight)
        );
        buffer.truncate(frame.buffer_size());
        (frame.width, buffer)
    }

    /// The `(x, y, run)` rectangles of the SVG path, in modules including the quiet zone.
    fn svg_runs(svg: &str) -> Vec<(usize, usize, usize)> {
        let start = svg.find(" d=\"").unwrap() + 4;
        let end = start + svg[start..].find('"').unwrap();
        let number = |text: &str| text.parse::<usize>().unwrap();
        svg[start..end]
            .split('M')
            .skip(1)
            .map(|rect| {
                let rest = rect.strip_suffix('z').unwrap();
                let (x, rest) = rest.split_once(' ').unwrap();
                let (y, rest) = rest.split_once('h').unwrap();
                let (run, back) = rest.split_once("v1h-").unwrap();
                assert_eq!(run, back, "each rectangle returns to its start");
                (number(x), number(y), number(run))
            })
            .collect()
    }

    #[test]
    fn a_join_link_encodes_as_a_version_4_symbol_with_finder_patterns_in_three_corners() {
        let matrix = encode(JOIN_LINK).unwrap();
        // The 50-byte link does not fit version 3 at level M (42 bytes), so it is version 4.
        assert_eq!(matrix.width(), 33);
        let last = matrix.width() - 1;
        for (x, y) in [
            (0, 0),
            (6, 6),
            (last, 0),
            (last - 6, 6),
            (0, last),
            (6, last - 6),
        ] {
            assert!(matrix.is_dark(x, y), "finder corner ({x}, {y}) is dark");
        }
        // The ring inside each finder pattern is light, and so is the separator beside it.
        assert!(!matrix.is_dark(1, 1));
        assert!(!matrix.is_dark(7, 0));
        assert!(matrix.is_dark(3, 3), "finder centre is dark");
        assert!(
            !matrix.is_dark(matrix.width(), 0),
            "outside the symbol is light"
        );
    }

    #[test]
    fn the_png_scans_back_to_the_link() {
        let matrix = encode(JOIN_LINK).unwrap();
        let (side, pixels) = decode_png(&to_png(&matrix, 8).unwrap());
        let side = side as usize;
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| pixels[y * side + x]);
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, text) = grids[0].decode().unwrap();
        assert_eq!(text, JOIN_LINK);
    }

    #[test]
    fn the_same_text_always_gives_the_same_matrix() {
        assert_eq!(encode(JOIN_LINK).unwrap(), encode(JOIN_LINK).unwrap());
        assert_ne!(
            encode(JOIN_LINK).unwrap(),
            encode("https://panel.example.gov.uk/join?code=7K3M9-QXW26").unwrap()
        );
    }

    #[test]
    fn text_too_long_for_any_qr_code_is_rejected_with_its_length() {
        let text = "x".repeat(5_000);
        assert_eq!(encode(&text), Err(QrError::TooLong { len: 5_000 }));
        assert_eq!(
            encode(&text).unwrap_err().to_string(),
            "text of 5000 bytes is too long for a QR code at error correction level M"
        );
    }

    #[test]
    fn the_png_has_a_quiet_zone_and_dark_pixels_exactly_on_dark_modules() {
        let matrix = encode(JOIN_LINK).unwrap();
        let module_px = 3;
        let bytes = to_png(&matrix, module_px).unwrap();
        assert_eq!(bytes[..8], PNG_SIGNATURE);
        let (side, pixels) = decode_png(&bytes);
        assert_eq!(side, (33 + 8) * 3);
        let side = side as usize;
        let scale = module_px as usize;
        for py in 0..side {
            for px in 0..side {
                let (x, y) = ((px / scale) as isize - 4, (py / scale) as isize - 4);
                let inside = x >= 0 && y >= 0;
                let dark = inside && matrix.is_dark(x as usize, y as usize);
                let expected = if dark { 0 } else { 255 };
                assert_eq!(pixels[py * side + px], expected, "pixel ({px}, {py})");
            }
        }
        let dark_pixels = pixels.iter().filter(|&&p| p == 0).count();
        assert_eq!(dark_pixels, dark_modules(&matrix) * scale * scale);
        // The finder corners, e.g. module (0, 0) at pixels 12..15 after the 4-module border.
        assert_eq!(pixels[12 * side + 12], 0);
        assert_eq!(pixels[11 * side + 11], 255);
        assert_eq!(pixels[12 * side + (4 + 32) * 3 + 2], 0);
        assert_eq!(pixels[((4 + 32) * 3 + 2) * side + 12], 0);
    }

    #[test]
    fn a_png_module_size_outside_one_to_sixty_four_pixels_is_rejected() {
        let matrix = encode(JOIN_LINK).unwrap();
        assert!(matches!(to_png(&matrix, 0), Err(QrError::Png(_))));
        assert!(matches!(to_png(&matrix, 65), Err(QrError::Png(_))));
        assert!(to_png(&matrix, 64).is_ok());
    }

    #[test]
    fn the_svg_has_the_bordered_view_box_and_pixel_size() {
        let matrix = encode(JOIN_LINK).unwrap();
        let svg = to_svg(&matrix, 10);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains(" viewBox=\"0 0 41 41\" width=\"410\" height=\"410\" "));
        assert!(svg.contains("shape-rendering=\"crispEdges\""));
        assert!(
            !svg.contains("7K3M9"),
            "the code is not copied into the markup"
        );
        assert!(!svg.contains("<title"));
    }

    #[test]
    fn the_svg_path_covers_exactly_the_dark_modules_with_merged_runs() {
        let matrix = encode(JOIN_LINK).unwrap();
        let runs = svg_runs(&to_svg(&matrix, 4));
        let covered: usize = runs.iter().map(|&(_, _, run)| run).sum();
        assert_eq!(covered, dark_modules(&matrix));
        assert!(
            runs.len() < covered,
            "neighbouring dark modules share one rectangle"
        );
        let mut seen = vec![false; matrix.width() * matrix.width()];
        for (x, y, run) in runs {
            // Runs are maximal: the modules just before and after each run are light.
            assert!(!matrix.is_dark_with_border(x - 1, y));
            assert!(!matrix.is_dark_with_border(x + run, y));
            for x in x..x + run {
                assert!(
                    matrix.is_dark_with_border(x, y),
                    "module ({x}, {y}) is dark"
                );
                seen[(y - QUIET_ZONE) * matrix.width() + x - QUIET_ZONE] = true;
            }
        }
        assert_eq!(seen, matrix.dark);
    }
}
