"""The IPS-shaped FHIR Bundles made by `service::fhir::ips_bundle`, checked against FHIR R4 (4.0.1).

The models are fhir.resources 6.4.0, the last release whose top-level package is FHIR R4 4.0.1 (7.x
and later are R5 at the top with an R4B subpackage, which is not R4); it needs pydantic 1.x. The
samples are written by the unit test `service::fhir::tests::write_oracle_samples` (cargo test runs
first) into $KYUKIT_FHIR_SAMPLES, $CARGO_TARGET_DIR/fhir-samples or target/fhir-samples.
"""
import json
import os
import pathlib
import re
import xml.etree.ElementTree as ET

import fhir.resources
import pytest
from conftest import ROOT
from fhir.resources import get_fhir_model_class
from fhir.resources.bundle import Bundle
from fhir.resources.composition import Composition

XHTML = "{http://www.w3.org/1999/xhtml}div"
UUID_URN = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# IPS section codes by resource type allowed in them.
SECTIONS = {
    "10160-0": {"MedicationStatement"},
    "48765-2": {"AllergyIntolerance"},
    "11450-4": {"Condition"},
    "46264-8": {"DeviceUseStatement"},
    "30954-2": {"Observation"},
    "42348-3": {"Consent"},
    "85847-2": {"CareTeam"},
    None: {"RelatedPerson"},  # emergency contacts: no IPS section, a text-only code
}


def samples_dir() -> pathlib.Path:
    if os.environ.get("KYUKIT_FHIR_SAMPLES"):
        return pathlib.Path(os.environ["KYUKIT_FHIR_SAMPLES"])
    if os.environ.get("CARGO_TARGET_DIR"):
        return pathlib.Path(os.environ["CARGO_TARGET_DIR"]) / "fhir-samples"
    return ROOT / "target" / "fhir-samples"


SAMPLES = sorted(samples_dir().glob("*.json"))


def test_models_are_r4():
    assert fhir.resources.__fhir_version__ == "4.0.1"


def test_there_are_samples():
    assert SAMPLES, f"no FHIR samples in {samples_dir()}: run `cargo test -p kyukit-server fhir` first"


def shape(value):
    """The element structure of a JSON value, leaves blanked."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return None


def walk_references(value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "reference":
                out.append(v)
            else:
                walk_references(v, out)
    elif isinstance(value, list):
        for v in value:
            walk_references(v, out)
    return out


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_sample_is_a_valid_r4_document(path):
    raw = json.loads(path.read_text(encoding="utf-8"))

    # The whole Bundle through the R4 models (unknown elements, cardinality, types, choice types,
    # primitive formats), then each entry's resource through its own model.
    bundle = Bundle.parse_obj(raw)
    assert bundle.type == "document"
    assert bundle.identifier.system == "urn:ietf:rfc:3986" and UUID_URN.fullmatch(bundle.identifier.value)
    assert bundle.timestamp is not None
    for entry in raw["entry"]:
        model = get_fhir_model_class(entry["resource"]["resourceType"])
        parsed = model.parse_obj(entry["resource"])
        assert parsed.resource_type == entry["resource"]["resourceType"]
        # Nothing was silently dropped by the model: what it serialises back has the same elements
        # (values may be re-formatted, e.g. `Z` as `+00:00`).
        assert shape(json.loads(parsed.json())) == shape(entry["resource"]), entry["resource"]["resourceType"]

    # bdl-11: a document starts with a Composition.
    assert raw["entry"][0]["resource"]["resourceType"] == "Composition"
    composition = Composition.parse_obj(raw["entry"][0]["resource"])
    assert composition.type.coding[0].system == "http://loinc.org"
    assert composition.type.coding[0].code == "60591-5"

    # fullUrls are unique urn:uuids; every reference resolves inside the Bundle; every entry but
    # the Composition is referenced.
    urls = [e["fullUrl"] for e in raw["entry"]]
    assert len(set(urls)) == len(urls)
    assert all(UUID_URN.fullmatch(u) for u in urls)
    by_url = {e["fullUrl"]: e["resource"] for e in raw["entry"]}
    refs = walk_references(raw, [])
    assert set(refs) <= set(urls), set(refs) - set(urls)
    assert set(urls[1:]) <= set(refs), set(urls[1:]) - set(refs)

    # Sections: XHTML narrative; entries or an emptyReason, never both (cmp-1, cmp-2); entries of
    # the types the section is for.
    seen = set()
    for section in raw["entry"][0]["resource"].get("section", []):
        div = ET.fromstring(section["text"]["div"])
        assert div.tag == XHTML and "".join(div.itertext()).strip()
        assert section["text"]["status"] == "generated"
        code = section["code"].get("coding", [{}])[0].get("code")
        assert code not in seen
        seen.add(code)
        entries = section.get("entry", [])
        assert bool(entries) != ("emptyReason" in section), section["title"]
        for e in entries:
            assert by_url[e["reference"]]["resourceType"] in SECTIONS[code], (code, e)
        if "emptyReason" in section:
            reason = section["emptyReason"]["coding"][0]
            assert reason["system"] == "http://terminology.hl7.org/CodeSystem/list-empty-reason"
            assert reason["code"] in {"unavailable", "nilknown"}


@pytest.mark.parametrize("path", SAMPLES[:1], ids=[p.stem for p in SAMPLES[:1]])
def test_the_models_do_refuse_broken_resources(path):
    """The oracle is not a rubber stamp: the same sample with one defect each is refused."""
    from pydantic import ValidationError

    raw = json.loads(path.read_text(encoding="utf-8"))
    Bundle.parse_obj(raw)

    def broken(mutate):
        doc = json.loads(json.dumps(raw))
        mutate(doc)
        with pytest.raises(ValidationError):
            Bundle.parse_obj(doc)

    def resource(doc, kind):
        return next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == kind)

    broken(lambda d: d.update(type=["document"]))
    broken(lambda d: resource(d, "Composition").pop("status"))
    broken(lambda d: resource(d, "Patient").update(birthDate="28/02/1941"))
    broken(lambda d: resource(d, "Patient").update(nickname="x"))
    broken(lambda d: resource(d, "Consent").pop("scope"))
