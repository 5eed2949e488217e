//! The server's codes as people read them, in Japanese and English (issue 19: no raw code in a
//! person's view). For what the server itself prints for people (the disclosure PDF); the pages
//! have their own words (server/assets). The API and FHIR keep the codes.

use crate::domain::{
    AllergySeverity, CapacityCategory, CapacityStatus, Category, DeclineReason, DeviceKind,
    DirectiveStatus, Purpose, Role,
};

/// A pair of words: (Japanese, English).
pub type Words = (&'static str, &'static str);

/// `ja / en`.
pub fn both((ja, en): Words) -> String {
    format!("{ja} / {en}")
}

/// Words as the API sends them beside a code, so a client never shows the raw code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Label {
    pub ja: String,
    pub en: String,
}

impl From<Words> for Label {
    fn from((ja, en): Words) -> Self {
        Label {
            ja: ja.into(),
            en: en.into(),
        }
    }
}

/// A code with its words (the lists clients offer: decline reasons, capacity).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Coded {
    pub code: String,
    pub ja: String,
    pub en: String,
}

impl Coded {
    pub fn of(code: &str, (ja, en): Words) -> Self {
        Coded {
            code: code.into(),
            ja: ja.into(),
            en: en.into(),
        }
    }
}

/// Why a hospital declined (the FDMA survey's categories of 搬送困難事案).
pub fn decline_reason(r: DeclineReason) -> Words {
    match r {
        DeclineReason::TreatmentDifficult => ("処置困難", "cannot provide the treatment"),
        DeclineReason::Busy => ("手術中・患者対応中", "in surgery or with other patients"),
        DeclineReason::BedsFull => ("ベッド満床", "no bed available"),
        DeclineReason::OutsideSpecialty => ("専門外", "outside our specialty"),
        DeclineReason::NoPhysician => ("医師不在", "no physician available"),
        DeclineReason::FirstVisit => (
            "初診（かかりつけ医なし）",
            "first visit (not a patient of this hospital)",
        ),
        DeclineReason::Other => ("その他", "other reason"),
    }
}

/// A capacity category (応需情報).
pub fn capacity_category(c: CapacityCategory) -> Words {
    match c {
        CapacityCategory::Stroke => ("脳卒中", "stroke"),
        CapacityCategory::Cardiac => ("心疾患（循環器）", "cardiac"),
        CapacityCategory::Trauma => ("外傷", "trauma"),
        CapacityCategory::Paediatric => ("小児", "paediatric"),
        CapacityCategory::Obstetric => ("産科", "obstetric"),
        CapacityCategory::Burns => ("熱傷", "burns"),
        CapacityCategory::Psychiatric => ("精神科", "psychiatric"),
        CapacityCategory::General => ("一般（内科・外科）", "general (medical, surgical)"),
    }
}

pub fn capacity_status(s: CapacityStatus) -> Words {
    match s {
        CapacityStatus::Available => ("受入可", "can accept"),
        CapacityStatus::Limited => ("条件付きで受入可", "can accept with limits"),
        CapacityStatus::Unavailable => ("受入不可", "cannot accept"),
    }
}

pub fn category(c: Category) -> Words {
    match c {
        Category::Medications => ("服薬", "Medications"),
        Category::Conditions => ("病名・既往", "Conditions"),
        Category::Allergies => ("アレルギー", "Allergies"),
        Category::Devices => ("医療機器", "Implanted devices"),
        Category::BloodType => ("血液型", "Blood type"),
        Category::AdvanceDirective => ("事前指示", "Advance directive"),
        Category::CareTeam => ("かかりつけ", "Care team"),
        Category::EmergencyContacts => ("緊急連絡先", "Emergency contacts"),
        Category::Photo => ("本人確認用の写真", "Photo for identity check"),
    }
}

pub fn severity(s: AllergySeverity) -> Words {
    match s {
        AllergySeverity::Mild => ("軽い", "mild"),
        AllergySeverity::Moderate => ("中等度", "moderate"),
        AllergySeverity::Severe => ("重い", "severe"),
        AllergySeverity::Anaphylaxis => (
            "アナフィラキシー（命に関わる）",
            "anaphylaxis (life-threatening)",
        ),
    }
}

pub fn device_kind(k: DeviceKind) -> Words {
    match k {
        DeviceKind::Pacemaker => ("ペースメーカー", "pacemaker"),
        DeviceKind::Icd => ("植込み型除細動器（ICD）", "implantable defibrillator (ICD)"),
        DeviceKind::InsulinPump => ("インスリンポンプ", "insulin pump"),
        DeviceKind::Shunt => ("シャント", "shunt"),
        DeviceKind::Stent => ("ステント", "stent"),
        DeviceKind::JointReplacement => ("人工関節", "joint replacement"),
        DeviceKind::Other => ("その他の機器", "other device"),
    }
}

pub fn directive(d: DirectiveStatus) -> Words {
    match d {
        DirectiveStatus::None => ("意思表示なし", "no directive"),
        DirectiveStatus::Acp => ("ACP（人生会議）の記録あり", "advance care planning on file"),
        DirectiveStatus::Dnar => ("DNAR", "DNAR"),
    }
}

pub fn role(r: Role) -> Words {
    match r {
        Role::Resident => ("本人", "the resident"),
        Role::Proxy => ("代理人", "proxy"),
        Role::Paramedic => ("救急隊員", "paramedic"),
        Role::EdStaff => ("病院救急外来", "hospital emergency department"),
        Role::FacilityManager => ("施設管理者", "facility manager"),
        Role::CityAdmin => ("市の管理者", "city administrator"),
        Role::DisasterResponder => ("災害対応者", "disaster responder"),
    }
}

pub fn purpose(p: Purpose) -> Words {
    match p {
        Purpose::Scan => ("カードの読み取り", "card scan"),
        Purpose::BreakGlass => ("緊急検索（カードなし）", "emergency search (no card)"),
        Purpose::Reread => ("再表示", "viewed again"),
        Purpose::Incident => (
            "救急搬送（病院への事前連絡）",
            "ambulance transport (notice to the hospital)",
        ),
        Purpose::Escalation => ("病院への再通知", "hospital re-notified"),
        Purpose::Disaster => ("災害時の利用", "disaster use"),
        Purpose::DisclosureRequest => ("本人からの開示請求", "your disclosure request"),
        Purpose::Handover => (
            "搬送先病院への引き継ぎ",
            "hand-over to the receiving hospital",
        ),
        Purpose::Registration => ("登録の確認", "registration check"),
        Purpose::Photo => ("本人確認用の写真", "photo for identity check"),
    }
}

/// An audit action (`audit::Action::as_str`) in words; actions that never concern a resident
/// read as "an operation".
pub fn action(a: &str) -> Words {
    match a {
        "login.ok" => ("ログイン", "logged in"),
        "login.failed" => ("ログイン失敗", "failed login"),
        "resident.register" => ("本人による登録", "registered"),
        "proxy.register" => ("代理人による登録", "proxy registered"),
        "proxy.invite" => ("代理人の招待", "proxy invited"),
        "proxy.invite_cancel" => ("代理人の招待の取り消し", "proxy invitation cancelled"),
        "proxy.accept" => ("代理人の招待の受諾", "proxy invitation accepted"),
        "proxy.remove" => ("代理人の解除", "proxy removed"),
        "family.notify" => ("ご家族・代理人への通知", "family (proxies) notified"),
        "household.create" => ("玄関ステッカー（世帯）の作成", "household sticker created"),
        "household.join" => (
            "世帯への登録（玄関ステッカー）",
            "listed on a household sticker",
        ),
        "household.leave" => (
            "世帯からの削除（玄関ステッカー）",
            "left a household sticker",
        ),
        "household.revoke" => ("玄関ステッカーの失効", "household sticker revoked"),
        "record.household" => (
            "救急隊が玄関ステッカーで世帯の一覧を表示",
            "paramedics listed the household (door sticker)",
        ),
        "resident.update" => ("本人情報の更新", "profile changed"),
        "dataset.write" => ("救急医療情報の更新", "emergency information changed"),
        "consent.grant" => ("同意", "consent recorded"),
        "consent.withdraw" => ("支援中止", "withdrew (支援中止)"),
        "card.issue" => ("カード発行", "card issued"),
        "card.revoke" => ("カード失効", "card revoked"),
        "card.reissue" => ("カード再発行", "card reissued"),
        "resident.purge" => ("情報の削除", "information deleted"),
        "resident.import" => (
            "紙の救急医療情報キットから市が登録",
            "registered by the city from the paper kit",
        ),
        "resident.reconfirm" => (
            "登録内容に変わりがないことの確認",
            "confirmed nothing has changed",
        ),
        "reconfirm.letter" => (
            "市からの確認のお願い（郵送）",
            "reminder letter printed by the city",
        ),
        "reconfirm.remind" => ("確認のお願いの通知", "reminder sent to your browsers"),
        "record.scan" => ("救急隊による閲覧（カード）", "viewed by paramedics (card)"),
        "record.break_glass" => ("救急隊による緊急検索", "emergency search by paramedics"),
        "record.federated_scan" => (
            "他の地域の救急隊による閲覧（カード）",
            "viewed by paramedics of another region (card)",
        ),
        "record.read" => ("救急隊による再閲覧", "viewed again by paramedics"),
        "record.photo" => (
            "救急隊による本人確認用の写真の表示",
            "paramedics viewed the photo for identity check",
        ),
        "photo.write" => (
            "本人確認用の写真の登録・削除",
            "photo for identity check added or deleted",
        ),
        "break_glass.review" => ("緊急検索の審査", "emergency search reviewed"),
        "disaster.list" => ("災害時名簿への掲載", "listed during a declared disaster"),
        "disaster.read" => ("災害時の閲覧", "viewed during a declared disaster"),
        "resident.disclosure" => ("開示請求", "disclosure request"),
        "device.request" => ("端末からの要求", "request from a device"),
        "rate.throttled" => ("回数制限", "rate limited"),
        "account.password" => ("パスワードの変更", "password changed"),
        "incident.open" => ("救急搬送の開始", "ambulance transport started"),
        "incident.read" => ("搬送情報の表示", "viewed transport information"),
        "incident.report" => ("搬送情報の送信", "sent transport information"),
        "incident.attachment" => ("写真・資料の追加", "photo or document added"),
        "incident.attachment.read" => ("写真・資料の表示", "viewed a photo or document"),
        "incident.inquiry" => ("病院への受入照会", "asked a hospital to accept"),
        "incident.answer" => ("病院からの回答", "hospital answered"),
        "incident.acknowledge" => ("病院が確認", "hospital acknowledged"),
        "incident.destination" => ("搬送先の変更", "destination changed"),
        "incident.arrival" => ("病院に到着", "arrived at hospital"),
        "incident.list" => ("搬送の一覧表示", "listed transports"),
        "incident.escalate" => ("病院への再通知", "hospital re-notified"),
        "incident.dataset" => (
            "救急情報の表示（搬送記録）",
            "viewed emergency info (transport record)",
        ),
        "incident.clinical" => (
            "受入照会での病状の表示（氏名・連絡先なし）",
            "clinical picture shown to a hospital asked to accept (no name or contacts)",
        ),
        "registration.held" => (
            "同じ方の登録の申し込み（市が確認）",
            "someone registered you again (the city checks)",
        ),
        "registration.review" => ("市による登録の確認", "registration checked by the city"),
        _ => ("その他の操作", "other operation"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_about_a_resident_has_its_own_words() {
        // The actions a resident's access history shows (tests/browser checks the page's words).
        for a in [
            "incident.dataset",
            "incident.clinical",
            "registration.held",
            "registration.review",
            "proxy.invite",
            "proxy.invite_cancel",
            "proxy.accept",
            "proxy.remove",
            "family.notify",
            "household.join",
            "household.leave",
            "record.household",
            "record.scan",
            "record.break_glass",
            "record.federated_scan",
            "record.read",
            "incident.read",
            "incident.attachment.read",
            "disaster.read",
            "dataset.write",
            "resident.reconfirm",
            "reconfirm.letter",
            "reconfirm.remind",
        ] {
            assert_ne!(action(a).0, "その他の操作", "{a}");
        }
        assert_eq!(action("no.such"), ("その他の操作", "other operation"));
    }

    #[test]
    fn no_words_are_the_code_itself() {
        for s in AllergySeverity::ALL {
            assert_ne!(severity(*s).0, s.as_str());
        }
        for k in DeviceKind::ALL {
            assert_ne!(device_kind(*k).0, k.as_str());
        }
        for p in Purpose::ALL {
            assert_ne!(purpose(*p).1, p.as_str());
        }
        for c in Category::ALL {
            assert_ne!(category(*c).1, c.as_str());
        }
        for r in DeclineReason::ALL {
            assert_ne!(decline_reason(*r).0, r.as_str());
            assert_ne!(decline_reason(*r).1, r.as_str());
        }
        for c in CapacityCategory::ALL {
            assert_ne!(capacity_category(*c).0, c.as_str());
        }
        for s in CapacityStatus::ALL {
            assert_ne!(capacity_status(*s).1, s.as_str());
        }
    }
}
