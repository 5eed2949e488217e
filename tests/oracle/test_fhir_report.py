"""Pre-arrival reports as FHIR R4 document Bundles (`service::fhir_report::report_bundle`), checked
with fhir.resources 6.4.0 (FHIR R4 4.0.1) — an implementation we did not write.

The samples are written by tests/tests/prearrival.rs (cargo test runs first) into
target/fhir-samples/report/: one seeded from a card scan, one for an unidentified patient, per backend;
tests/tests/incident_grant.rs adds one whose dataset was withheld (the hand-over ended);
tests/tests/prearrival_inquiry.rs one as a hospital being asked reads it (clinical picture, no identity).
"""
import json
import pathlib
import re
import xml.etree.ElementTree as ET

import pytest
from fhir.resources import get_fhir_model_class
from fhir.resources.bundle import Bundle
from fhir.resources.observation import Observation

from test_fhir import samples_dir, shape, walk_references

XHTML = "{http://www.w3.org/1999/xhtml}div"
UUID_URN = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
VITALS = {  # LOINC code -> UCUM unit
    "8867-4": "/min",
    "9279-1": "/min",
    "2708-6": "%",
    "59408-5": "%",
    "8310-5": "Cel",
    "41653-7": "mg/dL",
}
JCS_LEVELS = {"0", "I-1", "I-2", "I-3", "II-10", "II-20", "II-30", "III-100", "III-200", "III-300"}
NEMSIS = {"4224001", "4224003", "4224005", "4224007", "4224009", "4224011", "4224013", "4224015", "4224017", "4224019"}

SAMPLES = sorted((samples_dir() / "report").glob("*.json"))


def test_there_are_report_samples():
    assert SAMPLES, "no report samples: run `cargo test -p kyukit-tests --test main prearrival::` first"
    assert any("seeded" in p.stem for p in SAMPLES) and any("unidentified" in p.stem for p in SAMPLES)


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_report_is_a_valid_r4_document(path):
    raw = json.loads(path.read_text(encoding="utf-8"))
    bundle = Bundle.parse_obj(raw)
    assert bundle.type == "document"
    assert UUID_URN.fullmatch(bundle.identifier.value)
    for entry in raw["entry"]:
        model = get_fhir_model_class(entry["resource"]["resourceType"])
        parsed = model.parse_obj(entry["resource"])
        assert shape(json.loads(parsed.json())) == shape(entry["resource"]), entry["resource"]["resourceType"]

    composition = raw["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition"
    assert composition["type"]["coding"][0] == {
        "system": LOINC, "code": "67796-3", "display": "EMS patient care report - version 3 Document NEMSIS"}
    urls = [e["fullUrl"] for e in raw["entry"]]
    assert len(set(urls)) == len(urls) and all(UUID_URN.fullmatch(u) for u in urls)
    refs = walk_references(raw, [])
    assert set(refs) <= set(urls), set(refs) - set(urls)
    by_url = {e["fullUrl"]: e["resource"] for e in raw["entry"]}
    patient = composition["subject"]["reference"]
    assert by_url[patient]["resourceType"] == "Patient"
    for section in composition["section"]:
        div = ET.fromstring(section["text"]["div"])
        assert div.tag == XHTML and "".join(div.itertext()).strip()
        assert bool(section.get("entry")) != ("emptyReason" in section), section["title"]

    observations = [Observation.parse_obj(e["resource"]) for e in raw["entry"]
                    if e["resource"]["resourceType"] == "Observation"]
    by_code = {(c.system, c.code): o for o in observations for c in o.code.coding}
    ours = [(LOINC, c) for c in [*VITALS, "85354-9", "9269-2", "10154-3"]] + [
        ("http://kyukit.jp/fhir/CodeSystem/observation", c) for c in ("jcs", "pre-arrival-activation")]
    for key in ours:  # the report's own observations (a seeded bundle also has the IPS blood type)
        assert by_code[key].status == "preliminary", key
        assert by_code[key].subject.reference == patient, key
    for code, unit in VITALS.items():
        o = by_code[(LOINC, code)]
        assert o.valueQuantity.system == UCUM and o.valueQuantity.code == unit
    # SpO2: the R4 vital-signs profile's code 2708-6 first, with 59408-5 (pulse oximetry).
    spo2 = by_code[(LOINC, "2708-6")]
    assert [c.code for c in spo2.code.coding] == ["2708-6", "59408-5"]
    # Categories: vital signs, except glucose (a laboratory test, displayed as such).
    for code in ("8867-4", "9279-1", "2708-6", "8310-5", "85354-9"):
        cat = by_code[(LOINC, code)].category[0].coding[0]
        assert (cat.code, cat.display) == ("vital-signs", "Vital Signs"), code
    cat = by_code[(LOINC, "41653-7")].category[0].coding[0]
    assert (cat.code, cat.display) == ("laboratory", "Laboratory")
    # Each Observation carries its own time.
    assert all(o.effectiveDateTime for o in observations)
    bp = by_code[(LOINC, "85354-9")]
    assert {c.code.coding[0].code for c in bp.component} == {"8480-6", "8462-4"}
    assert all(c.valueQuantity.code == "mm[Hg]" for c in bp.component)
    gcs = by_code[(LOINC, "9269-2")]
    assert gcs.valueInteger == sum(c.valueInteger for c in gcs.component)
    assert {c.code.coding[0].code for c in gcs.component} == {"9267-6", "9270-0", "9268-4"}
    jcs = by_code[("http://kyukit.jp/fhir/CodeSystem/observation", "jcs")]
    assert jcs.valueCodeableConcept.coding[0].system == "http://kyukit.jp/fhir/CodeSystem/jcs"
    assert jcs.valueCodeableConcept.coding[0].code in JCS_LEVELS
    activation = by_code[("http://kyukit.jp/fhir/CodeSystem/observation", "pre-arrival-activation")]
    assert activation.valueCodeableConcept.coding[0].system == "http://nemsis.org/v3/eDisposition.24"
    assert activation.valueCodeableConcept.coding[0].code in NEMSIS

    if "seeded" in path.stem:
        # The consented IPS sections of the scan come along, with the resident as the Patient.
        codes = {s.get("code", {}).get("coding", [{}])[0].get("code") for s in composition["section"]}
        assert "10160-0" in codes  # medications
        assert by_url[patient].get("name")
    elif "withheld" in path.stem:
        # Issue 19: the scan's grant or the hand-over ended: no resident, and a section says so.
        assert "name" not in by_url[patient] and "birthDate" not in by_url[patient]
        codes = {s.get("code", {}).get("coding", [{}])[0].get("code") for s in composition["section"]}
        assert "10160-0" not in codes
        reasons = [s["emptyReason"]["coding"][0]["code"] for s in composition["section"] if "emptyReason" in s]
        assert "withheld" in reasons
    elif "inquiry" in path.stem:
        # Issue 25 (RULES R10): a hospital being asked gets the clinical picture, not the identity:
        # the consented medical sections, a Patient without name, identifier or birth date, no
        # emergency contacts or care team, and a section saying what is withheld until it accepts.
        p = by_url[patient]
        assert not {"name", "identifier", "birthDate"} & set(p), p
        assert p["gender"] == "female"
        codes = {s.get("code", {}).get("coding", [{}])[0].get("code") for s in composition["section"]}
        assert {"10160-0", "48765-2"} <= codes, codes  # medications, allergies
        assert not any(e["resource"]["resourceType"] == "RelatedPerson" for e in raw["entry"])
        reasons = [s["emptyReason"]["coding"][0]["code"] for s in composition["section"] if "emptyReason" in s]
        assert "withheld" in reasons
    elif "record" in path.stem:
        # Issue 25: the clinical record. Treatments as MedicationAdministration (dose in UCUM, a
        # route) and Procedure; ECG rhythm 8884-9, pain 72514-3, weight 29463-7, pregnancy 82810-3.
        from fhir.resources.medicationadministration import MedicationAdministration
        from fhir.resources.procedure import Procedure
        meds = [MedicationAdministration.parse_obj(e["resource"]) for e in raw["entry"]
                if e["resource"]["resourceType"] == "MedicationAdministration"]
        procs = [Procedure.parse_obj(e["resource"]) for e in raw["entry"]
                 if e["resource"]["resourceType"] == "Procedure"]
        assert meds and procs
        for m in meds:
            assert m.status == "completed" and m.effectiveDateTime
            assert m.subject.reference == patient
            assert m.dosage.dose.system == UCUM and m.dosage.dose.code
        for p in procs:
            assert p.status == "completed" and p.performedDateTime and p.subject.reference == patient
        assert len([o for o in observations if any(c.code == "8884-9" for c in o.code.coding)]) == 2
        for code, category in (("72514-3", "survey"), ("29463-7", "vital-signs"), ("82810-3", "survey")):
            o = by_code[(LOINC, code)]
            assert o.category[0].coding[0].code == category, code
        assert by_code[(LOINC, "29463-7")].valueQuantity.code == "kg"
        preg = by_code[(LOINC, "82810-3")].valueCodeableConcept.coding[0]
        assert (preg.system, preg.code) == (LOINC, "LA26683-5")
        treated = next(s for s in composition["section"] if s["title"].startswith("Treatment"))
        assert {r["reference"] for r in treated["entry"]} >= {e["fullUrl"] for e in raw["entry"]
            if e["resource"]["resourceType"] in ("MedicationAdministration", "Procedure")}
    elif "series" in path.stem:
        # Issue 25: three vitals readings are three time-stamped Observations per measurement.
        assert "name" not in by_url[patient]
        for code in ("8867-4", "2708-6"):
            times = [o.effectiveDateTime for o in observations
                     if any(c.code == code for c in o.code.coding)]
            assert len(times) == 3 and len(set(times)) == 3 and times == sorted(times), (code, times)
        vitals = next(s for s in composition["section"] if s.get("code", {}).get("coding", [{}])[0].get("code") == "8716-3")
        assert len(vitals["entry"]) >= 3 * 2
    else:
        assert "name" not in by_url[patient]
        suffixes = {c.valueCodeableConcept.coding[0].code for c in jcs.component}
        assert suffixes == {"R", "I"}


def test_the_validator_refuses_a_broken_report():
    from pydantic import ValidationError
    raw = json.loads(SAMPLES[0].read_text(encoding="utf-8"))
    obs = next(e["resource"] for e in raw["entry"] if e["resource"]["resourceType"] == "Observation")
    for mutate in (lambda o: o.pop("status"), lambda o: o.update(valueQuantity={"value": "fast"}),
                   lambda o: o.update(effectiveDateTime="yesterday")):
        bad = json.loads(json.dumps(obs))
        mutate(bad)
        with pytest.raises(ValidationError):
            Observation.parse_obj(bad)
