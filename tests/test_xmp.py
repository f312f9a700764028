"""Tests for the shared XMP packet model (aigclabel.formats._xmp).

Three kinds of check: our own round trip (parse -> serialize -> parse keeps every property and the
tree's meaning), an independent reader (exiftool) agreeing with what we wrote, and hostile input
failing fast with CorruptFile.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from aigclabel.errors import CorruptFile, LabelError
from aigclabel.formats._xmp import (
    DST_COMPOSITE,
    DST_TRAINED,
    IPTC_EXT_NS,
    IPTC_EXT_PREFIX,
    MAX_PACKET_SIZE,
    RDF_NS,
    TC260_NS,
    TC260_PREFIX,
    X_NS,
    XmpPacket,
    XmpProperty,
)

RECORD = (
    '{"Label":"1","ContentProducer":"001191110102MACQD9K64010000","ProduceID":"abc",'
    '"ReservedCode1":"","ContentPropagator":"","PropagateID":"","ReservedCode2":""}'
)
DC_NS = "http://purl.org/dc/elements/1.1/"
XMP_NS = "http://ns.adobe.com/xap/1.0/"
HEADER = b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
TRAILER = b'<?xpacket end="w"?>'

# Photoshop-style: x:xmptk, simple properties as attributes, dc:title Alt with two languages,
# dc:creator Seq, dc:subject Bag, xmpMM:History Seq of attribute-form structs, a parseType Resource
# struct, and padding after the root.
PHOTOSHOP = (
    """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 9.1-c001 79.675d0f7, 2023/06/11-19:21:16        ">
   <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
      <rdf:Description rdf:about=""
            xmlns:xmp="http://ns.adobe.com/xap/1.0/"
            xmlns:dc="http://purl.org/dc/elements/1.1/"
            xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
            xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
            xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"
            xmlns:stRef="http://ns.adobe.com/xap/1.0/sType/ResourceRef#"
            xmp:CreatorTool="Adobe Photoshop 25.0 (Windows)"
            xmp:CreateDate="2024-03-01T10:00:00+08:00"
            xmp:ModifyDate="2024-03-02T11:30:00+08:00"
            photoshop:ColorMode="3"
            xmpMM:InstanceID="xmp.iid:2f9d6c51-0d7e-4e4f-9a57-3b5f8f0a9b11"
            xmpMM:DocumentID="adobe:docid:photoshop:7b1c0a9e-12ab-4c3e-8f00-d00d1e5e0001">
         <dc:format>image/jpeg</dc:format>
         <dc:title>
            <rdf:Alt>
               <rdf:li xml:lang="x-default">Harbour at dusk &amp; &lt;fog&gt;</rdf:li>
               <rdf:li xml:lang="zh-CN">黄昏的港口</rdf:li>
            </rdf:Alt>
         </dc:title>
         <dc:creator>
            <rdf:Seq>
               <rdf:li>Li Wei</rdf:li>
               <rdf:li>Zhang "Sam" San</rdf:li>
            </rdf:Seq>
         </dc:creator>
         <dc:subject>
            <rdf:Bag>
               <rdf:li>harbour</rdf:li>
               <rdf:li>dusk</rdf:li>
               <rdf:li>fog</rdf:li>
            </rdf:Bag>
         </dc:subject>
         <xmpMM:History>
            <rdf:Seq>
               <rdf:li stEvt:action="created"
                  stEvt:instanceID="xmp.iid:0a1b"
                  stEvt:when="2024-03-01T10:00:00+08:00"
                  stEvt:softwareAgent="Adobe Photoshop 25.0 (Windows)"/>
               <rdf:li rdf:parseType="Resource">
                  <stEvt:action>saved</stEvt:action>
                  <stEvt:instanceID>xmp.iid:2f9d</stEvt:instanceID>
                  <stEvt:changed>/</stEvt:changed>
               </rdf:li>
            </rdf:Seq>
         </xmpMM:History>
         <xmpMM:DerivedFrom rdf:parseType="Resource">
            <stRef:instanceID>xmp.iid:0a1b</stRef:instanceID>
            <stRef:documentID>adobe:docid:photoshop:0001</stRef:documentID>
         </xmpMM:DerivedFrom>
      </rdf:Description>
   </rdf:RDF>
</x:xmpmeta>
"""
    + " " * 2000
    + "\n<?xpacket end=\"w\"?>"
).encode("utf-8")

# Attribute form everywhere, one rdf:Description per schema (older Adobe and exiftool style).
ATTRIBUTES = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
 <rdf:Description rdf:about="" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
   tiff:Orientation="1" tiff:Make="Example &amp; Co" tiff:Model="Quote &quot;Q&quot; &lt;1&gt;"/>
 <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
   xmp:CreatorTool="GIMP 2.10" xmp:Rating="4"/>
 <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <dc:creator><rdf:Seq><rdf:li>Ann</rdf:li></rdf:Seq></dc:creator>
 </rdf:Description>
</rdf:RDF>
</x:xmpmeta>"""

# A packet that already carries an AIGC record in attribute form, next to other metadata.
AIGC_ATTRIBUTE = b"""<?xpacket begin='\xef\xbb\xbf' id='W5M0MpCehiHzreSzNTczkc9d'?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"
    TC260:AIGC="{&quot;Label&quot;:&quot;1&quot;,&quot;ContentProducer&quot;:&quot;OLD&quot;,&quot;ProduceID&quot;:&quot;old-1&quot;,&quot;ReservedCode1&quot;:&quot;&quot;,&quot;ContentPropagator&quot;:&quot;&quot;,&quot;PropagateID&quot;:&quot;&quot;,&quot;ReservedCode2&quot;:&quot;&quot;}"/>
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/">
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Generated cat</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>Model Studio</rdf:li></rdf:Seq></dc:creator>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end='w'?>"""

# Nested structures: a Bag of parseType="Resource" structs, a struct written as a nested
# rdf:Description, a qualified value (rdf:value + qualifier), rdf:resource, and a bare rdf:RDF root.
NESTED = b"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
         xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/"
         xmlns:ex="http://example.com/ns/qual/">
 <rdf:Description rdf:about="">
  <Iptc4xmpExt:DigitalSourceType rdf:resource="http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"/>
  <Iptc4xmpExt:LocationCreated>
   <rdf:Bag>
    <rdf:li rdf:parseType="Resource">
     <Iptc4xmpExt:City>Shanghai</Iptc4xmpExt:City>
     <Iptc4xmpExt:LocationName>
      <rdf:Alt><rdf:li xml:lang="x-default">The Bund</rdf:li></rdf:Alt>
     </Iptc4xmpExt:LocationName>
    </rdf:li>
   </rdf:Bag>
  </Iptc4xmpExt:LocationCreated>
  <Iptc4xmpExt:ArtworkOrObject>
   <rdf:Bag>
    <rdf:li>
     <rdf:Description Iptc4xmpExt:AOTitle="Untitled">
      <Iptc4xmpExt:AOCreator><rdf:Seq><rdf:li>Someone</rdf:li></rdf:Seq></Iptc4xmpExt:AOCreator>
     </rdf:Description>
    </rdf:li>
   </rdf:Bag>
  </Iptc4xmpExt:ArtworkOrObject>
  <xmpRights:WebStatement rdf:parseType="Resource">
   <rdf:value>https://example.com/licence</rdf:value>
   <ex:checked>2024-01-01</ex:checked>
  </xmpRights:WebStatement>
 </rdf:Description>
</rdf:RDF>"""

REALISTIC = {"photoshop": PHOTOSHOP, "attributes": ATTRIBUTES, "aigc-attribute": AIGC_ATTRIBUTE, "nested": NESTED}


# -- helpers ----------------------------------------------------------------------------------------


def _shape(elem: ET.Element) -> tuple[Any, ...]:
    """Namespace-resolved meaning of a subtree: tag, attributes, trimmed text, children in order."""
    return (
        elem.tag,
        tuple(sorted(elem.attrib.items())),
        (elem.text or "").strip(),
        tuple(_shape(child) for child in elem),
    )


def _rdf_shape(data: bytes) -> tuple[Any, ...]:
    # Parsed with plain ElementTree so our own parser is not judging itself.
    root = ET.fromstring(data.split(b"?>", 1)[1].rsplit(b"<?xpacket", 1)[0] if data.startswith(b"<?xpacket") else data)
    rdf = root if root.tag == f"{{{RDF_NS}}}RDF" else root.find(f"{{{RDF_NS}}}RDF")
    assert rdf is not None
    return _shape(rdf)


def _top_level(data: bytes) -> list[tuple[Any, ...]]:
    """Every top-level property as (name, value-or-shape), for comparing before/after a merge."""
    shape = _rdf_shape(data)
    found: list[tuple[Any, ...]] = []
    for desc in shape[3]:
        found.extend(("attr", k, v) for k, v in desc[1] if not k.startswith(f"{{{RDF_NS}}}"))
        found.extend(("elem", child) for child in desc[3])
    return sorted(found, key=repr)


def _exiftool(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["exiftool", "-j", "-G1", "-n", "-struct", "-XMP:all", str(path)],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    (record,) = json.loads(out)
    record.pop("SourceFile")
    return record


needs_exiftool = pytest.mark.skipif(
    shutil.which("exiftool") is None, reason="exiftool is not installed; the independent-reader check needs it"
)


# -- parsing ----------------------------------------------------------------------------------------


def test_parse_photoshop_packet_properties() -> None:
    packet = XmpPacket.parse(PHOTOSHOP)
    by_name = {p.qname: p for p in packet.properties()}
    assert by_name["xmp:CreatorTool"] == XmpProperty(
        XMP_NS, "CreatorTool", "xmp", "Adobe Photoshop 25.0 (Windows)", "attribute"
    )
    assert by_name["dc:format"].value == "image/jpeg"
    assert by_name["dc:format"].form == "element"
    # Structured values are flattened to their leaf texts, joined by newlines, unescaped.
    assert by_name["dc:title"].value == "Harbour at dusk & <fog>\n黄昏的港口"
    assert by_name["dc:creator"].value == 'Li Wei\nZhang "Sam" San'
    assert by_name["dc:subject"].value == "harbour\ndusk\nfog"
    assert "created" in by_name["xmpMM:History"].value.split("\n")
    assert packet.aigc_properties() == []
    assert packet.digital_source_types() == []


def test_parse_bare_rdf_root_and_nested_structures() -> None:
    packet = XmpPacket.parse(NESTED)
    names = [p.qname for p in packet.properties()]
    assert names == [
        "Iptc4xmpExt:DigitalSourceType",
        "Iptc4xmpExt:LocationCreated",
        "Iptc4xmpExt:ArtworkOrObject",
        "xmpRights:WebStatement",
    ]
    assert packet.digital_source_types() == [DST_COMPOSITE]  # rdf:resource form
    assert packet.get(IPTC_EXT_NS, "LocationCreated")[0].value == "Shanghai\nThe Bund"
    # A bare rdf:RDF is written back inside x:xmpmeta.
    assert b'<x:xmpmeta xmlns:x="adobe:ns:meta/">' in packet.serialize()


def test_parse_existing_attribute_form_record() -> None:
    packet = XmpPacket.parse(AIGC_ATTRIBUTE)
    (prop,) = packet.aigc_properties()
    assert prop.form == "attribute"
    assert prop.qname == "TC260:AIGC"
    assert prop.namespace == TC260_NS
    assert json.loads(prop.value)["ContentProducer"] == "OLD"


def test_aigc_match_is_case_sensitive_and_any_namespace() -> None:
    packet = XmpPacket.parse(
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:a="urn:a">'
        b'<rdf:Description a:MyAIGCLabel="x" a:aigc="lower"><a:AIGC>y</a:AIGC></rdf:Description></rdf:RDF>'
    )
    assert sorted(p.qname for p in packet.aigc_properties()) == ["a:AIGC", "a:MyAIGCLabel"]


def test_digital_source_type_element_and_attribute_forms() -> None:
    packet = XmpPacket.parse(
        (
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'<rdf:Description xmlns:I="{IPTC_EXT_NS}" I:DigitalSourceType="{DST_TRAINED}"/>'
            f'<rdf:Description xmlns:Iptc4xmpExt="{IPTC_EXT_NS}">'
            f"<Iptc4xmpExt:DigitalSourceType>\n  {DST_COMPOSITE}\n</Iptc4xmpExt:DigitalSourceType>"
            "</rdf:Description></rdf:RDF></x:xmpmeta>"
        )
    )
    assert packet.digital_source_types() == [DST_TRAINED, DST_COMPOSITE]
    assert [p.prefix for p in packet.get(IPTC_EXT_NS, "DigitalSourceType")] == ["I", "Iptc4xmpExt"]


@pytest.mark.parametrize(
    "encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
)
def test_parse_unicode_encodings(encoding: str) -> None:
    text = PHOTOSHOP.decode("utf-8")
    packet = XmpPacket.parse(text.encode(encoding))
    assert packet.properties() == XmpPacket.parse(PHOTOSHOP).properties()


def test_parse_trailing_nuls_padding_and_str_input() -> None:
    expected = XmpPacket.parse(AIGC_ATTRIBUTE).properties()
    assert XmpPacket.parse(AIGC_ATTRIBUTE + b"\x00" * 100).properties() == expected
    assert XmpPacket.parse(bytearray(AIGC_ATTRIBUTE)).properties() == expected
    assert XmpPacket.parse(AIGC_ATTRIBUTE.decode("utf-8")).properties() == expected
    # UTF-16 with an odd NUL pad byte (RIFF-style padding) still decodes.
    utf16 = PHOTOSHOP.decode("utf-8").encode("utf-16-le") + b"\x00\x00\x00"
    assert XmpPacket.parse(utf16).properties() == XmpPacket.parse(PHOTOSHOP).properties()


def test_parse_with_xml_declaration() -> None:
    data = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ATTRIBUTES
    assert XmpPacket.parse(data).properties() == XmpPacket.parse(ATTRIBUTES).properties()


def test_xmpmeta_without_rdf_is_empty_and_writable() -> None:
    packet = XmpPacket.parse(b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>')
    assert packet.properties() == []
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", RECORD)
    assert [p.value for p in XmpPacket.parse(packet.serialize()).aigc_properties()] == [RECORD]


# -- round trip -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REALISTIC))
def test_round_trip_keeps_properties_and_structure(name: str) -> None:
    original = REALISTIC[name]
    first = XmpPacket.parse(original)
    written = first.serialize()
    again = XmpPacket.parse(written)
    assert again.properties() == first.properties()
    # The whole rdf:RDF tree means the same, checked with a parser other than ours.
    assert _rdf_shape(written) == _rdf_shape(original)
    assert again.serialize() == written  # stable: a second pass changes nothing


@pytest.mark.parametrize("name", sorted(REALISTIC))
def test_merge_keeps_every_other_property(name: str) -> None:
    original = REALISTIC[name]
    packet = XmpPacket.parse(original)
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", RECORD)
    packet.set(IPTC_EXT_NS, IPTC_EXT_PREFIX, "DigitalSourceType", DST_TRAINED)
    written = packet.serialize()

    def others(data: bytes) -> list[tuple[Any, ...]]:
        return [
            item
            for item in _top_level(data)
            if not (item[0] == "attr" and item[1] == f"{{{TC260_NS}}}AIGC")
            and not (item[0] == "elem" and item[1][0] in (f"{{{TC260_NS}}}AIGC", f"{{{IPTC_EXT_NS}}}DigitalSourceType"))
        ]

    assert others(written) == others(original)
    reparsed = XmpPacket.parse(written)
    assert [(p.qname, p.value, p.form) for p in reparsed.aigc_properties()] == [("TC260:AIGC", RECORD, "element")]
    assert reparsed.digital_source_types() == [DST_TRAINED]


def test_original_prefixes_are_kept() -> None:
    packet = XmpPacket.parse(PHOTOSHOP)
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", RECORD)
    text = packet.serialize().decode("utf-8")
    for fragment in (
        'xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"',
        "<xmpMM:History>",
        'stEvt:action="created"',
        "<stRef:instanceID>",
        '<rdf:li xml:lang="zh-CN">黄昏的港口</rdf:li>',
        'x:xmptk="Adobe XMP Core',
        'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"',
    ):
        assert fragment in text
    assert "ns0" not in text
    assert "html:" not in text


def test_element_global_namespace_registry_untouched() -> None:
    before = dict(ET._namespace_map)  # type: ignore[attr-defined]
    packet = XmpPacket.parse(PHOTOSHOP)
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", RECORD)
    packet.serialize()
    assert ET._namespace_map == before  # type: ignore[attr-defined]


def test_value_round_trips_byte_exact_with_xml_specials() -> None:
    value = '{"Label":"1","ProduceID":"a&b<c>d\'e","Note":"]]> \\" \t x\r\ny"}'
    packet = XmpPacket.new()
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", value)
    written = packet.serialize()
    assert XmpPacket.parse(written).aigc_properties()[0].value == value
    # JSON quotes stay literal in element text, which naive byte-scanning readers depend on.
    assert b'<TC260:AIGC>{"Label":"1","ProduceID":"a&amp;b&lt;c&gt;d\'e"' in written


def test_attribute_values_round_trip_exact() -> None:
    tricky = 'a"b\'c&d<e>f\tg\nh\ri'
    data = (
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:a="urn:a">'
        '<rdf:Description a:v="a&quot;b&apos;c&amp;d&lt;e&gt;f&#9;g&#10;h&#13;i"/></rdf:RDF>'
    )
    packet = XmpPacket.parse(data)
    assert packet.properties()[0].value == tricky
    assert XmpPacket.parse(packet.serialize()).properties()[0].value == tricky


# -- set / remove -----------------------------------------------------------------------------------


def test_set_on_new_packet() -> None:
    packet = XmpPacket.new()
    assert packet.properties() == []
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", RECORD)
    written = packet.serialize()
    assert written.startswith(HEADER)
    assert written.endswith(TRAILER)
    assert b'<rdf:Description xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/" rdf:about="">' in written
    (prop,) = XmpPacket.parse(written).aigc_properties()
    assert prop == XmpProperty(TC260_NS, "AIGC", "TC260", RECORD, "element")
    assert prop.qname == "TC260:AIGC"


def test_set_replaces_attribute_form_record() -> None:
    packet = XmpPacket.parse(AIGC_ATTRIBUTE)
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", RECORD)
    assert [(p.value, p.form) for p in packet.aigc_properties()] == [(RECORD, "element")]
    reparsed = XmpPacket.parse(packet.serialize())
    assert [(p.value, p.form) for p in reparsed.aigc_properties()] == [(RECORD, "element")]
    assert reparsed.get(DC_NS, "title")[0].value == "Generated cat"


def test_set_removes_every_occurrence_in_every_description() -> None:
    data = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:dc="{DC_NS}"><dc:format>image/png</dc:format></rdf:Description>'
        f'<rdf:Description rdf:about="" xmlns:T="{TC260_NS}" T:AIGC="one"><T:AIGC>two</T:AIGC></rdf:Description>'
        f'<rdf:Description rdf:about="" xmlns:TC260="{TC260_NS}"><TC260:AIGC>three</TC260:AIGC></rdf:Description>'
        "</rdf:RDF></x:xmpmeta>"
    )
    packet = XmpPacket.parse(data)
    assert len(packet.aigc_properties()) == 3
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", RECORD)
    reparsed = XmpPacket.parse(packet.serialize())
    (prop,) = reparsed.aigc_properties()
    assert prop.value == RECORD
    # It went into the first rdf:Description, next to dc:format.
    assert [p.qname for p in reparsed.properties()] == ["dc:format", f"{prop.prefix}:AIGC"]


def test_set_writes_the_canonical_prefix_even_if_the_packet_binds_another() -> None:
    data = (
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:dc="{DC_NS}"><dc:format>image/png</dc:format></rdf:Description>'
        f'<rdf:Description rdf:about="" xmlns:aigc="{TC260_NS}" aigc:Other="keep"/>'
        "</rdf:RDF>"
    )
    packet = XmpPacket.parse(data)
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", RECORD)
    written = packet.serialize()
    # exiftool groups an unknown namespace by its first prefix: the whole namespace moves to TC260
    assert b"<TC260:AIGC>" in written and b"aigc:" not in written
    reparsed = XmpPacket.parse(written)
    assert [p.qname for p in reparsed.properties()] == ["dc:format", "TC260:AIGC", "TC260:Other"]


def test_set_avoids_a_prefix_bound_to_another_namespace() -> None:
    data = (
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:TC260="urn:not-tc260">'
        '<rdf:Description rdf:about="" TC260:Thing="x"/></rdf:RDF>'
    )
    packet = XmpPacket.parse(data)
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", RECORD)
    reparsed = XmpPacket.parse(packet.serialize())
    props = {(p.namespace, p.local): p for p in reparsed.properties()}
    assert props[("urn:not-tc260", "Thing")].value == "x"
    assert props[(TC260_NS, "AIGC")].value == RECORD
    assert props[(TC260_NS, "AIGC")].prefix != "TC260"


def test_remove_and_remove_aigc_counts() -> None:
    packet = XmpPacket.parse(PHOTOSHOP)
    assert packet.remove(XMP_NS, "CreatorTool") == 1
    assert packet.remove(DC_NS, "subject") == 1
    assert packet.remove(DC_NS, "subject") == 0
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", RECORD)
    packet.set("urn:other", "o", "LegacyAIGC", "{}")
    assert len(packet.aigc_properties()) == 2
    assert packet.remove_aigc() == 2
    reparsed = XmpPacket.parse(packet.serialize())
    assert reparsed.aigc_properties() == []
    names = {p.qname for p in reparsed.properties()}
    assert "xmp:CreatorTool" not in names and "dc:subject" not in names
    assert {"xmp:CreateDate", "dc:title", "dc:creator", "xmpMM:History"} <= names


def test_set_rejects_unwritable_input() -> None:
    packet = XmpPacket.new()
    with pytest.raises(LabelError):
        packet.set(TC260_NS, TC260_PREFIX, "AIGC", "bad\x01char")
    with pytest.raises(ValueError):
        packet.set(TC260_NS, "1bad", "AIGC", RECORD)
    with pytest.raises(ValueError):
        packet.set(TC260_NS, TC260_PREFIX, "has space", RECORD)
    with pytest.raises(ValueError):
        packet.set(RDF_NS, "rdf", "about", "x")
    assert packet.properties() == []


def test_serialize_padding_is_exact_and_parseable() -> None:
    packet = XmpPacket.parse(ATTRIBUTES)
    bare = packet.serialize()
    padded = packet.serialize(padding=2048)
    assert len(padded) - len(bare) == 2048
    assert padded.startswith(HEADER) and padded.endswith(TRAILER)
    assert XmpPacket.parse(padded).properties() == packet.properties()
    with pytest.raises(ValueError):
        packet.serialize(padding=-1)


def test_new_packet_serializes_to_xmpmeta_rdf() -> None:
    written = XmpPacket.new().serialize()
    root = ET.fromstring(written[len(HEADER) : -len(TRAILER)])
    assert root.tag == f"{{{X_NS}}}xmpmeta"
    assert [child.tag for child in root] == [f"{{{RDF_NS}}}RDF"]


# -- independent reader -----------------------------------------------------------------------------


@needs_exiftool
def test_exiftool_reads_new_record(tmp_path: Path) -> None:
    packet = XmpPacket.new()
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", RECORD)
    packet.set(IPTC_EXT_NS, IPTC_EXT_PREFIX, "DigitalSourceType", DST_TRAINED)
    path = tmp_path / "new.xmp"
    path.write_bytes(packet.serialize(padding=512))
    seen = _exiftool(path)
    # exiftool names properties of a namespace it does not know by the packet's prefix (group
    # XMP-TC260) and normalises the all-caps name to "Aigc".
    assert seen == {"XMP-TC260:Aigc": RECORD, "XMP-iptcExt:DigitalSourceType": DST_TRAINED}


@needs_exiftool
@pytest.mark.parametrize("name", sorted(REALISTIC))
def test_exiftool_sees_merged_packet_as_original_plus_record(name: str, tmp_path: Path) -> None:
    original = tmp_path / "original.xmp"
    original.write_bytes(REALISTIC[name])
    packet = XmpPacket.parse(REALISTIC[name])
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", RECORD)
    packet.set(IPTC_EXT_NS, IPTC_EXT_PREFIX, "DigitalSourceType", DST_TRAINED)
    merged = tmp_path / "merged.xmp"
    merged.write_bytes(packet.serialize())

    before = _exiftool(original)
    after = _exiftool(merged)
    assert after.pop("XMP-TC260:Aigc") == RECORD
    assert after.pop("XMP-iptcExt:DigitalSourceType") == DST_TRAINED
    before.pop("XMP-TC260:Aigc", None)
    before.pop("XMP-iptcExt:DigitalSourceType", None)
    assert after == before


@needs_exiftool
def test_exiftool_sees_photoshop_fields_after_merge(tmp_path: Path) -> None:
    packet = XmpPacket.parse(PHOTOSHOP)
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", RECORD)
    path = tmp_path / "merged.xmp"
    path.write_bytes(packet.serialize())
    seen = _exiftool(path)
    assert seen["XMP-TC260:Aigc"] == RECORD
    assert seen["XMP-dc:Title"] == "Harbour at dusk & <fog>"
    assert seen["XMP-dc:Title-zh-CN"] == "黄昏的港口"
    assert seen["XMP-dc:Creator"] == ["Li Wei", 'Zhang "Sam" San']
    assert seen["XMP-dc:Subject"] == ["harbour", "dusk", "fog"]
    assert seen["XMP-xmpMM:History"][0]["Action"] == "created"
    assert seen["XMP-xmpMM:History"][1]["Action"] == "saved"
    assert seen["XMP-xmp:CreatorTool"] == "Adobe Photoshop 25.0 (Windows)"


@needs_exiftool
def test_exiftool_sees_replaced_attribute_record(tmp_path: Path) -> None:
    packet = XmpPacket.parse(AIGC_ATTRIBUTE)
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", RECORD)
    path = tmp_path / "replaced.xmp"
    path.write_bytes(packet.serialize())
    seen = _exiftool(path)
    assert seen["XMP-TC260:Aigc"] == RECORD
    assert seen["XMP-dc:Title"] == "Generated cat"
    assert seen["XMP-dc:Creator"] == ["Model Studio"]


# -- hostile and broken input -----------------------------------------------------------------------


def _fails_fast(data: bytes | str, match: str | None = None) -> CorruptFile:
    start = time.perf_counter()
    with pytest.raises(CorruptFile, match=match) as info:
        XmpPacket.parse(data)
    assert time.perf_counter() - start < 2.0
    return info.value


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:a="urn:a">
 <rdf:Description><a:AIGC>&lol9;</a:AIGC></rdf:Description>
</rdf:RDF>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:a="urn:a">
 <rdf:Description><a:AIGC>&xxe;</a:AIGC></rdf:Description>
</rdf:RDF>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [
 <!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd">
 <!ENTITY % local "<!ENTITY inner 'boom'>">
 %remote;
 %local;
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description/></rdf:RDF>"""


def test_billion_laughs_is_refused() -> None:
    _fails_fast(BILLION_LAUGHS, "DTD")


def test_external_entity_is_refused() -> None:
    error = _fails_fast(EXTERNAL_ENTITY, "DTD")
    assert "root:" not in str(error)


def test_parameter_entities_are_refused() -> None:
    _fails_fast(PARAMETER_ENTITY, "DTD")


def test_doctype_without_entities_is_refused() -> None:
    _fails_fast(b'<!DOCTYPE rdf:RDF SYSTEM "http://example.com/x.dtd">' + NESTED, "DTD")


def test_xxe_inside_a_full_xpacket_is_refused() -> None:
    _fails_fast(b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>\n' + EXTERNAL_ENTITY.split(b"?>", 1)[1])


def test_deep_nesting_is_refused_quickly() -> None:
    depth = 10 * 1024 * 1024 // 7  # about 10 MB of "<a:x>" tags
    data = b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:a="urn:a">' + b"<a:x>" * depth
    _fails_fast(data, "deeper than")


def test_oversized_packet_is_refused_quickly() -> None:
    data = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>" + b" " * MAX_PACKET_SIZE + b"</x:xmpmeta>"
    _fails_fast(data, "too large")
    _fails_fast(data.decode("ascii"), "too large")


def test_huge_malformed_packet_fails_quickly() -> None:
    # 10 MB of property text that is never closed: parsed to the end, then rejected.
    data = (
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:a="urn:a">'
        b"<rdf:Description><a:AIGC>" + b"A" * (10 * 1024 * 1024)
    )
    _fails_fast(data, "not well-formed")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 64,
        b"   \n\t  ",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"not xml at all {json: true}",
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF",  # truncated
        b"<a:b>unbound prefix</a:b>",
        b"<html><body>no rdf here</body></html>",
        b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>&undefined;</rdf:RDF>",
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>\xff\xfe\xfa bad utf-8</x:xmpmeta>",
        b"\xfe\xff\x00<\x00",  # UTF-16 BOM, odd length, not NUL-padded
        "<x:xmpmeta xmlns:x='adobe:ns:meta/'>\ud800</x:xmpmeta>",
        b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' xmlns:a='urn:}x'>"
        b"<rdf:Description a:b='1'/></rdf:RDF>",
    ],
    ids=[
        "empty",
        "nuls",
        "blank",
        "png",
        "garbage",
        "truncated",
        "unbound-prefix",
        "not-xmp",
        "undefined-entity",
        "bad-utf8",
        "bad-utf16",
        "lone-surrogate",
        "brace-in-namespace",
    ],
)
def test_garbage_is_corrupt_file(data: bytes | str) -> None:
    _fails_fast(data)


def test_large_valid_packet_parses_in_time() -> None:
    # A few MiB of ordinary properties (Photoshop history can be this big) stay fast.
    items = "".join(f"<rdf:li>keyword {i}</rdf:li>" for i in range(100_000))
    data = (
        f'<rdf:RDF xmlns:rdf="{RDF_NS}" xmlns:dc="{DC_NS}"><rdf:Description>'
        f"<dc:subject><rdf:Bag>{items}</rdf:Bag></dc:subject></rdf:Description></rdf:RDF>"
    )
    start = time.perf_counter()
    packet = XmpPacket.parse(data)
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", RECORD)
    packet.serialize()
    assert time.perf_counter() - start < 10.0  # generous: the machine is shared; a hang or quadratic blow-up takes far longer


def test_default_namespace_properties_round_trip() -> None:
    data = (
        f'<rdf:RDF xmlns:rdf="{RDF_NS}"><rdf:Description rdf:about="" xmlns="{DC_NS}">'
        "<format>image/png</format></rdf:Description></rdf:RDF>"
    )
    packet = XmpPacket.parse(data)
    (prop,) = packet.properties()
    assert (prop.namespace, prop.local, prop.prefix, prop.qname) == (DC_NS, "format", None, "format")
    packet.set(TC260_NS, TC260_PREFIX, "AIGC", RECORD)
    written = packet.serialize()
    assert _rdf_shape(written)[3][0][3][0] == _rdf_shape(data.encode())[3][0][3][0]
    assert [p.qname for p in XmpPacket.parse(written).properties()] == ["format", "TC260:AIGC"]


def test_malformed_xml_message() -> None:
    _fails_fast(b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF", "^XMP packet is not well-formed XML: ")
