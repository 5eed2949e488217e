//! Re-confirmation reminder letters (issue 26): one A4 page per resident, addressed to them, asking
//! them to check that their emergency information is still true — in the portal ("nothing has
//! changed" is one tap) or at the city's desk. Japanese first, English below. **Nothing medical
//! is printed**: only the name and address on the envelope side, the dates, and the instructions.
//! Like the disclosure, a letter never fails on what a resident typed (〓 for a missing glyph).

use crate::PrintError;
use crate::disclosure::{WIDTH_MM, clean};
use crate::font::{Font, MM_PER_PT};
use crate::layout::{Ink, Item};
use crate::text::wrap;

/// Most letters in one PDF.
pub const MAX_LETTERS: usize = 5_000;

/// One resident's letter. Strings are printed as given (dates already formatted, Japan time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReminderLetter {
    /// 「山田 花子」.
    pub name: String,
    pub address: String,
    pub district: Option<String>,
    /// When the record was last confirmed, e.g. "2025-12-01".
    pub last_confirmed: String,
    /// When re-confirmation fell due, e.g. "2026-12-01".
    pub due_on: String,
}

/// The letters of one mailing and what they share.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReminderLetters {
    pub municipality_ja: String,
    pub municipality_en: String,
    /// The letters' date, e.g. "2026-12-07".
    pub dated: String,
    /// Where the portal is, e.g. "https://qq.city.joso.lg.jp/pages/resident".
    pub portal_url: String,
    pub letters: Vec<ReminderLetter>,
}

const MARGIN_X: f32 = 20.0;

struct Sheet<'f> {
    font: &'f Font,
    items: Vec<Item>,
    y: f32,
}

impl Sheet<'_> {
    fn line(&mut self, text: &str, size_pt: f32, gap_after: f32) {
        let text = clean(self.font, text);
        let h = (self.font.ascent + self.font.descent + 0.35) * size_pt * MM_PER_PT;
        for line in wrap(self.font, &text, size_pt, WIDTH_MM - 2.0 * MARGIN_X) {
            self.items.push(Item::Text {
                x: MARGIN_X,
                baseline: self.y + self.font.ascent * size_pt * MM_PER_PT,
                size_pt,
                text: line,
                ink: Ink::Black,
            });
            self.y += h;
        }
        self.y += gap_after;
    }

    fn right(&mut self, text: &str, size_pt: f32) {
        let text = clean(self.font, text);
        let w = self.font.width_mm(&text, size_pt);
        self.items.push(Item::Text {
            x: (WIDTH_MM - MARGIN_X - w).max(MARGIN_X),
            baseline: self.y + self.font.ascent * size_pt * MM_PER_PT,
            size_pt,
            text,
            ink: Ink::Black,
        });
        self.y += (self.font.ascent + self.font.descent + 0.35) * size_pt * MM_PER_PT;
    }

    fn rule(&mut self) {
        self.items.push(Item::Rect {
            x: MARGIN_X,
            y: self.y,
            w: WIDTH_MM - 2.0 * MARGIN_X,
            h: 0.4,
            ink: Ink::Black,
        });
        self.y += 3.0;
    }
}

/// One letter's page.
pub(crate) fn page(font: &Font, all: &ReminderLetters, l: &ReminderLetter) -> Vec<Item> {
    let mut s = Sheet {
        font,
        items: Vec::new(),
        y: 20.0,
    };
    // The addressee block (fits a window envelope's left-hand window).
    s.line(l.address.trim(), 11.0, 1.0);
    if let Some(d) = l.district.as_deref().filter(|d| !d.trim().is_empty()) {
        s.line(&format!("（{}地区）", d.trim()), 9.0, 1.0);
    }
    s.line(&format!("{}　様", l.name.trim()), 16.0, 8.0);
    s.right(all.dated.trim(), 10.0);
    s.right(
        &format!(
            "{}　{}",
            all.municipality_ja.trim(),
            all.municipality_en.trim()
        ),
        10.0,
    );
    s.y += 8.0;
    s.line("救急医療情報キット　登録内容のご確認のお願い", 16.0, 1.0);
    s.line(
        "Emergency information kit: please check your registered information",
        11.0,
        2.0,
    );
    s.rule();
    s.line(
        "救急医療情報キットにご登録いただき、ありがとうございます。救急隊がカードを読み取ったときに正しい情報が見られるよう、年に一度、登録内容（お薬・持病・アレルギー・緊急連絡先など）に変わりがないかご確認をお願いしています。",
        11.0,
        3.0,
    );
    s.line(
        &format!("最後に確認された日：{}", l.last_confirmed.trim()),
        12.0,
        0.5,
    );
    s.line(
        &format!("確認をお願いする日：{}", l.due_on.trim()),
        12.0,
        4.0,
    );
    s.line("■ 変わりがないとき", 12.0, 0.5);
    s.line(
        &format!(
            "ホームページ（{}）にログインし、「変わりありません」を押してください。ご家族（代理人）の方が押すこともできます。",
            all.portal_url.trim()
        ),
        11.0,
        3.0,
    );
    s.line("■ 変わったことがあるとき", 12.0, 0.5);
    s.line(
        "ホームページで直すか、このお手紙を持って市の担当窓口へお越しください。",
        11.0,
        6.0,
    );
    s.rule();
    s.line(
        &format!(
            "Thank you for taking part. Once a year we ask you to check that your emergency information (medications, conditions, allergies, emergency contacts) is still right. Last confirmed: {}. Due: {}.",
            l.last_confirmed.trim(),
            l.due_on.trim()
        ),
        9.5,
        2.0,
    );
    s.line(
        &format!(
            "If nothing has changed, log in at {} and press \"Nothing has changed\" (a family member acting for you can do it too). If something has changed, correct it there or bring this letter to the city's desk.",
            all.portal_url.trim()
        ),
        9.5,
        2.0,
    );
    // Footer.
    s.y = s.y.max(270.0);
    s.line(
        "このお手紙には医療の情報は書かれていません。 / This letter contains no medical information.",
        8.0,
        0.0,
    );
    s.items
}

/// Every letter, a page each, in the order given.
pub(crate) fn layout(font: &Font, all: &ReminderLetters) -> Result<Vec<Vec<Item>>, PrintError> {
    if all.letters.is_empty() || all.letters.len() > MAX_LETTERS {
        return Err(PrintError::TextTooLong { field: "letters" });
    }
    Ok(all.letters.iter().map(|l| page(font, all, l)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disclosure::HEIGHT_MM;

    #[test]
    fn one_page_per_letter_inside_the_page_with_the_name_and_no_more() {
        let font = Font::load().unwrap();
        let all = ReminderLetters {
            municipality_ja: "常総市".into(),
            municipality_en: "Joso City".into(),
            dated: "2026-12-07".into(),
            portal_url: "https://qq.city.joso.lg.jp/pages/resident".into(),
            letters: vec![
                ReminderLetter {
                    name: "山田 花子".into(),
                    address: "茨城県常総市水海道諏訪町3222-3".into(),
                    district: Some("水海道".into()),
                    last_confirmed: "2025-12-01".into(),
                    due_on: "2026-12-01".into(),
                },
                ReminderLetter {
                    name: "鈴木 一郎".into(),
                    address: "茨城県常総市新石下".repeat(8),
                    district: None,
                    last_confirmed: "2025-11-30".into(),
                    due_on: "2026-11-30".into(),
                },
            ],
        };
        let pages = layout(&font, &all).unwrap();
        assert_eq!(pages.len(), 2);
        for page in &pages {
            for item in page {
                if let Item::Text {
                    x,
                    baseline,
                    size_pt,
                    text,
                    ..
                } = item
                {
                    assert!(*baseline <= HEIGHT_MM - 10.0, "{text}");
                    assert!(
                        x + font.width_mm(text, *size_pt) <= WIDTH_MM - MARGIN_X + 0.01,
                        "{text}"
                    );
                }
            }
        }
        let first: String = pages[0]
            .iter()
            .filter_map(|i| match i {
                Item::Text { text, .. } => Some(text.as_str()),
                Item::Rect { .. } => None,
            })
            .collect();
        assert!(first.contains("山田 花子　様") && first.contains("2026-12-01"));
        assert!(!first.contains("鈴木"));
        assert!(
            layout(
                &font,
                &ReminderLetters {
                    letters: vec![],
                    ..all
                }
            )
            .is_err()
        );
    }
}
