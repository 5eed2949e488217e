// The consent page's choices besides the categories (service/consent.rs): disaster-time use, key
// flags on the card, the name on printables, and telling the family (issue 27: `notify_family`,
// `family_hospital_name` — the resident's proxies who receive notices get a Web Push, with no
// medical detail, when the card is read and when a hospital accepts).

import { p, h } from "./common.js";

export const CONSENT_OPTIONS = {
  disaster_use: {
    title: p("災害のときにも使ってよい", "May be used in a disaster"),
    about: p("市が地震や水害などの災害を宣言したとき、市の災害対応の担当者があなたの情報を見て、安否の確認や避難の手助けに使えます。", "When the city declares a disaster (earthquake, flood…), the city's disaster responders may read your information to check on you and help you evacuate."),
  },
  triage_on_card: {
    title: p("カードに大事な印を入れる", "Put key flags on the card"),
    about: p("血液型と、「血液をサラサラにする薬」「重いアレルギー」「ペースメーカー」などの印だけをカードに入れます。電波が届かなくても救急隊が読めます。名前は入りません。", "Only your blood type and flags such as “blood thinner”, “severe allergy” or “pacemaker” go on the card, so paramedics can read them without a network. Your name is never on it."),
  },
  name_on_print: {
    title: p("印刷物にお名前を入れる", "Print my name"),
    about: p("冷蔵庫に貼る用紙と財布用カードにお名前を印刷します。入れないほうが、落としたときに安心です。", "Your name is printed on the fridge sheet and wallet card. Leaving it off is safer if you lose them."),
  },
};

/** Telling the family, in plain words. */
export const FAMILY_OPTIONS = {
  notify_family: {
    title: p("家族への通知", "Tell my family"),
    about: p("救急隊がカードを読んだとき、登録したご家族（この記録の代理人で、お知らせを受け取る設定をした人）にお知らせします。病院が受け入れたときもお知らせします。病気や薬などの内容は送りません。",
      "When paramedics read your card, your registered family (the proxies of this record who chose to receive notices) are told. They are told again when a hospital accepts you. No medical details are sent."),
  },
  family_hospital_name: {
    title: p("受け入れた病院の名前も知らせる", "Include the hospital's name"),
    about: p("病院が受け入れたときのお知らせに、その病院の名前を入れます。「家族への通知」を選んだときだけ使えます。選ばなければ「病院が受け入れました」とだけ伝えます。",
      "The notice that a hospital accepted you names the hospital. Only with “Tell my family”. Without it, the notice only says that a hospital accepted you."),
  },
};

/** The form's fields for telling the family, filled from the consent in force (`granted`, or null). */
export function familySpecs(granted) {
  return [
    h("h2", { text: p("ご家族へのお知らせ", "Telling your family") }),
    ...Object.entries(FAMILY_OPTIONS).map(([k, o]) => ({ name: k, type: "checkbox", label: o.title, hint: o.about, value: granted ? granted[k] : false })),
  ];
}

/** The hospital's name only goes with the notice: its box is off and disabled without it. */
export function wireFamily(form) {
  const notify = form.elements.notify_family;
  const name = form.elements.family_hospital_name;
  const sync = () => {
    name.disabled = !notify.checked;
    if (!notify.checked) name.checked = false;
  };
  notify.addEventListener("change", sync);
  sync();
}

/** What the consent in force says about the family, in a sentence. */
export function familySummary(c) {
  if (!c.notify_family) {
    return p("家族への通知: しない（カードが読まれても、ご家族には知らせません）", "Tell my family: no (your family is not told when your card is read)");
  }
  return c.family_hospital_name
    ? p("家族への通知: する（受け入れた病院の名前も知らせます）", "Tell my family: yes, including the accepting hospital's name")
    : p("家族への通知: する（病院の名前は知らせません）", "Tell my family: yes, without the hospital's name");
}
