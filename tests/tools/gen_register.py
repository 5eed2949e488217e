#!/usr/bin/env python3
"""A made-up paper-kit register as CSV for `kyukit residents import` (issue 26), with a known set
of broken rows.

    tests/tools/gen_register.py --rows 10000 --broken-percent 1 --seed 26 --out register.csv

writes register.csv and register.expected.json: {"rows", "valid", "broken": [{"line", "column",
"kind"}], "districts": {district: valid rows}}. Deterministic for a seed (no clock, no
randomness but the seeded generator). Every person is invented; each valid row is a different
person (its address is unique). Each broken row has exactly one problem, in the column named
("-" for the row as a whole). Only the standard library.
"""
import argparse
import csv
import json
import random

COLUMNS = [
    "form_number", "consent_date", "consent_by", "family_name", "given_name", "date_of_birth",
    "sex", "address", "family_name_kana", "given_name_kana", "district", "phone",
    "contact1_name", "contact1_relation", "contact1_phone", "contact2_name", "contact2_relation",
    "contact2_phone", "medications", "conditions", "allergies", "triage_on_card", "name_on_print",
    "disaster_use",
]
FAMILY = [("山田", "ヤマダ"), ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"),
          ("田中", "タナカ"), ("渡辺", "ワタナベ"), ("伊藤", "イトウ"), ("中村", "ナカムラ"),
          ("小林", "コバヤシ"), ("加藤", "カトウ"), ("吉田", "よしだ"), ("飯塚", "イイヅカ")]
GIVEN_F = [("花子", "ハナコ"), ("和子", "カズコ"), ("幸子", "サチコ"), ("節子", "セツコ"), ("弘子", "ヒロコ")]
GIVEN_M = [("太郎", "タロウ"), ("清", "キヨシ"), ("茂", "シゲル"), ("博", "ヒロシ"), ("實", "ミノル")]
DISTRICTS = ["水海道", "石下", "菅原", "大生", "坂手", "豊岡", "大花羽", "三妻", "五箇", "岡田"]
MEDS = ["ワーファリン", "アムロジピン 5mg", "メトホルミン", "ランソプラゾール", "インスリン グラルギン", "ドネペジル"]
CONDS = ["高血圧", "心房細動", "2型糖尿病", "てんかん", "慢性心不全", "脳梗塞後遺症（2019年, 左片麻痺）"]
ALLERGIES = ["ペニシリン:anaphylaxis", "そば:重度", "造影剤:moderate", "卵:mild"]
RELATIONS = ["長男", "長女", "妻", "夫", "次女", "甥"]

# One problem each: (kind, column, how to break a good row).
BREAKS = [
    ("bad_date_of_birth", "date_of_birth", lambda r: r.update(date_of_birth="1941-02-30")),
    ("future_consent", "consent_date", lambda r: r.update(consent_date="2099-04-01")),
    ("no_family_name", "family_name", lambda r: r.update(family_name="")),
    ("bad_sex", "sex", lambda r: r.update(sex="X")),
    ("bad_phone", "phone", lambda r: r.update(phone="電話なし")),
    ("allergy_without_severity", "allergies", lambda r: r.update(allergies="ペニシリン")),
    ("bad_consent_by", "consent_by", lambda r: r.update(consent_by="近所の人")),
    ("no_form_number", "form_number", lambda r: r.update(form_number="")),
    ("contact_without_phone", "contact1_phone", lambda r: r.update(contact1_name="山田一郎", contact1_relation="長男", contact1_phone="")),
    ("bad_flag", "name_on_print", lambda r: r.update(name_on_print="maybe")),
    ("same_person", "-", None),
    ("wrong_field_count", "-", None),
]


def person(rng, i):
    female = rng.random() < 0.6
    fam = rng.choice(FAMILY)
    giv = rng.choice(GIVEN_F if female else GIVEN_M)
    district = DISTRICTS[i % len(DISTRICTS)]
    y, m, d = rng.randint(1925, 1960), rng.randint(1, 12), rng.randint(1, 28)
    cy, cm, cd = rng.choice([2024, 2025, 2026]), rng.randint(1, 10), rng.randint(1, 28)
    row = {
        "form_number": f"K-{i + 1:06d}",
        "consent_date": f"{cy}-{cm:02d}-{cd:02d}",
        "consent_by": rng.choice(["self", "self", "family", "本人", "家族"]),
        "family_name": fam[0], "given_name": giv[0],
        "date_of_birth": f"{y}-{m:02d}-{d:02d}",
        "sex": rng.choice(["女", "female"]) if female else rng.choice(["男", "male"]),
        # Unique per row: no two valid rows are the same person.
        "address": f"茨城県常総市{district}町{i // 100 + 1}-{i % 100 + 1}-{rng.randint(1, 30)}",
        "family_name_kana": fam[1], "given_name_kana": giv[1],
        "district": district,
        "phone": f"0297-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}" if rng.random() < 0.8 else "",
        "contact1_name": "", "contact1_relation": "", "contact1_phone": "",
        "contact2_name": "", "contact2_relation": "", "contact2_phone": "",
        "medications": ";".join(rng.sample(MEDS, rng.randint(0, 3))),
        "conditions": ";".join(rng.sample(CONDS, rng.randint(0, 2))),
        "allergies": ";".join(rng.sample(ALLERGIES, rng.randint(0, 1))),
        "triage_on_card": rng.choice(["", "yes"]),
        "name_on_print": rng.choice(["", "yes", "no", "はい"]),
        "disaster_use": rng.choice(["", "no", "yes"]),
    }
    if rng.random() < 0.7:
        row.update(contact1_name=f"{fam[0]}{rng.choice(['一郎', '美咲', '健'])}", contact1_relation=rng.choice(RELATIONS),
                   contact1_phone=f"090-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}")
    if rng.random() < 0.2:
        row.update(contact2_name="常総ケアセンター", contact2_relation="ケアマネジャー",
                   contact2_phone=f"0297-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}")
    return row


def generate(rows, broken_percent, seed):
    rng = random.Random(seed)
    n_broken = round(rows * broken_percent / 100)
    broken_at = set(random.Random(seed + 1).sample(range(1, rows), n_broken)) if n_broken else set()
    out, broken, districts = [], [], {}
    for i in range(rows):
        row = person(rng, i)
        line = i + 2  # the header is line 1; no field holds a line break
        fields = [row[c] for c in COLUMNS]
        if i in broken_at:
            kind, column, change = BREAKS[len(broken) % len(BREAKS)]
            if kind == "same_person":
                # An earlier valid row's person again (another form number and consent date).
                j = max(k for k in range(i) if k not in broken_at)
                twin = dict(out[j][1])
                twin.update(form_number=row["form_number"], consent_date=row["consent_date"])
                row = twin
                fields = [row[c] for c in COLUMNS]
            elif kind == "wrong_field_count":
                fields = fields[:-2]
            else:
                change(row)
                fields = [row[c] for c in COLUMNS]
            broken.append({"line": line, "column": column, "kind": kind})
        else:
            districts[row["district"]] = districts.get(row["district"], 0) + 1
        out.append((fields, row))
    return out, broken, districts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--broken-percent", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rows, broken, districts = generate(a.rows, a.broken_percent, a.seed)
    with open(a.out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        for fields, _ in rows:
            w.writerow(fields)
    expected = a.out[:-4] + ".expected.json" if a.out.endswith(".csv") else a.out + ".expected.json"
    with open(expected, "w", encoding="utf-8") as f:
        json.dump({"rows": a.rows, "valid": a.rows - len(broken), "broken": broken,
                   "districts": districts}, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
