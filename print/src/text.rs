//! Line breaking and fit-to-width for mixed Japanese and Latin text.
//!
//! Japanese may break between any two characters except before closing punctuation and small kana
//! or after opening brackets (a simple kinsoku rule); Latin breaks at spaces, and a word wider than
//! the line is split between characters. If a text does not fit on one line it is first split after
//! a label colon (`：` or `: `), so 「救急隊の方へ：」 starts its own line.

use crate::PrintError;
use crate::font::Font;

/// Characters that may not start a line.
const NO_START: &str =
    "、。，．・：；？！）」』】〕〉》ー～ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々…,.:;!?)]}%";
/// Characters that may not end a line.
const NO_END: &str = "（「『【〔〈《([{";

/// Whether `c` is set solid (no spaces between words): CJK ideographs, kana, full-width forms.
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x9FFF | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFFEF | 0x20000..=0x3FFFF)
}

/// Byte offsets where a new line may start (excluding 0 and the end).
fn break_points(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        if let Some(p) = prev {
            let allowed = if p.is_whitespace() {
                !c.is_whitespace()
            } else if c.is_whitespace() {
                false
            } else {
                (is_wide(p) || is_wide(c)) && !NO_START.contains(c) && !NO_END.contains(p)
            };
            if allowed {
                out.push(i);
            }
        }
        prev = Some(c);
    }
    out
}

/// Greedy line breaking of `text` into lines at most `max_mm` wide at `size_pt`.
fn wrap_greedy(font: &Font, text: &str, size_pt: f32, max_mm: f32) -> Vec<String> {
    let fits = |s: &str| font.width_mm(s.trim(), size_pt) <= max_mm;
    let mut lines = Vec::new();
    let mut start = 0;
    let breaks = break_points(text);
    while start < text.len() {
        let rest = &text[start..];
        if fits(rest) {
            lines.push(rest.trim().to_string());
            break;
        }
        // The furthest break point whose line still fits.
        let mut end = None;
        for &b in breaks.iter().filter(|&&b| b > start) {
            if fits(&text[start..b]) {
                end = Some(b);
            } else {
                break;
            }
        }
        let end = end.unwrap_or_else(|| {
            // Nothing fits: split by characters (at least one character per line).
            let mut cut = start;
            for (i, c) in rest.char_indices() {
                let next = start + i + c.len_utf8();
                if cut == start || fits(&text[start..next]) {
                    cut = next;
                } else {
                    break;
                }
            }
            cut
        });
        let line = text[start..end].trim();
        if !line.is_empty() {
            lines.push(line.to_string());
        }
        start = end;
    }
    lines
}

/// Lines of `text` at `size_pt`, at most `max_mm` wide (a single character wider than the line is
/// still put on a line of its own; [`fit`] rejects that case).
pub(crate) fn wrap(font: &Font, text: &str, size_pt: f32, max_mm: f32) -> Vec<String> {
    let text = text.trim();
    if font.width_mm(text, size_pt) <= max_mm {
        return vec![text.to_string()];
    }
    let label_end = text
        .find('：')
        .map(|i| i + '：'.len_utf8())
        .or_else(|| text.find(": ").map(|i| i + 1));
    let greedy = wrap_greedy(font, text, size_pt, max_mm);
    match label_end {
        Some(cut) if cut < text.len() => {
            let mut lines = wrap_greedy(font, &text[..cut], size_pt, max_mm);
            lines.extend(wrap_greedy(font, &text[cut..], size_pt, max_mm));
            // Only if that costs no extra line.
            if lines.len() <= greedy.len() {
                lines
            } else {
                greedy
            }
        }
        _ => greedy,
    }
}

/// A text set at one size, broken into lines.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fitted {
    pub size_pt: f32,
    pub lines: Vec<String>,
}

/// How a text may be set: the preferred size, the smallest acceptable size, and how many lines.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fit {
    pub max_pt: f32,
    pub min_pt: f32,
    pub max_lines: usize,
}

/// Before a text is allowed one more line, it may shrink to this fraction of its preferred size.
const SHRINK_BEFORE_WRAP: f32 = 0.85;

/// Sets `text` in as few lines as it can (up to `fit.max_lines`) no wider than `max_mm`, at the
/// largest size in quarter points from `fit.max_pt` down: down to `SHRINK_BEFORE_WRAP` of it
/// while another line would still be allowed, down to `fit.min_pt` on the last allowed count.
pub(crate) fn fit(
    font: &Font,
    field: &'static str,
    text: &str,
    fit: Fit,
    max_mm: f32,
) -> Result<Fitted, PrintError> {
    for lines_allowed in 1..=fit.max_lines.max(1) {
        let floor = if lines_allowed < fit.max_lines {
            (fit.max_pt * SHRINK_BEFORE_WRAP).max(fit.min_pt)
        } else {
            fit.min_pt
        };
        let mut size = fit.max_pt;
        while size >= floor - 1e-3 {
            let lines = wrap(font, text, size, max_mm);
            if lines.len() <= lines_allowed
                && lines.iter().all(|l| font.width_mm(l, size) <= max_mm)
            {
                return Ok(Fitted {
                    size_pt: size,
                    lines,
                });
            }
            size -= 0.25;
        }
    }
    Err(PrintError::TextTooLong { field })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn font() -> Font {
        Font::load().unwrap()
    }

    #[test]
    fn kinsoku_and_latin_breaks() {
        let b = break_points("このQRコード。");
        let text = "このQRコード。";
        let starts: Vec<&str> = b.iter().map(|&i| &text[i..]).collect();
        // May break before "QR" and inside the katakana, never before "。" or inside "QR".
        assert!(starts.contains(&"QRコード。"));
        assert!(!starts.contains(&"。"));
        assert!(!starts.contains(&"Rコード。"));
        let b = break_points("call 119 now.");
        assert_eq!(b, vec![5, 9]);
    }

    #[test]
    fn wraps_after_the_label_then_greedily() {
        let f = font();
        let text = "救急隊の方へ：このQRコードを読み取ってください。";
        let one = wrap(&f, text, 10.0, 500.0);
        assert_eq!(one, vec![text]);
        // 10 pt is 3.53 mm per full-width character; 40 mm holds 11.
        let lines = wrap(&f, text, 10.0, 40.0);
        assert_eq!(lines[0], "救急隊の方へ：");
        assert_eq!(lines.concat(), text);
        assert!(lines.iter().all(|l| f.width_mm(l, 10.0) <= 40.0));
        assert!(!lines.iter().any(|l| l.starts_with('。')));
        let en = wrap(
            &f,
            "Family and bystanders: if they are unwell, call 119 now.",
            10.0,
            40.0,
        );
        assert_eq!(en[0], "Family and bystanders:");
        assert!(en.iter().all(|l| !l.starts_with(' ') && !l.ends_with(' ')));
        assert_eq!(
            en.join(" "),
            "Family and bystanders: if they are unwell, call 119 now."
        );
    }

    #[test]
    fn fit_shrinks_then_gives_up() {
        let f = font();
        let limits = Fit {
            max_pt: 20.0,
            min_pt: 8.0,
            max_lines: 1,
        };
        // 5 full-width characters at 20 pt are 35.3 mm wide.
        let got = fit(&f, "name", "山田　花子", limits, 40.0).unwrap();
        assert_eq!(got.size_pt, 20.0);
        let got = fit(&f, "name", "山田　花子", limits, 20.0).unwrap();
        assert!(got.size_pt < 20.0 && got.size_pt >= 8.0);
        assert!(f.width_mm(&got.lines[0], got.size_pt) <= 20.0);
        assert!(matches!(
            fit(&f, "name", "山田　花子", limits, 10.0),
            Err(PrintError::TextTooLong { field: "name" })
        ));
    }

    #[test]
    fn fit_prefers_a_slightly_smaller_single_line_to_wrapping() {
        let f = font();
        let text = "救急隊の方へ：このQRコードを読み取ってください。";
        let limits = Fit {
            max_pt: 20.0,
            min_pt: 8.0,
            max_lines: 2,
        };
        let full = f.width_mm(text, 20.0);
        // 5 % too narrow for 20 pt: one line at a smaller size.
        let got = fit(&f, "t", text, limits, full * 0.95).unwrap();
        assert_eq!(got.lines.len(), 1);
        assert!(got.size_pt < 20.0 && got.size_pt >= 17.0);
        // Half as wide: two lines at the full size.
        let got = fit(&f, "t", text, limits, full * 0.6).unwrap();
        assert_eq!(got.lines.len(), 2);
        assert_eq!(got.size_pt, 20.0);
    }
}
